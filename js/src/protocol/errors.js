// The error tree of notalone/v1, mirroring src/notalone/errors.py.
//
//     NotAloneError
//     ├── InputError              bad input from a user or a peer; nothing was changed
//     │   ├── ConflictError       the request conflicts with what is stored
//     │   ├── IdentifierError     an identifier cannot be canonicalized
//     │   ├── EncodingError       bytes of the wrong length, version or format
//     │   └── InvalidElementError a group element is non-canonical or the identity
//     ├── VerificationError       a cryptographic check failed
//     │   ├── ProofError, DecryptionError, MerkleProofError, SignatureError, TicketError
//     ├── ProtocolError           the parties disagree about the protocol's state
//     │   ├── ThresholdError, VersionError
//     ├── LimitError              a rate, quota or size limit was reached; retry later
//     └── UnavailableError        a server could not be reached or failed; retry later
//
// Every error carries a stable `code` (for the pages to branch on) and a message meant for
// the survivor. Messages never contain an identifier, contact, record text, passphrase or
// key: callers pass fixed texts only, never user input.

export class NotAloneError extends Error {
  constructor(message, { code, cause } = {}) {
    super(message);
    // `name` comes from the prototype (set below), not from the class's own name, which
    // a minifier renames.
    this.code = code ?? defaultCode(this.name);
    // A cause from a library may quote its input, so it is kept off the error unless the
    // caller says it is safe (only transport errors are).
    if (cause !== undefined) this.cause = cause;
  }
}

function defaultCode(name) {
  return name.replace(/Error$/, '').replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase() || 'error';
}

export class InputError extends NotAloneError {}
export class ConflictError extends InputError {}
export class EncodingError extends InputError {}
export class InvalidElementError extends InputError {}
export class IdentifierError extends InputError {
  /** `code` names the rule (e.g. "email.missing_at"); `kind` the identifier kind. */
  constructor(kind, code, message) {
    super(message, { code });
    this.kind = kind;
  }
}
export class VerificationError extends NotAloneError {}
export class ProofError extends VerificationError {}
export class DecryptionError extends VerificationError {}
export class MerkleProofError extends VerificationError {}
export class SignatureError extends VerificationError {}
export class TicketError extends VerificationError {}
export class ProtocolError extends NotAloneError {}
export class ThresholdError extends ProtocolError {}
export class VersionError extends ProtocolError {}
export class LimitError extends NotAloneError {}
export class UnavailableError extends NotAloneError {}

// Explicit names, so that `error.name` survives minification.
for (const [name, cls] of Object.entries({
  NotAloneError, InputError, ConflictError, EncodingError, InvalidElementError, IdentifierError,
  VerificationError, ProofError, DecryptionError, MerkleProofError, SignatureError, TicketError,
  ProtocolError, ThresholdError, VersionError, LimitError, UnavailableError,
})) {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
}
