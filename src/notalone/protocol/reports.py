"""Formal reports (docs/protocol.md §13.4): sealed to an organization's intake key.

A counselor, with their survivor, writes a report about a match; the counselor's browser
seals it to the organization's X25519 intake key, and only an admin of that organization
opens it, in their browser. `info` binds the report to the organization and the match, so
the escrow cannot redirect it to another organization or present it as another match's:

    info   = "notalone/v1/report" ‖ organization_id (16) ‖ match_id (16)
    sealed = 0x01 ‖ HPKE.Seal(pk_organization, info, UTF-8(text))
"""

from __future__ import annotations

from notalone.protocol.casework import check_id, open_text, seal_text

INFO_REPORT = b"notalone/v1/report"


def report_info(organization_id: bytes, match_id: bytes) -> bytes:
    """The HPKE info of a report to `organization_id` about `match_id`."""
    return (
        INFO_REPORT
        + check_id(organization_id, "an organization id")
        + check_id(match_id, "a match id")
    )


def seal_report(org_public_key: bytes, organization_id: bytes, match_id: bytes, text: str) -> bytes:
    """Counselor: seal a report to the organization's intake key."""
    return seal_text(org_public_key, report_info(organization_id, match_id), text)


def open_report(private_key: bytes, organization_id: bytes, match_id: bytes, sealed: bytes) -> str:
    """Organization admin: open a report sent to their organization about `match_id`."""
    return open_text(private_key, report_info(organization_id, match_id), sealed)
