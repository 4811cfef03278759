// Membership tokens in the browser (docs/protocol.md §15, docs/membership-tokens.md).
//
// - A member (no account yet, no session) spends the one-time code mailed to their work
//   address for registration tokens: the inputs are drawn and blinded here, the escrow
//   evaluates them blind with one DLEQ proof, and the proof is checked here against the
//   organization's published issuer key before anything is kept.
// - An organization admin (unlocked keyholder vault, role "org-admin") has a code mailed
//   to a member's work address; the admin never sees the code.
import { createHttp, field, isInt, isList, isStr } from './http.js';
import { fromHex, toHex } from '../protocol/bytes.js';
import { InputError, VerificationError } from '../protocol/errors.js';
import * as membership from '../protocol/membership.js';

const HEX16 = /^[0-9a-f]{32}$/;
const ORG_ADMIN_ROLE = 'org-admin';

export function createMembership({ fetch: fetchImpl, vaults }) {
  const request = createHttp({ fetch: fetchImpl });

  function organizationBytes(organizationId) {
    if (typeof organizationId !== 'string' || !HEX16.test(organizationId)) {
      throw new InputError('choose your organization', { code: 'organization_missing' });
    }
    return fromHex(organizationId, 16);
  }

  /** The organization's issuer key and the issuance rules. */
  async function issuer(organizationId) {
    organizationBytes(organizationId);
    const body = await request('GET', `/v1/organizations/${organizationId}/issuer`, null, { what: 'organization' });
    const what = 'issuer key';
    return {
      publicKey: field(body, 'public_key', (v) => fromHex(v, 32), what),
      tokensPerPeriod: field(body, 'tokens_per_period', isInt, what),
      period: field(body, 'period', isStr, what),
    };
  }

  /**
   * Spend `code` for `count` tokens (default: the quota of the period). Returns
   * {tokens, texts, file}: `texts` are the copyable "nmt1-…" strings, `file` the JSON.
   */
  async function getTokens({ organizationId, code, count, rng } = {}) {
    const o = organizationBytes(organizationId);
    if (typeof code !== 'string' || !code.trim() || code.length > 64) {
      throw new InputError('enter the code from the email', { code: 'code_missing' });
    }
    const key = await issuer(organizationId);
    const n = count ?? key.tokensPerPeriod;
    const pending = membership.blindTokens(o, n, rng ? { rng } : {});
    let body;
    try {
      body = await request(
        'POST',
        '/v1/membership/tokens',
        { organization_id: organizationId, code: code.trim(), blinded: pending.blinded.map(toHex) },
        { what: 'code' },
      );
    } catch (e) {
      if (e.status === 422) {
        const err = new InputError('this code was not accepted: it may be mistyped, expired or already used', { code: 'code_refused' });
        err.status = 422;
        throw err;
      }
      if (e.status === 429) {
        const err = new InputError('you have received every registration token allowed this quarter', { code: 'quota' });
        err.status = 429;
        throw err;
      }
      throw e;
    }
    const what = 'token answer';
    const evaluated = field(body, 'evaluated', (v) => isList(v).map((e) => fromHex(e, 32)), what);
    const proof = field(body, 'proof', (v) => fromHex(v, 64), what);
    const tokens = membership.finalizeTokens(pending, key.publicKey, evaluated, proof);
    return { tokens, texts: tokens.map(membership.tokenText), file: membership.tokensFile(tokens, key.publicKey) };
  }

  /** Org admin: mail a member code to `email` (the code is never shown here). */
  async function sendMemberCode({ email } = {}) {
    if (typeof email !== 'string' || !email.trim() || email.length > 254) {
      throw new InputError('enter the member’s work email address', { code: 'email_missing' });
    }
    const m = vaults ? await vaults.currentKeyholder(ORG_ADMIN_ROLE) : null;
    if (!m) throw new VerificationError('unlock your organization key first', { code: 'locked' });
    const withToken = (url, init) => fetchImpl(url, { ...init, headers: { ...init.headers, Authorization: `Bearer ${m.token}` } });
    try {
      await createHttp({ fetch: withToken })('POST', '/v1/organization/member-codes', { email: email.trim() }, { what: 'address' });
    } catch (e) {
      if (e.status === 422 || e.status === 400) {
        const err = new InputError('this is not a plain email address', { code: 'email_refused' });
        err.status = e.status;
        throw err;
      }
      throw e;
    }
    return { queued: true };
  }

  return { issuer, getTokens, sendMemberCode };
}

export const parseTokens = membership.parseTokens;
export const tokenText = membership.tokenText;
export const tokenJson = membership.tokenJson;
