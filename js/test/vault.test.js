// The keyholder vault (src/client/vault.js) over in-memory stores.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { x25519 } from '@noble/curves/ed25519.js';
import { createVaults, memoryVaultStore, parseVault, vaultFileName, VAULT_FORMAT } from '../src/client/vault.js';
import { memoryKeyStore } from '../src/client/session-store.js';
import { DecryptionError, EncodingError, InputError } from '../src/protocol/errors.js';
import { fromHex, toHex } from '../src/protocol/bytes.js';
import { memoryStorage } from './fake-escrow.js';

const PASSPHRASE = 'four unrelated words here';
// The floor of accounts.js: the cheapest parameters a vault may have, to keep tests fast.
const FAST = { t: 2, m_kib: 19 * 1024, p: 1 };

function device(argon2 = FAST) {
  const env = { vaultStore: memoryVaultStore(), sessionStorage: memoryStorage(), keyStore: memoryKeyStore() };
  return { env, vaults: createVaults({ ...env, argon2 }) };
}

function keypair() {
  const privateKey = x25519.utils.randomSecretKey();
  return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
}

test('createVault seals the key, stores the file and unlocks this tab', async () => {
  const { env, vaults } = device();
  const kp = keypair();
  const vault = await vaults.createVault({ role: 'counselor', id: 'dr-lee', token: 'tok-123', ...kp, passphrase: PASSPHRASE });
  assert.equal(vault.format, VAULT_FORMAT);
  assert.deepEqual(vault.argon2, FAST);
  assert.equal(fromHex(vault.salt).length, 16);
  const text = JSON.stringify(vault);
  for (const secret of [toHex(kp.privateKey), 'tok-123', PASSPHRASE]) assert.ok(!text.includes(secret));
  assert.deepEqual(await vaults.storedVaults('counselor'), [{ role: 'counselor', id: 'dr-lee' }]);
  assert.deepEqual(await vaults.storedVaults('org-admin'), []);
  const held = await vaults.currentKeyholder('counselor');
  assert.equal(held.token, 'tok-123');
  assert.deepEqual(held.privateKey, kp.privateKey);
  assert.deepEqual(held.publicKey, kp.publicKey);
  assert.equal(held.organizationId, null);
  // The tab's copy is ciphertext: neither the token nor the key appear in sessionStorage.
  const session = env.sessionStorage.getItem('notalone.vault.counselor');
  assert.ok(session && !session.includes('tok-123') && !session.includes(toHex(kp.privateKey)));
  assert.equal(vaultFileName(vault), 'notalone-counselor-dr-lee.json');
});

test('default parameters are those of survivor accounts (t=3, 64 MiB, p=1)', async () => {
  const env = { vaultStore: memoryVaultStore(), sessionStorage: memoryStorage(), keyStore: memoryKeyStore() };
  const vaults = createVaults(env);
  const vault = await vaults.createVault({ role: 'org-admin', id: 'a'.repeat(32), token: 't', ...keypair(), organizationId: 'b'.repeat(32), passphrase: PASSPHRASE });
  assert.deepEqual(vault.argon2, { t: 3, m_kib: 65536, p: 1 });
});

test('a new page of the same tab unwraps the session; lock wipes it', async () => {
  const { env, vaults } = device();
  const kp = keypair();
  await vaults.createVault({ role: 'org-admin', id: 'adm1', token: 'tok', ...kp, organizationId: 'org-9', passphrase: PASSPHRASE });
  const nextPage = createVaults({ ...env, argon2: FAST });
  const held = await nextPage.currentKeyholder('org-admin');
  assert.equal(held.organizationId, 'org-9');
  assert.deepEqual(held.privateKey, kp.privateKey);
  assert.equal(await nextPage.currentKeyholder('counselor'), null);
  await nextPage.lockVault('org-admin');
  assert.equal(env.sessionStorage.getItem('notalone.vault.org-admin'), null);
  assert.equal(env.keyStore.size(), 0);
  assert.equal(await createVaults({ ...env }).currentKeyholder('org-admin'), null);
});

test('a backup imported on a new device unlocks with the passphrase only', async () => {
  const a = device();
  const kp = keypair();
  const vault = await a.vaults.createVault({ role: 'counselor', id: 'c1', token: 'tok-c1', ...kp, passphrase: PASSPHRASE });
  const b = device();
  assert.equal(await b.vaults.currentKeyholder('counselor'), null);
  await assert.rejects(b.vaults.unlockVault({ role: 'counselor', passphrase: PASSPHRASE }), (e) => e instanceof InputError && e.code === 'vault_missing');
  assert.deepEqual(await b.vaults.importVault(JSON.stringify(vault)), { role: 'counselor', id: 'c1' });
  await assert.rejects(
    b.vaults.unlockVault({ role: 'counselor', passphrase: 'the wrong passphrase' }),
    (e) => e instanceof DecryptionError && e.code === 'vault_passphrase' && !e.message.includes('wrong'),
  );
  assert.equal(await b.vaults.currentKeyholder('counselor'), null);
  const held = await b.vaults.unlockVault({ role: 'counselor', passphrase: PASSPHRASE });
  assert.equal(held.token, 'tok-c1');
  assert.deepEqual(held.privateKey, kp.privateKey);
  // Unlocking a given file (not stored) works too; the wrong role is refused.
  const c = device();
  assert.equal((await c.vaults.unlockVault({ role: 'counselor', passphrase: PASSPHRASE, vault: JSON.stringify(vault) })).id, 'c1');
  await assert.rejects(c.vaults.unlockVault({ role: 'org-admin', passphrase: PASSPHRASE, vault }), (e) => e.code === 'vault_role');
});

test('the box is bound to role and id (a renamed file does not open)', async () => {
  const { vaults } = device();
  const vault = await vaults.createVault({ role: 'counselor', id: 'c1', token: 't', ...keypair(), passphrase: PASSPHRASE });
  const renamed = { ...vault, id: 'c2' };
  await assert.rejects(device().vaults.unlockVault({ role: 'counselor', passphrase: PASSPHRASE, vault: renamed }), (e) => e.code === 'vault_passphrase');
});

test('several stored vaults: unlock needs the id', async () => {
  const { vaults } = device();
  await vaults.createVault({ role: 'counselor', id: 'c1', token: 't1', ...keypair(), passphrase: PASSPHRASE });
  await vaults.createVault({ role: 'counselor', id: 'c2', token: 't2', ...keypair(), passphrase: PASSPHRASE });
  assert.deepEqual((await vaults.storedVaults('counselor')).map((v) => v.id), ['c1', 'c2']);
  await assert.rejects(vaults.unlockVault({ role: 'counselor', passphrase: PASSPHRASE }), (e) => e.code === 'vault_ambiguous');
  assert.equal((await vaults.unlockVault({ role: 'counselor', id: 'c1', passphrase: PASSPHRASE })).token, 't1');
  await assert.rejects(vaults.unlockVault({ role: 'counselor', id: 'c3', passphrase: PASSPHRASE }), (e) => e.code === 'vault_missing');
});

test('lockAllNow wipes every role synchronously', async () => {
  const { env, vaults } = device();
  await vaults.createVault({ role: 'counselor', id: 'c1', token: 't1', ...keypair(), passphrase: PASSPHRASE });
  await vaults.createVault({ role: 'org-admin', id: 'a1', token: 't2', ...keypair(), passphrase: PASSPHRASE });
  const pending = vaults.lockAllNow();
  assert.equal(env.sessionStorage.length, 0);
  await pending;
  assert.equal(await vaults.currentKeyholder('counselor'), null);
  assert.equal(await vaults.currentKeyholder('org-admin'), null);
});

test('bad inputs are refused before anything is stored', async () => {
  const { env, vaults } = device();
  const kp = keypair();
  const base = { role: 'counselor', id: 'c1', token: 't', ...kp, passphrase: PASSPHRASE };
  await assert.rejects(vaults.createVault({ ...base, role: 'survivor' }), (e) => e instanceof InputError && e.code === 'vault_role');
  await assert.rejects(vaults.createVault({ ...base, id: '../x' }), (e) => e.code === 'vault_id');
  await assert.rejects(vaults.createVault({ ...base, token: '' }), InputError);
  await assert.rejects(vaults.createVault({ ...base, privateKey: new Uint8Array(31) }), InputError);
  await assert.rejects(vaults.createVault({ ...base, passphrase: 'short' }), (e) => e.code === 'passphrase_too_short');
  await assert.rejects(vaults.createVault({ ...base, organizationId: 7 }), InputError);
  assert.deepEqual(await vaults.storedVaults('counselor'), []);
  assert.equal(env.sessionStorage.length, 0);
  await assert.rejects(vaults.storedVaults('nobody'), InputError);
});

test('hex keys are accepted', async () => {
  const { vaults } = device();
  const kp = keypair();
  await vaults.createVault({ role: 'counselor', id: 'c1', token: 't', privateKey: toHex(kp.privateKey), publicKey: toHex(kp.publicKey), passphrase: PASSPHRASE });
  assert.deepEqual((await vaults.currentKeyholder('counselor')).publicKey, kp.publicKey);
});

test('malformed and hostile backup files are refused', async () => {
  const { vaults } = device();
  const good = await vaults.createVault({ role: 'counselor', id: 'c1', token: 't', ...keypair(), passphrase: PASSPHRASE });
  const cases = [
    'not json',
    '[]',
    JSON.stringify({ ...good, format: 'other' }),
    JSON.stringify({ ...good, salt: 'zz' }),
    JSON.stringify({ ...good, salt: '00' }),
    JSON.stringify({ ...good, box: '' }),
    JSON.stringify({ ...good, box: 7 }),
    JSON.stringify({ ...good, argon2: { t: 3, m_kib: 65536, p: 4 } }),
    JSON.stringify({ ...good, argon2: { t: 100, m_kib: 65536, p: 1 } }),
    JSON.stringify({ ...good, argon2: { t: 3, m_kib: 1 << 22, p: 1 } }),
    JSON.stringify({ ...good, argon2: null }),
    'x'.repeat(70000),
  ];
  for (const text of cases) {
    await assert.rejects(device().vaults.importVault(text), (e) => e instanceof EncodingError, text.slice(0, 60));
  }
  // Parameters below the floor: a cheap-to-guess key is refused (InputError from accounts.js).
  await assert.rejects(device().vaults.importVault(JSON.stringify({ ...good, argon2: { t: 1, m_kib: 8, p: 1 } })), (e) => e.code === 'argon2_below_floor');
  await assert.rejects(device().vaults.importVault(JSON.stringify({ ...good, role: 'root' })), (e) => e.code === 'vault_role');
  // A damaged box: the passphrase check fails closed.
  const damaged = { ...good, box: good.box.slice(0, -2) + (good.box.endsWith('00') ? '01' : '00') };
  await assert.rejects(device().vaults.unlockVault({ role: 'counselor', passphrase: PASSPHRASE, vault: damaged }), DecryptionError);
  assert.deepEqual(parseVault(JSON.stringify(good)), good);
});

test('a tampered tab session is treated as locked', async () => {
  const { env, vaults } = device();
  await vaults.createVault({ role: 'counselor', id: 'c1', token: 't', ...keypair(), passphrase: PASSPHRASE });
  const entry = JSON.parse(env.sessionStorage.getItem('notalone.vault.counselor'));
  env.sessionStorage.setItem('notalone.vault.counselor', JSON.stringify({ ...entry, id: 'c2' }));
  assert.equal(await createVaults(env).currentKeyholder('counselor'), null);
  env.sessionStorage.setItem('notalone.vault.counselor', '{not json');
  assert.equal(await createVaults(env).currentKeyholder('counselor'), null);
});
