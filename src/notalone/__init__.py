"""NotAlone: an allegation escrow for survivors of sexual harassment and assault."""

from __future__ import annotations

__version__ = "0.1.0"

PROTOCOL_VERSION = "notalone/v1"
