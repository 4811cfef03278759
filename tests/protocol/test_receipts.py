"""Record receipts: pinned encodings, round trips, and every tampering a verifier must catch."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from notalone.crypto import merkle
from notalone.errors import (
    EncodingError,
    MerkleProofError,
    ProtocolError,
    SignatureError,
    VersionError,
)
from notalone.protocol import receipts
from notalone.protocol.receipts import Receipt, SignedTreeHead

# The RFC 8032 section 7.1 TEST 1 key, so the pinned signatures below are reproducible.
LOG_KEY = Ed25519PrivateKey.from_private_bytes(
    bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
)
LOG_PUBLIC = LOG_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
OTHER_PUBLIC = OTHER_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z in ms.

# Regression vectors produced by this implementation (Ed25519 is deterministic): a log of
# five leaves, the receipt for the last one. They pin the byte layouts for the browser
# implementation; they are not from an independent source.
VECTOR_CIPHERTEXT = b"notalone test ciphertext"
VECTOR_LEAF = bytes.fromhex(
    "6e6f74616c6f6e652f76312f72656365697074"  # "notalone/v1/receipt"
    "6f11bfd5ac32a3907121b95bd6213dc2c35d9a346d6bf1f0bcd2a49e9253cf89"  # SHA-256(ciphertext)
    "0000018bcfe56804"  # T0 + 4
)
VECTOR_MESSAGE = bytes.fromhex(
    "6e6f74616c6f6e652f76312f747265652d68656164"  # "notalone/v1/tree-head"
    "0000000000000005"  # tree size 5
    "0000018bcfe56805"  # T0 + 5
    "21100220cb7a7c1a7154f98ed5d405d787e6f0156290810078b85fa8c2673e83"  # root
)
VECTOR_SIGNATURE = bytes.fromhex(
    "e075ed9adb2f1f3d1cd03b4fb6405eb9fc898db87c7b9f29977b10e44159b04d"
    "ac557762862b4d5b0faf3ac36d04bef4e2584d0a04c9a39a80b8fa78a187550a"
)
VECTOR_PROOF_NODE = bytes.fromhex(
    "f70f46ac7cacd6ec18f7bbebc020cc5e461405ac6e6911a2ab82c8adae675e13"
)
VECTOR_RECEIPT = (
    b"\x01"
    + (4).to_bytes(8, "big")
    + VECTOR_LEAF
    + VECTOR_MESSAGE[len(receipts.TREE_HEAD_DOMAIN) :]
    + VECTOR_SIGNATURE
    + b"\x01"
    + VECTOR_PROOF_NODE
)


def _vector_log() -> list[bytes]:
    leaves = [
        receipts.receipt_leaf(hashlib.sha256(b"record %d" % i).digest(), T0 + i) for i in range(4)
    ]
    leaves.append(receipts.receipt_leaf(hashlib.sha256(VECTOR_CIPHERTEXT).digest(), T0 + 4))
    return leaves


def _log(size: int, seed: bytes = b"") -> tuple[list[bytes], list[bytes]]:
    """Ciphertexts and leaves of a log whose i-th record was uploaded at T0 + i."""
    ciphertexts = [seed + b"ciphertext %d" % i for i in range(size)]
    leaves = [
        receipts.receipt_leaf(hashlib.sha256(c).digest(), T0 + i) for i, c in enumerate(ciphertexts)
    ]
    return ciphertexts, leaves


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# Pinned encodings.


def test_sizes_of_the_encodings() -> None:
    assert len(receipts.LEAF_DOMAIN) == 19
    assert len(receipts.TREE_HEAD_DOMAIN) == 21
    assert receipts.LEAF_BYTES == 59
    assert receipts.TREE_HEAD_BYTES == 113
    assert receipts.RECEIPT_FIXED_BYTES == 181
    assert len(receipts.tree_head_message(0, 0, merkle.EMPTY_ROOT)) == 69


def test_ed25519_is_rfc8032() -> None:
    # RFC 8032 section 7.1 TEST 1: the empty message under the key used for the vectors.
    assert LOG_PUBLIC.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    assert LOG_KEY.sign(b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
        "1cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )


def test_receipt_vector() -> None:
    leaves = _vector_log()
    assert leaves[4] == VECTOR_LEAF
    receipt = receipts.issue_receipt(
        leaves[4], 4, [merkle.leaf_hash(leaf) for leaf in leaves], LOG_KEY, T0 + 5
    )
    assert receipt.tree_head.message() == VECTOR_MESSAGE
    assert receipt.tree_head.signature == VECTOR_SIGNATURE
    assert receipt.tree_head.to_bytes() == b"\x01" + VECTOR_MESSAGE[21:] + VECTOR_SIGNATURE
    assert receipt.to_bytes() == VECTOR_RECEIPT
    assert len(VECTOR_RECEIPT) == 181 + 32
    parsed = Receipt.from_bytes(VECTOR_RECEIPT)
    assert parsed == receipt
    assert receipts.verify_receipt(VECTOR_CIPHERTEXT, parsed, LOG_PUBLIC) == T0 + 4


def test_leaf_layout_and_parse() -> None:
    digest = hashlib.sha256(b"x").digest()
    leaf = receipts.receipt_leaf(digest, 2**64 - 1)
    assert leaf == b"notalone/v1/receipt" + digest + b"\xff" * 8
    assert receipts.parse_receipt_leaf(leaf) == (digest, 2**64 - 1)
    assert receipts.parse_receipt_leaf(receipts.receipt_leaf(digest, 0)) == (digest, 0)


@pytest.mark.parametrize(
    ("digest", "time_ms"),
    [
        (b"\x00" * 31, T0),
        (b"a sealed box is always longer than 32 bytes", T0),
        (bytearray(32), T0),
        (b"\x00" * 32, -1),
        (b"\x00" * 32, 2**64),
        (b"\x00" * 32, True),
        (b"\x00" * 32, float(T0)),
    ],
)
def test_receipt_leaf_rejects_bad_inputs(digest: Any, time_ms: Any) -> None:
    with pytest.raises(EncodingError):
        receipts.receipt_leaf(digest, time_ms)


@pytest.mark.parametrize(
    "leaf",
    [
        VECTOR_LEAF[:-1],
        VECTOR_LEAF + b"\x00",
        b"notalone/v2/receipt" + VECTOR_LEAF[19:],
        b"\x00" * 59,
        b"",
    ],
)
def test_parse_receipt_leaf_rejects_other_bytes(leaf: bytes) -> None:
    with pytest.raises(EncodingError):
        receipts.parse_receipt_leaf(leaf)


# Round trips and wire-format checks.


def test_tree_head_round_trip_and_checks() -> None:
    sth = receipts.sign_tree_head(LOG_KEY, 7, T0, b"\x11" * 32)
    assert SignedTreeHead.from_bytes(sth.to_bytes()) == sth
    receipts.verify_tree_head(LOG_PUBLIC, sth)
    with pytest.raises(VersionError, match="0x02"):
        SignedTreeHead.from_bytes(b"\x02" + sth.to_bytes()[1:])
    with pytest.raises(EncodingError):
        SignedTreeHead.from_bytes(b"")
    with pytest.raises(EncodingError, match="113"):
        SignedTreeHead.from_bytes(sth.to_bytes()[:-1])
    with pytest.raises(EncodingError, match="113"):
        SignedTreeHead.from_bytes(sth.to_bytes() + b"\x00")


@pytest.mark.parametrize(
    "fields",
    [
        {"tree_size": -1},
        {"tree_size": 2**64},
        {"timestamp_ms": -1},
        {"root": b"\x00" * 31},
        {"signature": b"\x00" * 63},
        {"signature": bytearray(64)},
    ],
)
def test_tree_head_rejects_bad_fields(fields: dict[str, Any]) -> None:
    good: dict[str, Any] = {
        "tree_size": 1,
        "timestamp_ms": T0,
        "root": b"\x00" * 32,
        "signature": b"\x00" * 64,
    }
    with pytest.raises(EncodingError):
        SignedTreeHead(**(good | fields))


def test_receipt_round_trip_and_immutability() -> None:
    receipt = Receipt.from_bytes(VECTOR_RECEIPT)
    assert Receipt.from_bytes(receipt.to_bytes()) == receipt
    assert receipt.time_ms == T0 + 4
    assert receipt.ciphertext_sha256 == hashlib.sha256(VECTOR_CIPHERTEXT).digest()
    # A list of proof nodes is stored as a tuple, so receipts stay hashable and frozen.
    listed = Receipt(receipt.leaf, 4, [VECTOR_PROOF_NODE], receipt.tree_head)  # type: ignore[arg-type]
    assert listed == receipt
    assert hash(listed) == hash(receipt)
    with pytest.raises(dataclasses.FrozenInstanceError):
        receipt.leaf_index = 3  # type: ignore[misc]


def test_receipt_with_empty_proof_round_trips() -> None:
    _, leaves = _log(1)
    receipt = receipts.issue_receipt(leaves[0], 0, [merkle.leaf_hash(leaves[0])], LOG_KEY, T0)
    assert receipt.inclusion_proof == ()
    assert len(receipt.to_bytes()) == receipts.RECEIPT_FIXED_BYTES
    assert Receipt.from_bytes(receipt.to_bytes()) == receipt


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"", EncodingError, "non-empty"),
        (b"\x02" + VECTOR_RECEIPT[1:], VersionError, "0x02"),
        (b"\x00" + VECTOR_RECEIPT[1:], VersionError, "0x00"),
        (VECTOR_RECEIPT[:180], EncodingError, "at least 181"),
        (VECTOR_RECEIPT[:-1], EncodingError, "exactly 213"),
        (VECTOR_RECEIPT + b"\x00", EncodingError, "exactly 213"),
        (VECTOR_RECEIPT[:180] + b"\x00" * 6, EncodingError, "exactly 181"),
        (VECTOR_RECEIPT[:9] + b"x" * 59 + VECTOR_RECEIPT[68:], EncodingError, "receipt leaf"),
        (VECTOR_RECEIPT[:180] + b"\x41" + b"\x00" * 32 * 65, EncodingError, "at most 64"),
    ],
)
def test_receipt_from_bytes_rejects(data: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        Receipt.from_bytes(data)


def test_receipt_rejects_bad_fields() -> None:
    receipt = Receipt.from_bytes(VECTOR_RECEIPT)
    with pytest.raises(EncodingError):
        dataclasses.replace(receipt, leaf_index=-1)
    with pytest.raises(EncodingError):
        dataclasses.replace(receipt, inclusion_proof=(b"short",))
    with pytest.raises(EncodingError):
        dataclasses.replace(receipt, tree_head=receipt.tree_head.to_bytes())  # type: ignore[arg-type]


# Issuing.


def test_issue_receipt_checks_the_log() -> None:
    _, leaves = _log(3)
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    with pytest.raises(ProtocolError, match="not this leaf"):
        receipts.issue_receipt(leaves[1], 2, hashes, LOG_KEY, T0 + 3)
    with pytest.raises(EncodingError, match="append the leaf"):
        receipts.issue_receipt(leaves[1], 3, hashes, LOG_KEY, T0 + 3)
    with pytest.raises(ProtocolError, match="earlier than the leaf"):
        receipts.issue_receipt(leaves[2], 2, hashes, LOG_KEY, T0 + 1)
    with pytest.raises(EncodingError):
        receipts.issue_receipt(b"not a leaf", 0, hashes, LOG_KEY, T0 + 3)
    receipt = receipts.issue_receipt(leaves[2], 2, hashes, LOG_KEY, T0 + 2)
    assert receipt.tree_head.tree_size == 3
    assert receipt.tree_head.root == merkle.root(hashes)


# Verifying, and tampering.


@st.composite
def _issued(draw: st.DrawFn) -> tuple[bytes, Receipt]:
    size = draw(st.integers(1, 64))
    ciphertexts, leaves = _log(size, draw(st.binary(max_size=8)))
    index = draw(st.integers(0, size - 1))
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    receipt = receipts.issue_receipt(leaves[index], index, hashes, LOG_KEY, T0 + size)
    return ciphertexts[index], receipt


@settings(max_examples=100, deadline=None)
@given(issued=_issued(), data=st.data())
def test_tampered_receipts_fail(issued: tuple[bytes, Receipt], data: st.DataObject) -> None:
    ciphertext, receipt = issued
    index, sth = receipt.leaf_index, receipt.tree_head
    assert receipts.verify_receipt(ciphertext, receipt, LOG_PUBLIC) == T0 + index
    assert Receipt.from_bytes(receipt.to_bytes()) == receipt
    other_ciphertext = data.draw(st.binary(max_size=64).filter(lambda c: c != ciphertext))
    other_time = data.draw(st.integers(0, 2**64 - 1).filter(lambda t: t != T0 + index))
    other_index = data.draw(st.integers(0, 2**64 - 1).filter(lambda i: i != index))
    other_size = data.draw(st.integers(0, 2**64 - 1).filter(lambda s: s != sth.tree_size))
    other_stamp = data.draw(st.integers(0, 2**64 - 1).filter(lambda t: t != sth.timestamp_ms))
    bit = data.draw(st.integers(0, 255), label="bit")
    digest = receipt.ciphertext_sha256

    with pytest.raises(MerkleProofError, match="different ciphertext"):
        receipts.verify_receipt(other_ciphertext, receipt, LOG_PUBLIC)
    retimed = receipts.receipt_leaf(digest, other_time)
    with pytest.raises(MerkleProofError):
        receipts.verify_receipt(ciphertext, dataclasses.replace(receipt, leaf=retimed), LOG_PUBLIC)
    with pytest.raises(MerkleProofError):
        receipts.verify_receipt(
            ciphertext, dataclasses.replace(receipt, leaf_index=other_index), LOG_PUBLIC
        )
    for node in range(len(receipt.inclusion_proof)):
        proof = list(receipt.inclusion_proof)
        proof[node] = _flip(proof[node], bit)
        with pytest.raises(MerkleProofError):
            receipts.verify_receipt(
                ciphertext, dataclasses.replace(receipt, inclusion_proof=tuple(proof)), LOG_PUBLIC
            )
    if receipt.inclusion_proof:
        shortened = dataclasses.replace(receipt, inclusion_proof=receipt.inclusion_proof[:-1])
        with pytest.raises(MerkleProofError):
            receipts.verify_receipt(ciphertext, shortened, LOG_PUBLIC)
    lengthened = dataclasses.replace(receipt, inclusion_proof=(*receipt.inclusion_proof, sth.root))
    with pytest.raises(MerkleProofError):
        receipts.verify_receipt(ciphertext, lengthened, LOG_PUBLIC)

    # Any change to the tree head breaks its signature.
    for changed in (
        dataclasses.replace(sth, signature=_flip(sth.signature, bit)),
        dataclasses.replace(sth, tree_size=other_size),
        dataclasses.replace(sth, timestamp_ms=other_stamp),
        dataclasses.replace(sth, root=_flip(sth.root, bit)),
        receipts.sign_tree_head(OTHER_KEY, sth.tree_size, sth.timestamp_ms, sth.root),
    ):
        with pytest.raises(SignatureError):
            receipts.verify_receipt(
                ciphertext, dataclasses.replace(receipt, tree_head=changed), LOG_PUBLIC
            )
    with pytest.raises(SignatureError):
        receipts.verify_receipt(ciphertext, receipt, OTHER_PUBLIC)

    # Even the log's own key cannot move the leaf into a tree of a different shape.
    for size in (sth.tree_size * 2, sth.tree_size // 2):
        resigned = receipts.sign_tree_head(LOG_KEY, size, sth.timestamp_ms, sth.root)
        with pytest.raises(MerkleProofError):
            receipts.verify_receipt(
                ciphertext, dataclasses.replace(receipt, tree_head=resigned), LOG_PUBLIC
            )

    # The bytes on the wire: flipping any bit after the version marker never verifies.
    wire = receipt.to_bytes()
    wire_bit = data.draw(st.integers(8, len(wire) * 8 - 1), label="wire bit")
    with pytest.raises((EncodingError, MerkleProofError, SignatureError)):
        receipts.verify_receipt(ciphertext, Receipt.from_bytes(_flip(wire, wire_bit)), LOG_PUBLIC)


def test_leaf_dated_after_its_tree_head_fails() -> None:
    ciphertexts, leaves = _log(2)
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    backdated = receipts.sign_tree_head(LOG_KEY, 2, T0, merkle.root(hashes))
    receipt = Receipt(leaves[1], 1, tuple(merkle.inclusion_proof(hashes, 1)), backdated)
    with pytest.raises(MerkleProofError, match="dated after"):
        receipts.verify_receipt(ciphertexts[1], receipt, LOG_PUBLIC)


@pytest.mark.parametrize("key", [b"", LOG_PUBLIC[:31], LOG_PUBLIC + b"\x00", bytearray(LOG_PUBLIC)])
def test_malformed_public_key_is_an_encoding_error(key: Any) -> None:
    with pytest.raises(EncodingError, match="32 raw bytes"):
        receipts.verify_tree_head(key, Receipt.from_bytes(VECTOR_RECEIPT).tree_head)


# Consistency between signed tree heads.


def test_consistency_between_signed_tree_heads() -> None:
    _, leaves = _log(40)
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    heads = [
        receipts.sign_tree_head(LOG_KEY, n, T0 + n, merkle.root(hashes[:n])) for n in range(41)
    ]
    for old in range(0, 41, 3):
        for new in range(old, 41, 5):
            proof = merkle.consistency_proof(hashes[:new], old)
            receipts.verify_consistency_between(heads[old], heads[new], proof, LOG_PUBLIC)

    proof = merkle.consistency_proof(hashes[:30], 11)
    receipts.verify_consistency_between(heads[11], heads[30], proof, LOG_PUBLIC)
    with pytest.raises(MerkleProofError, match="larger"):
        receipts.verify_consistency_between(heads[30], heads[11], proof, LOG_PUBLIC)
    with pytest.raises(MerkleProofError):
        receipts.verify_consistency_between(heads[11], heads[30], proof[:-1], LOG_PUBLIC)
    with pytest.raises(MerkleProofError):
        receipts.verify_consistency_between(heads[12], heads[30], proof, LOG_PUBLIC)
    with pytest.raises(SignatureError):
        receipts.verify_consistency_between(heads[11], heads[30], proof, OTHER_PUBLIC)
    forged = receipts.sign_tree_head(OTHER_KEY, 11, T0 + 11, heads[11].root)
    with pytest.raises(SignatureError):
        receipts.verify_consistency_between(forged, heads[30], proof, LOG_PUBLIC)
    with pytest.raises(SignatureError):
        receipts.verify_consistency_between(heads[11], forged, proof, LOG_PUBLIC)
    backdated = receipts.sign_tree_head(LOG_KEY, 30, T0 + 10, heads[30].root)
    with pytest.raises(MerkleProofError, match="earlier time"):
        receipts.verify_consistency_between(heads[11], backdated, proof, LOG_PUBLIC)


def test_a_rewritten_history_is_caught() -> None:
    # The log signs a tree in which an early record was swapped out: no proof links it to
    # the tree head a survivor kept from before.
    _, leaves = _log(20)
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    kept = receipts.sign_tree_head(LOG_KEY, 10, T0 + 10, merkle.root(hashes[:10]))
    rewritten = list(hashes)
    rewritten[3] = merkle.leaf_hash(receipts.receipt_leaf(b"\x00" * 32, T0 + 3))
    later = receipts.sign_tree_head(LOG_KEY, 20, T0 + 20, merkle.root(rewritten))
    with pytest.raises(MerkleProofError):
        receipts.verify_consistency_between(
            kept, later, merkle.consistency_proof(rewritten, 10), LOG_PUBLIC
        )
