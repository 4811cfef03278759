// The organization admin's SDK (docs/org-admin-guide.md, docs/protocol.md §14).
//
// - Enrollment makes the organization's X25519 intake key in this page (@noble/curves);
//   only its public half goes to the escrow, with the operator's one-time code. The
//   private key and the admin's bearer token go straight into the keyholder vault
//   (vault.js), sealed under the admin's passphrase; "Download backup" saves that file.
// - A second admin of the same organization enrolls with the key of an existing admin's
//   backup (imported and unlocked here), so every admin can open every report.
// - Every other call takes the bearer token from this tab's unlocked vault; with none,
//   it fails with code "locked" and the page sends the admin to /org to unlock.
// - Reports are opened here with openReport (§13.4): the escrow holds only ciphertext.
import { x25519 } from '@noble/curves/ed25519.js';
import { createHttp, field, isInt, isList, isStr } from './http.js';
import { fromHex, toHex } from '../protocol/bytes.js';
import { InputError, VerificationError } from '../protocol/errors.js';
import { openReport } from '../protocol/reports.js';

export const ORG_ADMIN_ROLE = 'org-admin';
export const FEWER_THAN_5 = 'fewer than 5';
const HEX16 = /^[0-9a-f]{32}$/;
const INVITE_ID = /^[0-9a-f]{16}$/;
const COUNSELOR_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const isHex16 = (v) => {
  if (typeof v !== 'string' || !HEX16.test(v)) throw new TypeError('not an id');
  return v;
};
const isInviteId = (v) => {
  if (typeof v !== 'string' || !INVITE_ID.test(v)) throw new TypeError('not an invite id');
  return v;
};
const isBool = (v) => {
  if (typeof v !== 'boolean') throw new TypeError('not a boolean');
  return v;
};
// A total is a count of at least 5 or the fixed words; anything else is refused, so a
// page never shows a small number even if a server sent one.
const isTotal = (v) => {
  if (v === FEWER_THAN_5) return v;
  if (Number.isSafeInteger(v) && v >= 5) return v;
  throw new TypeError('not a total');
};

/**
 * `createOrganizationAdmin({fetch, vaults})`: the admin's calls, over a fetch and the
 * vault functions of vault.js (index.js binds the browser's).
 */
export function createOrganizationAdmin({ fetch: fetchImpl, vaults }) {
  const anonymous = createHttp({ fetch: fetchImpl });

  async function held() {
    const m = await vaults.currentKeyholder(ORG_ADMIN_ROLE);
    if (!m) throw new VerificationError('unlock your organization key first', { code: 'locked' });
    return m;
  }

  async function authorized(method, path, body, what) {
    const m = await held();
    const withToken = (url, init) => fetchImpl(url, { ...init, headers: { ...init.headers, Authorization: `Bearer ${m.token}` } });
    return createHttp({ fetch: withToken })(method, path, body, { what });
  }

  /** Every organization with its intake key (hex or null). */
  async function listOrganizations() {
    const body = await anonymous('GET', '/v1/organizations', null, { what: 'organization list' });
    return field(body, 'organizations', isList, 'organization list').map((o) => ({
      id: field(o, 'id', isHex16, 'organization list'),
      name: field(o, 'name', isStr, 'organization list'),
      intakePublicKey: o.intake_public_key === null ? null : field(o, 'intake_public_key', (v) => toHex(fromHex(v, 32)), 'organization list'),
    }));
  }

  /**
   * Enroll with the operator's code: make the intake key here (or reuse `keyFrom`, the
   * unlocked material of another admin's backup), send its public half, and seal the key
   * and the new token in a vault under `passphrase`. Returns {vault, adminId, organizationId}.
   */
  async function enroll({ code, passphrase, keyFrom = null, onProgress = () => {} }) {
    if (typeof code !== 'string' || !code.trim() || code.length > 64) throw new InputError('type the enrollment code you were given', { code: 'enroll_code' });
    let privateKey;
    let publicKey;
    if (keyFrom) {
      privateKey = keyFrom.privateKey.slice();
      publicKey = x25519.getPublicKey(privateKey);
    } else {
      onProgress({ step: 'key', label: 'Making the organization key' });
      privateKey = x25519.utils.randomSecretKey();
      publicKey = x25519.getPublicKey(privateKey);
    }
    onProgress({ step: 'enroll', label: 'Enrolling with the escrow' });
    let body;
    try {
      body = await anonymous('POST', '/v1/organization/enroll', { code: code.trim(), intake_public_key: toHex(publicKey) }, { what: 'enrollment' });
    } catch (error) {
      if (error.status === 409) {
        throw new InputError('your organization already has a key: import the backup of an existing admin and enroll with it', { code: 'enroll_other_key' });
      }
      if (error.status === 422) throw new InputError('this enrollment code is not valid, already used or expired; ask the operator for a new one', { code: 'enroll_code' });
      throw error;
    }
    const adminId = field(body, 'admin_id', isHex16, 'enrollment');
    const organizationId = field(body, 'organization_id', isHex16, 'enrollment');
    const token = field(body, 'token', isStr, 'enrollment');
    onProgress({ step: 'vault', label: 'Sealing the key under your passphrase' });
    try {
      const vault = await vaults.createVault({ role: ORG_ADMIN_ROLE, id: adminId, token, privateKey, publicKey, organizationId, passphrase });
      return { vault, adminId, organizationId };
    } finally {
      privateKey.fill(0);
    }
  }

  async function organization() {
    const body = await authorized('GET', '/v1/organization', null, 'organization');
    return {
      id: field(body, 'id', isHex16, 'organization'),
      name: field(body, 'name', isStr, 'organization'),
      intakePublicKey: body.intake_public_key ?? null,
      admins: field(body, 'admins', isList, 'organization').map((a) => field(a, 'display_name', isStr, 'organization')),
    };
  }

  /** New invite codes ({code, maxUses, expiresAtMs}); the codes are shown only now. */
  async function createInvites({ count = 1, maxUses = 1, ttlSeconds = 30 * 24 * 3600 } = {}) {
    const body = await authorized('POST', '/v1/organization/invites', { count, max_uses: maxUses, ttl_seconds: ttlSeconds }, 'invite');
    return field(body, 'invites', isList, 'invite').map((i) => ({
      code: field(i, 'code', isStr, 'invite'),
      maxUses: field(i, 'max_uses', isInt, 'invite'),
      expiresAtMs: i.expires_at_ms === null ? null : field(i, 'expires_at_ms', isInt, 'invite'),
    }));
  }

  async function listInvites() {
    const body = await authorized('GET', '/v1/organization/invites', null, 'invite list');
    return field(body, 'invites', isList, 'invite list').map((i) => ({
      id: field(i, 'id', isInviteId, 'invite list'),
      uses: field(i, 'uses', isInt, 'invite list'),
      maxUses: field(i, 'max_uses', isInt, 'invite list'),
      createdAtMs: field(i, 'created_at_ms', isInt, 'invite list'),
      expiresAtMs: i.expires_at_ms === null ? null : field(i, 'expires_at_ms', isInt, 'invite list'),
      revoked: field(i, 'revoked', isBool, 'invite list'),
    }));
  }

  async function revokeInvite(inviteId) {
    if (typeof inviteId !== 'string' || !INVITE_ID.test(inviteId)) throw new InputError('no such invite');
    await authorized('DELETE', `/v1/organization/invites/${inviteId}`, null, 'invite');
  }

  async function listPool() {
    const body = await authorized('GET', '/v1/organization/counselors', null, 'counselor list');
    return field(body, 'counselors', isList, 'counselor list').map((c) => ({
      id: field(c, 'id', isStr, 'counselor list'),
      displayName: field(c, 'display_name', isStr, 'counselor list'),
      fingerprint: field(c, 'fingerprint', isStr, 'counselor list'),
      inPool: field(c, 'in_pool', isBool, 'counselor list'),
    }));
  }

  async function setInPool(counselorId, inPool) {
    if (typeof counselorId !== 'string' || !COUNSELOR_ID.test(counselorId)) throw new InputError('no such counselor');
    await authorized(inPool ? 'PUT' : 'DELETE', `/v1/organization/counselors/${counselorId}`, null, 'counselor');
  }

  /** [{quarter, entries, matches}], newest first; small counts are FEWER_THAN_5. */
  async function totals() {
    const body = await authorized('GET', '/v1/organization/totals', null, 'totals');
    return field(body, 'quarters', isList, 'totals').map((q) => ({
      quarter: field(q, 'quarter', isStr, 'totals'),
      entries: field(q, 'entries', isTotal, 'totals'),
      matches: field(q, 'matches', isTotal, 'totals'),
    }));
  }

  /** The organization's reports, each opened here: {id, matchId, counselorId,
   * counselorName, createdAtMs, text} (text null, with `error`, if one does not open). */
  async function reports() {
    const m = await held();
    const body = await authorized('GET', '/v1/organization/reports', null, 'report list');
    const organizationId = fromHex(m.organizationId, 16, 'the organization id');
    const out = [];
    for (const r of field(body, 'reports', isList, 'report list')) {
      const matchId = field(r, 'match_id', isHex16, 'report list');
      const report = {
        id: field(r, 'id', isHex16, 'report list'),
        matchId,
        counselorId: field(r, 'counselor_id', isStr, 'report list'),
        counselorName: field(r, 'counselor_name', isStr, 'report list'),
        createdAtMs: field(r, 'created_at_ms', isInt, 'report list'),
        text: null,
        error: null,
      };
      try {
        const sealed = field(r, 'sealed', (v) => fromHex(v), 'report list');
        report.text = await openReport(m.privateKey, organizationId, fromHex(matchId, 16), sealed);
      } catch {
        // One damaged or misdirected report must not hide the others.
        report.error = 'this report does not open with your organization key';
      }
      out.push(report);
    }
    m.privateKey.fill(0);
    return out;
  }

  return { listOrganizations, enroll, organization, createInvites, listInvites, revokeInvite, listPool, setInPool, totals, reports };
}
