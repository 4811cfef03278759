"""One-time enrollment codes, shared by counselors' (§13) and organization admins' (§14)
enrollment: 20 Crockford base32 characters (100 bits), shown in groups of four, stored
only as SHA-256(label ‖ normalized code). Each kind of code has its own label, so a code
of one kind never redeems as the other.
"""

from __future__ import annotations

import hashlib
import secrets

from notalone.errors import InputError

DEFAULT_ENROLLMENT_TTL_MS = 7 * 24 * 3600 * 1000
MAX_ENROLLMENT_TTL_MS = 90 * 24 * 3600 * 1000

# The same text for every store, so tests can compare.
ENROLLMENT_REFUSED = (
    "this enrollment code is not valid, already used or expired; ask the operator for a new one"
)

_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_CHARS = 20
_CODE_FOLD = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    """A fresh code, as "XXXX-XXXX-XXXX-XXXX-XXXX"."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_CHARS))
    return "-".join(raw[i : i + 4] for i in range(0, _CODE_CHARS, 4))


def normalize_code(code: str) -> str:
    """Upper case, without spaces or dashes, O→0 and I/L→1 (a code typed from paper);
    "" for anything that cannot be a code (it then matches no stored hash)."""
    if not isinstance(code, str) or len(code) > 64:
        return ""
    cleaned = code.upper().replace("-", "").replace(" ", "").translate(_CODE_FOLD)
    return cleaned if cleaned.isascii() else ""


def code_hash(label: bytes, code: str) -> bytes:
    """The SHA-256 under which a code is stored: of `label` and its normalized form."""
    return hashlib.sha256(label + normalize_code(code).encode("ascii")).digest()


def expiry_ms(now_ms: int, ttl_ms: int | None) -> int:
    """When a code made at `now_ms` expires (InputError for a lifetime out of range)."""
    ttl = DEFAULT_ENROLLMENT_TTL_MS if ttl_ms is None else ttl_ms
    if not 1 <= ttl <= MAX_ENROLLMENT_TTL_MS:
        raise InputError("an enrollment code lasts between 1 s and 90 days")
    return now_ms + ttl
