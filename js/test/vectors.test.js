// Runs every cross-language vector check (test/vector-checks.js) under node --test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { runVectorChecks } from './vector-checks.js';

const here = new URL('.', import.meta.url);
const load = async (name) => {
  const url = name.startsWith('shared/')
    ? new URL(`../../../shared/vectors/${name.slice('shared/'.length)}`, here)
    : new URL(`../../vectors/${name}`, here);
  return JSON.parse(await readFile(url, 'utf8'));
};

const results = await runVectorChecks(load);
for (const r of results) {
  test(r.name, () => assert.ok(r.ok, r.detail));
}
test('every vector file produced checks', () => {
  for (const prefix of ['identifiers:', 'threshold-oprf:', 'slots:', 'accounts:', 'records:', 'receipts:', 'rfc9497:', 'rfc9180:', 'rfc9496:', 'rfc9380:']) {
    assert.ok(results.some((r) => r.name.startsWith(prefix) && r.ok), prefix);
  }
});
