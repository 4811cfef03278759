// RFC 9162 Merkle tree hashing and proof verification (§10.2), SHA-256. Sizes and
// indices are BigInt (u64). Follows RFC 9162 §2.1.3.2 and §2.1.4.2 step by step, with the
// stricter edge cases of the spec (equal sizes, old size 0).
import { concat, equalBytes, MAX_U64 } from './bytes.js';
import { EncodingError, MerkleProofError } from './errors.js';
import { sha256 } from './primitives.js';

export const HASH_BYTES = 32;
export const MAX_INCLUSION_NODES = 64;
export const MAX_CONSISTENCY_NODES = 65;
export const EMPTY_ROOT = sha256(new Uint8Array(0));

export const leafHash = (leaf) => sha256(concat(Uint8Array.of(0), leaf));
export const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

function checkHash(v, what) {
  if (!(v instanceof Uint8Array) || v.length !== HASH_BYTES) throw new EncodingError(`${what} must be ${HASH_BYTES} bytes (a SHA-256 digest)`);
}
function checkU64(v, what) {
  if (typeof v !== 'bigint' || v < 0n || v > MAX_U64) throw new EncodingError(`${what} must be an integer from 0 to 2**64 - 1`);
}
function checkProof(proof, limit) {
  if (proof.length > limit) throw new MerkleProofError(`proof has ${proof.length} nodes; no tree of u64 size needs more than ${limit}`);
  proof.forEach((p) => checkHash(p, 'every proof node'));
}

export function verifyInclusion(leafHashValue, index, treeSize, proof, root) {
  checkHash(leafHashValue, 'leaf hash');
  checkHash(root, 'root');
  checkU64(index, 'leaf index');
  checkU64(treeSize, 'tree size');
  checkProof(proof, MAX_INCLUSION_NODES);
  if (index >= treeSize) throw new MerkleProofError('the leaf index is not inside the tree');
  let fn = index;
  let sn = treeSize - 1n;
  let r = leafHashValue;
  for (const p of proof) {
    if (sn === 0n) throw new MerkleProofError('inclusion proof has more nodes than the path to the root');
    if (fn & 1n || fn === sn) {
      r = nodeHash(p, r);
      if (!(fn & 1n)) {
        while (!(fn & 1n) && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new MerkleProofError('inclusion proof has fewer nodes than the path to the root');
  if (!equalBytes(r, root)) throw new MerkleProofError('inclusion proof does not lead to the given root');
}

export function verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof) {
  checkU64(oldSize, 'old tree size');
  checkU64(newSize, 'new tree size');
  checkHash(oldRoot, 'old root');
  checkHash(newRoot, 'new root');
  checkProof(proof, MAX_CONSISTENCY_NODES);
  if (oldSize > newSize) throw new MerkleProofError('old tree size is larger than new tree size; pass the older tree head first');
  if (oldSize === 0n || oldSize === newSize) {
    if (proof.length) throw new MerkleProofError('a consistency proof from the empty tree or between equal sizes must be empty');
    if (oldSize === 0n && !equalBytes(oldRoot, EMPTY_ROOT)) throw new MerkleProofError('the root of a tree of size 0 must be SHA-256 of the empty string');
    if (oldSize === newSize && !equalBytes(oldRoot, newRoot)) throw new MerkleProofError('two trees of the same size have different roots');
    return;
  }
  if (!proof.length) throw new MerkleProofError('consistency proof between different sizes cannot be empty');
  const path = [...proof];
  if ((oldSize & (oldSize - 1n)) === 0n) path.unshift(oldRoot);
  let fn = oldSize - 1n;
  let sn = newSize - 1n;
  while (fn & 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new MerkleProofError('consistency proof has more nodes than the trees need');
    if (fn & 1n || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!(fn & 1n)) {
        while (!(fn & 1n) && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new MerkleProofError('consistency proof has fewer nodes than the trees need');
  if (!equalBytes(fr, oldRoot)) throw new MerkleProofError('consistency proof does not lead to the old root');
  if (!equalBytes(sr, newRoot)) throw new MerkleProofError('consistency proof does not lead to the new root');
}

/** MTH(D[0:n]) for a list of leaf hashes (used by tests). */
export function root(leafHashes) {
  if (leafHashes.length === 0) return EMPTY_ROOT;
  const sub = (a, b) => {
    if (b - a === 1) return leafHashes[a];
    let k = 1;
    while (k * 2 < b - a) k *= 2;
    return nodeHash(sub(a, a + k), sub(a + k, b));
  };
  return sub(0, leafHashes.length);
}
