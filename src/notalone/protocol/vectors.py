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

import hashlib
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import email_validator
import phonenumbers
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from notalone import PROTOCOL_VERSION
from notalone.crypto import aead, group, hpke, merkle, oprf, threshold
from notalone.crypto.ct import bytes_eq
from notalone.crypto.kdf import hkdf_sha512
from notalone.crypto.oprf import Mode
from notalone.errors import DecryptionError, IdentifierError, ProtocolError
from notalone.protocol import (
    accounts,
    casework,
    identifiers,
    membership,
    receipts,
    records,
    reports,
    slots,
)
from notalone.protocol.slots import Package

DEFAULT_SEED = b"notalone/v1 cross-language test vectors"
GENERATOR = "notalone.protocol.vectors"
#: The files `build_all` returns, in order.
FILE_NAMES = [
    "identifiers.json",
    "threshold-oprf.json",
    "slots.json",
    "accounts.json",
    "records.json",
    "receipts.json",
    "casework.json",
    "membership.json",
]

Vectors = dict[str, Any]
#: Identifiers as a survivor might type them: (kind, as entered, region). They feed the
#: identifier, OPRF and slot vectors.
SAMPLE_IDENTIFIERS: tuple[tuple[str, str, str | None], ...] = (
    ("email", "John.Doe+work@GMail.com", None),
    ("phone", "(415) 555-0134", "US"),
    ("profile", "https://www.linkedin.com/in/Jane-Doe/", None),
)
#: Canonicalization cases for the browser to reproduce: every rule of docs/protocol.md §4.
IDENTIFIER_CASES: tuple[tuple[str, str, str | None], ...] = (
    *SAMPLE_IDENTIFIERS,
    ("email", "  johndoe@googlemail.com ", None),
    ("email", "mailto:Jane.Roe@Example.ORG", None),
    ("email", "Jane Roe <jane.roe+news@outlook.com>", None),
    ("email", "someone@ME.com", None),
    ("email", "first.last+tag@proton.me", None),
    ("email", "josé@bücher.example", None),
    # Full-width letters, as some East Asian keyboards type them: NFKC folds them.
    ("email", "ＪＯＨＮ＠ｅｘａｍｐｌｅ．ｃｏｍ", None),  # noqa: RUF001
    ("phone", "+1 415 555 0134", None),
    ("phone", "tel:+14155550134", None),
    ("phone", "0044 20 7946 0958", None),
    ("phone", "020 7946 0958", "GB"),
    ("phone", "+1 415 555 0134 ext. 12", None),
    ("profile", "linkedin.com/in/jane-doe", None),
    ("profile", "https://twitter.com/Jack?lang=en", None),
    ("profile", "x.com/jack", None),
    ("profile", "https://www.instagram.com/Some.User/", None),
    ("profile", "https://m.facebook.com/John.Smith.5", None),
    ("profile", "https://www.facebook.com/profile.php?id=100004123456789", None),
    ("profile", "https://www.tiktok.com/@Some_User", None),
    ("profile", "https://github.com/Octo-Cat", None),
    ("profile", "@Gargron@Mastodon.Social", None),
    ("profile", "https://mastodon.social/@Gargron", None),
    ("orgid", "Example.ORG:E-1042", None),
    ("orgid", "www.example.org : E-1042", None),
)
#: Inputs every implementation must refuse (the messages may be worded differently).
IDENTIFIER_REFUSALS: tuple[tuple[str, str, str | None], ...] = (
    ("email", "not an email", None),
    ("email", "", None),
    ("phone", "415 555 0134", None),
    ("phone", "+1 415 555 013", None),
    ("phone", "1-800-FLOWERS", "US"),
    ("profile", "@jack", None),
    ("profile", "https://x.com/home", None),
    ("profile", "https://github.com/org/repo", None),
    ("profile", "https://www.linkedin.com/company/acme", None),
    ("profile", "https://example.com/jack", None),
    ("orgid", "E-1042", None),
    ("orgid", "example.org:E 1042", None),
)


class Drbg:
    """Labelled deterministic bytes: HKDF-SHA-512(seed, "notalone/v1/vectors/" ‖ label)."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed

    def draw(self, label: str, length: int) -> bytes:
        """`length` bytes for `label`; the same label always gives the same bytes."""
        return hkdf_sha512(self._seed, b"notalone/v1/vectors/" + label.encode(), length)

    def stream(self, label: str) -> Callable[[int], bytes]:
        """A random-bytes source for recipes that take `rng`: call i draws label/i."""
        calls = iter(range(1 << 30))
        return lambda n: self.draw(f"{label}/{next(calls)}", n)

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

    private_keys: Mapping[bytes, bytes] = field(repr=False)
    previous: Mapping[bytes, bytes] = field(repr=False)
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
    for n, (kind, entered, region) in enumerate(SAMPLE_IDENTIFIERS):
        identifier = identifiers.canonicalize(kind, entered, region=region)
        canonical = identifier.canonical
        input_ = identifier.oprf_input()
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
    for n, (kind, entered, region) in enumerate(SAMPLE_IDENTIFIERS):
        canonical = identifiers.canonicalize(kind, entered, region=region).canonical
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


def build_identifier_vectors() -> Vectors:
    """Canonical forms and OPRF inputs of IDENTIFIER_CASES, and inputs to refuse."""
    cases = []
    for kind, entered, region in IDENTIFIER_CASES:
        identifier = identifiers.canonicalize(kind, entered, region=region)
        cases.append(
            {
                "kind": kind,
                "input": entered,
                "region": region,
                "canonical": identifier.canonical,
                "oprf_input": identifier.oprf_input().hex(),
            }
        )
    refusals = []
    for kind, entered, region in IDENTIFIER_REFUSALS:
        try:
            identifiers.canonicalize(kind, entered, region=region)
        except IdentifierError as e:
            refusals.append({"kind": kind, "input": entered, "region": region, "error": str(e)})
        else:  # pragma: no cover - guarded by the identifier tests
            raise ProtocolError("an identifier that must be refused was accepted")
    return {
        "description": (
            "Identifier canonicalization (docs/protocol.md §4): `canonical` for each input, "
            'and the OPRF input "notalone/v1/id|" ‖ kind ‖ "|" ‖ canonical (UTF-8). '
            "`refusals` must be refused; the wording of `error` may differ."
        ),
        "libraries": {
            "phonenumbers": phonenumbers.__version__,
            "email-validator": email_validator.__version__,
            "unicode": unicodedata.unidata_version,
        },
        "cases": cases,
        "refusals": refusals,
    }


#: Vectors use the weakest Argon2id parameters a client accepts, to stay quick in browsers.
VECTOR_ARGON2 = accounts.ARGON2_FLOOR


def build_account_vectors(drbg: Drbg) -> Vectors:
    """One account: passphrase and recovery derivations, the wrapped data key, the bundle,
    and a passphrase change."""
    username = accounts.generate_username(drbg.stream("accounts/username"))
    # A published test passphrase, with non-ASCII letters to pin NFC and UTF-8 handling.
    passphrase = "correct horse battery staple, née Zoë"  # noqa: S105
    new = accounts.create_account(
        username, passphrase, VECTOR_ARGON2, rng=drbg.stream("accounts/create")
    )
    keys = accounts.derive_passphrase_keys(username, passphrase, new.bundle.salt, VECTOR_ARGON2)
    recovery = accounts.derive_recovery_keys(username, new.recovery_key)
    changed = accounts.change_passphrase(
        new.bundle,
        new.data_key,
        "a new passphrase, much longer",
        VECTOR_ARGON2,
        rng=drbg.stream("accounts/change"),
    )
    return {
        "description": (
            "Survivor account keys (docs/protocol.md §9): Argon2id (p = 1) of the NFC "
            "passphrase, then HKDF-SHA-512 subkeys bound to the username; the data key "
            "wrapped by the passphrase and the recovery key; the v1 key bundle; a "
            "passphrase change that rewraps the same data key."
        ),
        "username": username,
        "passphrase": passphrase,
        "argon2id": {
            "time_cost": VECTOR_ARGON2.time_cost,
            "memory_kib": VECTOR_ARGON2.memory_kib,
            "parallelism": VECTOR_ARGON2.parallelism,
        },
        "salt": new.bundle.salt.hex(),
        "auth_key": keys.auth_key.hex(),
        "wrap_key": keys.wrap_key.hex(),
        "data_key": new.data_key.key.hex(),
        "key_check": new.bundle.key_check.hex(),
        "recovery_key": new.recovery_key,
        "recovery_key_bytes": accounts.parse_recovery_key(new.recovery_key).hex(),
        "recovery_auth_key": recovery.auth_key.hex(),
        "recovery_wrap_key": recovery.wrap_key.hex(),
        "wrapped_by_passphrase": new.bundle.wrapped_by_passphrase.hex(),
        "wrapped_by_recovery": new.bundle.wrapped_by_recovery.hex(),
        "bundle": new.bundle.to_bytes().hex(),
        "changed_passphrase": "a new passphrase, much longer",
        "changed_auth_key": changed.auth_key.hex(),
        "changed_bundle": changed.bundle.to_bytes().hex(),
    }


def build_record_vectors(drbg: Drbg) -> Vectors:
    """Two versions of one record and one entry copy under a fixed data key."""
    data_key = accounts.DataKey(drbg.draw("records/data-key", 32))
    record_id = records.new_record_id(drbg.stream("records/record-id"))
    versions = [
        records.RecordContent(
            who="My manager at the studio",
            what="He cornered me after the wrap party.",
            when="2025-03-14, about 23:00",
            where="Stage 4 corridor",
            witnesses=("Sam (crew)",),
            text="I wrote this the next morning.",
        ),
        records.RecordContent(
            who="My manager at the studio",
            what="He cornered me after the wrap party and blocked the door.",
            when="2025-03-14, about 23:00",
            where="Stage 4 corridor",
            witnesses=("Sam (crew)", "Ana (catering)"),
            text="Edited: I remembered the second witness. Ünïcödé ✓",
        ),
    ]
    cases = []
    for version, content in enumerate(versions, start=1):
        nonce = drbg.draw(f"records/nonce/{version}", aead.NONCE_BYTES)
        blob = records.encrypt_record_version(data_key, record_id, version, content, nonce=nonce)
        cases.append(
            {
                "version": version,
                "content_json": content.to_json().decode(),
                "nonce": nonce.hex(),
                "blob": blob.hex(),
            }
        )
    entry_id = drbg.draw("records/entry-id", 16)
    entry: dict[str, records.JSONInput] = {
        "v": 1,
        "counselor_id": "counselor-vectors",
        "identifiers": ["email", "phone"],
    }
    entry_nonce = drbg.draw("records/entry-nonce", aead.NONCE_BYTES)
    entry_blob = records.encrypt_entry_copy(data_key, entry_id, entry, nonce=entry_nonce)
    return {
        "description": (
            "Record versions and an entry copy (docs/protocol.md §10): canonical JSON "
            "sealed with XChaCha20-Poly1305 under HKDF subkeys of the data key."
        ),
        "data_key": data_key.key.hex(),
        "record_id": record_id.hex(),
        "versions": cases,
        "entry_id": entry_id.hex(),
        "entry_json": records.canonical_json(entry).decode(),
        "entry_nonce": entry_nonce.hex(),
        "entry_blob": entry_blob.hex(),
    }


def build_receipt_vectors(drbg: Drbg) -> Vectors:
    """A log of 7 record receipts: roots, one receipt per leaf, a consistency proof."""
    signing = Ed25519PrivateKey.from_private_bytes(drbg.draw("receipts/log-key", 32))
    public = signing.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    start_ms = 1_763_900_000_000
    blobs = [drbg.draw(f"receipts/ciphertext/{i}", 48 + 13 * i) for i in range(7)]
    leaves = [
        receipts.receipt_leaf(hashlib.sha256(b).digest(), start_ms + 60_000 * i)
        for i, b in enumerate(blobs)
    ]
    leaf_hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    head_ms = start_ms + 3_600_000
    issued = [
        receipts.issue_receipt(leaf, i, leaf_hashes, signing, head_ms)
        for i, leaf in enumerate(leaves)
    ]
    old = receipts.sign_tree_head(signing, 3, start_ms + 180_000, merkle.root(leaf_hashes[:3]))
    return {
        "description": (
            "Record receipts (docs/protocol.md §10): RFC 9162 leaves "
            '"notalone/v1/receipt" ‖ SHA-256(ciphertext) ‖ u64 time_ms, Ed25519-signed '
            "tree heads, receipts with inclusion proofs, a consistency proof from 3 to 7."
        ),
        "log_private_key": signing.private_bytes_raw().hex(),
        "log_public_key": public.hex(),
        "ciphertexts": _hex(blobs),
        "leaves": _hex(leaves),
        "leaf_hashes": _hex(leaf_hashes),
        "roots": [merkle.root(leaf_hashes[:n]).hex() for n in range(len(leaves) + 1)],
        "receipts": [r.to_bytes().hex() for r in issued],
        "tree_head": issued[0].tree_head.to_bytes().hex(),
        "old_tree_head": old.to_bytes().hex(),
        "consistency_proof_3_7": _hex(merkle.consistency_proof(leaf_hashes, 3)),
    }


def build_all(seed: bytes = DEFAULT_SEED, sealer: Sealer = hpke.seal) -> dict[str, Vectors]:
    """Every vector file, by file name."""
    drbg = Drbg(seed)
    oprf_vectors, outputs = build_oprf_vectors(drbg)
    slot_vectors, _ = build_slot_vectors(drbg, outputs, sealer)
    files = {
        "identifiers.json": build_identifier_vectors(),
        "threshold-oprf.json": oprf_vectors,
        "slots.json": slot_vectors,
        "accounts.json": build_account_vectors(drbg),
        "records.json": build_record_vectors(drbg),
        "receipts.json": build_receipt_vectors(drbg),
        # Its own counters: the slot vectors' tests read the main sealer's.
        "casework.json": build_casework_vectors(
            drbg, replace(sealer) if isinstance(sealer, ReplaySealer) else sealer
        ),
        "membership.json": build_membership_vectors(drbg),
    }
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
    for case in previous.get("casework.json", {}).get("cases", []):
        private_keys[bytes.fromhex(case["public_key"])] = bytes.fromhex(case["private_key"])
        earlier[bytes.fromhex(case["info"])] = bytes.fromhex(case["sealed"])[1:]
    return ReplaySealer(private_keys=private_keys, previous=earlier)


def build_casework_vectors(drbg: Drbg, sealer: Sealer) -> Vectors:
    """A case note and a formal report (§13), sealed by Python for the browser to open."""
    match_id = drbg.draw("casework/match-id", casework.MATCH_ID_BYTES)
    counselor_private = drbg.draw("casework/counselor-key", 32)
    organization_id = drbg.draw("casework/organization-id", 16)
    organization_private = drbg.draw("casework/organization-key", 32)
    note = "Called back on Tuesday; she wants to talk to the others. Ünïcode ✓"
    report = "Formal report: three accounts named the same person at this employer."
    note_info = casework.case_note_info("counselor-vectors", match_id)
    report_info = reports.report_info(organization_id, match_id)
    cases = []
    for kind, private, info, text in (
        ("case-note", counselor_private, note_info, note),
        ("report", organization_private, report_info, report),
    ):
        public = hpke.public_key_of(private)
        cases.append(
            {
                "kind": kind,
                "private_key": private.hex(),
                "public_key": public.hex(),
                "info": info.hex(),
                "text": text,
                "sealed": (casework.VERSION + sealer(public, text.encode(), info)).hex(),
            }
        )
    return {
        "description": (
            "Casework (docs/protocol.md §13). `sealed` = 0x01 ‖ HPKE base-mode ciphertext "
            'to `public_key` with `info`; a case note\'s info is "notalone/v1/case-note" ‖ '
            'counselor_id ‖ match_id, a report\'s "notalone/v1/report" ‖ organization_id '
            "‖ match_id. HPKE is randomized: check that `sealed` opens to `text`."
        ),
        "counselor_id": "counselor-vectors",
        "match_id": match_id.hex(),
        "organization_id": organization_id.hex(),
        "cases": cases,
    }


def build_membership_vectors(drbg: Drbg) -> Vectors:
    """Membership tokens (§15): the issuer key of one organization, a batch of three
    tokens blinded, evaluated with one proof, finalized and encoded."""
    server_secret = drbg.draw("membership/server-secret", 32)
    organization_id = drbg.draw("membership/organization-id", 16)
    seed = membership.issuer_seed(server_secret)
    sk, pk = membership.issuer_key_pair(seed, organization_id)
    inputs = [drbg.draw(f"membership/input/{i}", membership.TOKEN_INPUT_BYTES) for i in range(3)]
    blinds = [drbg.scalar(f"membership/blind/{i}") for i in range(3)]
    draws = iter(inputs)
    pending = membership.blind_tokens(organization_id, 3, rng=lambda _n: next(draws), blinds=blinds)
    proof_random = drbg.scalar("membership/proof-random")
    evaluated, proof = membership.issue(sk, pk, pending.blinded, proof_random=proof_random)
    tokens = membership.finalize_tokens(pending, pk, evaluated, proof)
    for token in tokens:
        membership.verify_token(sk, token)
    code = membership.new_code(lambda n: drbg.draw("membership/code", n))
    address = "ana.member@example.org"
    pseudonym_key = membership.pseudonym_key(server_secret)
    return {
        "description": (
            "Membership tokens (docs/protocol.md §15): issuer key = DeriveKeyPair(HKDF-SHA-512("
            "server_secret, 'notalone/v1/escrow/member-issuer-seed', 32), "
            "'notalone/v1/member-issuer' || organization_id) in RFC 9497 mode 1; three inputs "
            "blinded, evaluated in one batch with one DLEQ proof, finalized to the outputs; "
            "token text = 'nmt1-' || hex(organization_id || input || output)."
        ),
        "mode": int(Mode.VOPRF),
        "server_secret": server_secret.hex(),
        "issuer_seed": seed.hex(),
        "organization_id": organization_id.hex(),
        "issuer_info": membership.issuer_info(organization_id).hex(),
        "secret_key": sk.hex(),
        "public_key": pk.hex(),
        "inputs": _hex(inputs),
        "blinds": _hex(blinds),
        "blinded_elements": _hex(pending.blinded),
        "proof_random_scalar": proof_random.hex(),
        "evaluated_elements": _hex(evaluated),
        "proof": proof.hex(),
        "outputs": _hex(t.output for t in tokens),
        "tokens": [t.to_text() for t in tokens],
        "tokens_file": membership.tokens_file(tokens, pk),
        "code": {
            "code": code,
            "entered": code.lower().replace("-", " "),
            "canonical": membership.normalize_code(code),
            "hash": membership.code_hash(code).hex(),
        },
        "pseudonym": {
            "key": pseudonym_key.hex(),
            "address": address,
            "pseudonym": membership.member_pseudonym(pseudonym_key, organization_id, address).hex(),
        },
        "periods": [
            [ms, membership.period_of(ms)] for ms in (1_767_225_599_999, 1_767_225_600_000)
        ],
    }
