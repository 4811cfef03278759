"""Unlinkable membership tokens (docs/protocol.md §15): Privacy Pass style, issuer = escrow.

A member of organization O proves membership once (a one-time code mailed to a work
address) and obtains up to N registration tokens by a batched RFC 9497 VOPRF
(ristretto255-SHA512, mode 1) under the organization's issuer key. A token is
`(O, input, output)` with `input` 32 random bytes chosen by the member and `output` =
Finalize(input, …) = Evaluate(sk_O, input). The escrow saw only blinded elements when it
issued, so at redemption it learns "a member of O", not which member.

Key derivation (nothing is stored): `seed = HKDF-SHA-512(server_secret,
"notalone/v1/escrow/member-issuer-seed", 32)`, `(sk_O, pk_O) = DeriveKeyPair(seed,
"notalone/v1/member-issuer" ‖ O)` in mode 1.

Encodings: a token travels as the text `"nmt1-" ‖ hex(O ‖ input ‖ output)` (16 + 32 + 64
bytes); a tokens file is the JSON `{"format": "notalone-membership-tokens-v1",
"organization_id": hex, "issuer_public_key": hex, "tokens": [token text, …]}`.

Pure: no I/O. Randomness (inputs, blinds, proof nonce) may be passed in for vectors.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from notalone.crypto import oprf
from notalone.crypto.ct import bytes_eq
from notalone.crypto.kdf import hkdf_sha512
from notalone.crypto.oprf import Mode
from notalone.errors import EncodingError, InputError, VerificationError

ORGANIZATION_ID_BYTES = 16
TOKEN_INPUT_BYTES = 32
TOKEN_OUTPUT_BYTES = oprf.OUTPUT_BYTES
TOKEN_PREFIX = "nmt1-"  # noqa: S105 - a format marker, not a secret.
TOKENS_FILE_FORMAT = "notalone-membership-tokens-v1"
#: At most this many tokens per issuance request (a deployment's quota may be lower).
MAX_BATCH = 16
#: Member codes: 20 Crockford base32 characters (100 bits), shown in groups of four.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_CHARS = 20
_CODE_FOLD = str.maketrans({"O": "0", "I": "1", "L": "1"})

ISSUER_SEED_LABEL = b"notalone/v1/escrow/member-issuer-seed"
ISSUER_INFO_PREFIX = b"notalone/v1/member-issuer"
PSEUDONYM_KEY_LABEL = b"notalone/v1/escrow/member-pseudonym-key"
PSEUDONYM_LABEL = b"notalone/v1/member-pseudonym|"
CODE_HASH_LABEL = b"notalone/v1/escrow/member-code|"

#: One message for an unknown, expired or used code: the answer is no oracle.
CODE_REFUSED = (
    "this member code is not valid: it may be mistyped, expired or already used; "
    "ask your organization to send a new one"
)
TOKEN_REFUSED = "this membership token is not valid for this organization"  # noqa: S105

Rng = Callable[[int], bytes]


# --------------------------------------------------------------------------- issuer keys


def issuer_seed(server_secret: bytes) -> bytes:
    """The 32-byte seed every organization's issuer key is derived from."""
    if len(server_secret) < 32:
        raise InputError("the server secret must be at least 32 bytes")
    return hkdf_sha512(server_secret, ISSUER_SEED_LABEL, 32)


def issuer_info(organization_id: bytes) -> bytes:
    """DeriveKeyPair's info for organization O: "notalone/v1/member-issuer" ‖ O."""
    _check_organization(organization_id)
    return ISSUER_INFO_PREFIX + organization_id


def issuer_key_pair(seed: bytes, organization_id: bytes) -> tuple[bytes, bytes]:
    """(sk_O, pk_O) = DeriveKeyPair(seed, issuer_info(O)) in VOPRF mode."""
    return oprf.derive_key_pair(seed, issuer_info(organization_id), Mode.VOPRF)


def _check_organization(organization_id: bytes) -> None:
    if not isinstance(organization_id, bytes) or len(organization_id) != ORGANIZATION_ID_BYTES:
        raise EncodingError(f"an organization id is {ORGANIZATION_ID_BYTES} bytes")


# --------------------------------------------------------------------------- server side


def pseudonym_key(server_secret: bytes) -> bytes:
    """The key of member pseudonyms, from the server secret."""
    if len(server_secret) < 32:
        raise InputError("the server secret must be at least 32 bytes")
    return hkdf_sha512(server_secret, PSEUDONYM_KEY_LABEL, 32)


def member_pseudonym(key: bytes, organization_id: bytes, normalized_address: str) -> bytes:
    """HMAC-SHA-256(key, label ‖ O ‖ address): counts a member's tokens without the address."""
    _check_organization(organization_id)
    message = PSEUDONYM_LABEL + organization_id + normalized_address.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).digest()


def normalize_code(code: str) -> str:
    """The canonical member code: upper case, no spaces or dashes, O/I/L read as 0/1;
    InputError(CODE_REFUSED) if it cannot be one."""
    if not isinstance(code, str) or len(code) > 64:
        raise InputError(CODE_REFUSED)
    folded = "".join(c for c in code.upper() if c not in " -\t").translate(_CODE_FOLD)
    if len(folded) != CODE_CHARS or any(c not in CODE_ALPHABET for c in folded):
        raise InputError(CODE_REFUSED)
    return folded


def code_hash(code: str) -> bytes:
    """SHA-256(label ‖ canonical code): how a member code is stored (it has 100 bits)."""
    return hashlib.sha256(CODE_HASH_LABEL + normalize_code(code).encode("ascii")).digest()


def new_code(rng: Rng = secrets.token_bytes) -> str:
    """A fresh member code, in groups of four (XXXX-XXXX-XXXX-XXXX-XXXX)."""
    raw = rng(CODE_CHARS)
    chars = "".join(CODE_ALPHABET[b % len(CODE_ALPHABET)] for b in raw)
    return "-".join(chars[i : i + 4] for i in range(0, CODE_CHARS, 4))


def period_of(now_ms: int) -> str:
    """The issuance period containing `now_ms`: a UTC calendar quarter, "YYYY-Qn"."""
    if isinstance(now_ms, bool) or not isinstance(now_ms, int) or now_ms < 0:
        raise InputError("a time is a non-negative number of milliseconds")
    days = now_ms // 86_400_000
    year, month = _civil_from_days(days)
    return f"{year:04d}-Q{(month - 1) // 3 + 1}"


def _civil_from_days(days: int) -> tuple[int, int]:
    # Howard Hinnant's days-to-civil algorithm (proleptic Gregorian, UTC): no datetime,
    # no time zone database.
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return year, month


def issue(
    secret_key: bytes,
    public_key: bytes,
    blinded: Sequence[bytes],
    *,
    proof_random: bytes | None = None,
) -> tuple[list[bytes], bytes]:
    """The escrow's BlindEvaluate of a batch: (evaluated elements, one DLEQ proof)."""
    if not 1 <= len(blinded) <= MAX_BATCH:
        raise InputError(f"ask for 1 to {MAX_BATCH} tokens at a time")
    evaluated, proof = oprf.blind_evaluate_batch(
        secret_key, list(blinded), Mode.VOPRF, public_key=public_key, proof_random=proof_random
    )
    assert proof is not None  # noqa: S101 - VOPRF always proves.
    return evaluated, proof


def verify_token(secret_key: bytes, token: Token) -> None:
    """VerificationError unless token.output = Evaluate(sk_O, token.input) (constant time)."""
    expected = oprf.evaluate(secret_key, token.input, Mode.VOPRF)
    if not bytes_eq(expected, token.output):
        raise VerificationError(TOKEN_REFUSED)


# --------------------------------------------------------------------------- member side


@dataclass(frozen=True)
class Token:
    """A registration token of organization `organization_id`: spend it once."""

    organization_id: bytes
    input: bytes = field(repr=False)
    output: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_organization(self.organization_id)
        if not isinstance(self.input, bytes) or len(self.input) != TOKEN_INPUT_BYTES:
            raise EncodingError(f"a token input is {TOKEN_INPUT_BYTES} bytes")
        if not isinstance(self.output, bytes) or len(self.output) != TOKEN_OUTPUT_BYTES:
            raise EncodingError(f"a token output is {TOKEN_OUTPUT_BYTES} bytes")

    def to_text(self) -> str:
        """ "nmt1-" ‖ hex(O ‖ input ‖ output)."""
        return TOKEN_PREFIX + (self.organization_id + self.input + self.output).hex()

    @classmethod
    def from_text(cls, text: str) -> Token:
        """Parse `to_text`'s form (surrounding white space allowed); EncodingError if not."""
        size = ORGANIZATION_ID_BYTES + TOKEN_INPUT_BYTES + TOKEN_OUTPUT_BYTES
        body = text.strip() if isinstance(text, str) else ""
        hex_part = body[len(TOKEN_PREFIX) :]
        if not body.startswith(TOKEN_PREFIX) or len(hex_part) != 2 * size:
            raise EncodingError("a membership token is 'nmt1-' followed by 224 hex digits")
        try:
            raw = bytes.fromhex(hex_part)
        except ValueError as e:
            raise EncodingError("a membership token is 'nmt1-' followed by 224 hex digits") from e
        o, rest = raw[:ORGANIZATION_ID_BYTES], raw[ORGANIZATION_ID_BYTES:]
        return cls(o, rest[:TOKEN_INPUT_BYTES], rest[TOKEN_INPUT_BYTES:])


@dataclass(frozen=True)
class PendingTokens:
    """The member's state between asking for tokens and receiving them."""

    organization_id: bytes
    inputs: tuple[bytes, ...] = field(repr=False)
    blinds: tuple[bytes, ...] = field(repr=False)
    blinded: tuple[bytes, ...]


def blind_tokens(
    organization_id: bytes,
    count: int,
    *,
    rng: Rng = secrets.token_bytes,
    blinds: Sequence[bytes] | None = None,
) -> PendingTokens:
    """Draw `count` random inputs and blind them; send `.blinded` to the escrow."""
    _check_organization(organization_id)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_BATCH:
        raise InputError(f"ask for 1 to {MAX_BATCH} tokens at a time")
    if blinds is not None and len(blinds) != count:
        raise InputError("one blind is needed per token")
    inputs = tuple(rng(TOKEN_INPUT_BYTES) for _ in range(count))
    pairs = [
        oprf.blind(x, Mode.VOPRF, blind_scalar=None if blinds is None else blinds[i])
        for i, x in enumerate(inputs)
    ]
    return PendingTokens(
        organization_id, inputs, tuple(r for r, _ in pairs), tuple(b for _, b in pairs)
    )


def finalize_tokens(
    pending: PendingTokens, public_key: bytes, evaluated: Sequence[bytes], proof: bytes
) -> list[Token]:
    """Verify the escrow's batch proof against pk_O and unblind: the tokens.

    ProofError if the proof does not verify (the escrow used another key than the one it
    publishes, which could mark this member); EncodingError for a malformed answer.
    """
    if len(evaluated) != len(pending.inputs):
        raise EncodingError("the escrow answered the wrong number of elements")
    outputs = oprf.finalize_batch(
        pending.inputs,
        pending.blinds,
        evaluated,
        Mode.VOPRF,
        blinded_elements=pending.blinded,
        proof=proof,
        public_key=public_key,
    )
    return [
        Token(pending.organization_id, x, y) for x, y in zip(pending.inputs, outputs, strict=True)
    ]


def tokens_file(tokens: Sequence[Token], issuer_public_key: bytes) -> str:
    """The JSON tokens file of one organization's tokens."""
    if not tokens:
        raise InputError("a tokens file holds at least one token")
    organization_id = tokens[0].organization_id
    if any(t.organization_id != organization_id for t in tokens):
        raise InputError("a tokens file holds the tokens of one organization")
    document = {
        "format": TOKENS_FILE_FORMAT,
        "organization_id": organization_id.hex(),
        "issuer_public_key": issuer_public_key.hex(),
        "tokens": [t.to_text() for t in tokens],
    }
    return json.dumps(document, indent=2) + "\n"


def parse_tokens(text: str) -> list[Token]:
    """The tokens of a tokens file, or of one token text; EncodingError if neither."""
    stripped = text.strip() if isinstance(text, str) else ""
    if stripped.startswith(TOKEN_PREFIX):
        return [Token.from_text(stripped)]
    try:
        document = json.loads(stripped)
    except ValueError as e:
        raise EncodingError("this is neither a membership token nor a tokens file") from e
    if not isinstance(document, dict) or document.get("format") != TOKENS_FILE_FORMAT:
        raise EncodingError(f"a tokens file has format {TOKENS_FILE_FORMAT!r}")
    listed = document.get("tokens")
    if not isinstance(listed, list) or not listed or not all(isinstance(t, str) for t in listed):
        raise EncodingError("a tokens file lists its tokens as texts")
    return [Token.from_text(t) for t in listed]
