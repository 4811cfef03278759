"""Deterministic cross-language test vectors for every derivation of docs/protocol.md.

The browser implementation is tested against these. Everything random in the protocol
is drawn here from a DRBG keyed by a fixed seed (HKDF-SHA-512 over a label), so the
vectors are byte-for-byte repeatable, except HPKE: `cryptography` draws its ephemeral
key itself. Sealed packages are therefore produced by a `Sealer` that callers may
replace with one replaying packages from an earlier run (`ReplaySealer`), after it has
checked that each opens to exactly the same plaintext under the same key and context.

Pure: builds dictionaries of hex strings; writing files is the CLI's job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from notalone import PROTOCOL_VERSION
from notalone.crypto import aead, group, hpke, oprf, threshold
from notalone.crypto.ct import bytes_eq
from notalone.crypto.kdf import hkdf_sha512
from notalone.crypto.oprf import Mode
from notalone.errors import DecryptionError, ProtocolError
from notalone.protocol import slots
from notalone.protocol.slots import Package

DEFAULT_SEED = b"notalone/v1 cross-language test vectors"
GENERATOR = "notalone.protocol.vectors"
#: The files `build_all` returns, in order.
FILE_NAMES = ["threshold-oprf.json", "slots.json"]

Vectors = dict[str, Any]
#: Sample inputs: (kind, as entered, region, canonical). Canonicalization itself has its
#: own vector file built from the identifier module; these feed the OPRF and slots.
SAMPLE_IDENTIFIERS: tuple[tuple[str, str, str], ...] = (
    ("email", "John.Doe+work@GMail.com", "johndoe@gmail.com"),
    ("phone", "(415) 555-0134", "+14155550134"),
    ("profile", "https://www.linkedin.com/in/Jane-Doe/", "linkedin:jane-doe"),
)


class Drbg:
    """Labelled deterministic bytes: HKDF-SHA-512(seed, "notalone/v1/vectors/" ‖ label)."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed

    def draw(self, label: str, length: int) -> bytes:
        """`length` bytes for `label`; the same label always gives the same bytes."""
        return hkdf_sha512(self._seed, b"notalone/v1/vectors/" + label.encode(), length)

    def scalar(self, label: str) -> bytes:
        """A non-zero scalar for `label` (64 bytes reduced, as RandomScalar would be)."""
        value = group.reduce_scalar(self.draw(label, 64))
        if group.scalar_is_zero(value):  # pragma: no cover - probability 2^-252
            raise ProtocolError("the vector DRBG produced a zero scalar")
        return value


Sealer = Callable[[bytes, bytes, bytes], bytes]


@dataclass
class ReplaySealer:
    """A Sealer that returns earlier HPKE ciphertexts when they still open to the same
    plaintext under the same private key and info; otherwise it seals afresh."""

    private_keys: Mapping[bytes, bytes]
    previous: Mapping[bytes, bytes]
    replayed: int = 0
    resealed: int = 0
    _fresh: Sealer = field(default=hpke.seal, repr=False)

    def __call__(self, public_key: bytes, plaintext: bytes, info: bytes) -> bytes:
        """Seal `plaintext` to `public_key` with `info`, reusing an earlier ciphertext."""
        earlier = self.previous.get(info)
        private = self.private_keys.get(public_key)
        if earlier is not None and private is not None:
            try:
                if bytes_eq(hpke.open_(private, earlier, info), plaintext):
                    self.replayed += 1
                    return earlier
            except DecryptionError:
                pass
        self.resealed += 1
        return self._fresh(public_key, plaintext, info)


def _hex(values: Iterable[bytes]) -> list[str]:
    return [v.hex() for v in values]


def build_oprf_vectors(drbg: Drbg) -> tuple[Vectors, dict[str, bytes]]:
    """The 2-of-3 federation and one threshold VOPRF evaluation per sample identifier.

    Returns the vectors and the OPRF outputs by canonical identifier, for the slots.
    """
    key_seed = drbg.draw("oprf/key-seed", 32)
    key_info = b"notalone vectors federation"
    sk, pk = oprf.derive_key_pair(key_seed, key_info, Mode.VOPRF)
    coefficients = [drbg.scalar("oprf/dealer-coefficient/1")]
    federation, shares = threshold.deal(sk, 2, 3, coefficients=coefficients)
    cases = []
    outputs = {}
    for n, (kind, entered, canonical) in enumerate(SAMPLE_IDENTIFIERS):
        input_ = f"{PROTOCOL_VERSION}/id|{kind}|{canonical}".encode()
        r = drbg.scalar(f"oprf/{n}/blind")
        _, blinded = oprf.blind(input_, Mode.VOPRF, blind_scalar=r)
        answers = [
            threshold.evaluate_share(
                s, [blinded], proof_random=drbg.scalar(f"oprf/{n}/proof/{s.index}")
            )
            for s in shares
        ]
        output = oprf.evaluate(sk, input_, Mode.VOPRF)
        for pair in ((0, 1), (0, 2), (1, 2)):
            combined = threshold.finalize_threshold(
                federation, [input_], [r], [blinded], [answers[i] for i in pair]
            )
            if combined != [output]:  # pragma: no cover - guarded by the threshold tests
                raise ProtocolError("threshold evaluation disagrees with single-key evaluate")
        outputs[canonical] = output
        cases.append(
            {
                "kind": kind,
                "entered": entered,
                "canonical": canonical,
                "input": input_.hex(),
                "blind": r.hex(),
                "blinded_element": blinded.hex(),
                "evaluations": [
                    {
                        "index": a.index,
                        "proof_random_scalar": drbg.scalar(f"oprf/{n}/proof/{a.index}").hex(),
                        "evaluated_element": a.evaluated_elements[0].hex(),
                        "proof": a.proof.hex(),
                    }
                    for a in answers
                ],
                "output": output.hex(),
            }
        )
    vectors = {
        "description": (
            "Threshold VOPRF (RFC 9497 mode 1, ristretto255-SHA512), 2-of-3 key federation. "
            "Key servers i answer Z_i = k_i·B with a DLEQ proof against pk_i; any two answers "
            "combined with Lagrange coefficients at 0 give `output` = Evaluate(k, input)."
        ),
        "mode": int(Mode.VOPRF),
        "key_seed": key_seed.hex(),
        "key_info": key_info.hex(),
        "secret_key": sk.hex(),
        "public_key": pk.hex(),
        "threshold": federation.threshold,
        "dealer_coefficients": _hex(coefficients),
        "shares": [
            {"index": s.index, "secret_key": s.secret_key.hex(), "public_key": s.public_key.hex()}
            for s in shares
        ],
        "cases": cases,
    }
    return vectors, outputs


def build_slot_vectors(
    drbg: Drbg, outputs: Mapping[str, bytes], sealer: Sealer
) -> tuple[Vectors, dict[bytes, bytes]]:
    """Slots for each sample identifier at thresholds 2 and 3, from two accounts each.

    Returns the vectors and the counselor key pair (public → private) used to seal.
    """
    counselor_private = drbg.draw("slots/counselor-key", 32)
    counselor_public = hpke.public_key_of(counselor_private)
    deployment_id = drbg.draw("slots/deployment-id", slots.DEPLOYMENT_ID_BYTES)
    accounts = [drbg.draw(f"slots/account/{a}", slots.ACCOUNT_ID_BYTES) for a in range(2)]
    cases = []
    for n, (kind, entered, canonical) in enumerate(SAMPLE_IDENTIFIERS):
        y = outputs[canonical]
        for t in (2, 3):
            derived = slots.derive_slot_secrets(y, t)
            for a, account in enumerate(accounts):
                label = f"slots/{n}/t{t}/account{a}"
                slot_id = drbg.draw(label + "/slot-id", slots.SLOT_ID_BYTES)
                nonce = drbg.draw(label + "/outer-nonce", 24)
                package = Package(
                    contact=f"Signal +1 555 010 {n}{t}{a}",
                    identifiers=((kind, entered, canonical),),
                    message="Vector package.",
                )
                slot = slots.build_slot(
                    y,
                    package,
                    threshold=t,
                    account_id=account,
                    slot_id=slot_id,
                    deployment_id=deployment_id,
                    counselor_id="counselor-vectors",
                    counselor_public_key=counselor_public,
                    outer_nonce=nonce,
                    seal=sealer,
                )
                inner = _open_outer(slot, derived.entry_key)
                cases.append(
                    {
                        "canonical": canonical,
                        "oprf_output": y.hex(),
                        "threshold": t,
                        "tag": derived.tag.hex(),
                        "secret": derived.secret.hex(),
                        "coefficients": _hex(derived.coefficients),
                        "entry_key": derived.entry_key.hex(),
                        "account_id": account.hex(),
                        "x": slot.x.hex(),
                        "share": slot.share.hex(),
                        "slot_id": slot_id.hex(),
                        "package": package.to_bytes().decode(),
                        "package_info": slots.package_info(deployment_id, slot_id).hex(),
                        "inner": inner.hex(),
                        "outer_nonce": nonce.hex(),
                        "outer_ad": slots.outer_ad(derived.tag, account, slot_id).hex(),
                        "outer": slot.outer.hex(),
                    }
                )
    vectors = {
        "description": (
            "Escrow slots (docs/protocol.md). `inner` = 0x01 ‖ HPKE base-mode ciphertext to "
            "the counselor key with info `package_info`; HPKE is randomized, so check that it "
            "opens to `package` rather than re-sealing. `outer` = 0x01 ‖ nonce ‖ "
            "XChaCha20-Poly1305(entry_key, inner, ad = 0x01 ‖ outer_ad)."
        ),
        "deployment_id": deployment_id.hex(),
        "counselor_private_key": counselor_private.hex(),
        "counselor_public_key": counselor_public.hex(),
        "cases": cases,
    }
    return vectors, {counselor_public: counselor_private}


def _open_outer(slot: slots.Slot, key: bytes) -> bytes:
    return aead.open_(key, slot.outer, slots.outer_ad(slot.tag, slot.account_id, slot.slot_id))


def build_all(seed: bytes = DEFAULT_SEED, sealer: Sealer = hpke.seal) -> dict[str, Vectors]:
    """Every vector file, by file name."""
    drbg = Drbg(seed)
    oprf_vectors, outputs = build_oprf_vectors(drbg)
    slot_vectors, _ = build_slot_vectors(drbg, outputs, sealer)
    files = {"threshold-oprf.json": oprf_vectors, "slots.json": slot_vectors}
    for vectors in files.values():
        vectors["protocol"] = PROTOCOL_VERSION
        vectors["generator"] = GENERATOR
        vectors["seed"] = seed.hex()
    return files


def replay_sealer_from(previous: Mapping[str, Vectors]) -> ReplaySealer:
    """A ReplaySealer reusing the sealed packages of previously written slot vectors."""
    slot_vectors = previous.get("slots.json", {})
    private_keys: dict[bytes, bytes] = {}
    earlier: dict[bytes, bytes] = {}
    if slot_vectors:
        private_keys[bytes.fromhex(slot_vectors["counselor_public_key"])] = bytes.fromhex(
            slot_vectors["counselor_private_key"]
        )
        for case in slot_vectors["cases"]:
            inner = bytes.fromhex(case["inner"])
            earlier[bytes.fromhex(case["package_info"])] = inner[len(slots.INNER_VERSION) :]
    return ReplaySealer(private_keys=private_keys, previous=earlier)
