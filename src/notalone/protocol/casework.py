"""Case notes (docs/protocol.md §13): a counselor's notes, sealed to their own X25519 key.

The counselor's browser seals each note with HPKE base mode to the counselor's public key;
the escrow stores the sealed note and can open none of them. `info` binds a note to its
counselor and match, so a note cannot be moved to another case, or to another counselor's
notes, without failing to open:

    info   = "notalone/v1/case-note" ‖ counselor_id (ASCII) ‖ match_id (16)
    sealed = 0x01 ‖ HPKE.Seal(pk_counselor, info, UTF-8(text))

The counselor id is the only variable-length part and match_id (fixed length) ends the
string, so the concatenation is unambiguous. Formal reports (`notalone.protocol.reports`)
use the same framing under their own label.
"""

from __future__ import annotations

import re

from notalone.crypto import hpke
from notalone.errors import EncodingError, InputError, VersionError

VERSION = b"\x01"
MATCH_ID_BYTES = 16
#: A sealed note or report is at most this many bytes (the storage limit).
MAX_SEALED_BYTES = 65536
#: The longest text that fits: the version byte and HPKE's enc and tag come on top.
MAX_TEXT_BYTES = MAX_SEALED_BYTES - len(VERSION) - hpke.OVERHEAD
INFO_CASE_NOTE = b"notalone/v1/case-note"
_COUNSELOR_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def case_note_info(counselor_id: str, match_id: bytes) -> bytes:
    """The HPKE info of a case note of `counselor_id` about `match_id`."""
    if not isinstance(counselor_id, str) or not _COUNSELOR_ID.fullmatch(counselor_id):
        raise InputError("a counselor id is 1 to 64 ASCII letters, digits, '.', '_' or '-'")
    return INFO_CASE_NOTE + counselor_id.encode("ascii") + check_id(match_id, "a match id")


def seal_case_note(public_key: bytes, counselor_id: str, match_id: bytes, text: str) -> bytes:
    """Counselor: seal a note about a match to their own public key."""
    return seal_text(public_key, case_note_info(counselor_id, match_id), text)


def open_case_note(private_key: bytes, counselor_id: str, match_id: bytes, sealed: bytes) -> str:
    """Counselor: open one of their notes; DecryptionError if it is not theirs for it."""
    return open_text(private_key, case_note_info(counselor_id, match_id), sealed)


def seal_text(public_key: bytes, info: bytes, text: str) -> bytes:
    """0x01 ‖ HPKE.Seal(public_key, info, UTF-8(text)); the text is 1 byte to the limit."""
    if not isinstance(text, str):
        raise InputError("a note or report is text")
    try:
        plaintext = text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InputError("the text contains an unpaired surrogate character") from e
    if not 1 <= len(plaintext) <= MAX_TEXT_BYTES:
        raise InputError(f"a note or report is 1 to {MAX_TEXT_BYTES} bytes of UTF-8")
    return VERSION + hpke.seal(public_key, plaintext, info)


def open_text(private_key: bytes, info: bytes, sealed: bytes) -> str:
    """The text of a `seal_text` box; VersionError, EncodingError or DecryptionError."""
    if not isinstance(sealed, bytes) or len(sealed) > MAX_SEALED_BYTES:
        raise EncodingError(f"a sealed note or report is at most {MAX_SEALED_BYTES} bytes")
    if sealed[:1] != VERSION:
        raise VersionError("unknown sealed note or report version; this version reads 0x01")
    plaintext = hpke.open_(private_key, sealed[1:], info)
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError as e:
        raise EncodingError("the note or report is not valid UTF-8") from e


def check_id(value: bytes, what: str) -> bytes:
    """`value` if it is a 16-byte id, else EncodingError."""
    if not isinstance(value, bytes) or len(value) != MATCH_ID_BYTES:
        raise EncodingError(f"{what} is {MATCH_ID_BYTES} bytes")
    return value
