"""Every error NotAlone raises on purpose, in one tree.

Messages say what went wrong and what to do about it, and never contain a secret:
no identifier, contact, record text, passphrase or key material appears in one.
Only the web layer maps these to HTTP statuses.

    NotAloneError
    ├── InputError                 bad input from a user or a peer; nothing was changed
    │   ├── ConflictError          the request conflicts with what is stored (taken name, …)
    │   ├── IdentifierError        an identifier cannot be canonicalized (says what to fix)
    │   ├── EncodingError          bytes of the wrong length, version or format
    │   └── InvalidElementError    a group element is non-canonical or the identity
    ├── VerificationError          a cryptographic check failed
    │   ├── ProofError             a DLEQ proof does not verify
    │   ├── DecryptionError        an AEAD or HPKE ciphertext does not open
    │   ├── MerkleProofError       an inclusion or consistency proof does not verify
    │   ├── SignatureError         an Ed25519 signature does not verify
    │   └── TicketError            an evaluation ticket is expired, early or for elsewhere
    ├── ProtocolError              the parties disagree about the protocol's state
    │   ├── ThresholdError         too few, duplicate or inconsistent shares
    │   └── VersionError           a message or blob carries an unknown version marker
    ├── LimitError                 a rate, quota or size limit was reached; retry later
    └── UnavailableError           a server could not be reached or failed; retry later
"""

from __future__ import annotations


class NotAloneError(Exception):
    """The root of every error NotAlone raises on purpose."""


class InputError(NotAloneError):
    """Bad input from a user or a peer; nothing was changed."""


class ConflictError(InputError):
    """The request conflicts with what is stored: a taken username, a reused idempotency key."""


class IdentifierError(InputError):
    """An identifier cannot be canonicalized; the message says what to fix."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class EncodingError(InputError):
    """Bytes of the wrong length, version or format."""


class InvalidElementError(InputError):
    """A ristretto255 element is non-canonical, invalid or the identity."""


class VerificationError(NotAloneError):
    """A cryptographic check failed."""


class ProofError(VerificationError):
    """A DLEQ proof does not verify."""


class DecryptionError(VerificationError):
    """An AEAD or HPKE ciphertext does not open under the given key and context."""


class MerkleProofError(VerificationError):
    """An inclusion or consistency proof does not verify."""


class SignatureError(VerificationError):
    """An Ed25519 signature does not verify."""


class TicketError(VerificationError):
    """An evaluation ticket is expired, not yet valid, or for another deployment."""


class ProtocolError(NotAloneError):
    """The parties disagree about the protocol's state."""


class ThresholdError(ProtocolError):
    """Too few, duplicate or inconsistent shares for a threshold operation."""


class VersionError(ProtocolError):
    """A message or stored blob carries an unknown version marker."""


class LimitError(NotAloneError):
    """A rate, quota or size limit was reached; the message says when to retry if known."""

    def __init__(self, message: str, retry_after_seconds: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class UnavailableError(NotAloneError):
    """A server could not be reached or answered with a server error; retry later."""
