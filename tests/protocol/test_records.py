"""Records and entry copies: canonical JSON, binding associated data, tamper evidence."""

from __future__ import annotations

import hashlib
import json
import struct
from collections import OrderedDict
from types import MappingProxyType

import pysodium
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notalone.crypto.kdf import hkdf_sha512
from notalone.errors import DecryptionError, EncodingError, InputError, VersionError
from notalone.protocol import records
from notalone.protocol.accounts import DataKey
from notalone.protocol.records import (
    JSONInput,
    JSONValue,
    RecordContent,
    canonical_json,
    decrypt_entry_copy,
    decrypt_record_history,
    decrypt_record_version,
    encrypt_entry_copy,
    encrypt_record_version,
    new_record_id,
    parse_json,
)

KEY = DataKey(bytes(range(32)))
OTHER_KEY = DataKey(bytes(range(1, 33)))
RECORD_ID = bytes(range(16))
ENTRY_ID = bytes(range(16, 32))
CONTENT = RecordContent(
    who="the manager",
    what="he followed me",
    when="spring 2023",
    where="studio B",
    witnesses=("Ana", "Bo"),
    text="Dear diary \u2013 \u00e9 \U0001f33f",
)
ENTRY: dict[str, JSONValue] = {"v": 1, "counselor": "c-7", "identifiers": ["email:x@example.org"]}


def test_domain_separation_strings_are_pinned() -> None:
    assert records.RECORD_KEY_INFO == b"notalone/v1/record-key"
    assert records.ENTRY_COPY_KEY_INFO == b"notalone/v1/entry-copy-key"
    assert records.RECORD_AD_LABEL == b"notalone/v1/record"
    assert records.ENTRY_COPY_AD_LABEL == b"notalone/v1/entry-copy"
    assert records.MAX_PLAINTEXT_BYTES == 1024 * 1024
    # Neither label is a prefix of the other, so with fixed-length ids the two kinds of
    # associated data can never be equal.
    assert not records.ENTRY_COPY_AD_LABEL.startswith(records.RECORD_AD_LABEL)
    assert not records.RECORD_AD_LABEL.startswith(records.ENTRY_COPY_AD_LABEL)


# --------------------------------------------------------------------------- vectors

RECORD_VECTOR = (
    "016465666768696a6b6c6d6e6f707172737475767778797a7b563ff6888a68aaac693af488423f406d"
    "43d25578888ac430f68692c208244af02e479ed3439520cef043dc5f5a42b249abe112036423c6eeb0"
    "3f1b32ba1bdf45412568244052b18b1e330b18c96492a131abfcbe5201a00690c299f1e662e2b42c11"
    "545127cffdcc0c6ae3d9899daa94b5e68dc5656145e9fd91fe03acac381aec2b0ff2bd76f61b3b9ff2"
    "e4c3437953d258909095f9dd2149ec25ec19bfc5eec7bf52f2"
)
ENTRY_VECTOR = (
    "01000102030405060708090a0b0c0d0e0f10111213141516177cf5d95b9a02fd971c25ac1621e573f1"
    "60b443a281c19a375d9e6e947de03c0fc8182e80ba829ec4bb99d63848d96a2c255cc64cb71714c9f9"
    "b94e5b2aa1230b0f1abafc2c86519392d646547c03bf"
)
CONTENT_JSON = (
    '{"text":"Dear diary \u2013 \u00e9 \U0001f33f","v":1,"what":"he followed me",'
    '"when":"spring 2023","where":"studio B","who":"the manager","witnesses":["Ana","Bo"]}'
).encode()


def test_record_vector() -> None:
    nonce = bytes(range(100, 124))
    blob = encrypt_record_version(KEY, RECORD_ID, 2, CONTENT, nonce=nonce)
    assert blob.hex() == RECORD_VECTOR
    assert decrypt_record_version(KEY, RECORD_ID, 2, blob) == CONTENT


def test_record_follows_the_specification() -> None:
    nonce = bytes(range(100, 124))
    assert CONTENT.to_json() == CONTENT_JSON
    key = hkdf_sha512(KEY.key, b"notalone/v1/record-key", 32)
    ad = b"notalone/v1/record" + RECORD_ID + (2).to_bytes(4, "big")
    body = pysodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        CONTENT_JSON, b"\x01" + ad, nonce, key
    )
    assert (b"\x01" + nonce + body).hex() == RECORD_VECTOR


def test_entry_copy_vector_and_specification() -> None:
    nonce = bytes(range(24))
    blob = encrypt_entry_copy(KEY, ENTRY_ID, ENTRY, nonce=nonce)
    assert blob.hex() == ENTRY_VECTOR
    plaintext = b'{"counselor":"c-7","identifiers":["email:x@example.org"],"v":1}'
    key = hkdf_sha512(KEY.key, b"notalone/v1/entry-copy-key", 32)
    ad = b"notalone/v1/entry-copy" + ENTRY_ID
    body = pysodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, b"\x01" + ad, nonce, key)
    assert b"\x01" + nonce + body == blob
    assert decrypt_entry_copy(KEY, ENTRY_ID, blob) == ENTRY


def test_the_blob_is_what_a_receipt_hashes() -> None:
    # The blob carries its version byte, nonce, ciphertext and tag: hashing it pins all of
    # them, and nothing else is needed to recompute the receipt's digest.
    blob = encrypt_record_version(KEY, RECORD_ID, 1, CONTENT)
    assert blob[0] == 1
    assert len(blob) == 1 + 24 + len(CONTENT.to_json()) + 16
    again = encrypt_record_version(KEY, RECORD_ID, 1, CONTENT)
    assert hashlib.sha256(blob).digest() != hashlib.sha256(again).digest()  # fresh nonces


# --------------------------------------------------------------------------- round trips


def test_record_history_round_trips() -> None:
    versions = [RecordContent(text=f"draft {n}") for n in range(1, 4)]
    blobs = [encrypt_record_version(KEY, RECORD_ID, n, c) for n, c in enumerate(versions, 1)]
    assert decrypt_record_history(KEY, RECORD_ID, blobs) == versions


def test_empty_record_round_trips() -> None:
    blob = encrypt_record_version(KEY, RECORD_ID, 1, RecordContent())
    assert decrypt_record_version(KEY, RECORD_ID, 1, blob) == RecordContent()


def test_new_record_id() -> None:
    assert len(new_record_id()) == 16
    assert new_record_id() != new_record_id()
    assert new_record_id(lambda n: b"\x07" * n) == b"\x07" * 16
    with pytest.raises(EncodingError, match="16 bytes"):
        new_record_id(lambda n: bytes(n + 1))


_text = st.text(st.characters(codec="utf-8"), max_size=200)


@settings(max_examples=100, deadline=None)
@given(
    who=_text,
    what=_text,
    when=_text,
    where=_text,
    witnesses=st.lists(_text, max_size=5),
    text=_text,
    version=st.integers(1, 2**32 - 1),
)
def test_any_record_round_trips(
    who: str, what: str, when: str, where: str, witnesses: list[str], text: str, version: int
) -> None:
    content = RecordContent(who, what, when, where, tuple(witnesses), text)
    blob = encrypt_record_version(KEY, RECORD_ID, version, content)
    assert decrypt_record_version(KEY, RECORD_ID, version, blob) == content
    assert json.loads(content.to_json())["v"] == 1


_json: st.SearchStrategy[JSONValue] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(st.characters(codec="utf-8"), max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(entry=st.dictionaries(st.text(max_size=8), _json, max_size=5))
def test_any_entry_copy_round_trips(entry: dict[str, JSONValue]) -> None:
    blob = encrypt_entry_copy(KEY, ENTRY_ID, entry)
    assert decrypt_entry_copy(KEY, ENTRY_ID, blob) == entry


@settings(max_examples=100, deadline=None)
@given(value=_json)
def test_canonical_json_is_stable(value: JSONValue) -> None:
    data = canonical_json(value)
    parsed = parse_json(data)
    assert parsed == value
    assert canonical_json(parsed) == data


# --------------------------------------------------------------------------- rejections


def test_version_swap_is_rejected() -> None:
    one = encrypt_record_version(KEY, RECORD_ID, 1, RecordContent(text="first"))
    two = encrypt_record_version(KEY, RECORD_ID, 2, RecordContent(text="second"))
    with pytest.raises(DecryptionError, match="version 2 of this record"):
        decrypt_record_version(KEY, RECORD_ID, 2, one)
    with pytest.raises(DecryptionError):
        decrypt_record_history(KEY, RECORD_ID, [two, one])


def test_record_swap_and_other_account_are_rejected() -> None:
    blob = encrypt_record_version(KEY, RECORD_ID, 1, CONTENT)
    with pytest.raises(DecryptionError):
        decrypt_record_version(KEY, ENTRY_ID, 1, blob)
    with pytest.raises(DecryptionError):
        decrypt_record_version(OTHER_KEY, RECORD_ID, 1, blob)


def test_records_and_entry_copies_do_not_cross() -> None:
    # The same data key and the same 16-byte id: only the purpose differs.
    record = encrypt_record_version(KEY, RECORD_ID, 1, RecordContent(text="x"))
    entry = encrypt_entry_copy(KEY, RECORD_ID, {"v": 1})
    with pytest.raises(DecryptionError, match="entry copy"):
        decrypt_entry_copy(KEY, RECORD_ID, record)
    with pytest.raises(DecryptionError):
        decrypt_record_version(KEY, RECORD_ID, 1, entry)


def test_entry_copy_swap_is_rejected() -> None:
    blob = encrypt_entry_copy(KEY, ENTRY_ID, ENTRY)
    with pytest.raises(DecryptionError):
        decrypt_entry_copy(KEY, RECORD_ID, blob)
    with pytest.raises(DecryptionError):
        decrypt_entry_copy(OTHER_KEY, ENTRY_ID, blob)


def test_every_bit_of_a_record_blob_is_authenticated() -> None:
    blob = encrypt_record_version(KEY, RECORD_ID, 7, RecordContent(who="w", text="t"))
    for i in range(len(blob) * 8):
        flipped = bytearray(blob)
        flipped[i // 8] ^= 1 << (i % 8)
        with pytest.raises((DecryptionError, VersionError)):
            decrypt_record_version(KEY, RECORD_ID, 7, bytes(flipped))


def test_every_bit_of_an_entry_copy_is_authenticated() -> None:
    blob = encrypt_entry_copy(KEY, ENTRY_ID, {"v": 1})
    for i in range(len(blob) * 8):
        flipped = bytearray(blob)
        flipped[i // 8] ^= 1 << (i % 8)
        with pytest.raises((DecryptionError, VersionError)):
            decrypt_entry_copy(KEY, ENTRY_ID, bytes(flipped))


def test_truncated_and_extended_blobs_are_rejected() -> None:
    blob = encrypt_record_version(KEY, RECORD_ID, 1, CONTENT)
    with pytest.raises(DecryptionError):
        decrypt_record_version(KEY, RECORD_ID, 1, blob[:-1])
    with pytest.raises(DecryptionError):
        decrypt_record_version(KEY, RECORD_ID, 1, blob + b"\x00")
    with pytest.raises(EncodingError, match="overhead"):
        decrypt_record_version(KEY, RECORD_ID, 1, blob[:40])


def test_oversized_blobs_are_refused_before_decryption() -> None:
    huge = b"\x01" + bytes(records.MAX_BLOB_BYTES)
    with pytest.raises(EncodingError, match="at most"):
        decrypt_record_version(KEY, RECORD_ID, 1, huge)
    with pytest.raises(EncodingError, match="at most"):
        decrypt_entry_copy(KEY, ENTRY_ID, huge)
    with pytest.raises(EncodingError, match="bytes"):
        decrypt_record_version(KEY, RECORD_ID, 1, "text")  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [0, -1, 2**32, True])
def test_record_version_numbers_are_checked(version: int) -> None:
    with pytest.raises(InputError, match="version number"):
        encrypt_record_version(KEY, RECORD_ID, version, CONTENT)


def test_record_version_must_be_an_integer() -> None:
    with pytest.raises(InputError, match="integer"):
        encrypt_record_version(KEY, RECORD_ID, "1", CONTENT)  # type: ignore[arg-type]


def test_ids_and_keys_are_checked() -> None:
    with pytest.raises(EncodingError, match="record id is 16 bytes"):
        encrypt_record_version(KEY, bytes(15), 1, CONTENT)
    with pytest.raises(EncodingError, match="entry id is 16 bytes"):
        encrypt_entry_copy(KEY, bytes(17), ENTRY)
    with pytest.raises(InputError, match="DataKey"):
        encrypt_record_version(bytes(32), RECORD_ID, 1, CONTENT)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="RecordContent"):
        encrypt_record_version(KEY, RECORD_ID, 1, {"text": "x"})  # type: ignore[arg-type]
    with pytest.raises(InputError, match="mapping"):
        encrypt_entry_copy(KEY, ENTRY_ID, ["v", 1])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- content


def test_record_content_checks_its_fields() -> None:
    assert RecordContent(witnesses=["a", "b"]).witnesses == ("a", "b")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="'who'"):
        RecordContent(who=None)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="witnesses"):
        RecordContent(witnesses=("a", 1))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="witnesses"):
        RecordContent(witnesses="Ana")  # type: ignore[arg-type]


def test_record_content_repr_hides_everything() -> None:
    shown = repr(CONTENT) + str(CONTENT)
    for value in ("manager", "followed", "spring", "studio", "Ana", "diary"):
        assert value not in shown


def test_record_size_limit() -> None:
    # Exactly 1 MiB of canonical JSON is allowed; one byte more is not.
    overhead = len(RecordContent().to_json())
    fits = RecordContent(text="x" * (records.MAX_PLAINTEXT_BYTES - overhead))
    assert len(fits.to_json()) == records.MAX_PLAINTEXT_BYTES
    blob = encrypt_record_version(KEY, RECORD_ID, 1, fits)
    assert len(blob) == records.MAX_BLOB_BYTES
    assert decrypt_record_version(KEY, RECORD_ID, 1, blob) == fits
    too_big = RecordContent(text="x" * (records.MAX_PLAINTEXT_BYTES - overhead + 1))
    with pytest.raises(InputError, match="limit is 1048576"):
        encrypt_record_version(KEY, RECORD_ID, 1, too_big)


def test_unpaired_surrogates_are_refused() -> None:
    with pytest.raises(InputError, match="surrogate"):
        RecordContent(text="\udc00").to_json()


def _sealed(plaintext: bytes) -> bytes:
    """A record blob around arbitrary plaintext, as a buggy or newer client might write."""
    key = hkdf_sha512(KEY.key, b"notalone/v1/record-key", 32)
    ad = b"notalone/v1/record" + RECORD_ID + struct.pack(">I", 1)
    nonce = bytes(24)
    body: bytes = pysodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, b"\x01" + ad, nonce, key
    )
    return b"\x01" + nonce + body


def test_unknown_content_version_is_a_version_error() -> None:
    blob = _sealed(b'{"v":2,"anything":"new"}')
    with pytest.raises(VersionError, match="version 2"):
        decrypt_record_version(KEY, RECORD_ID, 1, blob)


@pytest.mark.parametrize(
    ("plaintext", "message"),
    [
        (b"[]", "JSON object"),
        (b'{"who":"x"}', "integer version"),
        (b'{"v":true}', "integer version"),
        (b'{"v":1}', "check: text, what, when, where, who, witnesses"),
        (CONTENT_JSON[:-1] + b',"extra":""}', "check: extra"),
        (CONTENT_JSON.replace(b'"who":"the manager"', b'"who":1'), "JSON strings"),
        (CONTENT_JSON.replace(b'["Ana","Bo"]', b'"Ana"'), "array"),
        (CONTENT_JSON.replace(b'["Ana","Bo"]', b"[null]"), "JSON strings"),
        (b'{"v":1,"v":1}', "repeats a key"),
        (b'{"v":1.0}', "floating-point"),
        (b'{"v":NaN}', "floating-point"),
        (b'{"v":1', "not valid JSON"),
        (b'{"v":"\xff"}', "not valid JSON"),
        (b'{"v":' + b"9" * 5000 + b"}", "not valid JSON"),
        (b'{"v":9007199254740992}', "limits"),
        (b"[" * 40 + b"]" * 40, "limits"),
        (b"[" * 100000 + b"]" * 100000, "not valid JSON"),
    ],
)
def test_malformed_content_is_an_encoding_error(plaintext: bytes, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        decrypt_record_version(KEY, RECORD_ID, 1, _sealed(plaintext))


def test_entry_copy_must_decrypt_to_an_object() -> None:
    key = hkdf_sha512(KEY.key, b"notalone/v1/entry-copy-key", 32)
    ad = b"notalone/v1/entry-copy" + ENTRY_ID
    body = pysodium.crypto_aead_xchacha20poly1305_ietf_encrypt(b"[1]", b"\x01" + ad, bytes(24), key)
    with pytest.raises(EncodingError, match="JSON object"):
        decrypt_entry_copy(KEY, ENTRY_ID, b"\x01" + bytes(24) + body)


# --------------------------------------------------------------------------- canonical JSON


def test_canonical_json_is_rfc8785_for_these_values() -> None:
    value: JSONInput = {
        "\U00010000": 1,  # UTF-16 D800 DC00 sorts before U+FFFF, unlike code-point order.
        "\uffff": 2,
        "b": [1, True, None, -(2**53) + 1],
        "a": {"z": "\u2028\x7f", "y": '\x00\x08\t\n\x0c\r\x1f"\\/'},
        "10": "integer-like keys sort as text",
        "9": "",
    }
    expected = (
        '{"10":"integer-like keys sort as text","9":"","a":{"y":"\\u0000\\b\\t\\n\\f\\r\\u001f'
        '\\"\\\\/","z":"\u2028\x7f"},"b":[1,true,null,-9007199254740991],'
        '"\U00010000":1,"\uffff":2}'
    ).encode()
    assert canonical_json(value) == expected


def test_canonical_json_accepts_any_mapping_and_sequence() -> None:
    value: OrderedDict[str, JSONInput] = OrderedDict(
        [("b", (1, 2)), ("a", MappingProxyType({"c": []}))]
    )
    assert canonical_json(value) == b'{"a":{"c":[]},"b":[1,2]}'
    entry: dict[str, JSONInput] = {"v": 1, "ids": ("x", "y")}
    blob = encrypt_entry_copy(KEY, ENTRY_ID, entry)
    assert decrypt_entry_copy(KEY, ENTRY_ID, blob) == {"v": 1, "ids": ["x", "y"]}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"x": 1.5}, "float is not allowed"),
        ({"x": float("nan")}, "float is not allowed"),
        ({"x": b"bytes"}, "bytes is not allowed"),
        ({"x": {1, 2}}, "set is not allowed"),
        ({1: "x"}, "keys must be text"),
        ({"x": 2**53}, "2\\^53"),
        ({"x": -(2**53)}, "2\\^53"),
        ({"\ud800": 1}, "surrogate"),
    ],
)
def test_canonical_json_refuses(value: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        canonical_json(value)  # type: ignore[arg-type]


def test_canonical_json_depth_limit() -> None:
    deep: JSONValue = []
    for _ in range(records.MAX_JSON_DEPTH):
        deep = [deep]
    assert canonical_json(deep) == b"[" * 33 + b"]" * 33
    with pytest.raises(InputError, match="deeper than 32"):
        canonical_json([deep])
