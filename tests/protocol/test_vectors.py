"""The committed cross-language vectors are current, and they follow docs/protocol.md.

The rest re-derives every slot, account, record and receipt value from the formulas in
docs/protocol.md with bare primitives (hashlib, cryptography, pysodium), not through the
protocol modules, so a disagreement between the specification and the code fails here.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Any

import pysodium
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from notalone.crypto import hpke, oprf, threshold
from notalone.crypto.oprf import Mode
from notalone.protocol import accounts, receipts, vectors
from notalone.protocol.slots import Package
from tests.conftest import REPO

VECTOR_DIR = REPO / "vectors"


def _committed() -> dict[str, Any]:
    return {
        name: json.loads((VECTOR_DIR / name).read_text(encoding="utf-8"))
        for name in vectors.FILE_NAMES
    }


def test_committed_vectors_are_up_to_date() -> None:
    committed = _committed()
    sealer = vectors.replay_sealer_from(committed)
    rebuilt = vectors.build_all(sealer=sealer)
    assert sealer.resealed == 0, "a sealed package no longer opens to its package"
    for name in vectors.FILE_NAMES:
        assert rebuilt[name] == committed[name], f"{name} is stale: run `make vectors`"


def _hkdf(ikm: bytes, info: str, length: int) -> bytes:
    return HKDF(hashes.SHA512(), length, None, info.encode()).derive(ikm)


def _reduce(wide: bytes) -> int:
    return int.from_bytes(wide, "little") % ORDER


ORDER = 2**252 + 27742317777372353535851937790883648493
SLOTS = _committed()["slots.json"]


@pytest.mark.parametrize(
    "case", SLOTS["cases"], ids=lambda c: f"{c['canonical']}-t{c['threshold']}"
)
def test_slot_vector_follows_the_specification(case: dict[str, Any]) -> None:
    y = bytes.fromhex(case["oprf_output"])
    t = case["threshold"]
    s = _reduce(_hkdf(y, "notalone/v1/secret", 64))
    s_bytes = s.to_bytes(32, "little")
    tag = _hkdf(s_bytes, "notalone/v1/tag", 32)
    coefficients = [_reduce(_hkdf(s_bytes, f"notalone/v1/coef/{j}", 64)) for j in range(1, t)]
    account = bytes.fromhex(case["account_id"])
    x = _reduce(hashlib.sha512(b"notalone/v1/x" + account + tag).digest())
    share = (s + sum(a * pow(x, j, ORDER) for j, a in enumerate(coefficients, 1))) % ORDER
    entry_key = _hkdf(s_bytes, "notalone/v1/entry-key", 32)
    slot_id = bytes.fromhex(case["slot_id"])
    deployment = bytes.fromhex(SLOTS["deployment_id"])

    assert case["tag"] == tag.hex()
    assert case["secret"] == s_bytes.hex()
    assert case["coefficients"] == [a.to_bytes(32, "little").hex() for a in coefficients]
    assert case["x"] == x.to_bytes(32, "little").hex()
    assert case["share"] == share.to_bytes(32, "little").hex()
    assert case["entry_key"] == entry_key.hex()
    assert case["package_info"] == (b"notalone/v1/package" + deployment + slot_id).hex()
    outer_ad = b"notalone/v1/outer" + tag + account + slot_id
    assert case["outer_ad"] == outer_ad.hex()

    # outer = 0x01 ‖ nonce ‖ XChaCha20-Poly1305(entry_key, inner, ad = 0x01 ‖ outer_ad)
    outer = bytes.fromhex(case["outer"])
    assert outer[:1] == b"\x01"
    assert outer[1:25].hex() == case["outer_nonce"]
    inner = pysodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        outer[25:], b"\x01" + outer_ad, outer[1:25], entry_key
    )
    assert inner.hex() == case["inner"]
    # inner = 0x01 ‖ HPKE(counselor key, info = package_info, package)
    assert inner[:1] == b"\x01"
    package = hpke.open_(
        bytes.fromhex(SLOTS["counselor_private_key"]),
        inner[1:],
        bytes.fromhex(case["package_info"]),
    )
    assert package.decode() == case["package"]
    assert Package.from_bytes(package).identifiers[0][2] == case["canonical"]


def test_threshold_vectors_verify_and_combine() -> None:
    data = _committed()["threshold-oprf.json"]
    sk = bytes.fromhex(data["secret_key"])
    assert oprf.derive_key_pair(
        bytes.fromhex(data["key_seed"]), bytes.fromhex(data["key_info"]), Mode.VOPRF
    ) == (sk, bytes.fromhex(data["public_key"]))
    federation = threshold.Federation(
        threshold=data["threshold"],
        public_key=bytes.fromhex(data["public_key"]),
        share_public_keys=tuple(
            (s["index"], bytes.fromhex(s["public_key"])) for s in data["shares"]
        ),
    )
    threshold.verify_federation(federation)
    for case in data["cases"]:
        input_ = bytes.fromhex(case["input"])
        assert input_ == f"notalone/v1/id|{case['kind']}|{case['canonical']}".encode()
        answers = [
            threshold.ShareEvaluation(
                e["index"], (bytes.fromhex(e["evaluated_element"]),), bytes.fromhex(e["proof"])
            )
            for e in case["evaluations"]
        ]
        output = threshold.finalize_threshold(
            federation,
            [input_],
            [bytes.fromhex(case["blind"])],
            [bytes.fromhex(case["blinded_element"])],
            answers[1:],
        )
        assert output[0].hex() == case["output"] == oprf.evaluate(sk, input_, Mode.VOPRF).hex()


def test_a_different_seed_gives_different_vectors() -> None:
    assert vectors.build_all(b"another seed") != vectors.build_all()


def _xchacha_open(key: bytes, box: bytes, ad: bytes) -> bytes:
    """The AEAD box of docs/protocol.md §2, opened with bare libsodium."""
    assert box[:1] == b"\x01"
    opened: bytes = pysodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        box[25:], b"\x01" + ad, box[1:25], key
    )
    return opened


def test_account_vector_follows_the_specification() -> None:
    data = _committed()["accounts.json"]
    name = data["username"].encode()
    params = data["argon2id"]
    assert params["parallelism"] == 1
    # Argon2id through libsodium, which takes memory in bytes (argon2-cffi takes KiB).
    master = pysodium.crypto_pwhash(
        64,
        unicodedata.normalize("NFC", data["passphrase"]).encode(),
        bytes.fromhex(data["salt"]),
        params["time_cost"],
        params["memory_kib"] * 1024,
        pysodium.crypto_pwhash_ALG_ARGON2ID13,
    )
    assert _hkdf(master, "notalone/v1/auth-key|" + data["username"], 32).hex() == data["auth_key"]
    wrap_key = _hkdf(master, "notalone/v1/wrap-key|" + data["username"], 32)
    assert wrap_key.hex() == data["wrap_key"]
    data_key = _xchacha_open(
        wrap_key,
        bytes.fromhex(data["wrapped_by_passphrase"]),
        b"notalone/v1/wrapped-data-key|passphrase|" + name,
    )
    assert data_key.hex() == data["data_key"]
    recovery = bytes.fromhex(data["recovery_key_bytes"])
    recovery_wrap = _hkdf(recovery, "notalone/v1/recovery-wrap-key|" + data["username"], 32)
    assert recovery_wrap.hex() == data["recovery_wrap_key"]
    assert (
        _hkdf(recovery, "notalone/v1/recovery-auth-key|" + data["username"], 32).hex()
        == data["recovery_auth_key"]
    )
    assert _xchacha_open(
        recovery_wrap,
        bytes.fromhex(data["wrapped_by_recovery"]),
        b"notalone/v1/wrapped-data-key|recovery|" + name,
    ) == bytes.fromhex(data["data_key"])
    assert _hkdf(data_key, "notalone/v1/data-key-check", 16).hex() == data["key_check"]
    # Bundle v1: 0x01 ‖ u8 len ‖ username ‖ u32 t ‖ u32 m ‖ salt ‖ key_check ‖ two wraps.
    bundle = bytes.fromhex(data["bundle"])
    expected = (
        b"\x01"
        + bytes([len(name)])
        + name
        + params["time_cost"].to_bytes(4, "big")
        + params["memory_kib"].to_bytes(4, "big")
        + bytes.fromhex(data["salt"] + data["key_check"])
        + bytes.fromhex(data["wrapped_by_passphrase"] + data["wrapped_by_recovery"])
    )
    assert bundle == expected
    # After a passphrase change the same data key comes out under the new passphrase.
    changed = accounts.AccountKeyBundle.from_bytes(bytes.fromhex(data["changed_bundle"]))
    unlocked = accounts.unlock_with_passphrase(changed, data["changed_passphrase"])
    assert unlocked.key == data_key


def test_record_vector_follows_the_specification() -> None:
    data = _committed()["records.json"]
    data_key = bytes.fromhex(data["data_key"])
    record_key = _hkdf(data_key, "notalone/v1/record-key", 32)
    record_id = bytes.fromhex(data["record_id"])
    for case in data["versions"]:
        ad = b"notalone/v1/record" + record_id + case["version"].to_bytes(4, "big")
        blob = bytes.fromhex(case["blob"])
        assert blob[1:25].hex() == case["nonce"]
        assert _xchacha_open(record_key, blob, ad).decode() == case["content_json"]
    entry_key = _hkdf(data_key, "notalone/v1/entry-copy-key", 32)
    entry_ad = b"notalone/v1/entry-copy" + bytes.fromhex(data["entry_id"])
    opened = _xchacha_open(entry_key, bytes.fromhex(data["entry_blob"]), entry_ad)
    assert opened.decode() == data["entry_json"]


def test_receipt_vector_follows_the_specification() -> None:
    data = _committed()["receipts.json"]
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(data["log_public_key"]))
    leaf_hashes = []
    for i, (blob, leaf) in enumerate(zip(data["ciphertexts"], data["leaves"], strict=True)):
        leaf_bytes = bytes.fromhex(leaf)
        assert leaf_bytes[:19] == b"notalone/v1/receipt"
        assert leaf_bytes[19:51] == hashlib.sha256(bytes.fromhex(blob)).digest()
        leaf_hashes.append(hashlib.sha256(b"\x00" + leaf_bytes).digest())
        assert leaf_hashes[-1].hex() == data["leaf_hashes"][i]
    assert data["roots"][0] == hashlib.sha256(b"").hexdigest()
    for receipt_hex, blob in zip(data["receipts"], data["ciphertexts"], strict=True):
        receipt = receipts.Receipt.from_bytes(bytes.fromhex(receipt_hex))
        receipts.verify_receipt(bytes.fromhex(blob), receipt, bytes.fromhex(data["log_public_key"]))
        head = receipt.tree_head
        assert head.root.hex() == data["roots"][head.tree_size]
        # The signature is plain Ed25519 over "notalone/v1/tree-head" ‖ u64 ‖ u64 ‖ root.
        public.verify(
            head.signature,
            b"notalone/v1/tree-head"
            + head.tree_size.to_bytes(8, "big")
            + head.timestamp_ms.to_bytes(8, "big")
            + head.root,
        )
    old = receipts.SignedTreeHead.from_bytes(bytes.fromhex(data["old_tree_head"]))
    new = receipts.SignedTreeHead.from_bytes(bytes.fromhex(data["tree_head"]))
    receipts.verify_consistency_between(
        old,
        new,
        [bytes.fromhex(h) for h in data["consistency_proof_3_7"]],
        bytes.fromhex(data["log_public_key"]),
    )


def test_replay_sealer_repr_hides_its_keys() -> None:
    sealer = vectors.replay_sealer_from(_committed())
    assert _committed()["slots.json"]["counselor_private_key"] not in repr(sealer)


def test_replay_sealer_reseals_what_no_longer_opens() -> None:
    committed = _committed()
    tampered = json.loads(json.dumps(committed))
    case = tampered["slots.json"]["cases"][0]
    case["inner"] = case["inner"][:-2] + ("00" if case["inner"][-2:] != "00" else "01")
    sealer = vectors.replay_sealer_from(tampered)
    rebuilt = vectors.build_all(sealer=sealer)
    assert sealer.resealed == 1
    assert sealer.replayed == len(committed["slots.json"]["cases"]) - 1
    assert (
        rebuilt["slots.json"]["cases"][0]["inner"] != committed["slots.json"]["cases"][0]["inner"]
    )


def test_replay_sealer_reseals_a_package_that_changed() -> None:
    private, public = hpke.generate_key_pair()
    old = hpke.seal(public, b"old package", b"info")
    sealer = vectors.ReplaySealer(private_keys={public: private}, previous={b"info": old})
    fresh = sealer(public, b"new package", b"info")
    assert fresh != old
    assert hpke.open_(private, fresh, b"info") == b"new package"
    assert (sealer.replayed, sealer.resealed) == (0, 1)
