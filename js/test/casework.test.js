// Casework in the browser protocol module: packages opened in the page, notes, reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { x25519 } from '@noble/curves/ed25519.js';
import { fromHex } from '../src/protocol/bytes.js';
import { caseNoteInfo, MAX_TEXT_BYTES, openCaseNote, openPackage, sealCaseNote } from '../src/protocol/casework.js';
import { openReport, sealReport } from '../src/protocol/reports.js';
import { DecryptionError, EncodingError, InputError, VersionError } from '../src/protocol/errors.js';

const slots = JSON.parse(await readFile(new URL('../../vectors/slots.json', import.meta.url), 'utf8'));
const MATCH = fromHex('00112233445566778899aabbccddeeff');

test('openPackage opens every vector slot to its package', async () => {
  const key = fromHex(slots.counselor_private_key);
  for (const c of slots.cases) {
    const pkg = await openPackage(key, fromHex(slots.deployment_id), fromHex(c.slot_id), fromHex(c.inner));
    const expected = JSON.parse(c.package);
    assert.equal(pkg.contact, expected.contact);
    assert.deepEqual(pkg.identifiers, expected.identifiers);
    assert.equal(pkg.message, expected.message);
  }
});

test('openPackage refuses another slot, another key and another version', async () => {
  const c = slots.cases[0];
  const key = fromHex(slots.counselor_private_key);
  const dep = fromHex(slots.deployment_id);
  await assert.rejects(openPackage(key, dep, fromHex(slots.cases[1].slot_id), fromHex(c.inner)), DecryptionError);
  await assert.rejects(openPackage(x25519.utils.randomSecretKey(), dep, fromHex(c.slot_id), fromHex(c.inner)), DecryptionError);
  const inner = fromHex(c.inner);
  inner[0] = 2;
  await assert.rejects(openPackage(key, dep, fromHex(c.slot_id), inner), VersionError);
});

test('a case note opens only for its counselor, match and key', async () => {
  const sk = x25519.utils.randomSecretKey();
  const pk = x25519.getPublicKey(sk);
  const sealed = await sealCaseNote(pk, 'c-ana', MATCH, 'Called back ✓');
  assert.equal(await openCaseNote(sk, 'c-ana', MATCH, sealed), 'Called back ✓');
  await assert.rejects(openCaseNote(sk, 'c-ben', MATCH, sealed), DecryptionError);
  await assert.rejects(openCaseNote(x25519.utils.randomSecretKey(), 'c-ana', MATCH, sealed), DecryptionError);
  await assert.rejects(sealCaseNote(pk, 'c-ana', MATCH, ''), InputError);
  await assert.rejects(sealCaseNote(pk, 'c-ana', MATCH, 'a'.repeat(MAX_TEXT_BYTES + 1)), InputError);
  assert.throws(() => caseNoteInfo('../x', MATCH), InputError);
  assert.throws(() => caseNoteInfo('c-ana', new Uint8Array(15)), EncodingError);
  await assert.rejects(openCaseNote(sk, 'c-ana', MATCH, Uint8Array.of(2, ...sealed.subarray(1))), VersionError);
});

test('a report opens only for its organization and match', async () => {
  const sk = x25519.utils.randomSecretKey();
  const org = new Uint8Array(16).fill(7);
  const sealed = await sealReport(x25519.getPublicKey(sk), org, MATCH, 'report text');
  assert.equal(await openReport(sk, org, MATCH, sealed), 'report text');
  await assert.rejects(openReport(sk, new Uint8Array(16), MATCH, sealed), DecryptionError);
});
