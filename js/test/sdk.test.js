// The survivor SDK against an in-memory escrow (test/fake-escrow.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSdk } from '../src/client/index.js';
import { memoryKeyStore } from '../src/client/session-store.js';
import { IdentifierError, ThresholdError, InputError, VerificationError } from '../src/protocol/errors.js';
import { createFakeEscrow, memoryStorage } from './fake-escrow.js';

const PASSPHRASE = 'four unrelated words here';

function setup(options = {}) {
  const escrow = createFakeEscrow(options);
  const env = {
    fetch: escrow.fetch,
    sessionStorage: memoryStorage(),
    localStorage: memoryStorage(),
    keyStore: memoryKeyStore(),
    location: { replaced: null, replace(url) { this.replaced = url; } },
  };
  return { escrow, env, sdk: createSdk(env) };
}

async function registered(options) {
  const ctx = setup(options);
  const progress = [];
  const result = await ctx.sdk.register({ inviteCode: 'INVITE-OK', passphrase: PASSPHRASE, onProgress: (p) => progress.push(p) });
  return { ...ctx, result, progress };
}

const entryInput = (counselorId) => ({
  identifiers: [
    { kind: 'email', text: 'John.Doe+work@GMail.com' },
    { kind: 'email', text: 'johndoe@googlemail.com' }, // same identifier: one slot
    { kind: 'phone', text: '(415) 555-0134', region: 'US' },
  ],
  counselorId,
  contact: 'Signal +1 555 010 020',
  message: 'Please reach me after 6pm.',
});

function assertSameOrigin(escrow) {
  for (const r of escrow.state.requests) {
    assert.match(r.url, /^\/v1\//, 'every request is to a relative /v1/ path');
    assert.ok(!/^[a-z]+:/i.test(r.url) && !r.url.startsWith('//'));
  }
}

test('register logs in, shows a recovery key once, and keeps the session in this tab only', async () => {
  const { sdk, env, result, escrow, progress } = await registered();
  assert.match(result.username, /^[a-z]{3,8}-[a-z]{3,8}-[0-9]{4}$/);
  assert.match(result.recoveryKey, /^([0-9A-Z]{4}-){13}[0-9A-Z]{4}$/);
  assert.deepEqual(sdk.currentUser(), { username: result.username });
  assert.ok(progress.some((p) => p.step === 'argon2' && p.done === 1));
  const stored = env.sessionStorage.getItem('notalone.session');
  assert.ok(stored && !stored.includes(result.recoveryKey));
  assert.equal(env.keyStore.size(), 1);
  // Only one login/finish: the auth key from registration is reused (no second Argon2id).
  assert.equal(escrow.state.requests.filter((r) => r.url === '/v1/login/finish').length, 1);
  assertSameOrigin(escrow);
});

test('a second page of the same tab unlocks the data key from session storage', async () => {
  const { env, escrow } = await registered();
  const sdk2 = createSdk(env); // a new page: no memory, same tab storage
  const added = await sdk2.addRecord({ who: 'someone', what: 'something' });
  assert.equal(added.version, 1);
  const list = await sdk2.listRecords();
  assert.equal(list[0].versions[0].content.what, 'something');
  assertSameOrigin(escrow);
});

test('a wrong invite code is refused with a clear code', async () => {
  const { sdk } = setup();
  await assert.rejects(sdk.register({ inviteCode: 'nope', passphrase: PASSPHRASE }), (e) => e.code === 'invite_refused');
});

test('a short passphrase is refused before anything is sent', async () => {
  const { sdk, escrow } = setup();
  await assert.rejects(sdk.register({ inviteCode: 'INVITE-OK', passphrase: 'short' }), (e) => e instanceof InputError && e.code === 'passphrase_too_short' && !e.message.includes('short,'));
  assert.equal(escrow.state.requests.length, 0);
});

test('login with the right passphrase unlocks; a wrong one is refused without echo', async () => {
  const { env, result } = await registered();
  const fresh = createSdk({ ...env, sessionStorage: memoryStorage(), keyStore: memoryKeyStore() });
  await assert.rejects(fresh.login({ username: result.username, passphrase: 'a wrong passphrase!' }), (e) => e instanceof VerificationError && e.code === 'login_failed' && !e.message.includes('wrong passphrase!'));
  const user = await fresh.login({ username: ` ${result.username.toUpperCase().replaceAll('-', ' ')} `, passphrase: PASSPHRASE });
  assert.deepEqual(user, { username: result.username });
});

test('records: add, add a version, list with every receipt verified, verify the log', async () => {
  const { sdk } = await registered();
  const first = await sdk.addRecord({ who: 'W', what: 'first', witnesses: ['A'] });
  const second = await sdk.addVersion(first.recordId, { who: 'W', what: 'second' });
  assert.equal(second.version, 2);
  await sdk.addRecord({ what: 'another' });
  const list = await sdk.listRecords();
  assert.equal(list.length, 2);
  assert.deepEqual(list[0].versions.map((v) => v.content.what), ['first', 'second']);
  assert.ok(list[0].versions.every((v) => Number.isSafeInteger(v.loggedAtMs)));
  // Each version carries its receipt and logged ciphertext (hex) for the page to show
  // and print; the receipt is the one addRecord verified when the version was stored.
  assert.equal(list[0].versions[0].receipt, first.receipt);
  assert.equal(list[0].versions[1].receipt, second.receipt);
  assert.ok(list.every((r) => r.versions.every((v) => /^([0-9a-f]{2})+$/.test(v.ciphertext))));
  const log = await sdk.verifyLog();
  assert.deepEqual(log, { treeSize: 3, receipts: 3 });
});

test('a log that rewrote history fails verifyLog', async () => {
  const { sdk, escrow } = await registered();
  await sdk.addRecord({ what: 'first' });
  escrow.tamperLog(); // leaf 0 replaced: later heads are not consistent with the first receipt's
  await sdk.addRecord({ what: 'second' }); // its own receipt is consistent with the new tree
  await assert.rejects(sdk.verifyLog(), (e) => e.name === 'MerkleProofError');
});

test('a record altered on the server is never shown', async () => {
  const { sdk, escrow } = await registered();
  const { recordId } = await sdk.addRecord({ what: 'first' });
  const v = escrow.state.records.get(recordId).versions[0];
  v.ciphertext = v.ciphertext.slice(0, -2) + (v.ciphertext.endsWith('00') ? '01' : '00');
  await assert.rejects(sdk.listRecords(), (e) => e.name === 'DecryptionError');
});

test('counselors: only vouched counselors are offered, with their fingerprint', async () => {
  const { sdk, escrow } = await registered();
  const list = await sdk.listCounselors();
  assert.deepEqual(list.map((c) => c.id), [escrow.counselorId]);
  assert.equal(list[0].vouched, true);
  assert.match(list[0].fingerprint, /^([0-9a-f]{4}-){7}[0-9a-f]{4}$/);
});

test('addEntry through three healthy key servers; listEntries and withdraw', async () => {
  const { sdk, escrow } = await registered();
  const steps = [];
  const { entryId } = await sdk.addEntry({ ...entryInput(escrow.counselorId), onProgress: (p) => steps.push(p.step) });
  assert.match(entryId, /^[0-9a-f]{32}$/);
  const stored = escrow.state.entries[0];
  assert.equal(stored.slots.length, 2, 'two spellings of one email give one slot');
  assert.ok(steps.includes('keyservers') && steps.includes('upload'));
  const [entry] = await sdk.listEntries();
  assert.equal(entry.state, 'sealed');
  assert.equal(entry.contact, 'Signal +1 555 010 020');
  assert.deepEqual(entry.identifiers.map((i) => i.canonical), ['johndoe@gmail.com', 'johndoe@gmail.com', '+14155550134']);
  await sdk.withdrawEntry(entryId);
  assert.equal((await sdk.listEntries())[0].state, 'withdrawn');
  // Only the escrow (same origin) is contacted, key servers through its proxy.
  assertSameOrigin(escrow);
  assert.ok(escrow.state.requests.some((r) => r.url === '/v1/keyservers/0/evaluate'));
  assert.ok(!escrow.state.requests.some((r) => r.url.includes('ks1.example')));
});

test('a key server with a wrong proof is named and skipped; the other two suffice', async () => {
  const { sdk, escrow } = await registered({ badServers: [0] });
  const labels = [];
  const { entryId } = await sdk.addEntry({ ...entryInput(escrow.counselorId), onProgress: (p) => labels.push(p.label) });
  assert.match(entryId, /^[0-9a-f]{32}$/);
  assert.ok(labels.some((l) => l.includes('Key server 1')), 'the wrong server is named');
  const asked = escrow.state.requests.filter((r) => r.url.endsWith('/evaluate')).map((r) => r.url);
  assert.deepEqual(asked, ['/v1/keyservers/0/evaluate', '/v1/keyservers/1/evaluate', '/v1/keyservers/2/evaluate']);
});

test('an unreachable key server is skipped', async () => {
  const { sdk, escrow } = await registered({ downServers: [1] });
  await sdk.addEntry(entryInput(escrow.counselorId));
  assert.equal(escrow.state.entries.length, 1);
});

test('two wrong key servers: a clear ThresholdError naming them, nothing uploaded', async () => {
  const { sdk, escrow } = await registered({ badServers: [0, 2] });
  await assert.rejects(sdk.addEntry(entryInput(escrow.counselorId)), (e) => {
    assert.ok(e instanceof ThresholdError);
    assert.equal(e.code, 'keyservers_failed');
    assert.match(e.message, /key server 1: wrong answer; key server 3: wrong answer/);
    assert.deepEqual(e.failures.map((f) => f.position), [0, 2]);
    return true;
  });
  assert.equal(escrow.state.entries.length, 0);
});

test('an identifier typo is refused before any request, without echoing the input', async () => {
  const { sdk, escrow } = await registered();
  const before = escrow.state.requests.length;
  const input = entryInput(escrow.counselorId);
  input.identifiers = [{ kind: 'phone', text: '1-800-FLOWERS', region: 'US' }];
  await assert.rejects(sdk.addEntry(input), (e) => e instanceof IdentifierError && e.code === 'phone.characters' && !e.message.includes('FLOWERS'));
  assert.equal(escrow.state.requests.length, before);
  assert.deepEqual(sdk.canonicalPreview('profile', 'https://twitter.com/Jack?lang=en'), { canonical: 'x:jack' });
  assert.throws(() => sdk.canonicalPreview('email', 'jane@localhost'), (e) => e.code.startsWith('email.') && !e.message.includes('jane'));
  assert.throws(() => sdk.canonicalPreview('secret@example.org', 'email'), (e) => e.code === 'unknown_kind' && !e.message.includes('secret'));
});

test('drafts are encrypted at rest and survive a new page; quick exit wipes the tab', async () => {
  const { sdk, env } = await registered();
  await sdk.saveDraft('record-new', { what: 'a private sentence' });
  const raw = env.localStorage.keys().map((k) => env.localStorage.getItem(k)).join('');
  assert.ok(!raw.includes('private'));
  const page2 = createSdk(env);
  assert.deepEqual(await page2.loadDraft('record-new'), { what: 'a private sentence' });
  page2.quickExit();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(env.location.replaced, '/exit');
  assert.equal(page2.currentUser(), null);
  assert.equal(env.sessionStorage.getItem('notalone.session'), null);
  assert.equal(env.keyStore.size(), 0);
  await assert.rejects(page2.loadDraft('record-new'), (e) => e.code === 'locked');
});

test('logout wipes the tab session and ends the server session', async () => {
  const { sdk, env, escrow } = await registered();
  await sdk.logout();
  assert.equal(sdk.currentUser(), null);
  assert.equal(env.keyStore.size(), 0);
  assert.equal(escrow.state.cookie, undefined);
  await assert.rejects(sdk.listRecords(), (e) => e.code === 'locked');
});

test('the HTTP layer refuses anything but same-origin /v1/ paths', async () => {
  const { createHttp } = await import('../src/client/http.js');
  const calls = [];
  const request = createHttp({ fetch: async (u) => { calls.push(u); return new Response('{}'); } });
  for (const bad of ['https://evil.example/v1/x', '//evil.example/v1/x', '/v1/../admin', 'v1/x', '/other']) {
    await assert.rejects(request('GET', bad), InputError);
  }
  assert.equal(calls.length, 0);
});

test('a record with an unknown field is refused, not silently truncated', async () => {
  const { sdk, escrow } = await registered();
  const before = escrow.state.requests.length;
  await assert.rejects(sdk.addRecord({ what: 'x', secretField: 'SECRET' }), (e) => e.code === 'record_fields' && !e.message.includes('SECRET') && !e.message.includes('secretField'));
  assert.equal(escrow.state.requests.length, before);
});
