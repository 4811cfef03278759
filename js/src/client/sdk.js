// The survivor SDK: the flows of src/notalone/client/survivor.py over the escrow's JSON
// API, for the browser. `createSdk(env)` takes every effect (fetch, storage, key store,
// location, randomness) as a parameter so that it can run under test; index.js binds it
// to the browser's globals.
import { ed25519 } from '@noble/curves/ed25519.js';
import { ascii, concat, defaultRng, equalBytes, fromHex, toHex } from '../protocol/bytes.js';
import {
  ConflictError,
  DecryptionError,
  EncodingError,
  InputError,
  NotAloneError,
  ProtocolError,
  VerificationError,
} from '../protocol/errors.js';
import * as accounts from '../protocol/accounts.js';
import * as records from '../protocol/records.js';
import * as receipts from '../protocol/receipts.js';
import * as slots from '../protocol/slots.js';
import { parseTokens, tokenJson } from '../protocol/membership.js';
import { canonicalize, oprfInput } from '../protocol/identifiers.js';
import { parseFederation } from '../protocol/oprf.js';
import { canonicalJson, parseJson } from '../protocol/canonical-json.js';
import { aeadOpen, aeadSeal, hkdfSha512, sha256 } from '../protocol/primitives.js';
import { createHttp, field, isInt, isList, isStr, newIdempotencyKey } from './http.js';
import { createSessionStore } from './session-store.js';
import { createFederationClient } from './keyservers.js';

export const REGISTER_ATTEMPTS = 3;
export const MAX_IDENTIFIERS = 64;
export const ENTRY_COPY_VERSION = 1;
const COUNSELOR_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DRAFT_KEY = /^[A-Za-z0-9._-]{1,64}$/;
const HEX16 = /^[0-9a-f]{32}$/;
const VOUCH_DOMAIN = ascii('notalone/v1/counselor');
const FINGERPRINT_DOMAIN = ascii('notalone/v1/counselor-fingerprint');
// Drafts are local to this browser; their key and AD labels are client-only and never
// reach the server, but follow the protocol's labelling rules (§10.1: a new purpose gets
// a new HKDF label under the data key).
const DRAFT_KEY_INFO = ascii('notalone/v1/browser-draft-key');
const DRAFT_AD = 'notalone/v1/browser-draft|';

const noop = () => {};

export function createSdk({
  fetch: fetchImpl,
  sessionStorage,
  localStorage,
  keyStore,
  location,
  rng = defaultRng,
  now = () => Date.now(),
  subtle = globalThis.crypto?.subtle,
}) {
  const request = createHttp({ fetch: fetchImpl });
  const store = createSessionStore({ sessionStorage, keyStore, subtle, now, rng });
  let deploymentPromise = null;
  const drafts = new Map(); // in-memory copies of drafts loaded in this page

  // ---------------------------------------------------------------- deployment

  function getDeployment() {
    deploymentPromise ??= request('GET', '/v1/deployment', null, { what: 'deployment' })
      .then(parseDeployment)
      .catch((e) => {
        deploymentPromise = null;
        throw e;
      });
    return deploymentPromise;
  }

  function parseDeployment(body) {
    const what = 'deployment';
    const hex = (n) => (v) => fromHex(v, n);
    const threshold = field(body, 'match_threshold', isInt, what);
    if (threshold < slots.MIN_THRESHOLD || threshold > slots.MAX_THRESHOLD) {
      throw new EncodingError('the server sent a malformed deployment', { code: 'bad_response' });
    }
    const keyServers = field(body, 'key_servers', (v) => isList(v).map(isStr), what);
    return Object.freeze({
      deploymentId: field(body, 'deployment_id', hex(16), what),
      matchThreshold: threshold,
      // The federation is pinned from the deployment and checked for consistency here.
      federation: field(body, 'federation', parseFederation, what),
      keyServerCount: keyServers.length,
      keyServers: Object.freeze(keyServers),
      ticketPublicKey: field(body, 'ticket_public_key', hex(32), what),
      ticketPeriodMs: field(body, 'ticket_period_ms', isInt, what),
      logPublicKey: field(body, 'log_public_key', hex(32), what),
      vouchingPublicKey: field(body, 'vouching_public_key', hex(32), what),
    });
  }

  // ---------------------------------------------------------------- accounts

  async function startSession(username, authKey, expectedBundle) {
    let body;
    try {
      body = await request('POST', '/v1/login/finish', { username, auth_key: toHex(authKey), kind: 'cookie' }, { what: 'login' });
    } catch (e) {
      if (e.status === 401) throw loginFailed();
      throw e;
    }
    const what = 'session';
    if (body.kind !== 'cookie') throw new ProtocolError('the server did not start a browser session', { code: 'bad_session' });
    const session = {
      accountId: field(body, 'account_id', (v) => fromHex(v, 16), what),
      expiresAtMs: field(body, 'expires_at_ms', isInt, what),
      keyBundle: field(body, 'key_bundle', (v) => fromHex(v), what),
    };
    const bundle = accounts.parseBundle(session.keyBundle);
    if (bundle.username !== username) throw new ProtocolError('the server returned the key bundle of another account', { code: 'bad_session' });
    if (expectedBundle && !equalBytes(session.keyBundle, expectedBundle)) {
      throw new ProtocolError('the server returned another key bundle than the one just registered', { code: 'bad_session' });
    }
    return { ...session, bundle };
  }

  const loginFailed = () =>
    new VerificationError('the username or passphrase is wrong', { code: 'login_failed' });

  /**
   * Register with an invitation code or, instead, a membership token (§15: the text
   * "nmt1-…" or a tokens file, whose first token is spent). A token's account joins the
   * token's organization; the escrow learns "a member of O", not which member.
   */
  async function register({ inviteCode, membershipToken, passphrase, onProgress = noop } = {}) {
    let credential;
    if (membershipToken !== undefined && membershipToken !== null && String(membershipToken).trim()) {
      let token;
      try {
        [token] = parseTokens(String(membershipToken));
      } catch {
        throw new InputError('paste the registration token (it starts with nmt1-) or choose the tokens file', { code: 'token_malformed' });
      }
      credential = { membership_token: tokenJson(token) };
    } else {
      if (typeof inviteCode !== 'string' || !inviteCode.trim() || inviteCode.length > 64) {
        throw new InputError('enter the invitation code you were given', { code: 'invite_missing' });
      }
      credential = { invite_code: inviteCode.trim() };
    }
    const withToken = 'membership_token' in credential;
    // A 409 is a taken username or, with a token, a spent token; the problem does not say
    // which, so a token gets one retry under a new name before it is reported as used.
    const attempts = withToken ? 2 : REGISTER_ATTEMPTS;
    accounts.passphraseBytes(passphrase, { isNew: true }); // refuse a bad passphrase before Argon2id
    for (let attempt = 0; attempt < attempts; attempt++) {
      const username = accounts.generateUsername(rng);
      onProgress({ step: 'argon2', done: 0, total: 1, label: 'Protecting your passphrase' });
      const account = await accounts.createAccount(username, passphrase, accounts.ARGON2_DEFAULT, { rng });
      onProgress({ step: 'argon2', done: 1, total: 1, label: 'Protecting your passphrase' });
      const bundleBytes = accounts.bundleToBytes(account.bundle);
      onProgress({ step: 'upload', done: 0, total: 1, label: 'Creating your account' });
      try {
        await request(
          'POST',
          '/v1/accounts',
          {
            username,
            ...credential,
            key_bundle: toHex(bundleBytes),
            auth_key: toHex(account.authKey),
            recovery_auth_key: toHex(account.recoveryAuthKey),
          },
          { idempotencyKey: newIdempotencyKey(rng), what: 'registration' },
        );
      } catch (e) {
        // A taken username: draw another (its keys are bound to the name, so derive again).
        if (e instanceof ConflictError && attempt < attempts - 1) continue;
        if (withToken && e instanceof ConflictError) {
          const err = new InputError('this registration token has already been used; each token registers one account', { code: 'token_used' });
          err.status = e.status;
          throw err;
        }
        if (e instanceof NotAloneError && e.status >= 400 && e.status < 500 && e.status !== 429) {
          const err = withToken
            ? new InputError('the registration token was not accepted; check that it was copied whole', { code: 'token_refused' })
            : new InputError('the invitation code was not accepted; check it or ask for a new one', { code: 'invite_refused' });
          err.status = e.status;
          throw err;
        }
        throw e;
      }
      onProgress({ step: 'upload', done: 1, total: 1, label: 'Creating your account' });
      // Log in with the auth key already derived: no second Argon2id run.
      const session = await startSession(username, account.authKey, bundleBytes);
      await saveSession(username, session, account.dataKey);
      return { username, recoveryKey: account.recoveryKey };
    }
    throw new ProtocolError('registration did not finish; try again', { code: 'register_failed' });
  }

  async function saveSession(username, session, dataKey) {
    await store.save(
      { username, accountId: toHex(session.accountId), keyBundle: toHex(session.keyBundle), expiresAtMs: session.expiresAtMs },
      dataKey,
    );
  }

  async function login({ username, passphrase, onProgress = noop } = {}) {
    const name = accounts.normalizeUsername(username);
    accounts.passphraseBytes(passphrase, { isNew: false });
    const start = await request('POST', '/v1/login/start', { username: name }, { what: 'login' });
    const salt = field(start, 'salt', (v) => fromHex(v, accounts.SALT_BYTES), 'login');
    const params = { timeCost: field(start, 'time_cost', isInt, 'login'), memoryKib: field(start, 'memory_kib', isInt, 'login') };
    onProgress({ step: 'argon2', done: 0, total: 1, label: 'Checking your passphrase' });
    // Refuses parameters below the floor (a server handing out weak ones, §9).
    const keys = await accounts.derivePassphraseKeys(name, passphrase, salt, params);
    onProgress({ step: 'argon2', done: 1, total: 1, label: 'Checking your passphrase' });
    const session = await startSession(name, keys.authKey);
    let dataKey;
    const b = session.bundle;
    if (equalBytes(b.salt, salt) && b.params.timeCost === params.timeCost && b.params.memoryKib === params.memoryKib) {
      dataKey = accounts.unlockWithPassphraseKeys(b, keys);
    } else {
      dataKey = await accounts.unlockWithPassphrase(b, passphrase);
    }
    await saveSession(name, session, dataKey);
    return { username: name };
  }

  async function logout() {
    try {
      await request('POST', '/v1/logout', null, { what: 'logout' });
    } catch (e) {
      // Already logged out on the server (401) is fine; the local wipe happens anyway.
      if (!(e instanceof NotAloneError)) throw e;
    } finally {
      await store.clear();
      drafts.clear();
    }
  }

  function currentUser() {
    const state = store.current();
    return state ? { username: state.username } : null;
  }

  async function unlocked() {
    const state = store.current();
    const dataKey = state ? await store.dataKey() : null;
    if (!state || !dataKey) throw new VerificationError('log in first', { code: 'locked' });
    return { state, dataKey, accountId: fromHex(state.accountId, 16) };
  }

  // ---------------------------------------------------------------- records

  function checkRecordIdHex(recordId) {
    if (typeof recordId !== 'string' || !HEX16.test(recordId)) throw new InputError('not a record id', { code: 'bad_record_id' });
    return recordId;
  }

  async function fetchVersions(recordIdHex) {
    const body = await request('GET', `/v1/records/${recordIdHex}`, null, { what: 'record' });
    return field(body, 'versions', isList, 'record')
      .map((v) => ({
        version: field(v, 'version', isInt, 'record'),
        ciphertext: field(v, 'ciphertext', (x) => fromHex(x), 'record'),
        receipt: field(v, 'receipt', (x) => receipts.parseReceipt(fromHex(x)), 'record'),
        receiptHex: field(v, 'receipt', (x) => toHex(fromHex(x)), 'record'),
        createdAtMs: field(v, 'created_at_ms', isInt, 'record'),
      }))
      .sort((a, b) => a.version - b.version);
  }

  async function fetchRecordIds() {
    const body = await request('GET', '/v1/records', null, { what: 'record list' });
    return field(body, 'records', isList, 'record list').map((r) => field(r, 'record_id', (v) => toHex(fromHex(v, 16)), 'record list'));
  }

  async function listRecords({ onProgress = noop } = {}) {
    const { dataKey } = await unlocked();
    const { logPublicKey } = await getDeployment();
    const ids = await fetchRecordIds();
    const out = [];
    for (const [i, recordId] of ids.entries()) {
      onProgress({ step: 'verify', done: i, total: ids.length, label: 'Opening and checking your records' });
      const versions = [];
      for (const stored of await fetchVersions(recordId)) {
        const content = records.decryptRecordVersion(dataKey, fromHex(recordId), stored.version, stored.ciphertext);
        const logged = receipts.verifyReceipt(stored.ciphertext, stored.receipt, logPublicKey);
        // The receipt and the logged ciphertext go to the page as hex, for the survivor
        // to keep or print: with the log's public key anyone can check them again.
        versions.push({
          version: stored.version,
          content,
          loggedAtMs: Number(logged),
          receipt: stored.receiptHex,
          ciphertext: toHex(stored.ciphertext),
        });
      }
      if (!versions.every((v, k) => v.version === k + 1)) {
        throw new ProtocolError('the server returned a record with missing or repeated versions', { code: 'bad_versions' });
      }
      out.push({ recordId, versions });
    }
    onProgress({ step: 'verify', done: ids.length, total: ids.length, label: 'Opening and checking your records' });
    return out;
  }

  async function storeVersion(path, body, blob) {
    const { logPublicKey } = await getDeployment();
    const answer = await request('POST', path, body, { idempotencyKey: newIdempotencyKey(rng), what: 'record' });
    const receiptBytes = field(answer, 'receipt', (v) => fromHex(v), 'receipt');
    const logged = receipts.verifyReceipt(blob, receipts.parseReceipt(receiptBytes), logPublicKey);
    return { loggedAtMs: Number(logged), receipt: toHex(receiptBytes) };
  }

  async function addRecord(content) {
    const { dataKey } = await unlocked();
    const recordId = records.newRecordId(rng);
    const blob = records.encryptRecordVersion(dataKey, recordId, 1, content, { rng });
    const stored = await storeVersion('/v1/records', { record_id: toHex(recordId), ciphertext: toHex(blob) }, blob);
    return { recordId: toHex(recordId), version: 1, ...stored };
  }

  async function addVersion(recordId, content) {
    const { dataKey } = await unlocked();
    const id = checkRecordIdHex(recordId);
    const version = (await fetchVersions(id)).length + 1;
    const blob = records.encryptRecordVersion(dataKey, fromHex(id), version, content, { rng });
    const stored = await storeVersion(`/v1/records/${id}/versions`, { version, ciphertext: toHex(blob) }, blob);
    return { version, ...stored };
  }

  async function verifyLog() {
    await unlocked();
    const { logPublicKey } = await getDeployment();
    const headBody = await request('GET', '/v1/log/head', null, { what: 'log head' });
    const head = field(headBody, 'tree_head', (v) => receipts.parseTreeHead(fromHex(v)), 'log head');
    receipts.verifyTreeHead(logPublicKey, head);
    let checked = 0;
    for (const recordId of await fetchRecordIds()) {
      for (const stored of await fetchVersions(recordId)) {
        const old = stored.receipt.treeHead;
        receipts.verifyReceipt(stored.ciphertext, stored.receipt, logPublicKey);
        if (old.treeSize > head.treeSize) throw new ProtocolError("a receipt's tree is larger than the log's current head", { code: 'log_rewound' });
        let proof = [];
        if (old.treeSize < head.treeSize) {
          const body = await request('GET', `/v1/log/consistency?old=${old.treeSize}&new=${head.treeSize}`, null, { what: 'consistency proof' });
          proof = field(body, 'proof', (v) => isList(v).map((p) => fromHex(p, 32)), 'consistency proof');
        }
        receipts.verifyConsistencyBetween(old, head, proof, logPublicKey);
        checked += 1;
      }
    }
    return { treeSize: Number(head.treeSize), receipts: checked };
  }

  // ---------------------------------------------------------------- counselors

  function fingerprint(publicKey) {
    const digest = toHex(sha256(concat(FINGERPRINT_DOMAIN, publicKey))).slice(0, 32);
    return digest.match(/.{4}/g).join('-');
  }

  // The counselors this survivor may choose: their organization's pool, or every
  // counselor when the pool is empty (the escrow refuses an entry naming another).
  async function listCounselors() {
    const { vouchingPublicKey } = await getDeployment();
    const body = await request('GET', '/v1/account/counselors', null, { what: 'counselor list' });
    const out = [];
    for (const c of field(body, 'counselors', isList, 'counselor list')) {
      const id = field(c, 'id', isStr, 'counselor list');
      const publicKey = field(c, 'public_key', (v) => fromHex(v, 32), 'counselor list');
      const signature = field(c, 'vouching_signature', (v) => fromHex(v, 64), 'counselor list');
      const displayName = field(c, 'display_name', isStr, 'counselor list');
      if (!COUNSELOR_ID.test(id)) continue;
      const message = concat(VOUCH_DOMAIN, Uint8Array.of(id.length), ascii(id), publicKey);
      let vouched = false;
      try {
        vouched = ed25519.verify(signature, message, vouchingPublicKey, { zip215: false });
      } catch {
        vouched = false;
      }
      // A counselor whose key the operator did not vouch for is never offered: the
      // package would be sealed to a key the server may have substituted.
      if (!vouched) continue;
      const fp = fingerprint(publicKey);
      out.push({ id, displayName, publicKey: toHex(publicKey), fingerprint: fp, vouched: true });
    }
    return out;
  }

  // ---------------------------------------------------------------- entries

  function canonicalPreview(kind, text, region) {
    return { canonical: canonicalize(kind, text, { region: region || null }).canonical };
  }

  async function addEntry({ identifiers, counselorId, contact, message = '', onProgress = noop } = {}) {
    // Every check on the survivor's input runs before any request (no quota spent on a typo).
    if (typeof contact !== 'string' || !contact.trim()) {
      throw new InputError('say how your counselor can reach you (contact is empty)', { code: 'contact_missing' });
    }
    if (typeof message !== 'string') throw new InputError('the message must be text', { code: 'bad_message' });
    if (typeof counselorId !== 'string' || !counselorId) throw new InputError('choose a counselor', { code: 'counselor_missing' });
    if (!Array.isArray(identifiers) || identifiers.length === 0) {
      throw new InputError('an entry names at least one identifier', { code: 'identifiers_missing' });
    }
    if (identifiers.length > MAX_IDENTIFIERS) throw new InputError(`an entry holds at most ${MAX_IDENTIFIERS} identifiers`, { code: 'too_many_identifiers' });
    const specs = identifiers.map(({ kind, text, region }) => ({ kind, text, region: region || null }));
    const canonical = specs.map((s) => canonicalize(s.kind, s.text, { region: s.region }));
    const distinct = [];
    const positionOf = new Map();
    const slotOfEntered = canonical.map((id) => {
      const key = toHex(oprfInput(id));
      if (!positionOf.has(key)) {
        positionOf.set(key, distinct.length);
        distinct.push(id);
      }
      return positionOf.get(key);
    });
    const packageIdentifiers = [];
    canonical.forEach((id, k) => {
      const triple = { kind: id.kind, entered: specs[k].text, canonical: id.canonical };
      if (!packageIdentifiers.some((t) => t.kind === triple.kind && t.entered === triple.entered && t.canonical === triple.canonical)) {
        packageIdentifiers.push(triple);
      }
    });
    const packageData = slots.packageBytes({ contact, identifiers: packageIdentifiers, message });

    const { dataKey, accountId } = await unlocked();
    // Independent requests, made at once: the identifiers were all checked above, so
    // asking for the ticket now spends nothing on an entry that cannot be made.
    const [deployment, counselors, ticketBody] = await Promise.all([
      getDeployment(),
      listCounselors(),
      request('POST', '/v1/tickets', {}, { what: 'ticket' }),
    ]);
    const counselor = counselors.find((c) => c.id === counselorId);
    if (!counselor) throw new InputError('this counselor is not available; choose another', { code: 'counselor_unknown' });

    const ticketHex = field(ticketBody, 'ticket', (v) => toHex(fromHex(v, 135)), 'ticket');
    const total = deployment.federation.threshold;
    onProgress({ step: 'keyservers', done: 0, total, label: 'Asking the key servers' });
    const federationClient = createFederationClient({
      request,
      federation: deployment.federation,
      serverCount: deployment.keyServerCount,
      deploymentId: deployment.deploymentId,
      rng,
      onEvent: (e) => {
        if (e.outcome === 'answered') onProgress({ step: 'keyservers', done: e.valid, total, label: 'Asking the key servers' });
        else if (e.outcome !== 'asking') onProgress({ step: 'keyservers', done: e.valid, total, label: `Key server ${e.position + 1} did not answer correctly; asking another` });
      },
    });
    const { outputs } = await federationClient.evaluate(distinct.map((id) => oprfInput(id)), ticketHex);

    const entryId = rng(records.ENTRY_ID_BYTES);
    const slotIds = distinct.map(() => rng(slots.SLOT_ID_BYTES));
    if (new Set(slotIds.map(toHex)).size !== slotIds.length) throw new InputError('the random source repeated a slot id');
    const built = [];
    for (const [k, y] of outputs.entries()) {
      built.push(
        await slots.buildSlot(y, packageData, {
          threshold: deployment.matchThreshold,
          accountId,
          slotId: slotIds[k],
          deploymentId: deployment.deploymentId,
          counselorId: counselor.id,
          counselorPublicKey: fromHex(counselor.publicKey, 32),
          rng,
        }),
      );
    }
    const copy = {
      v: ENTRY_COPY_VERSION,
      entry_id: toHex(entryId),
      identifiers: canonical.map((id, k) => ({
        kind: id.kind,
        entered: specs[k].text,
        region: specs[k].region,
        slot_id: toHex(slotIds[slotOfEntered[k]]),
      })),
      counselor_id: counselor.id,
      contact,
      message,
      slot_ids: slotIds.map(toHex),
    };
    const entryCopy = records.encryptEntryCopy(dataKey, entryId, copy, { rng });
    onProgress({ step: 'upload', done: 0, total: 1, label: 'Sealing your entry' });
    await request(
      'POST',
      '/v1/entries',
      {
        entry_id: toHex(entryId),
        entry_copy: toHex(entryCopy),
        slots: built.map((s) => ({
          slot_id: toHex(s.slotId),
          tag: toHex(s.tag),
          x: toHex(s.x),
          share: toHex(s.share),
          outer: toHex(s.outer),
          counselor_id: s.counselorId,
        })),
      },
      { idempotencyKey: newIdempotencyKey(rng), what: 'entry' },
    );
    onProgress({ step: 'upload', done: 1, total: 1, label: 'Sealing your entry' });
    return { entryId: toHex(entryId) };
  }

  async function listEntries() {
    const { dataKey } = await unlocked();
    const body = await request('GET', '/v1/entries', null, { what: 'entry list' });
    return field(body, 'entries', isList, 'entry list').map((e) => {
      const entryId = field(e, 'entry_id', (v) => fromHex(v, 16), 'entry list');
      const blob = field(e, 'entry_copy', (v) => fromHex(v), 'entry list');
      const createdAtMs = field(e, 'created_at_ms', isInt, 'entry list');
      const withdrawn = field(e, 'withdrawn_at_ms', (v) => (v === null || v === undefined ? null : isInt(v)), 'entry list');
      const copy = records.decryptEntryCopy(dataKey, entryId, blob);
      try {
        if (copy.entry_id !== toHex(entryId)) throw new EncodingError('an entry copy names another entry');
        return {
          entryId: toHex(entryId),
          // "sealed" or "withdrawn", never "matched": the escrow does not say, by design.
          state: withdrawn === null ? 'sealed' : 'withdrawn',
          createdAtMs,
          counselorId: isStr(copy.counselor_id),
          contact: isStr(copy.contact),
          message: typeof copy.message === 'string' ? copy.message : '',
          identifiers: isList(copy.identifiers).map((i) => {
            const kind = isStr(i.kind);
            const text = isStr(i.entered);
            const region = i.region === null || i.region === undefined ? null : isStr(i.region);
            let canonical = null;
            try {
              canonical = canonicalize(kind, text, { region }).canonical;
            } catch {
              canonical = null; // the rules changed since; the entry keeps what was sealed
            }
            return { kind, text, canonical, region };
          }),
        };
      } catch (err) {
        if (err instanceof EncodingError) throw err;
        throw new EncodingError('an entry copy lacks its fields', { code: 'bad_entry_copy' });
      }
    });
  }

  async function withdrawEntry(entryId) {
    await unlocked();
    if (typeof entryId !== 'string' || !HEX16.test(entryId)) throw new InputError('not an entry id', { code: 'bad_entry_id' });
    await request('DELETE', `/v1/entries/${entryId}`, null, { what: 'entry' });
  }

  // ---------------------------------------------------------------- drafts

  function draftStorageKey(username, key) {
    if (typeof key !== 'string' || !DRAFT_KEY.test(key)) throw new InputError('a draft key is 1 to 64 letters, digits, ".", "_" or "-"');
    return `notalone.draft.${username}.${key}`;
  }

  function draftAd(username, key) {
    return ascii(`${DRAFT_AD}${username}|${key}`);
  }

  async function saveDraft(key, content) {
    const { state, dataKey } = await unlocked();
    const storageKey = draftStorageKey(state.username, key);
    const draftKey = hkdfSha512(dataKey, DRAFT_KEY_INFO, 32);
    const blob = aeadSeal(draftKey, canonicalJson(content), draftAd(state.username, key), { rng });
    localStorage.setItem(storageKey, toHex(blob));
    drafts.set(key, content);
  }

  async function loadDraft(key) {
    const { state, dataKey } = await unlocked();
    const storageKey = draftStorageKey(state.username, key);
    const stored = localStorage.getItem(storageKey);
    if (!stored) return null;
    try {
      const draftKey = hkdfSha512(dataKey, DRAFT_KEY_INFO, 32);
      const content = parseJson(aeadOpen(draftKey, fromHex(stored), draftAd(state.username, key)));
      drafts.set(key, content);
      return content;
    } catch (e) {
      if (e instanceof DecryptionError || e instanceof EncodingError) {
        // A draft that does not open is useless (altered, or another account's): drop it.
        localStorage.removeItem(storageKey);
        return null;
      }
      throw e;
    }
  }

  async function clearDraft(key) {
    const state = store.current();
    drafts.delete(key);
    if (state) localStorage.removeItem(draftStorageKey(state.username, key));
  }

  // ---------------------------------------------------------------- quick exit

  function quickExit() {
    // Synchronous first: nothing readable may remain if the page is killed mid-way.
    const pending = store.clearNow();
    drafts.clear();
    deploymentPromise = null;
    pending?.catch?.(noop);
    try {
      // End the server session too, without waiting (keepalive outlives the page).
      fetchImpl('/v1/logout', { method: 'POST', credentials: 'same-origin', keepalive: true, headers: { Accept: 'application/json' } })?.catch?.(noop);
    } catch {
      // The local wipe is what matters.
    }
    location.replace('/exit');
  }

  return {
    getDeployment,
    register,
    login,
    logout,
    currentUser,
    listRecords,
    addRecord,
    addVersion,
    verifyLog,
    listCounselors,
    canonicalPreview,
    addEntry,
    listEntries,
    withdrawEntry,
    saveDraft,
    loadDraft,
    clearDraft,
    quickExit,
  };
}
