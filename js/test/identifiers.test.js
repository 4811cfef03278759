// The Python identifier table (tests/protocol/test_identifiers.py, exported with the
// Python results by scripts/export-identifier-table.py) must give the same results here:
// the same canonical form, or a refusal. The wording of refusals may differ; a refusal
// must never contain the input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { canonicalize, oprfInput } from '../src/protocol/identifiers.js';
import { IdentifierError } from '../src/protocol/errors.js';

const fixture = (name) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const table = [
  ...fixture('identifier-table.json'),
  ...fixture('identifier-extra.json').map((row) => ({ table: 'EXTRA', ...row })),
];

for (const [i, row] of table.entries()) {
  const label = `${row.table} ${i}: ${row.kind}${row.region ? ` (${row.region})` : ''} ${'canonical' in row ? 'canonicalizes like Python' : 'is refused like Python'}`;
  test(label, () => {
    let result;
    try {
      result = { canonical: canonicalize(row.kind, row.input, { region: row.region }).canonical };
    } catch (e) {
      assert.ok(e instanceof IdentifierError, `unexpected ${e.name}`);
      assert.ok(e.code, 'a stable code');
      const trimmed = row.input.trim();
      // (Inputs that are themselves part of a fixed example text, like "example.org", are skipped.)
      if (trimmed.length > 3 && !(row.error ?? '').includes(trimmed)) assert.ok(!e.message.includes(trimmed), 'the message repeats the input');
      result = { error: e.message };
    }
    if ('canonical' in row) {
      assert.deepEqual(result, { canonical: row.canonical });
      // Idempotence and the OPRF input of the canonical form.
      assert.equal(canonicalize(row.kind, row.canonical).canonical, row.canonical);
      assert.equal(new TextDecoder().decode(oprfInput({ kind: row.kind, canonical: row.canonical })), `notalone/v1/id|${row.kind}|${row.canonical}`);
    } else {
      assert.ok('error' in result, `refused by Python, accepted here as ${result.canonical}`);
    }
  });
}

test('oprfInput refuses a value that is not canonical', () => {
  assert.throws(() => oprfInput({ kind: 'email', canonical: 'John@Example.org' }), IdentifierError);
});
