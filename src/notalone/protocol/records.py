"""A survivor's records and own copies of escrow entries, encrypted under the data key.

Nothing here leaves the device in plaintext. The data key is never used as a cipher key
itself: HKDF derives one key per purpose from it, and the associated data binds each
blob to its place, so the server can neither swap two versions of a record, nor two
records, nor a record for an entry copy:

    record key      = HKDF-SHA-512(data key, "notalone/v1/record-key", 32)
    record version  = AEAD(record key, canonical JSON,
                           ad = "notalone/v1/record" ‖ record_id (16) ‖ u32 version)
    entry-copy key  = HKDF-SHA-512(data key, "notalone/v1/entry-copy-key", 32)
    entry copy      = AEAD(entry-copy key, canonical JSON,
                           ad = "notalone/v1/entry-copy" ‖ entry_id (16))

Every blob is an XChaCha20-Poly1305 box, ``0x01 ‖ nonce (24) ‖ ciphertext ‖ tag (16)``:
its first byte is the version marker. A receipt hashes the whole blob exactly as returned
by `encrypt_record_version`, so anyone holding the blob can check the receipt without the
key. Layouts and reasons are in docs/protocol.md, "Records".
"""

from __future__ import annotations

import json
import secrets
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from notalone.crypto import aead
from notalone.crypto.kdf import hkdf_sha512
from notalone.errors import DecryptionError, EncodingError, InputError, VersionError
from notalone.protocol.accounts import DataKey

#: A JSON value as decrypted: what `json.loads` returns, without floats.
JSONValue: TypeAlias = "str | int | bool | list[JSONValue] | dict[str, JSONValue] | None"
#: A JSON value as accepted for encryption: any mapping or sequence of those.
JSONInput: TypeAlias = "str | int | bool | Sequence[JSONInput] | Mapping[str, JSONInput] | None"

RECORD_ID_BYTES = 16
ENTRY_ID_BYTES = 16
MAX_RECORD_VERSION = 2**32 - 1
#: The largest plaintext (canonical JSON) a record version or an entry copy may have.
MAX_PLAINTEXT_BYTES = 1 << 20
#: The largest blob worth trying to open: a bigger one cannot hold an allowed plaintext.
MAX_BLOB_BYTES = MAX_PLAINTEXT_BYTES + aead.OVERHEAD
#: JavaScript's Number.MAX_SAFE_INTEGER: larger integers would not survive the browser.
MAX_JSON_INTEGER = 2**53 - 1
MAX_JSON_DEPTH = 32
RECORD_CONTENT_VERSION = 1

RECORD_KEY_INFO = b"notalone/v1/record-key"
ENTRY_COPY_KEY_INFO = b"notalone/v1/entry-copy-key"
RECORD_AD_LABEL = b"notalone/v1/record"
ENTRY_COPY_AD_LABEL = b"notalone/v1/entry-copy"

_TEXT_FIELDS = ("who", "what", "when", "where", "text")
_CONTENT_KEYS = frozenset({"v", "witnesses", *_TEXT_FIELDS})


@dataclass(frozen=True)
class RecordContent:
    """What happened, in the survivor's words. Every field is free text and may be empty:
    `when` and `where` stay text because memory is not a timestamp. repr shows none of it.
    """

    who: str = ""
    what: str = ""
    when: str = ""
    where: str = ""
    witnesses: tuple[str, ...] = ()
    text: str = ""

    def __post_init__(self) -> None:
        for name in _TEXT_FIELDS:
            if not isinstance(getattr(self, name), str):
                raise InputError(f"the record's {name!r} field must be text")
        if isinstance(self.witnesses, list):
            object.__setattr__(self, "witnesses", tuple(self.witnesses))
        if not isinstance(self.witnesses, tuple) or not all(
            isinstance(w, str) for w in self.witnesses
        ):
            raise InputError("the record's witnesses must be a sequence of text")

    def __repr__(self) -> str:
        return "RecordContent(<private>)"

    def to_json(self) -> bytes:
        """Canonical JSON: sorted keys, no spaces, UTF-8, ``"v": 1``; at most 1 MiB."""
        return canonical_json(
            {
                "v": RECORD_CONTENT_VERSION,
                "who": self.who,
                "what": self.what,
                "when": self.when,
                "where": self.where,
                "witnesses": list(self.witnesses),
                "text": self.text,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> RecordContent:
        """Parse `to_json` output; VersionError for another ``v``, EncodingError if bad."""
        obj = parse_json(data)
        if not isinstance(obj, dict):
            raise EncodingError("a record's content is a JSON object")
        version = obj.get("v")
        if isinstance(version, bool) or not isinstance(version, int):
            raise EncodingError("a record's content carries an integer version 'v'")
        if version != RECORD_CONTENT_VERSION:
            raise VersionError(
                f"unknown record content version {version}; this version reads "
                f"{RECORD_CONTENT_VERSION}"
            )
        if set(obj) != _CONTENT_KEYS:
            names = ", ".join(sorted(set(obj) ^ _CONTENT_KEYS))
            raise EncodingError(f"a version-1 record has exactly its fields; check: {names}")
        witnesses = obj["witnesses"]
        if not isinstance(witnesses, list):
            raise EncodingError("a record's witnesses are a JSON array")
        try:
            return cls(
                who=_text(obj["who"]),
                what=_text(obj["what"]),
                when=_text(obj["when"]),
                where=_text(obj["where"]),
                witnesses=tuple(_text(w) for w in witnesses),
                text=_text(obj["text"]),
            )
        except InputError as e:
            raise EncodingError("a record's fields are JSON strings") from e


def new_record_id(rng: Callable[[int], bytes] = secrets.token_bytes) -> bytes:
    """A fresh 16-byte record id."""
    record_id = rng(RECORD_ID_BYTES)
    _check_id("record id", record_id, RECORD_ID_BYTES)
    return record_id


def encrypt_record_version(
    data_key: DataKey,
    record_id: bytes,
    version: int,
    content: RecordContent,
    *,
    nonce: bytes | None = None,
) -> bytes:
    """Seal one version of a record. `nonce` is random unless a test vector fixes it.

    The returned blob is what the server stores and what a receipt hashes.
    """
    if not isinstance(content, RecordContent):
        raise InputError("a record version's content must be RecordContent")
    ad = _record_ad(record_id, version)
    return aead.seal(_record_key(data_key), content.to_json(), ad, nonce=nonce)


def decrypt_record_version(
    data_key: DataKey, record_id: bytes, version: int, blob: bytes
) -> RecordContent:
    """Open one version of a record; DecryptionError if it is not this record's version."""
    ad = _record_ad(record_id, version)
    _check_blob(blob)
    try:
        plaintext = aead.open_(_record_key(data_key), blob, ad)
    except DecryptionError as e:
        raise DecryptionError(
            f"version {version} of this record does not open: it was altered, or it belongs "
            "to another record, version or account"
        ) from e
    return RecordContent.from_json(plaintext)


def decrypt_record_history(
    data_key: DataKey, record_id: bytes, blobs: Sequence[bytes]
) -> list[RecordContent]:
    """Open every version of a record, where ``blobs[i]`` holds version ``i + 1``."""
    return [
        decrypt_record_version(data_key, record_id, number, blob)
        for number, blob in enumerate(blobs, start=1)
    ]


def encrypt_entry_copy(
    data_key: DataKey,
    entry_id: bytes,
    entry: Mapping[str, JSONInput],
    *,
    nonce: bytes | None = None,
) -> bytes:
    """Seal the survivor's own copy of an escrow entry (any JSON object without floats).

    The caller owns the schema and should put its own version field in `entry`.
    """
    if not isinstance(entry, Mapping):
        raise InputError("an entry copy is a mapping from text to JSON values")
    ad = _entry_copy_ad(entry_id)
    return aead.seal(_entry_copy_key(data_key), canonical_json(entry), ad, nonce=nonce)


def decrypt_entry_copy(data_key: DataKey, entry_id: bytes, blob: bytes) -> dict[str, JSONValue]:
    """Open the survivor's copy of an escrow entry; DecryptionError if it is not this one."""
    ad = _entry_copy_ad(entry_id)
    _check_blob(blob)
    try:
        plaintext = aead.open_(_entry_copy_key(data_key), blob, ad)
    except DecryptionError as e:
        raise DecryptionError(
            "this entry copy does not open: it was altered, or it belongs to another entry "
            "or account"
        ) from e
    obj = parse_json(plaintext)
    if not isinstance(obj, dict):
        raise EncodingError("an entry copy is a JSON object")
    return obj


# --------------------------------------------------------------------------- canonical JSON


def canonical_json(value: JSONInput) -> bytes:
    """RFC 8785 (JCS) canonical JSON, UTF-8, for the values allowed here.

    Allowed: text, integers within ±(2^53 - 1), booleans, null, arrays, and objects with
    text keys, nested at most 32 deep; no floats. The browser must use an RFC 8785
    serializer, not bare `JSON.stringify`, which puts integer-like keys first. Raises InputError
    for anything else, for unpaired surrogates, and above `MAX_PLAINTEXT_BYTES`.
    """
    plain = _plain(value, 0)
    # `_plain` inserted every object's keys in RFC 8785 order (by UTF-16 code units), and
    # json.dumps keeps insertion order; its string escapes are the ones JCS prescribes.
    text = json.dumps(plain, ensure_ascii=False, separators=(",", ":"))
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InputError("the text contains an unpaired surrogate character") from e
    if len(data) > MAX_PLAINTEXT_BYTES:
        raise InputError(
            f"this is {len(data)} bytes once encoded; the limit is {MAX_PLAINTEXT_BYTES} "
            "(1 MiB): shorten it or split it in parts"
        )
    return data


def parse_json(data: bytes) -> JSONValue:
    """Strict JSON: UTF-8, no duplicate keys, no floats, NaN or Infinity; EncodingError."""
    try:
        text = data.decode("utf-8")
        obj: JSONValue = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_float=_no_float,
            parse_constant=_no_float,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        # json.JSONDecodeError is a ValueError; so is an integer too long to convert.
        raise EncodingError("the decrypted bytes are not valid JSON") from e
    try:
        _plain(obj, 0)  # The same limits as on the way in: depth, integer range.
    except InputError as e:
        raise EncodingError(f"the decrypted JSON is outside this version's limits: {e}") from e
    return obj


def _plain(value: object, depth: int) -> JSONValue:
    """A copy of `value` made of dict, list, str, int, bool and None, or InputError."""
    if depth > MAX_JSON_DEPTH:
        raise InputError(f"JSON nests deeper than {MAX_JSON_DEPTH} levels")
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_JSON_INTEGER:
            raise InputError("JSON integers must lie within ±(2^53 - 1)")
        return value
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise InputError("JSON object keys must be text")
        keys: list[str] = sorted(value, key=_utf16_order)
        return {key: _plain(value[key], depth + 1) for key in keys}
    if isinstance(value, list | tuple):
        return [_plain(item, depth + 1) for item in value]
    # Floats are refused because Python and JavaScript print some of them differently.
    raise InputError(f"{type(value).__name__} is not allowed in encrypted JSON")


def _utf16_order(key: str) -> bytes:
    # RFC 8785 sorts keys by UTF-16 code units, which differs from code-point order only
    # for characters above U+FFFF; "surrogatepass" lets a lone surrogate reach the
    # UTF-8 check in canonical_json, which refuses it with a clear message.
    return key.encode("utf-16-be", "surrogatepass")


def _object_without_duplicates(pairs: list[tuple[str, JSONValue]]) -> dict[str, JSONValue]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise EncodingError("a JSON object repeats a key")
    return obj


def _no_float(token: str) -> JSONValue:
    raise EncodingError("encrypted JSON holds no floating-point numbers")


def _text(value: JSONValue) -> str:
    if not isinstance(value, str):
        raise InputError("expected a JSON string")
    return value


# --------------------------------------------------------------------------- internals


def _record_key(data_key: DataKey) -> bytes:
    return hkdf_sha512(_key_bytes(data_key), RECORD_KEY_INFO, aead.KEY_BYTES)


def _entry_copy_key(data_key: DataKey) -> bytes:
    return hkdf_sha512(_key_bytes(data_key), ENTRY_COPY_KEY_INFO, aead.KEY_BYTES)


def _key_bytes(data_key: DataKey) -> bytes:
    # A DataKey, not bytes, so that an auth or wrap key can never be passed by mistake.
    if not isinstance(data_key, DataKey):
        raise InputError("expected the account's DataKey")
    return data_key.key


def _record_ad(record_id: bytes, version: int) -> bytes:
    _check_id("record id", record_id, RECORD_ID_BYTES)
    if isinstance(version, bool) or not isinstance(version, int):
        raise InputError("a record version number is an integer")
    if not 1 <= version <= MAX_RECORD_VERSION:
        raise InputError(f"record version numbers run from 1 to {MAX_RECORD_VERSION}")
    return RECORD_AD_LABEL + record_id + struct.pack(">I", version)


def _entry_copy_ad(entry_id: bytes) -> bytes:
    _check_id("entry id", entry_id, ENTRY_ID_BYTES)
    return ENTRY_COPY_AD_LABEL + entry_id


def _check_id(what: str, value: bytes, length: int) -> None:
    if not isinstance(value, bytes) or len(value) != length:
        raise EncodingError(f"a {what} is {length} bytes")


def _check_blob(blob: bytes) -> None:
    if not isinstance(blob, bytes):
        raise EncodingError("an encrypted blob is bytes")
    if len(blob) > MAX_BLOB_BYTES:
        raise EncodingError(f"an encrypted blob is at most {MAX_BLOB_BYTES} bytes")
