"""The JSON form of a key-server federation, shared by key files, the escrow and clients.

    {"threshold": τ, "public_key": hex(pk), "shares": [{"index": i, "public_key": hex(pk_i)}, …]}

Parsing checks the shape (integers in range, 32-byte lower-case hex) and then that the
public keys fit together (`threshold.verify_federation`), and returns the shares sorted
by index, so two parses of one federation compare equal however the list was ordered.
"""

from __future__ import annotations

from typing import Any

from notalone.crypto import group
from notalone.crypto.threshold import MAX_SERVERS, Federation, verify_federation
from notalone.errors import EncodingError


def federation_to_json(federation: Federation) -> dict[str, Any]:
    """The JSON object of a federation (bytes as lower-case hex)."""
    return {
        "threshold": federation.threshold,
        "public_key": federation.public_key.hex(),
        "shares": [
            {"index": index, "public_key": public_key.hex()}
            for index, public_key in federation.share_public_keys
        ],
    }


def federation_from_json(value: object) -> Federation:
    """Parse and check a federation object; EncodingError if malformed, ThresholdError if
    its public keys do not fit together."""
    if not isinstance(value, dict):
        raise EncodingError("'federation' must be an object")
    shares = value.get("shares")
    if not isinstance(shares, list) or not shares:
        raise EncodingError("'federation.shares' must be a non-empty list")
    entries = []
    for entry in shares:
        if not isinstance(entry, dict):
            raise EncodingError("each entry of 'federation.shares' must be an object")
        entries.append((_index(entry, "index"), _element(entry, "public_key")))
    federation = Federation(
        threshold=_index(value, "threshold"),
        public_key=_element(value, "public_key"),
        share_public_keys=tuple(sorted(entries)),
    )
    verify_federation(federation)
    return federation


def _index(document: dict[str, Any], name: str) -> int:
    value = document.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SERVERS:
        raise EncodingError(f"'{name}' must be an integer from 1 to {MAX_SERVERS}")
    return value


def _element(document: dict[str, Any], name: str) -> bytes:
    value = document.get(name)
    length = group.ELEMENT_BYTES
    if not isinstance(value, str) or len(value) != 2 * length or value != value.lower():
        raise EncodingError(f"'{name}' must be {length} bytes as lower-case hex")
    try:
        return bytes.fromhex(value)
    except ValueError as e:
        raise EncodingError(f"'{name}' must be {length} bytes as lower-case hex") from e
