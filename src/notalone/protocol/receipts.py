"""Record receipts: proof that a ciphertext was in the transparency log at a given time.

On upload the server appends one leaf per record version to an RFC 9162 Merkle log and
returns a `Receipt`: the leaf, its index, an inclusion proof and an Ed25519-signed tree
head. Anyone holding the ciphertext, the receipt and the log's public key can check when
the ciphertext existed, without the log or the receipt revealing anything else: the leaf
carries no account or record id, only a hash and a time.

Byte encodings (integers are unsigned big-endian; sizes in bytes):

    leaf          "notalone/v1/receipt" (19) ‖ SHA-256(ciphertext) (32) ‖ time_ms u64 (8)   = 59
    signed bytes  "notalone/v1/tree-head" (21) ‖ tree_size u64 (8) ‖ timestamp_ms u64 (8)
                  ‖ root (32)                                                            = 69
    STH wire      0x01 ‖ tree_size u64 ‖ timestamp_ms u64 ‖ root (32) ‖ signature (64)   = 113
    receipt wire  0x01 ‖ leaf_index u64 ‖ leaf (59) ‖ tree_size u64 ‖ timestamp_ms u64
                  ‖ root (32) ‖ signature (64) ‖ proof_count u8 ‖ proof (32 * count)
                                                                          = 181 + 32 * count

Times are milliseconds since the Unix epoch, passed in by the caller; nothing here reads a
clock. docs/protocol.md gives the reasons for each choice.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from notalone.crypto import merkle
from notalone.crypto.ct import bytes_eq
from notalone.errors import (
    EncodingError,
    MerkleProofError,
    ProtocolError,
    SignatureError,
    VersionError,
)

# Domain separators: a leaf can never be mistaken for a signed tree head or for another
# NotAlone structure, and a future v2 encoding can never verify as v1.
LEAF_DOMAIN = b"notalone/v1/receipt"
TREE_HEAD_DOMAIN = b"notalone/v1/tree-head"
# The version marker that opens every stored or transmitted receipt and tree head.
VERSION = b"\x01"

DIGEST_BYTES = 32
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
MAX_U64 = 2**64 - 1
LEAF_BYTES = len(LEAF_DOMAIN) + DIGEST_BYTES + 8
TREE_HEAD_BODY_BYTES = 8 + 8 + merkle.HASH_BYTES + SIGNATURE_BYTES
TREE_HEAD_BYTES = len(VERSION) + TREE_HEAD_BODY_BYTES
RECEIPT_FIXED_BYTES = len(VERSION) + 8 + LEAF_BYTES + TREE_HEAD_BODY_BYTES + 1

_U64 = struct.Struct(">Q")


def receipt_leaf(ciphertext_sha256: bytes, time_ms: int) -> bytes:
    """The log leaf for a ciphertext with this SHA-256 digest, recorded at time_ms.

    It takes the digest rather than the ciphertext so that a server can hash an upload as
    it streams in. A ciphertext passed by mistake is rejected: a sealed box is longer than
    32 bytes.
    """
    if not isinstance(ciphertext_sha256, bytes) or len(ciphertext_sha256) != DIGEST_BYTES:
        raise EncodingError(
            f"a receipt leaf takes the {DIGEST_BYTES}-byte SHA-256 digest of the ciphertext"
        )
    return LEAF_DOMAIN + ciphertext_sha256 + _u64(time_ms, "receipt time")


def parse_receipt_leaf(leaf: bytes) -> tuple[bytes, int]:
    """Split a v1 receipt leaf into (SHA-256 of the ciphertext, time in ms)."""
    if not isinstance(leaf, bytes) or len(leaf) != LEAF_BYTES or not leaf.startswith(LEAF_DOMAIN):
        raise EncodingError(
            f"a receipt leaf is {LEAF_BYTES} bytes starting with {LEAF_DOMAIN.decode()!r}"
        )
    digest = leaf[len(LEAF_DOMAIN) : len(LEAF_DOMAIN) + DIGEST_BYTES]
    (time_ms,) = _U64.unpack(leaf[-8:])
    return digest, time_ms


def tree_head_message(tree_size: int, timestamp_ms: int, root: bytes) -> bytes:
    """The bytes an Ed25519 tree-head signature covers."""
    _check_root(root)
    return (
        TREE_HEAD_DOMAIN
        + _u64(tree_size, "tree size")
        + _u64(timestamp_ms, "tree head timestamp")
        + root
    )


@dataclass(frozen=True)
class SignedTreeHead:
    """The log's signed statement that its tree of tree_size leaves had this root."""

    tree_size: int
    timestamp_ms: int
    root: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _u64(self.tree_size, "tree size")
        _u64(self.timestamp_ms, "tree head timestamp")
        _check_root(self.root)
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_BYTES:
            raise EncodingError(f"an Ed25519 signature is {SIGNATURE_BYTES} bytes")

    def message(self) -> bytes:
        """The bytes the signature covers."""
        return tree_head_message(self.tree_size, self.timestamp_ms, self.root)

    def to_bytes(self) -> bytes:
        """The versioned wire form: 0x01 ‖ size ‖ timestamp ‖ root ‖ signature (113 bytes)."""
        return VERSION + self._body()

    @classmethod
    def from_bytes(cls, data: bytes) -> SignedTreeHead:
        """Parse the wire form; raises VersionError or EncodingError."""
        _check_version(data, "signed tree head")
        if len(data) != TREE_HEAD_BYTES:
            raise EncodingError(f"a v1 signed tree head is exactly {TREE_HEAD_BYTES} bytes")
        return cls._from_body(data[len(VERSION) :])

    def _body(self) -> bytes:
        return _U64.pack(self.tree_size) + _U64.pack(self.timestamp_ms) + self.root + self.signature

    @classmethod
    def _from_body(cls, body: bytes) -> SignedTreeHead:
        (tree_size,) = _U64.unpack(body[0:8])
        (timestamp_ms,) = _U64.unpack(body[8:16])
        root = body[16 : 16 + merkle.HASH_BYTES]
        signature = body[16 + merkle.HASH_BYTES : TREE_HEAD_BODY_BYTES]
        return cls(tree_size, timestamp_ms, root, signature)


@dataclass(frozen=True)
class Receipt:
    """What a survivor keeps: the leaf, where it sits, and a signed tree head that holds it."""

    leaf: bytes
    leaf_index: int
    inclusion_proof: tuple[bytes, ...]
    tree_head: SignedTreeHead

    def __post_init__(self) -> None:
        parse_receipt_leaf(self.leaf)
        _u64(self.leaf_index, "leaf index")
        # Accept any sequence but store a tuple, so a receipt stays immutable and hashable.
        object.__setattr__(self, "inclusion_proof", tuple(self.inclusion_proof))
        if len(self.inclusion_proof) > merkle.MAX_INCLUSION_NODES:
            raise EncodingError(
                f"an inclusion proof has at most {merkle.MAX_INCLUSION_NODES} nodes"
            )
        for node in self.inclusion_proof:
            _check_root(node)
        if not isinstance(self.tree_head, SignedTreeHead):
            raise EncodingError("a receipt's tree head must be a SignedTreeHead")

    @property
    def ciphertext_sha256(self) -> bytes:
        """The SHA-256 digest of the ciphertext, as the leaf records it."""
        return parse_receipt_leaf(self.leaf)[0]

    @property
    def time_ms(self) -> int:
        """The time the log recorded for the ciphertext (ms since the Unix epoch)."""
        return parse_receipt_leaf(self.leaf)[1]

    def to_bytes(self) -> bytes:
        """The versioned wire form described in the module docstring."""
        return (
            VERSION
            + _U64.pack(self.leaf_index)
            + self.leaf
            + self.tree_head._body()
            + bytes([len(self.inclusion_proof)])
            + b"".join(self.inclusion_proof)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Receipt:
        """Parse the wire form; raises VersionError or EncodingError, never IndexError."""
        _check_version(data, "receipt")
        if len(data) < RECEIPT_FIXED_BYTES:
            raise EncodingError(f"a v1 receipt is at least {RECEIPT_FIXED_BYTES} bytes")
        offset = len(VERSION)
        (leaf_index,) = _U64.unpack(data[offset : offset + 8])
        offset += 8
        leaf = data[offset : offset + LEAF_BYTES]
        offset += LEAF_BYTES
        tree_head = SignedTreeHead._from_body(data[offset : offset + TREE_HEAD_BODY_BYTES])
        offset += TREE_HEAD_BODY_BYTES
        count = data[offset]
        offset += 1
        if len(data) != offset + count * merkle.HASH_BYTES:
            raise EncodingError(
                f"a v1 receipt with {count} proof nodes is exactly "
                f"{offset + count * merkle.HASH_BYTES} bytes"
            )
        proof = tuple(
            data[offset + i * merkle.HASH_BYTES : offset + (i + 1) * merkle.HASH_BYTES]
            for i in range(count)
        )
        return cls(leaf, leaf_index, proof, tree_head)


def sign_tree_head(
    private_key: Ed25519PrivateKey, tree_size: int, timestamp_ms: int, root: bytes
) -> SignedTreeHead:
    """Sign the log's tree head with its Ed25519 key."""
    signature = private_key.sign(tree_head_message(tree_size, timestamp_ms, root))
    return SignedTreeHead(tree_size, timestamp_ms, root, signature)


def verify_tree_head(public_key_bytes: bytes, sth: SignedTreeHead) -> None:
    """Check the tree head's signature under the log's raw 32-byte Ed25519 public key."""
    public_key = _load_public_key(public_key_bytes)
    try:
        public_key.verify(sth.signature, sth.message())
    except InvalidSignature as e:
        raise SignatureError("the tree head is not signed by this log's key") from e


def issue_receipt(
    leaf: bytes,
    leaf_index: int,
    leaf_hashes: Sequence[bytes],
    private_key: Ed25519PrivateKey,
    timestamp_ms: int,
) -> Receipt:
    """Sign a tree head over all of leaf_hashes and prove that `leaf` sits at leaf_index.

    leaf_hashes is the whole log, in order, with this leaf's hash already appended.
    """
    _, time_ms = parse_receipt_leaf(leaf)
    _u64(leaf_index, "leaf index")
    if leaf_index >= len(leaf_hashes):
        raise EncodingError(
            f"leaf index {leaf_index} is outside a log of {len(leaf_hashes)} leaves; "
            "append the leaf's hash before issuing its receipt"
        )
    if not bytes_eq(leaf_hashes[leaf_index], merkle.leaf_hash(leaf)):
        raise ProtocolError(
            f"the log's leaf {leaf_index} is not this leaf; issue the receipt for the index "
            "the leaf was appended at"
        )
    if time_ms > timestamp_ms:
        raise ProtocolError(
            "the tree head's timestamp is earlier than the leaf's time; "
            "pass the same clock reading, or a later one, as the tree head timestamp"
        )
    tree_head = sign_tree_head(
        private_key, len(leaf_hashes), timestamp_ms, merkle.root(leaf_hashes)
    )
    proof = merkle.inclusion_proof(leaf_hashes, leaf_index)
    return Receipt(leaf, leaf_index, tuple(proof), tree_head)


def verify_receipt(ciphertext: bytes, receipt: Receipt, log_public_key_bytes: bytes) -> int:
    """Check that the log recorded this ciphertext; return the time it recorded (ms).

    Raises SignatureError if the tree head is not the log's, and MerkleProofError if the
    leaf is not this ciphertext's, is not in the signed tree, or is dated after the tree
    head that includes it.
    """
    digest, time_ms = parse_receipt_leaf(receipt.leaf)
    if not bytes_eq(digest, hashlib.sha256(ciphertext).digest()):
        raise MerkleProofError("the receipt is for a different ciphertext")
    sth = receipt.tree_head
    verify_tree_head(log_public_key_bytes, sth)
    merkle.verify_inclusion(
        merkle.leaf_hash(receipt.leaf),
        receipt.leaf_index,
        sth.tree_size,
        receipt.inclusion_proof,
        sth.root,
    )
    # A leaf cannot have been appended after the tree head that contains it was signed.
    if time_ms > sth.timestamp_ms:
        raise MerkleProofError("the receipt's leaf is dated after the tree head that holds it")
    return time_ms


def verify_consistency_between(
    old_sth: SignedTreeHead,
    new_sth: SignedTreeHead,
    proof: Sequence[bytes],
    log_public_key_bytes: bytes,
) -> None:
    """Check that both tree heads are the log's and that the newer extends the older."""
    verify_tree_head(log_public_key_bytes, old_sth)
    verify_tree_head(log_public_key_bytes, new_sth)
    if new_sth.tree_size > old_sth.tree_size and new_sth.timestamp_ms < old_sth.timestamp_ms:
        # A log that signs a larger tree with an earlier time misstates when leaves arrived.
        raise MerkleProofError("the larger tree head is signed with an earlier time")
    merkle.verify_consistency(
        old_sth.tree_size, new_sth.tree_size, old_sth.root, new_sth.root, proof
    )


def _u64(value: int, name: str) -> bytes:
    # bool is an int subclass; True as a time or size is always a caller's mistake.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_U64:
        raise EncodingError(f"{name} must be an integer from 0 to 2**64 - 1")
    return _U64.pack(value)


def _check_root(value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != merkle.HASH_BYTES:
        raise EncodingError(f"a Merkle tree hash is {merkle.HASH_BYTES} bytes")


def _check_version(data: bytes, what: str) -> None:
    if not isinstance(data, bytes) or not data:
        raise EncodingError(f"a {what} must be non-empty bytes")
    if data[:1] != VERSION:
        raise VersionError(f"unknown {what} version {data[0]:#04x}; this version reads 0x01")


def _load_public_key(public_key_bytes: bytes) -> Ed25519PublicKey:
    if not isinstance(public_key_bytes, bytes) or len(public_key_bytes) != PUBLIC_KEY_BYTES:
        raise EncodingError(f"an Ed25519 public key is {PUBLIC_KEY_BYTES} raw bytes")
    try:
        return Ed25519PublicKey.from_public_bytes(public_key_bytes)
    except ValueError as e:  # pragma: no cover - cryptography accepts any 32 bytes today.
        raise EncodingError("the log's public key is not a valid Ed25519 key") from e
