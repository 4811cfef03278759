"""RFC 9497 oblivious pseudorandom functions, ciphersuite ristretto255-SHA512.

The three modes are here under the RFC's own function names in snake_case:

- OPRF (mode 0): `blind`, `blind_evaluate`, `finalize`, `evaluate`.
- VOPRF (mode 1): the same, where `blind_evaluate` also returns a batch DLEQ proof and
  `finalize` verifies it (`generate_proof`, `verify_proof`).
- POPRF (mode 2): the same with public `info`; the server evaluates under the tweaked key
  `skS + HashToScalar(framedInfo)`.

Every function takes and returns bytes: scalars and elements as their 32-byte encodings,
proofs as `c ‖ s` (64 bytes). Batched variants (`blind_evaluate_batch`, `finalize_batch`)
share one proof across the batch. Randomness (`blind`, the proof's `r`) may be passed in
so the RFC's test vectors can be reproduced; it is drawn from libsodium otherwise.

Untrusted elements are rejected with `InvalidElementError` when they are non-canonical or
the identity; proofs that do not verify raise `ProofError`. Nothing returns a bool.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from enum import IntEnum

from notalone.crypto import group
from notalone.crypto.ct import bytes_eq
from notalone.errors import EncodingError, InvalidElementError, ProofError

SUITE_ID = b"ristretto255-SHA512"
PROOF_BYTES = 2 * group.SCALAR_BYTES
OUTPUT_BYTES = 64
#: RFC 9497 bounds inputs and info by their two-byte length prefixes.
MAX_INPUT_BYTES = 65535


class Mode(IntEnum):
    """The RFC 9497 protocol variant; its value is the mode byte of the context string."""

    OPRF = 0
    VOPRF = 1
    POPRF = 2


def context_string(mode: Mode) -> bytes:
    """`"OPRFV1-" ‖ I2OSP(mode, 1) ‖ "-" ‖ identifier` (RFC 9497 section 3.1)."""
    return b"OPRFV1-" + group.i2osp(Mode(mode), 1) + b"-" + SUITE_ID


# The domain-separation tags depend only on the mode, so they are computed once here.
_CONTEXT = {mode: context_string(mode) for mode in Mode}
_GROUP_DST = {mode: b"HashToGroup-" + ctx for mode, ctx in _CONTEXT.items()}
_SCALAR_DST = {mode: b"HashToScalar-" + ctx for mode, ctx in _CONTEXT.items()}
_DERIVE_DST = {mode: b"DeriveKeyPair" + ctx for mode, ctx in _CONTEXT.items()}
_SEED_DST = {mode: b"Seed-" + ctx for mode, ctx in _CONTEXT.items()}


def _len_prefixed(data: bytes) -> bytes:
    # Inputs and info are bounded by _check_input; elements and DSTs are short.
    return len(data).to_bytes(2, "big") + data


def _check_input(data: bytes, what: str) -> None:
    if len(data) > MAX_INPUT_BYTES:
        raise EncodingError(f"{what} is longer than {MAX_INPUT_BYTES} bytes")


def hash_to_group(data: bytes, mode: Mode) -> bytes:
    """HashToGroup with the mode's DST; raises InvalidElementError on the identity."""
    element = group.hash_to_group(data, _GROUP_DST[mode])
    if element == group.IDENTITY:
        raise InvalidElementError("input hashes to the identity element")
    return element


def hash_to_scalar(data: bytes, mode: Mode) -> bytes:
    """HashToScalar with the mode's default DST."""
    return group.hash_to_scalar(data, _SCALAR_DST[mode])


def derive_key_pair(seed: bytes, info: bytes, mode: Mode) -> tuple[bytes, bytes]:
    """RFC 9497 DeriveKeyPair: a deterministic (skS, pkS) from a 32-byte seed and info."""
    if len(seed) != group.SCALAR_BYTES:
        raise EncodingError(f"seed must be {group.SCALAR_BYTES} bytes")
    _check_input(info, "key info")
    derive_input = seed + _len_prefixed(info)
    for counter in range(256):
        sk = group.hash_to_scalar(derive_input + group.i2osp(counter, 1), _DERIVE_DST[mode])
        if not group.scalar_is_zero(sk):
            return sk, group.mult_base(sk)
    raise EncodingError("DeriveKeyPair found no non-zero key in 256 attempts")  # pragma: no cover


def public_key(secret_key: bytes) -> bytes:
    """pkS = skS · G."""
    return group.mult_base(group.decode_scalar(secret_key, "secret key"))


def _framed_info_scalar(info: bytes) -> bytes:
    _check_input(info, "info")
    return hash_to_scalar(b"Info" + _len_prefixed(info), Mode.POPRF)


def tweaked_public_key(public_key_: bytes, info: bytes) -> bytes:
    """POPRF's tweakedKey = pkS + HashToScalar(framedInfo) · G (RFC 9497 section 3.3.3)."""
    pk = group.decode_element(public_key_, "public key")
    tweaked = group.add(pk, group.mult_base_or_identity(_framed_info_scalar(info)))
    if tweaked == group.IDENTITY:
        raise InvalidElementError("the tweaked public key is the identity element")
    return tweaked


def _tweaked_secret(secret_key: bytes, info: bytes) -> bytes:
    t = group.scalar_add(secret_key, _framed_info_scalar(info))
    if group.scalar_is_zero(t):
        raise EncodingError("the tweaked POPRF key is zero for this info (InverseError)")
    return t


# ---------------------------------------------------------------------------- client


def blind(input_: bytes, mode: Mode, *, blind_scalar: bytes | None = None) -> tuple[bytes, bytes]:
    """RFC 9497 Blind: return (blind, blindedElement) for `input_`.

    The same function serves all modes; in POPRF the client also needs
    `tweaked_public_key(pkS, info)`, which `finalize` computes for itself.
    """
    _check_input(input_, "input")
    r = group.random_scalar() if blind_scalar is None else _nonzero_scalar(blind_scalar, "blind")
    return r, group.mult(r, hash_to_group(input_, mode))


def _nonzero_scalar(data: bytes, what: str) -> bytes:
    group.decode_scalar(data, what)
    if group.scalar_is_zero(data):
        raise EncodingError(f"{what} must not be zero")
    return data


def hash_output(input_: bytes, unblinded_element: bytes, mode: Mode, info: bytes = b"") -> bytes:
    """The last step of Finalize and Evaluate: Hash(len ‖ input ‖ [len ‖ info] ‖ len ‖ N ‖
    "Finalize"); only POPRF hashes info (RFC 9497 sections 3.3.1-3.3.3)."""
    transcript = _len_prefixed(input_)
    if mode == Mode.POPRF:
        transcript += _len_prefixed(info)
    transcript += _len_prefixed(unblinded_element) + b"Finalize"
    return hashlib.sha512(transcript).digest()


def finalize(
    input_: bytes,
    blind_scalar: bytes,
    evaluated_element: bytes,
    mode: Mode,
    *,
    blinded_element: bytes | None = None,
    proof: bytes | None = None,
    public_key: bytes | None = None,
    info: bytes = b"",
) -> bytes:
    """RFC 9497 Finalize for one input; VOPRF and POPRF verify the proof first."""
    return finalize_batch(
        [input_],
        [blind_scalar],
        [evaluated_element],
        mode,
        blinded_elements=None if blinded_element is None else [blinded_element],
        proof=proof,
        public_key=public_key,
        info=info,
    )[0]


def finalize_batch(
    inputs: Sequence[bytes],
    blinds: Sequence[bytes],
    evaluated_elements: Sequence[bytes],
    mode: Mode,
    *,
    blinded_elements: Sequence[bytes] | None = None,
    proof: bytes | None = None,
    public_key: bytes | None = None,
    info: bytes = b"",
) -> list[bytes]:
    """RFC 9497 Finalize for a batch that shares one proof (VOPRF, POPRF)."""
    if not len(inputs) == len(blinds) == len(evaluated_elements) or not inputs:
        raise EncodingError("inputs, blinds and evaluated elements must be equal, non-empty lists")
    evaluated = [group.decode_element(e, "evaluated element") for e in evaluated_elements]
    if mode != Mode.OPRF:
        if blinded_elements is None or proof is None or public_key is None:
            raise EncodingError(
                "a verifiable mode needs the blinded elements, proof and public key"
            )
        if len(blinded_elements) != len(inputs):
            raise EncodingError("one blinded element is needed per input")
        blinded = [group.decode_element(b, "blinded element") for b in blinded_elements]
        if mode == Mode.VOPRF:
            verify_proof(group.GENERATOR, public_key, blinded, evaluated, proof, mode)
        else:
            # POPRF proves t = skS + m in the other direction: tweakedKey = t·G and
            # blindedElement = t·evaluatedElement (RFC 9497 section 3.3.3).
            tweaked = tweaked_public_key(public_key, info)
            verify_proof(group.GENERATOR, tweaked, evaluated, blinded, proof, mode)
    outputs = []
    for input_, r, element in zip(inputs, blinds, evaluated, strict=True):
        unblinded = group.mult(group.scalar_invert(r), element)
        outputs.append(hash_output(input_, unblinded, mode, info))
    return outputs


# ---------------------------------------------------------------------------- server


def blind_evaluate(
    secret_key: bytes,
    blinded_element: bytes,
    mode: Mode,
    *,
    info: bytes = b"",
    public_key: bytes | None = None,
    proof_random: bytes | None = None,
) -> tuple[bytes, bytes | None]:
    """RFC 9497 BlindEvaluate for one element: (evaluatedElement, proof or None in OPRF).

    Pass `public_key` when it is known, to save the base multiplication that derives it.
    """
    elements, proof = blind_evaluate_batch(
        secret_key,
        [blinded_element],
        mode,
        info=info,
        public_key=public_key,
        proof_random=proof_random,
    )
    return elements[0], proof


def blind_evaluate_batch(
    secret_key: bytes,
    blinded_elements: Sequence[bytes],
    mode: Mode,
    *,
    info: bytes = b"",
    public_key: bytes | None = None,
    proof_random: bytes | None = None,
) -> tuple[list[bytes], bytes | None]:
    """RFC 9497 BlindEvaluate for a batch, with one proof covering every element."""
    if not blinded_elements:
        raise EncodingError("nothing to evaluate: the batch is empty")
    for b in blinded_elements:
        # libsodium's multiplication below rejects non-canonical encodings, but it would
        # accept the identity as input; RFC 9497 requires rejecting it.
        if len(b) != group.ELEMENT_BYTES or b == group.IDENTITY:
            raise InvalidElementError("blinded element is malformed or the identity element")
    if mode == Mode.POPRF:
        t = _tweaked_secret(secret_key, info)
        t_inv = group.scalar_invert(t)
        evaluated = [group.mult(t_inv, b) for b in blinded_elements]
        proof = generate_proof(
            t, group.GENERATOR, group.mult_base(t), evaluated, blinded_elements, mode, proof_random
        )
        return evaluated, proof
    evaluated = [group.mult(secret_key, b) for b in blinded_elements]
    if mode == Mode.OPRF:
        return evaluated, None
    pk = group.mult_base(secret_key) if public_key is None else public_key
    proof = generate_proof(
        secret_key, group.GENERATOR, pk, blinded_elements, evaluated, mode, proof_random
    )
    return evaluated, proof


def evaluate(secret_key: bytes, input_: bytes, mode: Mode, info: bytes = b"") -> bytes:
    """RFC 9497 Evaluate: the PRF output computed directly by the key holder."""
    _check_input(input_, "input")
    element = hash_to_group(input_, mode)
    if mode == Mode.POPRF:
        issued = group.mult(group.scalar_invert(_tweaked_secret(secret_key, info)), element)
        return hash_output(input_, issued, mode, info)
    return hash_output(input_, group.mult(secret_key, element), mode)


# ---------------------------------------------------------------------------- proofs


def _composite_scalars(
    b: bytes, cs: Sequence[bytes], ds: Sequence[bytes], mode: Mode
) -> list[bytes]:
    seed_dst = _SEED_DST[mode]
    seed = hashlib.sha512(_len_prefixed(b) + _len_prefixed(seed_dst)).digest()
    prefix = _len_prefixed(seed)
    return [
        hash_to_scalar(
            prefix + group.i2osp(i, 2) + _len_prefixed(c) + _len_prefixed(d) + b"Composite", mode
        )
        for i, (c, d) in enumerate(zip(cs, ds, strict=True))
    ]


def _weighted_sum(weights: Sequence[bytes], elements: Sequence[bytes]) -> bytes:
    total = group.mult_or_identity(weights[0], elements[0])
    for w, e in zip(weights[1:], elements[1:], strict=True):
        total = group.add(total, group.mult_or_identity(w, e))
    return total


def _challenge(b: bytes, m: bytes, z: bytes, t2: bytes, t3: bytes, mode: Mode) -> bytes:
    transcript = b"".join(_len_prefixed(x) for x in (b, m, z, t2, t3)) + b"Challenge"
    return hash_to_scalar(transcript, mode)


def generate_proof(
    k: bytes,
    a: bytes,
    b: bytes,
    cs: Sequence[bytes],
    ds: Sequence[bytes],
    mode: Mode,
    r: bytes | None = None,
) -> bytes:
    """RFC 9497 GenerateProof: a DLEQ proof that B = k·A and every D[i] = k·C[i].

    The composite uses ComputeCompositesFast (Z = k·M), as the RFC's prover does.
    """
    if len(cs) != len(ds) or not cs:
        raise EncodingError("a proof needs equal, non-empty lists of elements")
    weights = _composite_scalars(b, cs, ds, mode)
    m = _weighted_sum(weights, cs)
    z = group.mult_or_identity(k, m)
    r = group.random_scalar() if r is None else _nonzero_scalar(r, "proof randomness")
    # Every mode of RFC 9497 proves against the generator, where a base mult is cheaper.
    t2 = group.mult_base(r) if a == group.GENERATOR else group.mult(r, a)
    t3 = group.mult_or_identity(r, m)
    c = _challenge(b, m, z, t2, t3, mode)
    s = group.scalar_sub(r, group.scalar_mul(c, k))
    return c + s


def verify_proof(
    a: bytes,
    b: bytes,
    cs: Sequence[bytes],
    ds: Sequence[bytes],
    proof: bytes,
    mode: Mode,
) -> None:
    """RFC 9497 VerifyProof; raises ProofError unless `proof` shows D[i] = k·C[i], B = k·A.

    `b`, `cs` and `ds` must be decoded elements; `b` is checked here too because it is
    usually a public key received from a peer.
    """
    if len(proof) != PROOF_BYTES:
        raise ProofError(f"a proof has {PROOF_BYTES} bytes, got {len(proof)}")
    if len(cs) != len(ds) or not cs:
        raise ProofError("a proof covers equal, non-empty lists of elements")
    group.decode_element(b, "public key")
    try:
        c = group.decode_scalar(proof[: group.SCALAR_BYTES], "proof challenge")
        s = group.decode_scalar(proof[group.SCALAR_BYTES :], "proof response")
    except EncodingError as e:
        raise ProofError("proof scalars are not canonical") from e
    weights = _composite_scalars(b, cs, ds, mode)
    m = _weighted_sum(weights, cs)
    z = _weighted_sum(weights, ds)
    s_a = group.mult_base_or_identity(s) if a == group.GENERATOR else group.mult_or_identity(s, a)
    t2 = group.add(s_a, group.mult_or_identity(c, b))
    t3 = group.add(group.mult_or_identity(s, m), group.mult_or_identity(c, z))
    if not bytes_eq(_challenge(b, m, z, t2, t3, mode), c):
        raise ProofError("the DLEQ proof does not verify against this public key")
