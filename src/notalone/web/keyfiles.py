"""Reading the files `notalone deal-keys` writes, for the escrow's settings.

The web layer may not import `notalone.keyserver` (layering), so this is the escrow's own
small reader of the two files it needs (formats in `notalone.keyserver.keyfile`):

- `federation.json` (public): {"v": 1, "kind": "notalone/federation", "suite", "mode",
  "federation": {"threshold", "public_key", "shares": [{"index", "public_key"}]},
  "deployment_id", "ticket_public_key", "ticket_period_ms"};
- `escrow-ticket-key.json` (secret): {"v": 1, "kind": "notalone/escrow-ticket-key",
  "private_key", "ticket_secret", "deployment_id", "ticket_public_key", "ticket_period_ms"}.

Both readers return settings values in the form `EscrowSettings.from_mapping` takes
(hex strings, the federation object), so that a config file may give them inline instead.
The federation is checked here (`verify_federation`); the keys by the settings. Errors
name the file and the member, never a value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from notalone.crypto.oprf import SUITE_ID
from notalone.crypto.threshold import MODE
from notalone.errors import EncodingError, VersionError
from notalone.protocol.federation import federation_from_json

FORMAT_VERSION = 1
FEDERATION_KIND = "notalone/federation"
TICKET_KEY_KIND = "notalone/escrow-ticket-key"


def read_federation_file(path: Path) -> dict[str, Any]:
    """federation.json as settings: federation, deployment_id, ticket_public_key, period."""
    document = _read(path, FEDERATION_KIND)
    if document.get("suite") != SUITE_ID.decode() or document.get("mode") != int(MODE):
        raise EncodingError(f"{path}: the federation is for another OPRF suite or mode")
    try:
        federation_from_json(document.get("federation"))
        return _deployment(document) | {"federation": document["federation"]}
    except EncodingError as e:
        raise EncodingError(f"{path}: {e}") from e


def read_ticket_key_file(path: Path) -> dict[str, Any]:
    """escrow-ticket-key.json as settings: the ticket signing key and pseudonym secret."""
    document = _read(path, TICKET_KEY_KIND)
    try:
        return _deployment(document) | {
            "ticket_signing_key": _hex(document, "private_key", 32),
            "ticket_secret": _hex(document, "ticket_secret", 32),
        }
    except EncodingError as e:
        raise EncodingError(f"{path}: {e}") from e


def _read(path: Path, kind: str) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise EncodingError(f"{path}: no such file") from e
    except (OSError, UnicodeDecodeError) as e:
        raise EncodingError(f"{path}: cannot be read ({type(e).__name__})") from e
    except json.JSONDecodeError as e:
        raise EncodingError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from e
    if not isinstance(document, dict):
        raise EncodingError(f"{path}: expected a JSON object")
    if document.get("v") != FORMAT_VERSION:
        raise VersionError(f"{path}: unknown key file version; this version reads 1")
    if document.get("kind") != kind:
        raise EncodingError(f"{path}: expected a {kind!r} file")
    return document


def _deployment(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "deployment_id": _hex(document, "deployment_id", 16),
        "ticket_public_key": _hex(document, "ticket_public_key", 32),
        "ticket_period_ms": _int(document, "ticket_period_ms", 1_000, 366 * 86_400_000),
    }


def _hex(document: dict[str, Any], name: str, length: int) -> str:
    value = document.get(name)
    if not isinstance(value, str) or len(value) != 2 * length or value != value.lower():
        raise EncodingError(f"'{name}' must be {length} bytes as lower-case hex")
    try:
        bytes.fromhex(value)
    except ValueError as e:
        raise EncodingError(f"'{name}' must be {length} bytes as lower-case hex") from e
    return value


def _int(document: dict[str, Any], name: str, low: int, high: int) -> int:
    value = document.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise EncodingError(f"'{name}' must be an integer from {low} to {high}")
    return value
