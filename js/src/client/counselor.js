// The counselor console's SDK (docs/counselor-guide.md, docs/protocol.md §13).
//
// - Enrollment makes the counselor's X25519 key pair in this page (@noble/curves); only
//   the public half goes to the escrow, with the operator's one-time code. The private
//   key and the bearer token go straight into the keyholder vault (vault.js), sealed
//   under the counselor's passphrase; "Download backup" saves that file.
// - Every other call takes the bearer token from this tab's unlocked vault; with none, it
//   fails with code "locked" and the page sends the counselor to /counselor to unlock.
// - Packages are opened here (openPackage, §6), notes are sealed here to the counselor's
//   own key (§13.2) and reports to the organization's intake key (§13.4): the escrow
//   stores only ciphertext.
import { x25519 } from '@noble/curves/ed25519.js';
import { createHttp, field, isInt, isList, isStr } from './http.js';
import { fromHex, toHex } from '../protocol/bytes.js';
import { InputError, NotAloneError, VerificationError } from '../protocol/errors.js';
import { openCaseNote, openPackage, sealCaseNote } from '../protocol/casework.js';
import { sealReport } from '../protocol/reports.js';

export const COUNSELOR_ROLE = 'counselor';
export const CASE_STATES = Object.freeze(['new', 'contacted', 'closed']);
const HEX16 = /^[0-9a-f]{32}$/;
const COUNSELOR_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const isHex16 = (v) => {
  if (typeof v !== 'string' || !HEX16.test(v)) throw new TypeError('not an id');
  return v;
};
const isCounselorId = (v) => {
  if (typeof v !== 'string' || !COUNSELOR_ID.test(v)) throw new TypeError('not a counselor id');
  return v;
};
const isState = (v) => {
  if (!CASE_STATES.includes(v)) throw new TypeError('not a case state');
  return v;
};
const isHex = (v) => toHex(fromHex(v));

function checkMatchId(matchId) {
  if (typeof matchId !== 'string' || !HEX16.test(matchId)) throw new InputError('this is not a match id', { code: 'match_id' });
  return matchId;
}

/**
 * `createCounselorConsole({fetch, vaults})`: the counselor's calls, over a fetch and the
 * vault functions of vault.js (index.js binds the browser's).
 */
export function createCounselorConsole({ fetch: fetchImpl, vaults }) {
  const anonymous = createHttp({ fetch: fetchImpl });
  let deploymentId = null;

  async function held() {
    const m = await vaults.currentKeyholder(COUNSELOR_ROLE);
    if (!m) throw new VerificationError('unlock your counselor key first', { code: 'locked' });
    return m;
  }

  async function authorized(m, method, path, body, what) {
    const withToken = (url, init) => fetchImpl(url, { ...init, headers: { ...init.headers, Authorization: `Bearer ${m.token}` } });
    return createHttp({ fetch: withToken })(method, path, body, { what });
  }

  async function deployment() {
    if (!deploymentId) {
      const body = await anonymous('GET', '/v1/deployment', null, { what: 'deployment' });
      deploymentId = fromHex(field(body, 'deployment_id', isHex16, 'deployment'));
    }
    return deploymentId;
  }

  /**
   * Enroll with the operator's code: make the key pair here, send its public half, seal
   * the key and the new token in a vault under `passphrase` (this tab is then unlocked).
   * Returns {vault, id, fingerprint}.
   */
  async function enroll({ code, passphrase, onProgress = () => {} }) {
    if (typeof code !== 'string' || !code.trim() || code.length > 64) {
      throw new InputError('type the enrollment code you were given', { code: 'enroll_code' });
    }
    onProgress({ step: 'key', label: 'Making your key in this browser' });
    const privateKey = x25519.utils.randomSecretKey();
    const publicKey = x25519.getPublicKey(privateKey);
    try {
      onProgress({ step: 'enroll', label: 'Enrolling with the escrow' });
      let body;
      try {
        body = await anonymous('POST', '/v1/counselor/enroll', { code: code.trim(), public_key: toHex(publicKey) }, { what: 'enrollment' });
      } catch (error) {
        if (error.status === 409) throw new InputError('a counselor with this id is already enrolled; ask the operator', { code: 'enroll_taken' });
        if (error.status === 422) throw new InputError('this enrollment code is not valid, already used or expired; ask the operator for a new one', { code: 'enroll_code' });
        throw error;
      }
      const id = field(body, 'id', isCounselorId, 'enrollment');
      const token = field(body, 'token', isStr, 'enrollment');
      const fingerprint = field(body, 'fingerprint', isStr, 'enrollment');
      onProgress({ step: 'vault', label: 'Sealing your key under your passphrase' });
      const vault = await vaults.createVault({ role: COUNSELOR_ROLE, id, token, privateKey, publicKey, passphrase });
      return { vault, id, fingerprint };
    } finally {
      privateKey.fill(0);
    }
  }

  function parseCase(c) {
    const what = 'case list';
    return {
      matchId: field(c, 'match_id', isHex16, what),
      state: field(c, 'state', isState, what),
      updatedAtMs: field(c, 'updated_at_ms', isInt, what),
      packages: field(c, 'packages', isList, what).map((p) => ({
        slotId: field(p, 'slot_id', isHex16, what),
        inner: fromHex(field(p, 'inner', isHex, what)),
        createdAtMs: field(p, 'created_at_ms', isInt, what),
      })),
      otherCounselors: field(c, 'other_counselors', isList, what).map((o) => ({
        id: field(o, 'id', isCounselorId, what),
        displayName: field(o, 'display_name', isStr, what),
      })),
    };
  }

  /** The counselor's cases (packages still sealed), most recently updated first. */
  async function listCases() {
    const m = await held();
    m.privateKey.fill(0);
    const body = await authorized(m, 'GET', '/v1/counselor/cases', null, 'case list');
    return field(body, 'cases', isList, 'case list').map(parseCase);
  }

  /**
   * One case with its packages opened here: each package is {slotId, createdAtMs,
   * contact, identifiers, message} or, if it does not open, {slotId, createdAtMs, error}.
   * null when the counselor holds no package of the match.
   */
  async function openCase(matchId) {
    checkMatchId(matchId);
    const m = await held();
    try {
      const [body, dep] = await Promise.all([authorized(m, 'GET', '/v1/counselor/cases', null, 'case list'), deployment()]);
      const found = field(body, 'cases', isList, 'case list').map(parseCase).find((c) => c.matchId === matchId);
      if (!found) return null;
      const packages = [];
      for (const p of found.packages) {
        try {
          const opened = await openPackage(m.privateKey, dep, fromHex(p.slotId), p.inner);
          packages.push({ slotId: p.slotId, createdAtMs: p.createdAtMs, ...opened });
        } catch (error) {
          if (!(error instanceof NotAloneError)) throw error;
          packages.push({ slotId: p.slotId, createdAtMs: p.createdAtMs, error: 'This package does not open with your key.' });
        }
      }
      return { ...found, packages };
    } finally {
      m.privateKey.fill(0);
    }
  }

  /** Move the case forward (new → contacted → closed); the case as the server has it. */
  async function setState(matchId, state) {
    checkMatchId(matchId);
    if (!CASE_STATES.includes(state)) throw new InputError('a case state is new, contacted or closed');
    const m = await held();
    m.privateKey.fill(0);
    try {
      return parseCase(await authorized(m, 'PUT', `/v1/counselor/cases/${matchId}/state`, { state }, 'case'));
    } catch (error) {
      if (error.status === 409) throw new InputError('this case is already at that step or past it', { code: 'state_not_forward' });
      throw error;
    }
  }

  /** Seal a note to the counselor's own key and store it; its id. */
  async function addNote(matchId, text) {
    checkMatchId(matchId);
    const m = await held();
    m.privateKey.fill(0);
    const sealed = await sealCaseNote(m.publicKey, m.id, fromHex(matchId), text);
    const body = await authorized(m, 'POST', `/v1/counselor/cases/${matchId}/notes`, { sealed: toHex(sealed) }, 'note');
    return field(body, 'id', isHex16, 'note');
  }

  /** The case's notes opened here, oldest first: [{id, createdAtMs, text}]. */
  async function listNotes(matchId) {
    checkMatchId(matchId);
    const m = await held();
    try {
      const body = await authorized(m, 'GET', `/v1/counselor/cases/${matchId}/notes`, null, 'note list');
      const notes = [];
      for (const n of field(body, 'notes', isList, 'note list')) {
        const id = field(n, 'id', isHex16, 'note list');
        const sealed = fromHex(field(n, 'sealed', isHex, 'note list'));
        notes.push({ id, createdAtMs: field(n, 'created_at_ms', isInt, 'note list'), text: await openCaseNote(m.privateKey, m.id, fromHex(matchId), sealed) });
      }
      return notes;
    } finally {
      m.privateKey.fill(0);
    }
  }

  /** The organizations that can receive reports: [{id, name, intakePublicKey}]. */
  async function listOrganizations() {
    const body = await anonymous('GET', '/v1/organizations', null, { what: 'organization list' });
    return field(body, 'organizations', isList, 'organization list')
      .filter((o) => o && o.intake_public_key !== null)
      .map((o) => ({
        id: field(o, 'id', isHex16, 'organization list'),
        name: field(o, 'name', isStr, 'organization list'),
        intakePublicKey: fromHex(field(o, 'intake_public_key', isStr, 'organization list'), 32),
      }));
  }

  /** Seal `text` to the organization's intake key and send it; the report's id. */
  async function sendReport(matchId, organizationId, text) {
    checkMatchId(matchId);
    if (typeof organizationId !== 'string' || !HEX16.test(organizationId)) throw new InputError('choose an organization', { code: 'organization' });
    const organization = (await listOrganizations()).find((o) => o.id === organizationId);
    if (!organization) throw new InputError('this organization cannot receive reports yet', { code: 'no_intake_key' });
    const m = await held();
    m.privateKey.fill(0);
    const sealed = await sealReport(organization.intakePublicKey, fromHex(organizationId), fromHex(matchId), text);
    const body = await authorized(m, 'POST', `/v1/counselor/cases/${matchId}/reports`, { organization_id: organizationId, sealed: toHex(sealed) }, 'report');
    return field(body, 'id', isHex16, 'report');
  }

  return { enroll, listCases, openCase, setState, addNote, listNotes, listOrganizations, sendReport };
}
