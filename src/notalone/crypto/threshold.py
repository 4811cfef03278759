"""Threshold VOPRF: an RFC 9497 VOPRF key split τ-of-n among independent key servers.

A dealer splits the OPRF key k with Shamir (`deal`). Key server i holds k_i and publishes
pk_i = k_i·G; it answers a batch of blinded elements with Z_i = k_i·B and an RFC 9497
batch DLEQ proof against pk_i (`evaluate_share`). The client verifies every proof, refuses
the whole evaluation if any fails, combines Z = Σ λ_i·Z_i with Lagrange coefficients at
zero, unblinds and finalizes (`finalize_threshold`). The output is exactly the VOPRF
output `oprf.evaluate(k, input, Mode.VOPRF)`: with n = 1 this is plain RFC 9497.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from notalone.crypto import group, oprf, shamir
from notalone.crypto.oprf import Mode
from notalone.errors import EncodingError, ProofError, ThresholdError

MODE = Mode.VOPRF
MAX_SERVERS = 255


@dataclass(frozen=True)
class KeyShare:
    """One key server's share k_i of the OPRF key, with its public key pk_i = k_i·G."""

    index: int
    secret_key: bytes = field(repr=False)
    public_key: bytes


@dataclass(frozen=True)
class Federation:
    """What clients know of a deployment's key servers: τ, pk and every pk_i by index."""

    threshold: int
    public_key: bytes
    share_public_keys: tuple[tuple[int, bytes], ...]

    def share_public_key(self, index: int) -> bytes:
        """pk_i of key server `index`; ThresholdError if there is no such server."""
        for i, pk in self.share_public_keys:
            if i == index:
                return pk
        raise ThresholdError(f"no key server with index {index} in this federation")


@dataclass(frozen=True)
class ShareEvaluation:
    """Key server `index`'s answer: Z_i for each blinded element and one batch proof."""

    index: int
    evaluated_elements: tuple[bytes, ...]
    proof: bytes


def deal(
    secret_key: bytes,
    threshold: int,
    servers: int,
    *,
    coefficients: Sequence[bytes] | None = None,
) -> tuple[Federation, list[KeyShare]]:
    """Split `secret_key` τ-of-n; server i (1-based) gets f(i). Coefficients are random
    unless a test vector fixes them."""
    if not 1 <= threshold <= servers <= MAX_SERVERS:
        raise ThresholdError(f"need 1 <= threshold <= servers <= {MAX_SERVERS}")
    if coefficients is None:
        coefficients = [group.random_scalar() for _ in range(threshold - 1)]
    elif len(coefficients) != threshold - 1:
        raise ThresholdError("a τ-of-n sharing needs exactly τ - 1 coefficients")
    xs = [group.scalar_from_int(i) for i in range(1, servers + 1)]
    shares = [
        KeyShare(index=i, secret_key=k_i, public_key=group.mult_base(k_i))
        for i, k_i in enumerate(shamir.split(secret_key, coefficients, xs), start=1)
    ]
    federation = Federation(
        threshold=threshold,
        public_key=oprf.public_key(secret_key),
        share_public_keys=tuple((s.index, s.public_key) for s in shares),
    )
    return federation, shares


def verify_federation(federation: Federation) -> None:
    """Check that the pk_i lie on one polynomial of degree < τ whose value at 0 is pk.

    Raises ThresholdError otherwise: a client must not trust key servers whose public
    keys do not fit together, since their outputs would not combine into pk's PRF.
    """
    t = federation.threshold
    entries = federation.share_public_keys
    indices = [i for i, _ in entries]
    if not 1 <= t <= len(entries) or len(set(indices)) != len(indices):
        raise ThresholdError("a federation needs τ <= n distinct key-server indices")
    if any(not 1 <= i <= MAX_SERVERS for i in indices):
        raise ThresholdError(f"key-server indices run from 1 to {MAX_SERVERS}")
    for _, pk in entries:
        group.decode_element(pk, "key-server public key")
    basis = entries[:t]
    xs = [group.scalar_from_int(i) for i, _ in basis]
    for index, expected in [(0, federation.public_key), *entries[t:]]:
        lambdas = shamir.lagrange_coefficients(xs, group.scalar_from_int(index))
        points = [
            group.mult_or_identity(lam, pk) for lam, (_, pk) in zip(lambdas, basis, strict=True)
        ]
        combined = points[0]
        for p in points[1:]:
            combined = group.add(combined, p)
        if combined != expected:
            raise ThresholdError(
                f"key-server public keys are inconsistent (checked at index {index})"
            )


def evaluate_share(
    share: KeyShare,
    blinded_elements: Sequence[bytes],
    *,
    proof_random: bytes | None = None,
) -> ShareEvaluation:
    """Key server: Z_i = k_i·B for each element, with a batch DLEQ proof against pk_i."""
    evaluated, proof = oprf.blind_evaluate_batch(
        share.secret_key,
        blinded_elements,
        MODE,
        public_key=share.public_key,
        proof_random=proof_random,
    )
    assert proof is not None  # noqa: S101 - VOPRF always proves; this narrows the type.
    return ShareEvaluation(index=share.index, evaluated_elements=tuple(evaluated), proof=proof)


def finalize_threshold(
    federation: Federation,
    inputs: Sequence[bytes],
    blinds: Sequence[bytes],
    blinded_elements: Sequence[bytes],
    evaluations: Sequence[ShareEvaluation],
) -> list[bytes]:
    """Client: verify every key server's proof, combine τ answers, unblind and finalize.

    Any failed proof, malformed element or duplicated server rejects the whole evaluation
    (ProofError, InvalidElementError, ThresholdError): nothing is combined from it.
    """
    if not len(inputs) == len(blinds) == len(blinded_elements) or not inputs:
        raise EncodingError("inputs, blinds and blinded elements must be equal, non-empty lists")
    indices = [e.index for e in evaluations]
    if len(set(indices)) != len(indices):
        raise ThresholdError("two answers claim to come from the same key server")
    if len(evaluations) < federation.threshold:
        raise ThresholdError(
            f"{len(evaluations)} key server(s) answered; {federation.threshold} are needed"
        )
    blinded = [group.decode_element(b, "blinded element") for b in blinded_elements]
    for evaluation in evaluations:
        if len(evaluation.evaluated_elements) != len(blinded):
            raise ProofError(f"key server {evaluation.index} answered the wrong number of elements")
        evaluated = [
            group.decode_element(e, f"element from key server {evaluation.index}")
            for e in evaluation.evaluated_elements
        ]
        try:
            oprf.verify_proof(
                group.GENERATOR,
                federation.share_public_key(evaluation.index),
                blinded,
                evaluated,
                evaluation.proof,
                MODE,
            )
        except ProofError as e:
            raise ProofError(f"key server {evaluation.index}'s proof does not verify") from e
    # Every answer verified; τ of them determine the result, so use the first τ by index.
    used = sorted(evaluations, key=lambda e: e.index)[: federation.threshold]
    lambdas = shamir.lagrange_coefficients([group.scalar_from_int(e.index) for e in used])
    outputs = []
    for position, (input_, r) in enumerate(zip(inputs, blinds, strict=True)):
        r_inv = group.scalar_invert(r)
        unblinded = group.IDENTITY
        for lam, evaluation in zip(lambdas, used, strict=True):
            term = group.mult_or_identity(
                group.scalar_mul(lam, r_inv), evaluation.evaluated_elements[position]
            )
            unblinded = group.add(unblinded, term)
        outputs.append(oprf.hash_output(input_, unblinded, MODE))
    return outputs
