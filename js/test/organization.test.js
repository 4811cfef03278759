// The organization admin's SDK (src/client/organization.js) over a fake escrow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { x25519 } from '@noble/curves/ed25519.js';
import { createOrganizationAdmin, FEWER_THAN_5 } from '../src/client/organization.js';
import { createVaults, memoryVaultStore } from '../src/client/vault.js';
import { memoryKeyStore } from '../src/client/session-store.js';
import { fromHex, toHex } from '../src/protocol/bytes.js';
import { sealReport } from '../src/protocol/reports.js';
import { memoryStorage } from './fake-escrow.js';

const PASSPHRASE = 'four unrelated words here';
const FAST = { t: 2, m_kib: 19 * 1024, p: 1 };
const ORG = 'ab'.repeat(16);
const ADMIN = 'cd'.repeat(16);
const TOKEN = 'ef'.repeat(32);
const MATCH = '12'.repeat(16);

function json(status, body) {
  return new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

/** A fake escrow for the admin routes; records every request. */
function fakeEscrow({ existingKey = null, totals = [] } = {}) {
  const state = { calls: [], intakeKey: existingKey, reports: [], totals };
  const fetch = async (path, init = {}) => {
    const body = init.body ? JSON.parse(init.body) : null;
    const auth = init.headers?.Authorization ?? null;
    state.calls.push({ method: init.method, path, auth, body });
    if (path === '/v1/organization/enroll') {
      if (state.intakeKey && state.intakeKey !== body.intake_public_key) return json(409, { title: 'Conflict' });
      state.intakeKey = body.intake_public_key;
      return json(201, { admin_id: ADMIN, organization_id: ORG, token: TOKEN });
    }
    if (auth !== `Bearer ${TOKEN}`) return json(401, { title: 'Unauthorized' });
    if (path === '/v1/organization/totals') return json(200, { quarters: state.totals });
    if (path === '/v1/organization/reports') return json(200, { reports: state.reports });
    if (path === '/v1/organization/invites' && init.method === 'GET') {
      return json(200, { invites: [{ id: '0123456789abcdef', uses: 1, max_uses: 2, created_at_ms: 5, expires_at_ms: null, revoked: false }] });
    }
    if (path.startsWith('/v1/organization/invites/') || path.startsWith('/v1/organization/counselors/')) return json(204);
    return json(404, {});
  };
  return { state, fetch };
}

function admin(escrow) {
  const env = { vaultStore: memoryVaultStore(), sessionStorage: memoryStorage(), keyStore: memoryKeyStore() };
  const vaults = createVaults({ ...env, argon2: FAST });
  return { vaults, sdk: createOrganizationAdmin({ fetch: escrow.fetch, vaults }) };
}

test('enroll makes the key here, sends only its public half and seals the rest', async () => {
  const escrow = fakeEscrow();
  const { vaults, sdk } = admin(escrow);
  const steps = [];
  const { vault, adminId, organizationId } = await sdk.enroll({ code: ' ABCD-EFGH ', passphrase: PASSPHRASE, onProgress: (p) => steps.push(p.step) });
  assert.deepEqual(steps, ['key', 'enroll', 'vault']);
  assert.equal(adminId, ADMIN);
  assert.equal(organizationId, ORG);
  const [call] = escrow.state.calls;
  assert.deepEqual(Object.keys(call.body).sort(), ['code', 'intake_public_key']);
  assert.equal(call.body.code, 'ABCD-EFGH');
  assert.equal(call.auth, null);
  const held = await vaults.currentKeyholder('org-admin');
  assert.equal(held.token, TOKEN);
  assert.equal(held.organizationId, ORG);
  assert.equal(toHex(x25519.getPublicKey(held.privateKey)), escrow.state.intakeKey);
  const text = JSON.stringify(vault);
  assert.ok(!text.includes(TOKEN) && !text.includes(toHex(held.privateKey)));
  // Calls after enrollment carry the vault's token.
  await sdk.revokeInvite('0123456789abcdef');
  await sdk.setInPool('c-ana', true);
  await sdk.setInPool('c-ana', false);
  const tail = escrow.state.calls.slice(1).map((c) => [c.method, c.path, c.auth]);
  assert.deepEqual(tail, [
    ['DELETE', '/v1/organization/invites/0123456789abcdef', `Bearer ${TOKEN}`],
    ['PUT', '/v1/organization/counselors/c-ana', `Bearer ${TOKEN}`],
    ['DELETE', '/v1/organization/counselors/c-ana', `Bearer ${TOKEN}`],
  ]);
  const [invite] = await sdk.listInvites();
  assert.deepEqual(invite, { id: '0123456789abcdef', uses: 1, maxUses: 2, createdAtMs: 5, expiresAtMs: null, revoked: false });
  await assert.rejects(sdk.revokeInvite('../x'), /no such invite/);
});

test('a second admin must bring the organization key: another one is refused', async () => {
  const escrow = fakeEscrow({ existingKey: '00'.repeat(32) });
  const { vaults, sdk } = admin(escrow);
  await assert.rejects(sdk.enroll({ code: 'CODE', passphrase: PASSPHRASE }), (e) => e.code === 'enroll_other_key');
  assert.deepEqual(await vaults.storedVaults('org-admin'), []);
  // With the key of the first admin's backup, it works.
  const privateKey = x25519.utils.randomSecretKey();
  escrow.state.intakeKey = toHex(x25519.getPublicKey(privateKey));
  await sdk.enroll({ code: 'CODE', passphrase: PASSPHRASE, keyFrom: { privateKey } });
  assert.deepEqual((await vaults.currentKeyholder('org-admin')).privateKey, privateKey);
});

test('without an unlocked vault nothing is sent', async () => {
  const escrow = fakeEscrow();
  const { sdk } = admin(escrow);
  await assert.rejects(sdk.totals(), (e) => e.code === 'locked');
  assert.equal(escrow.state.calls.length, 0);
});

test('totals refuse a small number, whatever the server sends', async () => {
  const escrow = fakeEscrow({ totals: [{ quarter: '2026-Q4', entries: FEWER_THAN_5, matches: 5 }] });
  const { sdk } = admin(escrow);
  await sdk.enroll({ code: 'CODE', passphrase: PASSPHRASE });
  assert.deepEqual(await sdk.totals(), [{ quarter: '2026-Q4', entries: FEWER_THAN_5, matches: 5 }]);
  for (const bad of [0, 1, 4, '3', null]) {
    escrow.state.totals = [{ quarter: '2026-Q4', entries: bad, matches: 6 }];
    await assert.rejects(sdk.totals(), (e) => e.code === 'bad_response');
  }
});

test('reports are opened in the page; one that does not open is marked, not fatal', async () => {
  const escrow = fakeEscrow();
  const { sdk, vaults } = admin(escrow);
  await sdk.enroll({ code: 'CODE', passphrase: PASSPHRASE });
  const { publicKey } = await vaults.currentKeyholder('org-admin');
  const sealed = await sealReport(publicKey, fromHex(ORG), fromHex(MATCH), 'What happened, in words.');
  const other = await sealReport(publicKey, fromHex(ORG), fromHex('34'.repeat(16)), 'misdirected');
  const row = (id, s) => ({ id, match_id: MATCH, counselor_id: 'c-ana', counselor_name: 'Ana', sealed: toHex(s), created_at_ms: 7 });
  escrow.state.reports = [row('01'.repeat(16), sealed), row('02'.repeat(16), other)];
  const [good, bad] = await sdk.reports();
  assert.equal(good.text, 'What happened, in words.');
  assert.equal(good.counselorName, 'Ana');
  assert.equal(bad.text, null);
  assert.match(bad.error, /does not open/);
});
