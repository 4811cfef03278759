"""The Python SDK a survivor's or counselor's device runs (the CLI is built on it).

It talks HTTP to the servers and shares only the core (errors, crypto, protocol) with
them; it imports nothing of the servers' own code.

- `keyservers`: `KeyServerClient` (one key server) and `FederationClient` (τ of n,
  pinned by the deployment's federation.json; blinds, verifies, combines);
- `entries`: `prepare_entry`, which turns identifiers as typed into slots, one OPRF
  batch per entry.
"""

from __future__ import annotations

from notalone.client.entries import IdentifierSpec, PreparedEntry, prepare_entry
from notalone.client.keyservers import (
    FederationClient,
    KeyServerClient,
    KeyServerKeys,
    KeyServerUnavailableError,
    ServerEvent,
)

__all__ = [
    "FederationClient",
    "IdentifierSpec",
    "KeyServerClient",
    "KeyServerKeys",
    "KeyServerUnavailableError",
    "PreparedEntry",
    "ServerEvent",
    "prepare_entry",
]
