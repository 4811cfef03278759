// Cross-language vector checks (docs/protocol.md §11), shared by `node --test` and the
// in-browser page (test/browser-vectors.js). It imports only src modules and no Node
// APIs. `load(name)` returns the parsed JSON of vectors/<name>, or of the shared RFC
// vector file for names starting with "shared/".
import { ristretto255_hasher, ristretto255_oprf } from '@noble/curves/ed25519.js';
import { expand_message_xmd } from '@noble/curves/abstract/hash-to-curve.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { concat, equalBytes, fromHex, toHex, utf8 } from '../src/protocol/bytes.js';
import { canonicalize, oprfInput } from '../src/protocol/identifiers.js';
import * as oprf from '../src/protocol/oprf.js';
import * as slots from '../src/protocol/slots.js';
import * as accounts from '../src/protocol/accounts.js';
import * as records from '../src/protocol/records.js';
import * as receipts from '../src/protocol/receipts.js';
import * as merkle from '../src/protocol/merkle.js';
import { Point, decodeElement, decodeScalar, hashToGroup, multiply, scalarBytes } from '../src/protocol/group.js';
import { aeadOpen, hpkeOpen } from '../src/protocol/primitives.js';
import { canonicalJson } from '../src/protocol/canonical-json.js';
import { NotAloneError } from '../src/protocol/errors.js';
import * as casework from '../src/protocol/casework.js';
import * as reports from '../src/protocol/reports.js';
import * as membership from '../src/protocol/membership.js';

const h = (x) => fromHex(x);

/** Replays fixed byte strings as a random source, in draw order. */
function queueRng(chunks) {
  const queue = chunks.map((c) => (typeof c === 'string' ? h(c) : c));
  return (n) => {
    const next = queue.shift();
    if (!next || next.length !== n) throw new Error(`vector rng: expected a draw of ${next?.length} bytes, got ${n}`);
    return next;
  };
}

async function expectThrow(fn, ErrorClass = NotAloneError) {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ErrorClass) return;
    throw new Error(`threw ${e?.name} instead of ${ErrorClass.name}`);
  }
  throw new Error(`did not throw ${ErrorClass.name}`);
}

function eqHex(actual, expectedHex, what) {
  const a = typeof actual === 'string' ? actual : toHex(actual);
  if (a !== expectedHex) throw new Error(`${what}: got ${a.slice(0, 32)}…, expected ${expectedHex.slice(0, 32)}…`);
}

function eq(actual, expected, what) {
  if (actual !== expected) throw new Error(`${what}: got ${String(actual).slice(0, 60)}, expected ${String(expected).slice(0, 60)}`);
}

// ------------------------------------------------------------------ identifiers.json

function identifierChecks(v) {
  const checks = [];
  v.cases.forEach((c, i) => {
    checks.push([`identifiers: case ${i} (${c.kind}) canonical form and OPRF input`, () => {
      const id = canonicalize(c.kind, c.input, { region: c.region });
      eq(id.canonical, c.canonical, 'canonical');
      eqHex(oprfInput(id), c.oprf_input, 'oprf input');
      // §4.1 rule 4: the canonical form maps to itself.
      eq(canonicalize(c.kind, c.canonical).canonical, c.canonical, 'idempotence');
    }]);
  });
  v.refusals.forEach((c, i) => {
    checks.push([`identifiers: refusal ${i} (${c.kind}) is refused without echoing the input`, () => {
      try {
        canonicalize(c.kind, c.input, { region: c.region });
      } catch (e) {
        if (e.name !== 'IdentifierError' || !e.code) throw new Error(`wrong error ${e.name}`);
        if (c.input.trim() && e.message.includes(c.input.trim())) throw new Error('the message repeats the input');
        return;
      }
      throw new Error('was not refused');
    }]);
  });
  return checks;
}

// ------------------------------------------------------------------ threshold-oprf.json

function federationOf(v) {
  return oprf.parseFederation({
    threshold: v.threshold,
    public_key: v.public_key,
    shares: v.shares.map((s) => ({ index: s.index, public_key: s.public_key })),
  });
}

function thresholdChecks(v) {
  const checks = [];
  checks.push(['threshold-oprf: federation public keys are consistent', () => federationOf(v)]);
  checks.push(['threshold-oprf: an inconsistent federation is refused', () => {
    const bad = { threshold: v.threshold, public_key: v.shares[0].public_key, shares: v.shares.map((s) => ({ index: s.index, public_key: s.public_key })) };
    return expectThrow(() => oprf.parseFederation(bad));
  }]);
  v.cases.forEach((c, i) => {
    const pairs = [];
    for (let a = 0; a < c.evaluations.length; a++) for (let b = a + 1; b < c.evaluations.length; b++) pairs.push([a, b]);
    checks.push([`threshold-oprf: case ${i} blinds, verifies every proof, and every pair combines to the output`, () => {
      const fed = federationOf(v);
      const input = h(c.input);
      eqHex(oprfInput(canonicalize(c.kind, c.canonical)), c.input, 'identifier input');
      const b = oprf.blind(input, { blind: h(c.blind) });
      eqHex(b.blinded, c.blinded_element, 'blinded element');
      const evaluations = c.evaluations.map((e) => ({ index: e.index, evaluatedElements: [h(e.evaluated_element)], proof: h(e.proof) }));
      for (const [a, bb] of pairs) {
        const [y] = oprf.finalizeThreshold(fed, [input], [b.blind], [b.blinded], [evaluations[a], evaluations[bb]]);
        eqHex(y, c.output, `output from servers ${a + 1},${bb + 1}`);
      }
      const [all] = oprf.finalizeThreshold(fed, [input], [b.blind], [b.blinded], evaluations);
      eqHex(all, c.output, 'output from all servers');
    }]);
    checks.push([`threshold-oprf: case ${i} rejects a flipped proof, a swapped element and a duplicate server`, async () => {
      const fed = federationOf(v);
      const input = h(c.input);
      const b = oprf.blind(input, { blind: h(c.blind) });
      const evaluations = c.evaluations.map((e) => ({ index: e.index, evaluatedElements: [h(e.evaluated_element)], proof: h(e.proof) }));
      const flipped = { ...evaluations[0], proof: evaluations[0].proof.slice() };
      flipped.proof[5] ^= 1;
      await expectThrow(() => oprf.finalizeThreshold(fed, [input], [b.blind], [b.blinded], [flipped, evaluations[1]]));
      const swapped = { ...evaluations[0], evaluatedElements: evaluations[1].evaluatedElements };
      await expectThrow(() => oprf.finalizeThreshold(fed, [input], [b.blind], [b.blinded], [swapped, evaluations[1]]));
      await expectThrow(() => oprf.finalizeThreshold(fed, [input], [b.blind], [b.blinded], [evaluations[0], evaluations[0]]));
      await expectThrow(() => oprf.finalizeThreshold(fed, [input], [b.blind], [b.blinded], [evaluations[0]]));
    }]);
  });
  return checks;
}

// ------------------------------------------------------------------ slots.json

function slotChecks(v) {
  return v.cases.map((c, i) => [`slots: case ${i} (threshold ${c.threshold}) derives, builds and seals as Python does`, async () => {
    const y = h(c.oprf_output);
    const s = slots.deriveSlotSecrets(y, c.threshold);
    eqHex(scalarBytes(s.secret), c.secret, 'secret');
    eqHex(s.tag, c.tag, 'tag');
    eq(s.coefficients.length, c.coefficients.length, 'coefficient count');
    s.coefficients.forEach((a, j) => eqHex(scalarBytes(a), c.coefficients[j], `coefficient ${j + 1}`));
    eqHex(s.entryKey, c.entry_key, 'entry key');
    eqHex(scalarBytes(slots.shareAbscissa(h(c.account_id), s.tag)), c.x, 'x');
    eqHex(slots.packageInfo(h(v.deployment_id), h(c.slot_id)), c.package_info, 'package info');
    eqHex(slots.outerAd(s.tag, h(c.account_id), h(c.slot_id)), c.outer_ad, 'outer ad');
    const pkg = JSON.parse(c.package);
    eq(new TextDecoder().decode(slots.packageBytes(pkg)), c.package, 'package JSON');
    const inner = h(c.inner);
    let sealedWith = null;
    const slot = await slots.buildSlot(y, pkg, {
      threshold: c.threshold,
      accountId: h(c.account_id),
      slotId: h(c.slot_id),
      deploymentId: h(v.deployment_id),
      counselorId: 'counselor-vectors',
      counselorPublicKey: h(v.counselor_public_key),
      outerNonce: h(c.outer_nonce),
      // HPKE is randomized: replay Python's ciphertext, and check the inputs it was given.
      seal: async (pk, pt, info) => {
        sealedWith = { pk, pt, info };
        return inner.slice(1);
      },
    });
    eqHex(sealedWith.pk, v.counselor_public_key, 'seal key');
    eqHex(sealedWith.info, c.package_info, 'seal info');
    eq(new TextDecoder().decode(sealedWith.pt), c.package, 'sealed package');
    eqHex(slot.x, c.x, 'slot x');
    eqHex(slot.share, c.share, 'share');
    eqHex(slot.outer, c.outer, 'outer');
    eqHex(aeadOpen(s.entryKey, h(c.outer), h(c.outer_ad)), c.inner, 'outer opens to inner');
    eq(inner[0], 1, 'inner version');
    const opened = await hpkeOpen(h(v.counselor_private_key), inner.slice(1), h(c.package_info));
    eq(new TextDecoder().decode(opened), c.package, 'inner opens to the package');
    // And a package sealed here opens with the counselor key (HPKE interoperability).
    const ours = await slots.buildSlot(y, pkg, {
      threshold: c.threshold, accountId: h(c.account_id), slotId: h(c.slot_id), deploymentId: h(v.deployment_id),
      counselorId: 'counselor-vectors', counselorPublicKey: h(v.counselor_public_key),
    });
    const ourInner = aeadOpen(s.entryKey, ours.outer, h(c.outer_ad));
    const reopened = await hpkeOpen(h(v.counselor_private_key), ourInner.slice(1), h(c.package_info));
    eq(new TextDecoder().decode(reopened), c.package, 'our sealed package opens');
  }]);
}

// ------------------------------------------------------------------ accounts.json

function accountChecks(v) {
  const params = { timeCost: v.argon2id.time_cost, memoryKib: v.argon2id.memory_kib };
  const floor = { timeCost: 1, memoryKib: 8 };
  return [
    ['accounts: Argon2id (p = 1) and HKDF give the auth and wrap keys', async () => {
      const keys = await accounts.derivePassphraseKeys(v.username, v.passphrase, h(v.salt), params);
      eqHex(keys.authKey, v.auth_key, 'auth key');
      eqHex(keys.wrapKey, v.wrap_key, 'wrap key');
    }],
    ['accounts: recovery key display, parsing and keys', () => {
      eq(accounts.formatRecoveryKey(h(v.recovery_key_bytes)), v.recovery_key, 'display');
      eqHex(accounts.parseRecoveryKey(v.recovery_key.toLowerCase().replaceAll('-', ' ')), v.recovery_key_bytes, 'parse');
      const keys = accounts.deriveRecoveryKeys(v.username, v.recovery_key);
      eqHex(keys.authKey, v.recovery_auth_key, 'recovery auth key');
      eqHex(keys.wrapKey, v.recovery_wrap_key, 'recovery wrap key');
    }],
    ['accounts: a recovery-key typo names its group', async () => {
      const typo = v.recovery_key.slice(0, 20) + (v.recovery_key[20] === 'A' ? 'B' : 'A') + v.recovery_key.slice(21);
      try {
        accounts.parseRecoveryKey(typo);
      } catch (e) {
        if (!/group|typo/.test(e.message)) throw new Error('unexpected message');
        return;
      }
      throw new Error('typo not caught');
    }],
    ['accounts: key check and bundle bytes', () => {
      eqHex(accounts.keyCheck(h(v.data_key)), v.key_check, 'key check');
      const b = accounts.parseBundle(h(v.bundle));
      eq(b.username, v.username, 'username');
      eq(b.params.timeCost, params.timeCost, 'time cost');
      eq(b.params.memoryKib, params.memoryKib, 'memory');
      eqHex(b.wrappedByPassphrase, v.wrapped_by_passphrase, 'wrapped by passphrase');
      eqHex(b.wrappedByRecovery, v.wrapped_by_recovery, 'wrapped by recovery');
      eqHex(accounts.bundleToBytes(b), v.bundle, 'round trip');
    }],
    ['accounts: create_account replays to the same bundle', async () => {
      const rng = queueRng([v.salt, v.data_key, v.recovery_key_bytes, v.wrapped_by_passphrase.slice(2, 50), v.wrapped_by_recovery.slice(2, 50)]);
      const acc = await accounts.createAccount(v.username, v.passphrase, params, { rng });
      eqHex(accounts.bundleToBytes(acc.bundle), v.bundle, 'bundle');
      eqHex(acc.authKey, v.auth_key, 'auth key');
      eqHex(acc.recoveryAuthKey, v.recovery_auth_key, 'recovery auth key');
      eq(acc.recoveryKey, v.recovery_key, 'recovery key');
    }],
    ['accounts: unlock with passphrase and with recovery key; wrong ones refused', async () => {
      const b = accounts.parseBundle(h(v.bundle));
      eqHex(await accounts.unlockWithPassphrase(b, v.passphrase), v.data_key, 'passphrase unlock');
      eqHex(accounts.unlockWithRecovery(b, v.recovery_key), v.data_key, 'recovery unlock');
      await expectThrow(() => accounts.unlockWithPassphrase(b, `${v.passphrase}!`));
      await expectThrow(() => accounts.unlockWithPassphrase(b, v.passphrase, { floor: { timeCost: 3, memoryKib: 65536 } }));
    }],
    ['accounts: passphrase change rewraps the same data key', async () => {
      const changed = accounts.parseBundle(h(v.changed_bundle));
      const rng = queueRng([changed.salt, changed.wrappedByPassphrase.slice(1, 25)]);
      const res = await accounts.changePassphrase(accounts.parseBundle(h(v.bundle)), h(v.data_key), v.changed_passphrase, params, { rng, floor });
      eqHex(accounts.bundleToBytes(res.bundle), v.changed_bundle, 'changed bundle');
      eqHex(res.authKey, v.changed_auth_key, 'changed auth key');
    }],
  ];
}

// ------------------------------------------------------------------ records.json

function recordChecks(v) {
  const checks = v.versions.map((ver) => [`records: version ${ver.version} encrypts to the same blob and decrypts`, () => {
    const content = JSON.parse(ver.content_json);
    eq(new TextDecoder().decode(canonicalJson(content)), ver.content_json, 'canonical JSON');
    const blob = records.encryptRecordVersion(h(v.data_key), h(v.record_id), ver.version, content, { nonce: h(ver.nonce) });
    eqHex(blob, ver.blob, 'blob');
    const back = records.decryptRecordVersion(h(v.data_key), h(v.record_id), ver.version, h(ver.blob));
    eq(new TextDecoder().decode(canonicalJson(back)), ver.content_json, 'decrypted content');
  }]);
  checks.push(['records: a version presented as another version does not open', () =>
    expectThrow(() => records.decryptRecordVersion(h(v.data_key), h(v.record_id), 2, h(v.versions[0].blob)))]);
  checks.push(['records: entry copy encrypts to the same blob and decrypts', () => {
    const entry = JSON.parse(v.entry_json);
    eqHex(records.encryptEntryCopy(h(v.data_key), h(v.entry_id), entry, { nonce: h(v.entry_nonce) }), v.entry_blob, 'entry blob');
    const back = records.decryptEntryCopy(h(v.data_key), h(v.entry_id), h(v.entry_blob));
    eq(new TextDecoder().decode(canonicalJson(back)), v.entry_json, 'entry JSON');
  }]);
  return checks;
}

// ------------------------------------------------------------------ receipts.json

function receiptChecks(v) {
  const pk = h(v.log_public_key);
  const checks = [];
  checks.push(['receipts: leaves, leaf hashes and roots of every size', () => {
    v.leaves.forEach((leaf, i) => {
      const { digest, timeMs } = receipts.parseReceiptLeaf(h(leaf));
      eqHex(digest, toHex(receipts.parseReceiptLeaf(receipts.receiptLeaf(digest, timeMs)).digest), 'leaf round trip');
      eqHex(merkle.leafHash(h(leaf)), v.leaf_hashes[i], `leaf hash ${i}`);
    });
    v.roots.forEach((root, n) => eqHex(merkle.root(v.leaf_hashes.slice(0, n).map(h)), root, `root of ${n}`));
  }]);
  v.receipts.forEach((r, i) => {
    checks.push([`receipts: receipt ${i} verifies against its ciphertext and the log key`, async () => {
      const time = receipts.verifyReceipt(h(v.ciphertexts[i]), h(r), pk);
      eq(time, receipts.parseReceiptLeaf(h(v.leaves[i])).timeMs, 'time');
      await expectThrow(() => receipts.verifyReceipt(h(v.ciphertexts[(i + 1) % v.ciphertexts.length]), h(r), pk));
      const tampered = h(r);
      tampered[tampered.length - 1] ^= 1;
      if (tampered.length > receipts.RECEIPT_FIXED_BYTES) await expectThrow(() => receipts.verifyReceipt(h(v.ciphertexts[i]), tampered, pk));
    }]);
  });
  checks.push(['receipts: signed tree heads and the consistency proof from 3 to 7', async () => {
    const oldSth = receipts.parseTreeHead(h(v.old_tree_head));
    const newSth = receipts.parseTreeHead(h(v.tree_head));
    receipts.verifyTreeHead(pk, oldSth);
    receipts.verifyTreeHead(pk, newSth);
    eq(oldSth.treeSize, 3n, 'old size');
    eq(newSth.treeSize, 7n, 'new size');
    receipts.verifyConsistencyBetween(oldSth, newSth, v.consistency_proof_3_7.map(h), pk);
    await expectThrow(() => receipts.verifyConsistencyBetween(oldSth, newSth, v.consistency_proof_3_7.slice(1).map(h), pk));
    const forged = { ...newSth, root: h(v.roots[6]) };
    await expectThrow(() => receipts.verifyTreeHead(pk, forged));
  }]);
  return checks;
}

// ------------------------------------------------------------------ shared RFC vectors

function rfc9497Checks(v) {
  const checks = [];
  for (const suite of v.suites.filter((s) => s.mode === 0 || s.mode === 1)) {
    const api = suite.mode === 0 ? ristretto255_oprf.oprf : ristretto255_oprf.voprf;
    checks.push([`rfc9497: mode ${suite.mode} DeriveKeyPair`, () => {
      const kp = api.deriveKeyPair(h(suite.seed), h(suite.key_info));
      eqHex(kp.secretKey, suite.skSm, 'skS');
      if (suite.pkSm) eqHex(kp.publicKey, suite.pkSm, 'pkS');
    }]);
    suite.vectors.forEach((vec, i) => {
      checks.push([`rfc9497: mode ${suite.mode} vector ${i} (batch ${vec.batch})`, () => {
        if (suite.mode === 0) {
          // Only the blinding glue (HashToGroup with the mode's DST) is ours in mode 0.
          vec.input.forEach((inp, k) => {
            const blinded = multiply(hashToGroup(h(inp), h(suite.group_dst_hex)), decodeScalar(h(vec.blind[k])));
            eqHex(blinded.toBytes(), vec.blinded_element[k], 'blinded element');
            eqHex(api.finalize(h(inp), h(vec.blind[k]), h(vec.evaluation_element[k])), vec.output[k], 'output');
          });
          return;
        }
        const inputs = vec.input.map(h);
        const blinds = vec.blind.map(h);
        const blinded = inputs.map((inp, k) => oprf.blind(inp, { blind: blinds[k] }).blinded);
        blinded.forEach((b, k) => eqHex(b, vec.blinded_element[k], 'blinded element'));
        // n = 1, τ = 1: the threshold client is plain RFC 9497 VOPRF.
        const fed = { threshold: 1, publicKey: h(suite.pkSm), shares: [{ index: 1, publicKey: h(suite.pkSm) }] };
        oprf.verifyFederation(fed);
        const outputs = oprf.finalizeThreshold(fed, inputs, blinds, blinded, [
          { index: 1, evaluatedElements: vec.evaluation_element.map(h), proof: h(vec.proof) },
        ]);
        outputs.forEach((y, k) => eqHex(y, vec.output[k], 'output'));
      }]);
    });
  }
  return checks;
}

function rfc9180Checks(v) {
  return v.vectors
    .filter((vec) => vec.mode === 0 && vec.kem_id === 32 && vec.kdf_id === 1 && vec.aead_id === 3)
    .map((vec, i) => [`rfc9180: DHKEM(X25519)/HKDF-SHA256/ChaCha20-Poly1305 base vector ${i} opens`, async () => {
      const e = vec.encryptions[0];
      const pt = await hpkeOpen(h(vec.skRm), concat(h(vec.enc), h(e.ct)), h(vec.info), h(e.aad));
      eqHex(pt, e.pt, 'plaintext');
    }]);
}

function rfc9496Checks(v) {
  return [
    ['rfc9496: encodings of 0..15 × G (the identity is refused as a peer element)', async () => {
      v.generator_multiples.forEach((enc, i) => {
        eqHex(multiply(Point.BASE, BigInt(i)).toBytes(), enc, `${i}·G`);
        if (i > 0) eqHex(decodeElement(h(enc)).toBytes(), enc, `decode ${i}·G`);
      });
      await expectThrow(() => decodeElement(h(v.generator_multiples[0])));
    }],
    ['rfc9496: every invalid encoding is refused', async () => {
      for (const [reason, list] of Object.entries(v.invalid_encodings)) {
        for (const enc of list) await expectThrow(() => decodeElement(h(enc)), NotAloneError).catch((e) => {
          throw new Error(`${reason}: ${e.message}`);
        });
      }
    }],
    ['rfc9496: element derivation from 64 uniform bytes (the one-way map under HashToGroup)', () => {
      v.from_uniform_bytes.forEach((x, i) => eqHex(ristretto255_hasher.deriveToCurve(h(x.input)).toBytes(), x.output, `vector ${i}`));
      const outs = v.from_uniform_bytes_same_output.inputs.map((x) => toHex(ristretto255_hasher.deriveToCurve(h(x)).toBytes()));
      eq(new Set(outs).size, 1, 'same output');
      if (v.from_uniform_bytes_same_output.output) eq(outs[0], v.from_uniform_bytes_same_output.output, 'output');
    }],
  ];
}

function rfc9380Checks(v) {
  return [['rfc9380: expand_message_xmd(SHA-512) (the expander under HashToGroup)', () => {
    v.tests.forEach((x, i) => eqHex(expand_message_xmd(utf8(x.msg), utf8(v.DST), x.len_in_bytes, sha512), x.uniform_bytes, `vector ${i}`));
  }]];
}

// ------------------------------------------------------------------ runner

const FILES = [
  ['identifiers.json', identifierChecks],
  ['threshold-oprf.json', thresholdChecks],
  ['slots.json', slotChecks],
  ['accounts.json', accountChecks],
  ['records.json', recordChecks],
  ['receipts.json', receiptChecks],
  ['shared/rfc9497_ristretto255_sha512.json', rfc9497Checks],
  ['shared/rfc9180_hpke_x25519_subset.json', rfc9180Checks],
  ['shared/rfc9496_ristretto255.json', rfc9496Checks],
  ['shared/rfc9380_expand_message_xmd_sha512.json', rfc9380Checks],
  ['casework.json', caseworkChecks],
  ['membership.json', membershipChecks],
];

// ------------------------------------------------------------------ casework.json (§13)

function caseworkChecks(v) {
  const matchId = h(v.match_id);
  const infoOf = {
    'case-note': () => casework.caseNoteInfo(v.counselor_id, matchId),
    report: () => reports.reportInfo(h(v.organization_id), matchId),
  };
  const openOf = {
    'case-note': (key, other, sealed) => casework.openCaseNote(key, v.counselor_id, other ?? matchId, sealed),
    report: (key, other, sealed) => reports.openReport(key, h(v.organization_id), other ?? matchId, sealed),
  };
  const sealOf = {
    'case-note': (pk, text) => casework.sealCaseNote(pk, v.counselor_id, matchId, text),
    report: (pk, text) => reports.sealReport(pk, h(v.organization_id), matchId, text),
  };
  return v.cases.map((c) => [`casework: ${c.kind} info, opening the Python-sealed text, round trip`, async () => {
    eqHex(infoOf[c.kind](), c.info, 'info');
    const key = h(c.private_key);
    eq(await openOf[c.kind](key, undefined, h(c.sealed)), c.text, 'opened text');
    const otherMatch = matchId.slice();
    otherMatch[0] ^= 1;
    await expectThrow(() => openOf[c.kind](key, otherMatch, h(c.sealed)));
    const again = await sealOf[c.kind](h(c.public_key), c.text);
    eq(again[0], 1, 'version byte');
    eq(await openOf[c.kind](key, undefined, again), c.text, 'round trip');
  }]);
}

/** Run every check; returns [{name, ok, detail}]. Never throws for a failing check. */
export async function runVectorChecks(load) {
  const results = [];
  for (const [file, make] of FILES) {
    let checks;
    try {
      checks = make(await load(file));
    } catch (e) {
      results.push({ name: `${file}: load`, ok: false, detail: String(e?.message ?? e) });
      continue;
    }
    for (const [name, fn] of checks) {
      try {
        await fn();
        results.push({ name, ok: true, detail: '' });
      } catch (e) {
        results.push({ name, ok: false, detail: `${e?.name ?? 'Error'}: ${e?.message ?? e}` });
      }
    }
  }
  return results;
}

export { equalBytes, utf8 };

// ------------------------------------------------------------------ membership.json (§15)

function membershipChecks(v) {
  const organizationId = h(v.organization_id);
  const pending = () => {
    const inputs = v.inputs.map(h);
    return membership.blindTokens(organizationId, inputs.length, { rng: queueRng(inputs), blinds: v.blinds.map(h) });
  };
  return [
    ['membership: the issuer key is DeriveKeyPair(seed, "notalone/v1/member-issuer" ‖ O)', () => {
      eqHex(membership.issuerInfo(organizationId), v.issuer_info, 'issuer info');
      const keys = membership.issuerKeyPair(h(v.issuer_seed), organizationId);
      eqHex(keys.secretKey, v.secret_key, 'secret key');
      eqHex(keys.publicKey, v.public_key, 'public key');
    }],
    ['membership: inputs blind to the blinded elements', () => {
      const p = pending();
      p.blinded.forEach((b, i) => eqHex(b, v.blinded_elements[i], `blinded element ${i}`));
    }],
    ['membership: the batch proof verifies and the tokens finalize to the outputs and texts', () => {
      const tokens = membership.finalizeTokens(pending(), h(v.public_key), v.evaluated_elements.map(h), h(v.proof));
      tokens.forEach((t, i) => {
        eqHex(t.output, v.outputs[i], `output ${i}`);
        eq(membership.tokenText(t), v.tokens[i], `token text ${i}`);
        eqHex(membership.parseToken(v.tokens[i]).output, v.outputs[i], `parsed token ${i}`);
      });
      eq(membership.tokensFile(tokens, h(v.public_key)), v.tokens_file, 'tokens file');
      eq(membership.parseTokens(v.tokens_file).length, v.tokens.length, 'tokens in the file');
    }],
    ['membership: a flipped proof, another key or a missing element is refused', async () => {
      const flipped = h(v.proof);
      flipped[3] ^= 1;
      await expectThrow(() => membership.finalizeTokens(pending(), h(v.public_key), v.evaluated_elements.map(h), flipped));
      const other = membership.issuerKeyPair(h(v.issuer_seed), new Uint8Array(16)).publicKey;
      await expectThrow(() => membership.finalizeTokens(pending(), other, v.evaluated_elements.map(h), h(v.proof)));
      await expectThrow(() => membership.finalizeTokens(pending(), h(v.public_key), v.evaluated_elements.slice(1).map(h), h(v.proof)));
      await expectThrow(() => membership.parseToken(v.tokens[0].slice(0, -2)));
      await expectThrow(() => membership.parseTokens('{"format":"other"}'));
    }],
  ];
}
