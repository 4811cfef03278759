// An in-memory stand-in for the escrow's JSON API (and its key-server proxy), enough to
// run the SDK's flows under node. Built from the protocol modules and noble; it checks
// what a real server checks where the SDK's correctness depends on it.
import { readFileSync } from 'node:fs';
import { ed25519, ristretto255_oprf } from '@noble/curves/ed25519.js';
import { ascii, concat, fromHex, toHex } from '../src/protocol/bytes.js';
import * as accounts from '../src/protocol/accounts.js';
import * as receipts from '../src/protocol/receipts.js';
import { leafHash, nodeHash, root } from '../src/protocol/merkle.js';
import { sha256 } from '../src/protocol/primitives.js';

const vectors = (name) => JSON.parse(readFileSync(new URL(`../../vectors/${name}`, import.meta.url), 'utf8'));

function path(m, hashes) {
  if (hashes.length <= 1) return [];
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return m < k ? [...path(m, hashes.slice(0, k)), root(hashes.slice(k))] : [...path(m - k, hashes.slice(k)), root(hashes.slice(0, k))];
}
function subproof(m, hashes, complete) {
  const n = hashes.length;
  if (m === n) return complete ? [] : [root(hashes)];
  let k = 1;
  while (k * 2 < n) k *= 2;
  return m <= k
    ? [...subproof(m, hashes.slice(0, k), complete), root(hashes.slice(k))]
    : [...subproof(m - k, hashes.slice(k), false), root(hashes.slice(0, k))];
}

export function createFakeEscrow({ badServers = [], downServers = [] } = {}) {
  const t = vectors('threshold-oprf.json');
  const s = vectors('slots.json');
  const logKey = ed25519.utils.randomSecretKey();
  const vouchKey = ed25519.utils.randomSecretKey();
  const deploymentId = s.deployment_id;
  const counselorPk = fromHex(s.counselor_public_key);
  const counselorId = 'counselor-one';
  const vouch = (id, pk) => ed25519.sign(concat(ascii('notalone/v1/counselor'), Uint8Array.of(id.length), ascii(id), pk), vouchKey);
  const fp = (pk) => toHex(sha256(concat(ascii('notalone/v1/counselor-fingerprint'), pk))).slice(0, 32).match(/.{4}/g).join('-');
  const federation = { threshold: t.threshold, public_key: t.public_key, shares: t.shares.map((x) => ({ index: x.index, public_key: x.public_key })) };
  const state = {
    requests: [],
    accounts: new Map(),
    sessions: new Map(),
    records: new Map(),
    entries: [],
    leaves: [],
    now: 1_760_000_000_000,
    counselors: [
      { id: counselorId, display_name: 'Counselor One', public_key: toHex(counselorPk), fingerprint: fp(counselorPk), vouching_signature: toHex(vouch(counselorId, counselorPk)) },
      // A counselor whose key the operator did not vouch for (signature over another key).
      { id: 'counselor-forged', display_name: 'Forged', public_key: toHex(new Uint8Array(32).fill(9)), fingerprint: 'x', vouching_signature: toHex(vouch('counselor-forged', counselorPk)) },
    ],
  };

  const json = (status, body, headers = {}) =>
    new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
  const problem = (status, title) => json(status, { type: 'about:blank', title, status, detail: '' });

  function sth() {
    const hashes = state.leaves.map(leafHash);
    const head = { treeSize: BigInt(hashes.length), timestampMs: BigInt(state.now), root: root(hashes) };
    head.signature = ed25519.sign(receipts.treeHeadMessage(head), logKey);
    return head;
  }
  const sthBytes = (h) => concat(Uint8Array.of(1), receipts.treeHeadMessage(h).slice(21), h.signature);
  function append(ciphertext) {
    state.now += 1000;
    const leaf = receipts.receiptLeaf(sha256(ciphertext), state.now);
    state.leaves.push(leaf);
    const index = state.leaves.length - 1;
    const head = sth();
    const proof = path(index, state.leaves.map(leafHash));
    const u64 = (n) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, BigInt(n));
      return b;
    };
    return concat(Uint8Array.of(1), u64(index), leaf, sthBytes(head).slice(1), Uint8Array.of(proof.length), ...proof);
  }

  function sessionOf(init) {
    const cookie = init.headers?.Cookie ?? state.cookie;
    return cookie ? state.sessions.get(cookie) : undefined;
  }

  async function handle(url, init = {}) {
    const method = init.method ?? 'GET';
    state.requests.push({ url, method, headers: init.headers ?? {}, credentials: init.credentials });
    const body = init.body ? JSON.parse(init.body) : null;
    const u = new URL(url, 'https://escrow.example');
    const p = u.pathname;
    if (method === 'GET' && p === '/v1/deployment') {
      return json(200, {
        deployment_id: deploymentId,
        match_threshold: 2,
        federation,
        key_servers: ['https://ks1.example', 'https://ks2.example', 'https://ks3.example'],
        ticket_public_key: toHex(ed25519.getPublicKey(ed25519.utils.randomSecretKey())),
        ticket_period_ms: 86_400_000,
        log_public_key: toHex(ed25519.getPublicKey(logKey)),
        vouching_public_key: toHex(ed25519.getPublicKey(vouchKey)),
      });
    }
    if (method === 'POST' && p === '/v1/accounts') {
      if (body.invite_code !== 'INVITE-OK') return problem(403, 'invite refused');
      if (state.accounts.has(body.username)) return problem(409, 'taken');
      state.accounts.set(body.username, { id: toHex(crypto.getRandomValues(new Uint8Array(16))), bundle: body.key_bundle, authKey: body.auth_key });
      return json(201, { account_id: state.accounts.get(body.username).id, username: body.username, organization_id: 'org' });
    }
    if (method === 'POST' && p === '/v1/login/start') {
      const acc = state.accounts.get(body.username);
      const b = acc ? accounts.parseBundle(fromHex(acc.bundle)) : { salt: new Uint8Array(16), params: accounts.ARGON2_DEFAULT };
      return json(200, { salt: toHex(b.salt), time_cost: b.params.timeCost, memory_kib: b.params.memoryKib });
    }
    if (method === 'POST' && p === '/v1/login/finish') {
      const acc = state.accounts.get(body.username);
      if (!acc || acc.authKey !== body.auth_key || body.kind !== 'cookie') return problem(401, 'refused');
      const token = toHex(crypto.getRandomValues(new Uint8Array(16)));
      state.sessions.set(token, body.username);
      state.cookie = token; // what the browser would do with Set-Cookie
      return json(200, { kind: 'cookie', expires_at_ms: Date.now() + 3600_000, account_id: acc.id, key_bundle: acc.bundle });
    }
    if (method === 'POST' && p === '/v1/logout') {
      if (!sessionOf(init)) return problem(401, 'no session');
      state.sessions.delete(state.cookie);
      state.cookie = undefined;
      return new Response(null, { status: 204 });
    }
    // The survivor's list (the organization's pool; the fake has no pools).
    if (method === 'GET' && (p === '/v1/counselors' || p === '/v1/account/counselors')) return json(200, { counselors: state.counselors });
    const m = /^\/v1\/keyservers\/(\d+)\/(keys|evaluate)$/.exec(p);
    if (m) {
      const position = Number(m[1]);
      if (downServers.includes(position)) return problem(502, 'bad gateway');
      const share = t.shares[position];
      if (!share) return problem(404, 'no such key server');
      if (m[2] === 'keys') {
        return json(200, { index: share.index, public_key: share.public_key, federation, deployment_id: deploymentId, ticket_public_key: '00'.repeat(32), ticket_period_ms: 86_400_000, suite: 'ristretto255-SHA512', mode: 1 });
      }
      if (typeof body.ticket !== 'string' || body.ticket.length !== 270) return problem(401, 'bad ticket');
      // A "bad" server evaluates with another server's key: its proof cannot verify
      // against its own pinned public key.
      const key = badServers.includes(position) ? t.shares[(position + 1) % 3] : share;
      const res = ristretto255_oprf.voprf.blindEvaluateBatch(fromHex(key.secret_key), fromHex(key.public_key), body.blinded_elements.map((b) => fromHex(b)));
      return json(200, { index: share.index, evaluated_elements: res.evaluated.map(toHex), proof: toHex(res.proof) });
    }
    // Everything below needs a session.
    const username = sessionOf(init);
    if (!username) return problem(401, 'log in first');
    if (method === 'POST' && p === '/v1/tickets') return json(200, { ticket: `01${'ab'.repeat(134)}`, expires_ms: state.now + 300_000 });
    if (method === 'POST' && p === '/v1/entries') {
      state.entries.push({ ...body, username, created_at_ms: state.now, withdrawn_at_ms: null });
      return json(201, { entry_id: body.entry_id });
    }
    if (method === 'GET' && p === '/v1/entries') {
      return json(200, {
        entries: state.entries
          .filter((e) => e.username === username)
          .map((e) => ({ entry_id: e.entry_id, entry_copy: e.entry_copy, created_at_ms: e.created_at_ms, withdrawn_at_ms: e.withdrawn_at_ms, slots: e.slots.map((x) => ({ slot_id: x.slot_id, state: e.withdrawn_at_ms ? 'withdrawn' : 'sealed' })) })),
      });
    }
    const del = /^\/v1\/entries\/([0-9a-f]{32})$/.exec(p);
    if (method === 'DELETE' && del) {
      const e = state.entries.find((x) => x.entry_id === del[1] && x.username === username);
      if (!e) return problem(404, 'no such entry');
      e.withdrawn_at_ms ??= state.now;
      return new Response(null, { status: 204 });
    }
    if (method === 'POST' && p === '/v1/records') {
      const receipt = append(fromHex(body.ciphertext));
      state.records.set(body.record_id, { username, versions: [{ version: 1, ciphertext: body.ciphertext, receipt: toHex(receipt), created_at_ms: state.now }] });
      return json(201, { receipt: toHex(receipt) });
    }
    const ver = /^\/v1\/records\/([0-9a-f]{32})\/versions$/.exec(p);
    if (method === 'POST' && ver) {
      const r = state.records.get(ver[1]);
      if (!r || r.username !== username) return problem(404, 'no such record');
      if (body.version !== r.versions.length + 1) return problem(409, 'version');
      const receipt = append(fromHex(body.ciphertext));
      r.versions.push({ version: body.version, ciphertext: body.ciphertext, receipt: toHex(receipt), created_at_ms: state.now });
      return json(201, { receipt: toHex(receipt) });
    }
    if (method === 'GET' && p === '/v1/records') {
      return json(200, { records: [...state.records].filter(([, r]) => r.username === username).map(([id, r]) => ({ record_id: id, versions: r.versions.length, created_at_ms: r.versions[0].created_at_ms })) });
    }
    const rec = /^\/v1\/records\/([0-9a-f]{32})$/.exec(p);
    if (method === 'GET' && rec) {
      const r = state.records.get(rec[1]);
      if (!r || r.username !== username) return problem(404, 'no such record');
      return json(200, { versions: r.versions });
    }
    if (method === 'GET' && p === '/v1/log/head') return json(200, { tree_head: toHex(sthBytes(sth())) });
    if (method === 'GET' && p === '/v1/log/consistency') {
      const old = Number(u.searchParams.get('old'));
      const neu = Number(u.searchParams.get('new'));
      const hashes = state.leaves.slice(0, neu).map(leafHash);
      return json(200, { proof: subproof(old, hashes, true).map(toHex), tree_head: toHex(sthBytes(sth())) });
    }
    return problem(404, 'not found');
  }

  return { fetch: handle, state, counselorId, tamperLog: () => { state.leaves[0] = receipts.receiptLeaf(new Uint8Array(32), 1); } };
}

export function memoryStorage() {
  const map = new Map();
  return {
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => void map.set(k, String(v)),
    removeItem: (k) => void map.delete(k),
    clear: () => map.clear(),
    get length() {
      return map.size;
    },
    keys: () => [...map.keys()],
  };
}
