"""Case notes: sealed to the counselor's own key, bound to counselor and match."""

from __future__ import annotations

import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notalone.crypto import hpke
from notalone.errors import DecryptionError, EncodingError, InputError, VersionError
from notalone.protocol import casework

PRIVATE, PUBLIC = hpke.generate_key_pair()
MATCH = bytes(range(16))


@settings(max_examples=25, deadline=None)
@given(st.text(min_size=1, max_size=200))
def test_a_note_round_trips(text: str) -> None:
    try:
        expected = text.encode("utf-8")
    except UnicodeEncodeError:
        with pytest.raises(InputError):
            casework.seal_case_note(PUBLIC, "c-ana", MATCH, text)
        return
    sealed = casework.seal_case_note(PUBLIC, "c-ana", MATCH, text)
    assert sealed[:1] == b"\x01"
    assert len(sealed) == 1 + hpke.OVERHEAD + len(expected)
    assert casework.open_case_note(PRIVATE, "c-ana", MATCH, sealed) == text


def test_the_info_is_label_counselor_match() -> None:
    assert casework.case_note_info("c-ana", MATCH) == b"notalone/v1/case-note" + b"c-ana" + MATCH
    sealed = casework.seal_case_note(PUBLIC, "c-ana", MATCH, "called back")
    info = b"notalone/v1/case-note" + b"c-ana" + MATCH
    assert hpke.open_(PRIVATE, sealed[1:], info) == b"called back"


def test_a_note_is_bound_to_its_counselor_match_and_key() -> None:
    sealed = casework.seal_case_note(PUBLIC, "c-ana", MATCH, "text")
    other_private, _ = hpke.generate_key_pair()
    with pytest.raises(DecryptionError):
        casework.open_case_note(PRIVATE, "c-ben", MATCH, sealed)
    with pytest.raises(DecryptionError):
        casework.open_case_note(PRIVATE, "c-ana", secrets.token_bytes(16), sealed)
    with pytest.raises(DecryptionError):
        casework.open_case_note(other_private, "c-ana", MATCH, sealed)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(DecryptionError):
        casework.open_case_note(PRIVATE, "c-ana", MATCH, tampered)


def test_text_limits() -> None:
    longest = "a" * casework.MAX_TEXT_BYTES
    sealed = casework.seal_case_note(PUBLIC, "c-ana", MATCH, longest)
    assert len(sealed) == casework.MAX_SEALED_BYTES
    assert casework.open_case_note(PRIVATE, "c-ana", MATCH, sealed) == longest
    with pytest.raises(InputError):
        casework.seal_case_note(PUBLIC, "c-ana", MATCH, longest + "a")
    with pytest.raises(InputError):
        casework.seal_case_note(PUBLIC, "c-ana", MATCH, "")
    with pytest.raises(InputError):
        casework.seal_case_note(PUBLIC, "c-ana", MATCH, b"bytes")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        casework.seal_case_note(PUBLIC, "c-ana", MATCH, "\ud800")


@pytest.mark.parametrize("counselor_id", ["", "-x", "a" * 65, "é", 7])
def test_bad_counselor_ids_are_refused(counselor_id: object) -> None:
    with pytest.raises(InputError):
        casework.case_note_info(counselor_id, MATCH)  # type: ignore[arg-type]


@pytest.mark.parametrize("match_id", [b"", bytes(15), bytes(17), "00" * 16])
def test_bad_match_ids_are_refused(match_id: object) -> None:
    with pytest.raises(EncodingError):
        casework.case_note_info("c-ana", match_id)  # type: ignore[arg-type]


def test_bad_sealed_notes_are_refused() -> None:
    sealed = casework.seal_case_note(PUBLIC, "c-ana", MATCH, "text")
    with pytest.raises(VersionError):
        casework.open_case_note(PRIVATE, "c-ana", MATCH, b"\x02" + sealed[1:])
    with pytest.raises(VersionError):
        casework.open_case_note(PRIVATE, "c-ana", MATCH, b"")
    with pytest.raises(EncodingError):
        casework.open_case_note(PRIVATE, "c-ana", MATCH, b"\x01" + bytes(10))
    with pytest.raises(EncodingError):
        casework.open_case_note(PRIVATE, "c-ana", MATCH, sealed.hex())  # type: ignore[arg-type]
    with pytest.raises(EncodingError):
        casework.open_case_note(PRIVATE, "c-ana", MATCH, b"\x01" * (casework.MAX_SEALED_BYTES + 1))


def test_a_box_of_invalid_utf8_is_refused() -> None:
    info = casework.case_note_info("c-ana", MATCH)
    sealed = b"\x01" + hpke.seal(PUBLIC, b"\xff\xfe", info)
    with pytest.raises(EncodingError):
        casework.open_case_note(PRIVATE, "c-ana", MATCH, sealed)
