// Membership tokens in the browser SDK (src/client/membership.js, src/protocol/
// membership.js) over a fake escrow that evaluates with a real VOPRF key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ristretto255_oprf } from '@noble/curves/ed25519.js';
import { createMembership } from '../src/client/membership.js';
import { fromHex, toHex } from '../src/protocol/bytes.js';
import { ProofError } from '../src/protocol/errors.js';
import * as membership from '../src/protocol/membership.js';

const ORG = 'ab'.repeat(16);
const SEED = new Uint8Array(32).fill(7);

function json(status, body) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

/** A fake escrow: `rogue` evaluates under another key than the one it publishes. */
function fakeEscrow({ rogue = false, quota = 3 } = {}) {
  const keys = membership.issuerKeyPair(SEED, fromHex(ORG));
  const other = membership.issuerKeyPair(SEED, new Uint8Array(16));
  const state = { calls: [], codes: new Set(['GOOD-CODE']), spent: new Set(), keys };
  const fetch = async (path, init = {}) => {
    const body = init.body ? JSON.parse(init.body) : null;
    state.calls.push({ path, body, auth: init.headers?.Authorization ?? null });
    if (path === `/v1/organizations/${ORG}/issuer`) {
      return json(200, { organization_id: ORG, public_key: toHex(keys.publicKey), tokens_per_period: quota, period: '2026-Q4' });
    }
    if (path === '/v1/membership/tokens') {
      if (!state.codes.has(body.code) || state.spent.has(body.code)) return json(422, { title: 'Invalid input' });
      state.spent.add(body.code);
      const used = rogue ? other : keys;
      const answer = ristretto255_oprf.voprf.blindEvaluateBatch(used.secretKey, used.publicKey, body.blinded.map((b) => fromHex(b)));
      return json(200, { evaluated: answer.evaluated.map(toHex), proof: toHex(answer.proof) });
    }
    if (path === '/v1/organization/member-codes') {
      return init.headers?.Authorization === 'Bearer admin' ? json(202, { queued: true }) : json(401, { title: 'Unauthorized' });
    }
    return json(404, { title: 'Not Found' });
  };
  return { fetch, state };
}

test('a code buys verified tokens that the issuer key recomputes; only blinded values are sent', async () => {
  const escrow = fakeEscrow();
  const client = createMembership({ fetch: escrow.fetch, vaults: null });
  const result = await client.getTokens({ organizationId: ORG, code: ' GOOD-CODE ' });
  assert.equal(result.tokens.length, 3);
  const sent = JSON.stringify(escrow.state.calls.map((c) => c.body));
  for (const token of result.tokens) {
    const expected = ristretto255_oprf.voprf.evaluate(escrow.state.keys.secretKey, token.input);
    assert.equal(toHex(token.output), toHex(expected));
    assert.ok(!sent.includes(toHex(token.input)));
    assert.ok(!sent.includes(toHex(token.output)));
  }
  assert.deepEqual(membership.parseTokens(result.file).map(membership.tokenText), result.texts);
  assert.equal(JSON.parse(result.file).issuer_public_key, toHex(escrow.state.keys.publicKey));
  await assert.rejects(client.getTokens({ organizationId: ORG, code: 'GOOD-CODE' }), (e) => e.code === 'code_refused');
});

test('tokens evaluated under another key than the published one are refused', async () => {
  const escrow = fakeEscrow({ rogue: true });
  const client = createMembership({ fetch: escrow.fetch, vaults: null });
  await assert.rejects(client.getTokens({ organizationId: ORG, code: 'GOOD-CODE', count: 2 }), ProofError);
});

test('bad arguments are refused before any request', async () => {
  const escrow = fakeEscrow();
  const client = createMembership({ fetch: escrow.fetch, vaults: null });
  await assert.rejects(client.getTokens({ organizationId: 'nope', code: 'X' }), (e) => e.code === 'organization_missing');
  await assert.rejects(client.getTokens({ organizationId: ORG, code: '  ' }), (e) => e.code === 'code_missing');
  await assert.rejects(client.sendMemberCode({ email: 'a@example.org' }), (e) => e.code === 'locked');
  assert.equal(escrow.state.calls.length, 0);
});

test('an unlocked admin sends a member code with their token', async () => {
  const escrow = fakeEscrow();
  const vaults = { currentKeyholder: async (role) => (role === 'org-admin' ? { token: 'admin' } : null) };
  const client = createMembership({ fetch: escrow.fetch, vaults });
  assert.deepEqual(await client.sendMemberCode({ email: ' ana@example.org ' }), { queued: true });
  assert.deepEqual(escrow.state.calls.at(-1), { path: '/v1/organization/member-codes', body: { email: 'ana@example.org' }, auth: 'Bearer admin' });
});

test('token texts and files round-trip and malformed ones are refused', () => {
  const pending = membership.blindTokens(fromHex(ORG), 2);
  assert.equal(pending.blinded.length, 2);
  const token = { organizationId: fromHex(ORG), input: new Uint8Array(32).fill(1), output: new Uint8Array(64).fill(2) };
  const text = membership.tokenText(token);
  assert.equal(text.length, 229);
  assert.deepEqual(membership.parseToken(` ${text}\n`), token);
  assert.deepEqual(membership.tokenJson(token), { organization_id: ORG, input: '01'.repeat(32), output: '02'.repeat(64) });
  for (const bad of ['', 'nmt1-00', text.toUpperCase(), '{"format":"x"}', '[', '{"format":"notalone-membership-tokens-v1","tokens":[]}']) {
    assert.throws(() => membership.parseTokens(bad));
  }
  assert.throws(() => membership.tokensFile([], new Uint8Array(32)));
  assert.throws(() => membership.blindTokens(fromHex(ORG), 0));
  assert.throws(() => membership.blindTokens(new Uint8Array(3), 1));
});
