// The survivor SDK for the browser pages: one instance bound to this page's fetch,
// sessionStorage, localStorage, IndexedDB and location. Pages import the functions
// below; tests build their own instance with createSdk.
import { createSdk } from './sdk.js';
import { indexedDbKeyStore, memoryKeyStore } from './session-store.js';

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
export const quickExit = (...a) => instance().quickExit(...a);
