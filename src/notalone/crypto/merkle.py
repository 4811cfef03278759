"""Merkle tree hashing and proofs exactly as RFC 9162 section 2.1 defines them (SHA-256).

    leaf hash  = SHA-256(0x00 ‖ leaf)
    node hash  = SHA-256(0x01 ‖ left ‖ right)
    MTH({})    = SHA-256("")
    MTH(D[n])  = node hash(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n

The log keeps leaf hashes, not leaves, so every function here takes a sequence of 32-byte
leaf hashes. Generating a proof hashes each leaf at most once (O(n) per proof, no list
copies); a log that grows large should instead store the hash of every complete subtree
(2n - 1 hashes in all, as Trillian's tiles and Go's `golang.org/x/mod/sumdb/tlog` do), which
turns every root and proof into O(log n) reads.

The verifiers follow RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by step and raise
`MerkleProofError` when a proof does not verify; malformed inputs (a hash that is not 32
bytes, a size outside u64) raise `EncodingError`. Neither ever returns a bool.

A proof does not by itself authenticate the tree size: the same nodes can fit more than
one size (leaf 0 of a tree of 3 and of 4 have paths of the same shape). The size and root
must come from a signed tree head, which is how `notalone.protocol.receipts` uses them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from notalone.crypto.ct import bytes_eq
from notalone.errors import EncodingError, MerkleProofError

HASH_BYTES = 32
# Tree sizes and leaf indices travel as u64, so a tree is at most 64 levels high: an
# inclusion path has at most 64 nodes, and a consistency proof at most one more (the
# verifier's loop shifts a u64 right once per node after the first).
MAX_TREE_SIZE = 2**64 - 1
MAX_INCLUSION_NODES = 64
MAX_CONSISTENCY_NODES = 65
# RFC 9162 section 2.1.1: one-byte prefixes keep a leaf from ever hashing like a node.
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    """The RFC 9162 hash of one leaf's bytes: SHA-256(0x00 ‖ leaf)."""
    return hashlib.sha256(LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 9162 hash of an interior node: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash (MTH) of a tree whose leaves have these hashes."""
    _check_leaf_hashes(leaf_hashes)
    if not leaf_hashes:
        return EMPTY_ROOT
    return _subtree_root(leaf_hashes, 0, len(leaf_hashes))


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 section 2.1.3.1, ordered from the leaf up to the root."""
    _check_leaf_hashes(leaf_hashes)
    _check_u64(index, "leaf index")
    if index >= len(leaf_hashes):
        raise EncodingError(
            f"leaf index {index} is outside a tree of {len(leaf_hashes)} leaves; "
            "an inclusion proof needs an index below the tree size"
        )
    # Walk down from the root, taking the sibling subtree at each split; the RFC's
    # recursion appends those siblings on the way back up, so the list is reversed.
    path: list[bytes] = []
    start, end, m = 0, len(leaf_hashes), index
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            path.append(_subtree_root(leaf_hashes, start + k, end))
            end = start + k
        else:
            path.append(_subtree_root(leaf_hashes, start, start + k))
            start += k
            m -= k
    path.reverse()
    return path


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]) of RFC 9162 section 2.1.4.1 against the whole given tree.

    The proof is empty when old_size is 0 or equals the tree size: every tree extends the
    empty tree, and a tree is consistent with itself.
    """
    _check_leaf_hashes(leaf_hashes)
    _check_u64(old_size, "old tree size")
    if old_size > len(leaf_hashes):
        raise EncodingError(
            f"old tree size {old_size} exceeds the tree's {len(leaf_hashes)} leaves; "
            "a consistency proof runs from a smaller tree to a larger one"
        )
    if old_size == 0:
        return []
    # SUBPROOF(m, D[start:end], b), unrolled: the recursion only ever descends one side.
    proof: list[bytes] = []
    start, end, m, whole_old_tree = 0, len(leaf_hashes), old_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(_subtree_root(leaf_hashes, start + k, end))
            end = start + k
        else:
            proof.append(_subtree_root(leaf_hashes, start, start + k))
            start += k
            m -= k
            whole_old_tree = False
    if not whole_old_tree:
        # SUBPROOF(m, D[m], false) = {MTH(D[m])}: the verifier cannot know this subtree.
        proof.append(_subtree_root(leaf_hashes, start, end))
    proof.reverse()
    return proof


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check an inclusion proof (RFC 9162 section 2.1.3.2); raise MerkleProofError if it fails."""
    _check_hash(leaf_hash, "leaf hash")
    _check_hash(root, "root")
    _check_u64(index, "leaf index")
    _check_u64(tree_size, "tree size")
    _check_proof(proof, MAX_INCLUSION_NODES)
    # Step 1.
    if index >= tree_size:
        raise MerkleProofError(f"leaf index {index} is not inside a tree of {tree_size} leaves")
    # Steps 2 and 3.
    fn, sn = index, tree_size - 1
    r = leaf_hash
    # Step 4.
    for p in proof:
        if sn == 0:
            raise MerkleProofError("inclusion proof has more nodes than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    # Step 5. Roots are public, but the comparison costs nothing to make constant-time.
    if sn != 0:
        raise MerkleProofError("inclusion proof has fewer nodes than the path to the root")
    if not bytes_eq(r, root):
        raise MerkleProofError("inclusion proof does not lead to the given root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check a consistency proof (RFC 9162 section 2.1.4.2); raise MerkleProofError if it fails.

    The RFC's algorithm covers 0 < old_size < new_size. For the edge cases it leaves open,
    this is stricter than the CT reference code, which accepts any roots there: equal sizes
    need an empty proof and equal roots, and an old size of 0 needs an empty proof and the
    empty tree's root.
    """
    _check_u64(old_size, "old tree size")
    _check_u64(new_size, "new tree size")
    _check_hash(old_root, "old root")
    _check_hash(new_root, "new root")
    _check_proof(proof, MAX_CONSISTENCY_NODES)
    if old_size > new_size:
        raise MerkleProofError(
            f"old tree size {old_size} is larger than new tree size {new_size}; "
            "a log only grows, so pass the older tree head first"
        )
    if old_size in (0, new_size):
        _verify_trivial_consistency(old_size, new_size, old_root, new_root, proof)
        return
    fr, sr = _consistency_roots(old_size, new_size, old_root, proof)
    # Step 7, the root comparisons (the node count was checked with sn).
    if not bytes_eq(fr, old_root):
        raise MerkleProofError("consistency proof does not lead to the old root")
    if not bytes_eq(sr, new_root):
        raise MerkleProofError("consistency proof does not lead to the new root")


def _consistency_roots(
    old_size: int, new_size: int, old_root: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """Steps 1 to 7 of RFC 9162 section 2.1.4.2 for 0 < old_size < new_size, up to (fr, sr)."""
    # Step 1.
    if not proof:
        raise MerkleProofError("consistency proof between different sizes cannot be empty")
    # Step 2: when the old tree is a complete subtree, its root is the proof's first node.
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # Steps 3 and 4.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            raise MerkleProofError("consistency proof has more nodes than the trees need")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7, the check that the proof was exactly as long as the trees need.
    if sn != 0:
        raise MerkleProofError("consistency proof has fewer nodes than the trees need")
    return fr, sr


def _verify_trivial_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    if proof:
        raise MerkleProofError(
            "a consistency proof from the empty tree or between equal sizes must be empty"
        )
    if old_size == 0 and not bytes_eq(old_root, EMPTY_ROOT):
        raise MerkleProofError("the root of a tree of size 0 must be SHA-256 of the empty string")
    if old_size == new_size and not bytes_eq(old_root, new_root):
        raise MerkleProofError(f"two trees of size {old_size} have different roots")


def _subtree_root(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]) for end > start, without copying the list."""
    if end - start == 1:
        return leaf_hashes[start]
    k = _split(end - start)
    return node_hash(
        _subtree_root(leaf_hashes, start, start + k), _subtree_root(leaf_hashes, start + k, end)
    )


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(value: bytes, name: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_BYTES:
        raise EncodingError(f"{name} must be {HASH_BYTES} bytes (a SHA-256 digest)")


def _check_u64(value: int, name: str) -> None:
    # bool is an int subclass; True as a tree size is always a caller's mistake.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TREE_SIZE:
        raise EncodingError(f"{name} must be an integer from 0 to 2**64 - 1")


def _check_leaf_hashes(leaf_hashes: Sequence[bytes]) -> None:
    if len(leaf_hashes) > MAX_TREE_SIZE:  # pragma: no cover - no machine holds 2**64 hashes.
        raise EncodingError("a tree holds at most 2**64 - 1 leaves")
    for h in leaf_hashes:
        _check_hash(h, "every leaf hash")


def _check_proof(proof: Sequence[bytes], limit: int) -> None:
    if len(proof) > limit:
        raise MerkleProofError(
            f"proof has {len(proof)} nodes; no tree of u64 size needs more than {limit}"
        )
    for node in proof:
        _check_hash(node, "every proof node")
