// The survivor SDK for the browser pages: one instance bound to this page's fetch,
// sessionStorage, localStorage, IndexedDB and location. Pages import the functions
// below; tests build their own instance with createSdk.
import { createSdk } from './sdk.js';
import { indexedDbKeyStore, memoryKeyStore } from './session-store.js';
import { createVaults, indexedDbVaultStore, memoryVaultStore } from './vault.js';
import { createOrganizationAdmin } from './organization.js';
import { createCounselorConsole } from './counselor.js';

export { createSdk } from './sdk.js';
export { KeyServerUnavailableError } from './keyservers.js';
export {
  NotAloneError,
  InputError,
  ConflictError,
  IdentifierError,
  EncodingError,
  InvalidElementError,
  VerificationError,
  ProofError,
  DecryptionError,
  MerkleProofError,
  SignatureError,
  TicketError,
  ProtocolError,
  ThresholdError,
  VersionError,
  LimitError,
  UnavailableError,
} from '../protocol/errors.js';

let sdk = null;
function instance() {
  sdk ??= createSdk({
    fetch: (...args) => globalThis.fetch(...args),
    sessionStorage: globalThis.sessionStorage,
    localStorage: globalThis.localStorage,
    keyStore: globalThis.indexedDB ? indexedDbKeyStore(globalThis.indexedDB) : memoryKeyStore(),
    location: globalThis.location,
  });
  return sdk;
}

export const getDeployment = (...a) => instance().getDeployment(...a);
export const register = (...a) => instance().register(...a);
export const login = (...a) => instance().login(...a);
export const logout = (...a) => instance().logout(...a);
export const currentUser = (...a) => instance().currentUser(...a);
export const listRecords = (...a) => instance().listRecords(...a);
export const addRecord = (...a) => instance().addRecord(...a);
export const addVersion = (...a) => instance().addVersion(...a);
export const verifyLog = (...a) => instance().verifyLog(...a);
export const listCounselors = (...a) => instance().listCounselors(...a);
export const canonicalPreview = (...a) => instance().canonicalPreview(...a);
export const addEntry = (...a) => instance().addEntry(...a);
export const listEntries = (...a) => instance().listEntries(...a);
export const withdrawEntry = (...a) => instance().withdrawEntry(...a);
export const saveDraft = (...a) => instance().saveDraft(...a);
export const loadDraft = (...a) => instance().loadDraft(...a);
export const clearDraft = (...a) => instance().clearDraft(...a);
export const quickExit = (...a) => {
  // The keyholder vaults' sessions go first, synchronously, with the survivor's.
  if (globalThis.sessionStorage) vaultInstance().lockAllNow();
  return instance().quickExit(...a);
};

// -- keyholder vault (issue 5, counselor console): counselors' and org admins' keys --
export { createVaults, memoryVaultStore, parseVault, VAULT_FORMAT } from './vault.js';
let vaults = null;
function vaultInstance() {
  vaults ??= createVaults({
    vaultStore: globalThis.indexedDB ? indexedDbVaultStore(globalThis.indexedDB) : memoryVaultStore(),
    sessionStorage: globalThis.sessionStorage,
    keyStore: globalThis.indexedDB ? indexedDbKeyStore(globalThis.indexedDB) : memoryKeyStore(),
  });
  return vaults;
}
export const createVault = (...a) => vaultInstance().createVault(...a);
export const unlockVault = (...a) => vaultInstance().unlockVault(...a);
export const importVault = (...a) => vaultInstance().importVault(...a);
export const storedVaults = (...a) => vaultInstance().storedVaults(...a);
export const currentKeyholder = (...a) => vaultInstance().currentKeyholder(...a);
export const lockVault = (...a) => vaultInstance().lockVault(...a);
export { vaultFileName } from './vault.js';

// -- organization admin (issue 5, organizations): enrollment, invites, pool, totals, reports --
export { FEWER_THAN_5, ORG_ADMIN_ROLE, createOrganizationAdmin } from './organization.js';
let orgAdmin = null;
function orgAdminInstance() {
  orgAdmin ??= createOrganizationAdmin({ fetch: (...a) => globalThis.fetch(...a), vaults: vaultInstance() });
  return orgAdmin;
}
export const orgListOrganizations = (...a) => orgAdminInstance().listOrganizations(...a);
export const orgEnroll = (...a) => orgAdminInstance().enroll(...a);
export const orgOverview = (...a) => orgAdminInstance().organization(...a);
export const orgCreateInvites = (...a) => orgAdminInstance().createInvites(...a);
export const orgListInvites = (...a) => orgAdminInstance().listInvites(...a);
export const orgRevokeInvite = (...a) => orgAdminInstance().revokeInvite(...a);
export const orgListPool = (...a) => orgAdminInstance().listPool(...a);
export const orgSetInPool = (...a) => orgAdminInstance().setInPool(...a);
export const orgTotals = (...a) => orgAdminInstance().totals(...a);
export const orgReports = (...a) => orgAdminInstance().reports(...a);

// -- counselor console (issue 5): enrollment, cases, notes, reports --
export { CASE_STATES, COUNSELOR_ROLE, createCounselorConsole } from './counselor.js';
let counselorConsole = null;
function counselorInstance() {
  counselorConsole ??= createCounselorConsole({ fetch: (...a) => globalThis.fetch(...a), vaults: vaultInstance() });
  return counselorConsole;
}
export const counselorEnroll = (...a) => counselorInstance().enroll(...a);
export const counselorCases = (...a) => counselorInstance().listCases(...a);
export const counselorOpenCase = (...a) => counselorInstance().openCase(...a);
export const counselorSetState = (...a) => counselorInstance().setState(...a);
export const counselorAddNote = (...a) => counselorInstance().addNote(...a);
export const counselorNotes = (...a) => counselorInstance().listNotes(...a);
export const counselorOrganizations = (...a) => counselorInstance().listOrganizations(...a);
export const counselorSendReport = (...a) => counselorInstance().sendReport(...a);

// -- membership tokens (issue 5): member codes, blind issuance, registration tokens --
export { parseTokens, tokenText } from './membership.js';
import { createMembership } from './membership.js';
let membershipClient = null;
function membershipInstance() {
  membershipClient ??= createMembership({ fetch: (...a) => globalThis.fetch(...a), vaults: vaultInstance() });
  return membershipClient;
}
export const membershipIssuer = (...a) => membershipInstance().issuer(...a);
export const getMembershipTokens = (...a) => membershipInstance().getTokens(...a);
export const sendMemberCode = (...a) => membershipInstance().sendMemberCode(...a);
