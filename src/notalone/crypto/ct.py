"""Constant-time comparison: every comparison of secret bytes goes through here."""

from __future__ import annotations

import hmac


def bytes_eq(a: bytes, b: bytes) -> bool:
    """Compare two byte strings in time that depends only on their lengths."""
    return hmac.compare_digest(a, b)
