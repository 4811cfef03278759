"""The key server: one share of the threshold VOPRF, behind the escrow's evaluation tickets.

It depends on the core and a quota store only (docs/keyserver.md is the operator guide):

- `keyfile`: dealing keys and the share files (`deal_keys`, `write_dealt_keys`,
  `load_key_file`, `load_federation_file`, `load_ticket_issuer`);
- `app`: the HTTP API (`create_app(settings, quota_store)`).
"""

from __future__ import annotations

from notalone.keyserver.app import KeyServerSettings, create_app
from notalone.keyserver.keyfile import (
    DealtKeys,
    Deployment,
    FederationInfo,
    KeyServerKey,
    deal_keys,
    load_federation_file,
    load_key_file,
    load_ticket_issuer,
    write_dealt_keys,
)

__all__ = [
    "DealtKeys",
    "Deployment",
    "FederationInfo",
    "KeyServerKey",
    "KeyServerSettings",
    "create_app",
    "deal_keys",
    "load_federation_file",
    "load_key_file",
    "load_ticket_issuer",
    "write_dealt_keys",
]
