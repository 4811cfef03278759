// Receipts and signed tree heads (§10.2).
//
//     leaf         "notalone/v1/receipt" (19) ‖ SHA-256(ciphertext) (32) ‖ time_ms u64     = 59
//     signed msg   "notalone/v1/tree-head" (21) ‖ tree_size u64 ‖ timestamp_ms u64 ‖ root = 69
//     STH wire     0x01 ‖ tree_size ‖ timestamp_ms ‖ root ‖ signature (64)                = 113
//     receipt      0x01 ‖ leaf_index u64 ‖ leaf ‖ STH body (112) ‖ u8 count ‖ 32·count   = 181 + 32·count
import { ed25519 } from '@noble/curves/ed25519.js';
import { ascii, checkBytes, concat, equalBytes, readU64, u64 } from './bytes.js';
import { EncodingError, MerkleProofError, SignatureError, VersionError } from './errors.js';
import { HASH_BYTES, MAX_INCLUSION_NODES, leafHash, verifyConsistency, verifyInclusion } from './merkle.js';
import { sha256 } from './primitives.js';

const LEAF_DOMAIN = ascii('notalone/v1/receipt');
const TREE_HEAD_DOMAIN = ascii('notalone/v1/tree-head');
export const LEAF_BYTES = LEAF_DOMAIN.length + 32 + 8;
const STH_BODY_BYTES = 8 + 8 + HASH_BYTES + 64;
export const TREE_HEAD_BYTES = 1 + STH_BODY_BYTES;
export const RECEIPT_FIXED_BYTES = 1 + 8 + LEAF_BYTES + STH_BODY_BYTES + 1;

export function receiptLeaf(ciphertextSha256, timeMs) {
  checkBytes(ciphertextSha256, 32, 'a receipt leaf digest');
  return concat(LEAF_DOMAIN, ciphertextSha256, u64(timeMs, 'receipt time'));
}

export function parseReceiptLeaf(leaf) {
  if (!(leaf instanceof Uint8Array) || leaf.length !== LEAF_BYTES || !equalBytes(leaf.subarray(0, LEAF_DOMAIN.length), LEAF_DOMAIN)) {
    throw new EncodingError(`a receipt leaf is ${LEAF_BYTES} bytes starting with 'notalone/v1/receipt'`);
  }
  return { digest: leaf.slice(LEAF_DOMAIN.length, LEAF_DOMAIN.length + 32), timeMs: readU64(leaf, LEAF_BYTES - 8) };
}

export function treeHeadMessage({ treeSize, timestampMs, root }) {
  checkBytes(root, HASH_BYTES, 'a Merkle tree hash');
  return concat(TREE_HEAD_DOMAIN, u64(treeSize, 'tree size'), u64(timestampMs, 'tree head timestamp'), root);
}

function checkVersion(data, what) {
  if (!(data instanceof Uint8Array) || data.length === 0) throw new EncodingError(`a ${what} must be non-empty bytes`);
  if (data[0] !== 0x01) throw new VersionError(`unknown ${what} version; this version reads 0x01`);
}

function sthFromBody(body) {
  return {
    treeSize: readU64(body, 0),
    timestampMs: readU64(body, 8),
    root: body.slice(16, 16 + HASH_BYTES),
    signature: body.slice(16 + HASH_BYTES, STH_BODY_BYTES),
  };
}

export function parseTreeHead(data) {
  checkVersion(data, 'signed tree head');
  if (data.length !== TREE_HEAD_BYTES) throw new EncodingError(`a v1 signed tree head is exactly ${TREE_HEAD_BYTES} bytes`);
  return sthFromBody(data.subarray(1));
}

export function parseReceipt(data) {
  checkVersion(data, 'receipt');
  if (data.length < RECEIPT_FIXED_BYTES) throw new EncodingError(`a v1 receipt is at least ${RECEIPT_FIXED_BYTES} bytes`);
  let o = 1;
  const leafIndex = readU64(data, o);
  o += 8;
  const leaf = data.slice(o, o + LEAF_BYTES);
  o += LEAF_BYTES;
  parseReceiptLeaf(leaf);
  const treeHead = sthFromBody(data.subarray(o, o + STH_BODY_BYTES));
  o += STH_BODY_BYTES;
  const count = data[o];
  o += 1;
  if (count > MAX_INCLUSION_NODES) throw new EncodingError(`an inclusion proof has at most ${MAX_INCLUSION_NODES} nodes`);
  if (data.length !== o + count * HASH_BYTES) {
    throw new EncodingError(`a v1 receipt with ${count} proof nodes is exactly ${o + count * HASH_BYTES} bytes`);
  }
  const inclusionProof = [];
  for (let i = 0; i < count; i++) inclusionProof.push(data.slice(o + i * HASH_BYTES, o + (i + 1) * HASH_BYTES));
  return { leaf, leafIndex, inclusionProof, treeHead };
}

export function verifyTreeHead(logPublicKey, sth) {
  checkBytes(logPublicKey, 32, "the log's Ed25519 public key");
  checkBytes(sth.signature, 64, 'an Ed25519 signature');
  let ok = false;
  try {
    // zip215: false is RFC 8032's strict verification, as `cryptography` (OpenSSL) does.
    ok = ed25519.verify(sth.signature, treeHeadMessage(sth), logPublicKey, { zip215: false });
  } catch {
    ok = false;
  }
  if (!ok) throw new SignatureError("the tree head is not signed by this log's key");
}

/** Check that the log recorded this ciphertext; return the time it recorded (ms, BigInt). */
export function verifyReceipt(ciphertext, receipt, logPublicKey) {
  const r = receipt instanceof Uint8Array ? parseReceipt(receipt) : receipt;
  const { digest, timeMs } = parseReceiptLeaf(r.leaf);
  if (!equalBytes(digest, sha256(ciphertext))) throw new MerkleProofError('the receipt is for a different ciphertext');
  verifyTreeHead(logPublicKey, r.treeHead);
  verifyInclusion(leafHash(r.leaf), r.leafIndex, r.treeHead.treeSize, r.inclusionProof, r.treeHead.root);
  if (timeMs > r.treeHead.timestampMs) throw new MerkleProofError("the receipt's leaf is dated after the tree head that holds it");
  return timeMs;
}

export function verifyConsistencyBetween(oldSth, newSth, proof, logPublicKey) {
  verifyTreeHead(logPublicKey, oldSth);
  verifyTreeHead(logPublicKey, newSth);
  if (newSth.treeSize > oldSth.treeSize && newSth.timestampMs < oldSth.timestampMs) {
    throw new MerkleProofError('the larger tree head is signed with an earlier time');
  }
  verifyConsistency(oldSth.treeSize, newSth.treeSize, oldSth.root, newSth.root, proof);
}
