"""Formal reports: sealed to the organization's intake key, bound to organization and match."""

from __future__ import annotations

import secrets

import pytest

from notalone.crypto import hpke
from notalone.errors import DecryptionError, EncodingError, InputError
from notalone.protocol import reports

PRIVATE, PUBLIC = hpke.generate_key_pair()
ORG = bytes(range(16))
MATCH = bytes(range(16, 32))


def test_a_report_round_trips_and_its_info_is_label_org_match() -> None:
    text = "Formal report: three survivors named the same person. Ünïcode ok."
    sealed = reports.seal_report(PUBLIC, ORG, MATCH, text)
    assert sealed[:1] == b"\x01"
    assert reports.open_report(PRIVATE, ORG, MATCH, sealed) == text
    assert reports.report_info(ORG, MATCH) == b"notalone/v1/report" + ORG + MATCH
    assert hpke.open_(PRIVATE, sealed[1:], b"notalone/v1/report" + ORG + MATCH) == text.encode()


def test_a_report_is_bound_to_its_organization_and_match() -> None:
    sealed = reports.seal_report(PUBLIC, ORG, MATCH, "text")
    with pytest.raises(DecryptionError):
        reports.open_report(PRIVATE, secrets.token_bytes(16), MATCH, sealed)
    with pytest.raises(DecryptionError):
        reports.open_report(PRIVATE, ORG, secrets.token_bytes(16), sealed)
    with pytest.raises(DecryptionError):
        reports.open_report(hpke.generate_key_pair()[0], ORG, MATCH, sealed)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(EncodingError):
        reports.seal_report(PUBLIC, bytes(15), MATCH, "text")
    with pytest.raises(EncodingError):
        reports.open_report(PRIVATE, ORG, bytes(17), b"\x01" + bytes(60))
    with pytest.raises(InputError):
        reports.seal_report(PUBLIC, ORG, MATCH, "")
    with pytest.raises(EncodingError):
        reports.seal_report(bytes(31), ORG, MATCH, "text")
