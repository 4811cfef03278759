"""Survivor accounts: a random data key wrapped by a passphrase key and by a recovery key.

A survivor registers with a generated username and a passphrase that never leaves their
device. Everything here runs in the client (and in the browser module that mirrors it):

    passphrase ──NFC, UTF-8──▶ Argon2id(salt, params) ──▶ master (64 bytes)
        master ──HKDF "notalone/v1/auth-key|" ‖ username──▶ auth key   (sent; server hashes it)
        master ──HKDF "notalone/v1/wrap-key|" ‖ username──▶ wrap key   (never sent)
    recovery key (32 random bytes, shown once as 56 Crockford base32 characters)
        ──HKDF "notalone/v1/recovery-auth-key|" ‖ username──▶ recovery auth key (sent)
        ──HKDF "notalone/v1/recovery-wrap-key|" ‖ username──▶ recovery wrap key (never sent)
    data key (32 random bytes) ──sealed under each wrap key──▶ AccountKeyBundle (server stores)

Changing the passphrase or the recovery key rewraps the same data key, so nothing that
was encrypted under it (records, copies of escrow entries) is ever re-encrypted. The byte
layouts and the reason for every constant are in docs/protocol.md, "Accounts and keys".

Errors: a wrong passphrase or recovery key raises `DecryptionError`; a typo in a recovery
key, a bad username or passphrase, and malformed bytes raise `InputError` or its
`EncodingError`; an unknown bundle version raises `VersionError`. No message contains a
passphrase, a key or a length that would narrow a passphrase down.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import struct
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from notalone.crypto import aead
from notalone.crypto.ct import bytes_eq
from notalone.crypto.kdf import ARGON2_SALT_BYTES, Argon2Params, argon2id, hkdf_sha512
from notalone.errors import (
    DecryptionError,
    EncodingError,
    InputError,
    VerificationError,
    VersionError,
)

#: A source of random bytes: `rng(n)` returns `n` bytes. Tests pass a seeded one.
RandomBytes = Callable[[int], bytes]

BUNDLE_VERSION = 1
DATA_KEY_BYTES = 32
AUTH_KEY_BYTES = 32
RECOVERY_KEY_BYTES = 32
MASTER_KEY_BYTES = 64
KEY_CHECK_BYTES = 16
WRAPPED_KEY_BYTES = aead.OVERHEAD + DATA_KEY_BYTES

MIN_PASSPHRASE_CHARS = 10
MAX_PASSPHRASE_CHARS = 1024

#: What new accounts use: RFC 9106's second recommended option (t = 3, 64 MiB, p = 1).
ARGON2_DEFAULT = Argon2Params(time_cost=3, memory_kib=64 * 1024)
#: The weakest parameters a client derives a key with (OWASP's Argon2id minimum). A server
#: that handed out weaker ones could collect an authentication key that is cheap to guess
#: passphrases against, so the client refuses instead of computing it.
ARGON2_FLOOR = Argon2Params(time_cost=2, memory_kib=19 * 1024)

# Domain-separation strings. Each is listed, with its reason, in docs/protocol.md; the
# browser module uses the same bytes, pinned by the shared test vectors.
AUTH_KEY_INFO = b"notalone/v1/auth-key|"
WRAP_KEY_INFO = b"notalone/v1/wrap-key|"
RECOVERY_AUTH_KEY_INFO = b"notalone/v1/recovery-auth-key|"
RECOVERY_WRAP_KEY_INFO = b"notalone/v1/recovery-wrap-key|"
DATA_KEY_CHECK_INFO = b"notalone/v1/data-key-check"
WRAPPED_KEY_AD = b"notalone/v1/wrapped-data-key|"
RECOVERY_CHECKSUM_PREFIX = b"notalone/v1/recovery-key-check"
# The wrapper names are labels in associated data, not passwords.
PASSPHRASE_WRAPPER = "passphrase"  # noqa: S105
RECOVERY_WRAPPER = "recovery"

_U32_MAX = 2**32 - 1


# --------------------------------------------------------------------------- usernames

#: 256 adjectives and 256 nouns, 3 to 8 lower-case letters, chosen to be neutral: nature,
#: colour, weather and texture; nothing about bodies, age, gender or harm.
_ADJECTIVE_WORDS = """
    able agile airy alpine amber amiable ample apt aqua arctic arid autumn azure balmy beige
    blithe blue bold bouncy brassy breezy bright brisk broad bronze bubbly calm candid
    chalky cheery chilly civic civil classic clean clear clever cloudy coastal cobalt comfy
    cool copper coral cosmic cozy crafty crimson crisp curious dapper dappled daring deft
    dewy dusky dusty eager early earthy easy elfin even fair fancy festive fine firm fleet
    flinty floral fluent fluffy foggy frank free fresh frosty gentle gifted glad glossy
    glowing golden grand grassy green gusty hardy hazy hearty hilly honest humble humid icy
    indigo inky ivory jade jazzy jolly jovial joyful keen kind kindly lavish leafy lemony
    light lilac lilting limber lively loamy lofty loyal lucid lucky lunar magic marine
    maroon mellow merry mighty mild minty misty modest mosaic mossy muted nautical neat
    nifty nimble noble nordic oaken olive open orange oval pastel patient pebbly peppy piney
    placid plaid plain plucky plush pointy poised polar polite prime proud purple quaint
    quick quiet quirky radiant rainy rapid rare ready regal rhythmic robust rocky roomy rosy
    round royal ruby rugged rural russet rustic saffron salty sandy savvy scarlet scenic
    sepia serene shady shiny silver simple sincere sleek smoky smooth snappy snowy snug soft
    solar solid sonic sparkly speedy sporty spry starry steady stellar still stony stripy
    sturdy subtle summery sunlit sunny swift tangy tartan tawny tidal tidy tiny toasty topaz
    tranquil tropical true tweedy unique upbeat urban valiant vast verdant vernal vivid warm
    wavy windy winged wintry wise witty wooden woolly woven zealous zesty zippy
"""
ADJECTIVES: tuple[str, ...] = tuple(_ADJECTIVE_WORDS.split())
_NOUN_WORDS = """
    acorn alder almond anchor antelope apple apricot aspen aster atlas aurora avocado badger
    bamboo banjo barley basil bay beacon beetle birch bison blossom bluebell boulder bracken
    bramble breeze brook buffalo cactus camel canary canoe canyon cardinal caribou cascade
    catkin cedar cello chalk chestnut cicada cinnamon citrus cliff cloud clover cobble cocoa
    coconut comet compass condor cosmos cotton coyote crane creek cricket crocus crystal
    cypress dahlia daisy delta dewdrop dolphin dove dune eagle egret elk elm ember falcon
    feather fennel fern fig finch firefly fjord flamingo flint forest garnet gazelle gecko
    geyser ginger glacier glade glen gorge granite grape grove gull harbor hare hazel
    hedgehog hemlock heron hickory hill holly horizon ibis iguana iris island ivy jackdaw
    jasper jay juniper kayak kelp kestrel kite kiwi koala lagoon lake lantern larch lark
    laurel lavender lemon lichen lily linden llama lotus lynx magpie mallard manatee mango
    maple marble marigold marsh meadow meerkat mesa meteor minnow mistral moose moss moth
    narwhal nebula nectar newt nightjar nutmeg oak oasis ocelot octopus opal orchid oriole
    osprey otter owl panda papaya peak pebble pecan pelican penguin peony petal pigeon pine
    pinecone plum pond poppy prairie puffin pumpkin quail quartz quill quince rabbit rainbow
    raven ravine reed reef rhubarb ridge river robin rowan salmon sapling seagull sequoia
    shell shore sierra sorrel sparrow spruce squirrel starling stone stork stream summit
    swan sycamore tapir thistle thrush thyme tide tiger timber tortoise toucan trail trout
    truffle tulip tundra turtle valley violet vireo waffle walnut walrus warbler wave wheat
    willow wombat wren yak yarrow yew zebra zephyr zinnia
"""
NOUNS: tuple[str, ...] = tuple(_NOUN_WORDS.split())
USERNAME_NUMBER_DIGITS = 4
_USERNAME_RE = re.compile(r"[a-z]{3,8}-[a-z]{3,8}-[0-9]{4}")
_USERNAME_SEPARATORS = re.compile(r"[\s_\-\u2010-\u2015\u2212]+")


def generate_username(rng: RandomBytes = secrets.token_bytes) -> str:
    """A memorable, non-identifying username: adjective-noun-NNNN (about 2^29 choices).

    The server rejects a name already taken; the client then simply draws another.
    """
    adjective = ADJECTIVES[_uniform_below(len(ADJECTIVES), rng)]
    noun = NOUNS[_uniform_below(len(NOUNS), rng)]
    number = _uniform_below(10**USERNAME_NUMBER_DIGITS, rng)
    return f"{adjective}-{noun}-{number:0{USERNAME_NUMBER_DIGITS}d}"


def normalize_username(text: str) -> str:
    """The canonical username for what a survivor typed at login, or InputError.

    Forgiving about case, surrounding spaces, and spaces, underscores or dashes between
    the three parts; strict about the result, because the username is bound into keys.
    """
    if not isinstance(text, str):
        raise InputError("a username is text")
    parts = [p for p in _USERNAME_SEPARATORS.split(text.strip()) if p]
    candidate = "-".join(parts)
    if candidate.isascii():
        candidate = candidate.lower()
    check_username(candidate)
    return candidate


def check_username(username: str) -> None:
    """Raise InputError unless `username` is canonical: 3-8 letters, 3-8 letters, 4 digits."""
    if not isinstance(username, str) or _USERNAME_RE.fullmatch(username) is None:
        raise InputError(
            "a username looks like quiet-heron-0412: two words of 3 to 8 lower-case "
            "letters and four digits, joined by dashes"
        )


# --------------------------------------------------------------------------- secrets


@dataclass(frozen=True, eq=False)
class DataKey:
    """An account's 32-byte data key, held only by the unlocked client; repr hides it.

    Equality is identity: compare key bytes with `bytes_eq`, never with `==`.
    """

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes) or len(self.key) != DATA_KEY_BYTES:
            raise EncodingError(f"a data key is {DATA_KEY_BYTES} bytes")

    def __repr__(self) -> str:
        return "DataKey(<secret>)"


@dataclass(frozen=True, eq=False)
class PassphraseKeys:
    """The two keys a passphrase yields for one account; repr hides them."""

    auth_key: bytes = field(repr=False)
    wrap_key: bytes = field(repr=False)

    def __repr__(self) -> str:
        return "PassphraseKeys(<secret>)"


@dataclass(frozen=True, eq=False)
class RecoveryKeys:
    """The two keys a recovery key yields for one account; repr hides them."""

    auth_key: bytes = field(repr=False)
    wrap_key: bytes = field(repr=False)

    def __repr__(self) -> str:
        return "RecoveryKeys(<secret>)"


# --------------------------------------------------------------------------- the bundle


@dataclass(frozen=True)
class AccountKeyBundle:
    """The account's key material the server stores: nothing in it opens without a secret.

    Byte layout (version 1), all integers big-endian::

        0x01 ‖ u8 len ‖ username (ASCII) ‖ u32 time_cost ‖ u32 memory_kib ‖ salt (16)
             ‖ key_check (16) ‖ wrapped_by_passphrase (73) ‖ wrapped_by_recovery (73)

    Argon2id parallelism is not stored: version 1 fixes it at 1.
    """

    username: str
    params: Argon2Params
    salt: bytes
    key_check: bytes
    wrapped_by_passphrase: bytes
    wrapped_by_recovery: bytes

    def __post_init__(self) -> None:
        check_username(self.username)
        if not isinstance(self.params, Argon2Params):
            raise EncodingError("bundle parameters must be Argon2Params")
        if self.params.time_cost > _U32_MAX or self.params.memory_kib > _U32_MAX:
            raise EncodingError("Argon2id time_cost and memory_kib must fit in 32 bits")
        _check_bytes("salt", self.salt, ARGON2_SALT_BYTES)
        _check_bytes("key check", self.key_check, KEY_CHECK_BYTES)
        _check_bytes("passphrase-wrapped key", self.wrapped_by_passphrase, WRAPPED_KEY_BYTES)
        _check_bytes("recovery-wrapped key", self.wrapped_by_recovery, WRAPPED_KEY_BYTES)

    def to_bytes(self) -> bytes:
        """The versioned byte form, as stored by the server and sent back at login."""
        name = self.username.encode("ascii")
        return b"".join(
            (
                bytes((BUNDLE_VERSION, len(name))),
                name,
                struct.pack(">II", self.params.time_cost, self.params.memory_kib),
                self.salt,
                self.key_check,
                self.wrapped_by_passphrase,
                self.wrapped_by_recovery,
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> AccountKeyBundle:
        """Parse `to_bytes` output; VersionError for another version, EncodingError if bad."""
        if not isinstance(data, bytes) or len(data) < 2:
            raise EncodingError("an account key bundle is at least 2 bytes")
        if data[0] != BUNDLE_VERSION:
            raise VersionError(
                f"unknown account key bundle version {data[0]}; this version reads {BUNDLE_VERSION}"
            )
        name_len = data[1]
        expected = 2 + name_len + 8 + ARGON2_SALT_BYTES + KEY_CHECK_BYTES + 2 * WRAPPED_KEY_BYTES
        if len(data) != expected:
            raise EncodingError(
                f"an account key bundle with a {name_len}-byte username is {expected} bytes"
            )
        offset = 2 + name_len
        try:
            username = data[2:offset].decode("ascii")
        except UnicodeDecodeError as e:
            raise EncodingError("the bundle's username is not ASCII") from e
        time_cost, memory_kib = struct.unpack_from(">II", data, offset)
        offset += 8
        salt = data[offset : offset + ARGON2_SALT_BYTES]
        offset += ARGON2_SALT_BYTES
        key_check = data[offset : offset + KEY_CHECK_BYTES]
        offset += KEY_CHECK_BYTES
        by_passphrase = data[offset : offset + WRAPPED_KEY_BYTES]
        by_recovery = data[offset + WRAPPED_KEY_BYTES :]
        return cls(
            username=username,
            params=Argon2Params(time_cost=time_cost, memory_kib=memory_kib),
            salt=salt,
            key_check=key_check,
            wrapped_by_passphrase=by_passphrase,
            wrapped_by_recovery=by_recovery,
        )


@dataclass(frozen=True, eq=False)
class NewAccount:
    """Everything `create_account` makes. Only `bundle` and the two auth keys leave the
    device (the server stores the bundle and hashes of the auth keys); `recovery_key` is
    shown to the survivor once and then forgotten. repr hides every secret."""

    bundle: AccountKeyBundle
    auth_key: bytes = field(repr=False)
    recovery_auth_key: bytes = field(repr=False)
    recovery_key: str = field(repr=False)
    data_key: DataKey = field(repr=False)


@dataclass(frozen=True, eq=False)
class PassphraseChange:
    """A bundle rewrapped under a new passphrase, and that passphrase's auth key."""

    bundle: AccountKeyBundle
    auth_key: bytes = field(repr=False)


@dataclass(frozen=True, eq=False)
class RecoveryRotation:
    """A bundle rewrapped under a new recovery key, its auth key and its display text."""

    bundle: AccountKeyBundle
    recovery_auth_key: bytes = field(repr=False)
    recovery_key: str = field(repr=False)


# --------------------------------------------------------------------------- the recipes


def create_account(
    username: str,
    passphrase: str,
    params: Argon2Params,
    *,
    floor: Argon2Params = ARGON2_FLOOR,
    rng: RandomBytes = secrets.token_bytes,
) -> NewAccount:
    """Make a new account's keys. Randomness is drawn in this order, for test vectors:
    salt (16), data key (32), recovery key (32), passphrase-wrap nonce (24),
    recovery-wrap nonce (24)."""
    check_username(username)
    secret = _passphrase_bytes(passphrase, new=True)
    _check_params(params, floor)
    salt = _draw(rng, ARGON2_SALT_BYTES)
    data_key = _draw(rng, DATA_KEY_BYTES)
    recovery_key = _draw(rng, RECOVERY_KEY_BYTES)
    passphrase_keys = _derive_passphrase_keys(username, secret, salt, params)
    recovery_keys = _derive_recovery_keys(username, recovery_key)
    bundle = AccountKeyBundle(
        username=username,
        params=params,
        salt=salt,
        key_check=_key_check(data_key),
        wrapped_by_passphrase=_wrap(
            passphrase_keys.wrap_key, data_key, PASSPHRASE_WRAPPER, username, rng
        ),
        wrapped_by_recovery=_wrap(
            recovery_keys.wrap_key, data_key, RECOVERY_WRAPPER, username, rng
        ),
    )
    return NewAccount(
        bundle=bundle,
        auth_key=passphrase_keys.auth_key,
        recovery_auth_key=recovery_keys.auth_key,
        recovery_key=format_recovery_key(recovery_key),
        data_key=DataKey(data_key),
    )


def derive_passphrase_keys(
    username: str,
    passphrase: str,
    salt: bytes,
    params: Argon2Params,
    *,
    floor: Argon2Params = ARGON2_FLOOR,
) -> PassphraseKeys:
    """The auth and wrap keys for logging in, from the salt and parameters the server gives
    before authentication (it gives the wrapped keys only after)."""
    check_username(username)
    secret = _passphrase_bytes(passphrase, new=False)
    _check_bytes("salt", salt, ARGON2_SALT_BYTES)
    _check_params(params, floor)
    return _derive_passphrase_keys(username, secret, salt, params)


def derive_recovery_keys(username: str, recovery_key: str) -> RecoveryKeys:
    """The auth and wrap keys of a recovery key as the survivor typed it."""
    check_username(username)
    return _derive_recovery_keys(username, parse_recovery_key(recovery_key))


def unlock_with_passphrase(
    bundle: AccountKeyBundle, passphrase: str, *, floor: Argon2Params = ARGON2_FLOOR
) -> DataKey:
    """The data key, or DecryptionError("wrong passphrase ...")."""
    keys = derive_passphrase_keys(
        bundle.username, passphrase, bundle.salt, bundle.params, floor=floor
    )
    ad = _wrap_ad(PASSPHRASE_WRAPPER, bundle.username)
    try:
        data_key = aead.open_(keys.wrap_key, bundle.wrapped_by_passphrase, ad)
    except DecryptionError as e:
        raise DecryptionError("wrong passphrase for this account") from e
    return _checked(bundle, data_key)


def unlock_with_recovery(bundle: AccountKeyBundle, recovery_key: str) -> DataKey:
    """The data key, or EncodingError for a typo, or DecryptionError for another key."""
    keys = derive_recovery_keys(bundle.username, recovery_key)
    ad = _wrap_ad(RECOVERY_WRAPPER, bundle.username)
    try:
        data_key = aead.open_(keys.wrap_key, bundle.wrapped_by_recovery, ad)
    except DecryptionError as e:
        raise DecryptionError("wrong recovery key for this account") from e
    return _checked(bundle, data_key)


def change_passphrase(
    bundle: AccountKeyBundle,
    data_key: DataKey,
    new_passphrase: str,
    params: Argon2Params,
    *,
    floor: Argon2Params = ARGON2_FLOOR,
    rng: RandomBytes = secrets.token_bytes,
) -> PassphraseChange:
    """Rewrap the same data key under a new passphrase, with a fresh salt (16) and nonce
    (24), drawn in that order. The recovery wrapping is kept; no record is re-encrypted.

    Also the way to raise Argon2id parameters: call it with the same passphrase."""
    _check_belongs(bundle, data_key)
    secret = _passphrase_bytes(new_passphrase, new=True)
    _check_params(params, floor)
    salt = _draw(rng, ARGON2_SALT_BYTES)
    keys = _derive_passphrase_keys(bundle.username, secret, salt, params)
    wrapped = _wrap(keys.wrap_key, data_key.key, PASSPHRASE_WRAPPER, bundle.username, rng)
    new_bundle = replace(bundle, params=params, salt=salt, wrapped_by_passphrase=wrapped)
    return PassphraseChange(bundle=new_bundle, auth_key=keys.auth_key)


def rotate_recovery_key(
    bundle: AccountKeyBundle,
    data_key: DataKey,
    *,
    rng: RandomBytes = secrets.token_bytes,
) -> RecoveryRotation:
    """Rewrap the same data key under a new recovery key (32, then nonce 24); the old one
    stops working once the server stores the new bundle and recovery auth key."""
    _check_belongs(bundle, data_key)
    recovery_key = _draw(rng, RECOVERY_KEY_BYTES)
    keys = _derive_recovery_keys(bundle.username, recovery_key)
    wrapped = _wrap(keys.wrap_key, data_key.key, RECOVERY_WRAPPER, bundle.username, rng)
    return RecoveryRotation(
        bundle=replace(bundle, wrapped_by_recovery=wrapped),
        recovery_auth_key=keys.auth_key,
        recovery_key=format_recovery_key(recovery_key),
    )


# --------------------------------------------------------------------------- recovery keys

#: Crockford's base32 alphabet: no I, L, O or U, so nothing reads as another character.
CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECOVERY_CHECKSUM_BYTES = 3
RECOVERY_KEY_CHARS = (RECOVERY_KEY_BYTES + RECOVERY_CHECKSUM_BYTES) * 8 // 5
RECOVERY_GROUP_CHARS = 4
RECOVERY_GROUPS = RECOVERY_KEY_CHARS // RECOVERY_GROUP_CHARS
_CROCKFORD_VALUES = {c: i for i, c in enumerate(CROCKFORD_ALPHABET)} | {
    "O": 0,
    "I": 1,
    "L": 1,
}
_IGNORED_IN_RECOVERY_KEY = re.compile(r"[\s\-\u2010-\u2015\u2212]")


def format_recovery_key(key: bytes) -> str:
    """Show a 32-byte recovery key as 14 groups of 4 Crockford base32 characters.

    The 56 characters encode the key and a 3-byte checksum (SHA-256 of a domain string
    and the key), so a typo is caught with probability 1 - 2^-24 before any key is tried.
    """
    _check_bytes("recovery key", key, RECOVERY_KEY_BYTES)
    value = int.from_bytes(key + _recovery_checksum(key), "big")
    chars = [
        CROCKFORD_ALPHABET[(value >> (5 * i)) & 0x1F] for i in reversed(range(RECOVERY_KEY_CHARS))
    ]
    text = "".join(chars)
    return "-".join(
        text[i : i + RECOVERY_GROUP_CHARS]
        for i in range(0, RECOVERY_KEY_CHARS, RECOVERY_GROUP_CHARS)
    )


def parse_recovery_key(text: str) -> bytes:
    """The 32-byte key from what the survivor typed, or EncodingError saying what to fix.

    Case, spaces and dashes do not matter, and O, I and L are read as 0, 1 and 1. When a
    single mistyped or swapped character explains a checksum failure, the error names the
    group it is in.
    """
    if not isinstance(text, str):
        raise EncodingError("a recovery key is text")
    # NFKC folds full-width and other compatibility forms that some keyboards produce.
    folded = unicodedata.normalize("NFKC", text)
    values: list[int] = []
    for position, char in enumerate(folded, start=1):
        if _IGNORED_IN_RECOVERY_KEY.fullmatch(char):
            continue
        value = _CROCKFORD_VALUES.get(char.upper())
        if value is None:
            raise EncodingError(
                f"character {position} of the recovery key is not one a recovery key uses "
                "(digits and letters except U); check it against what you wrote down"
            )
        values.append(value)
    if len(values) != RECOVERY_KEY_CHARS:
        raise EncodingError(
            f"a recovery key has {RECOVERY_KEY_CHARS} letters and digits "
            f"({RECOVERY_GROUPS} groups of {RECOVERY_GROUP_CHARS}); this one has {len(values)}"
        )
    key = _recovery_key_if_valid(values)
    if key is not None:
        return key
    groups = _groups_of_likely_typo(values)
    if len(groups) == 1:
        (group,) = groups
        raise EncodingError(
            f"the recovery key has a typo, probably in group {group + 1} of {RECOVERY_GROUPS}; "
            "check that group against what you wrote down"
        )
    raise EncodingError(
        "the recovery key has a typo: its check characters do not match; "
        "compare each group with what you wrote down"
    )


def _recovery_key_if_valid(values: list[int]) -> bytes | None:
    value = 0
    for v in values:
        value = (value << 5) | v
    raw = value.to_bytes(RECOVERY_KEY_BYTES + RECOVERY_CHECKSUM_BYTES, "big")
    key, checksum = raw[:RECOVERY_KEY_BYTES], raw[RECOVERY_KEY_BYTES:]
    return key if bytes_eq(checksum, _recovery_checksum(key)) else None


def _groups_of_likely_typo(values: list[int]) -> set[int]:
    """Groups where one substituted character, or two swapped neighbours, would make the
    checksum match. About 1,800 SHA-256 runs; a false lead has odds near 1 in 10,000."""
    groups: set[int] = set()
    for i in range(RECOVERY_KEY_CHARS):
        for v in range(len(CROCKFORD_ALPHABET)):
            if v != values[i]:
                trial = [*values[:i], v, *values[i + 1 :]]
                if _recovery_key_if_valid(trial) is not None:
                    groups.add(i // RECOVERY_GROUP_CHARS)
    for i in range(RECOVERY_KEY_CHARS - 1):
        if values[i] != values[i + 1]:
            trial = [*values[:i], values[i + 1], values[i], *values[i + 2 :]]
            if _recovery_key_if_valid(trial) is not None:
                groups.update({i // RECOVERY_GROUP_CHARS, (i + 1) // RECOVERY_GROUP_CHARS})
    return groups


def _recovery_checksum(key: bytes) -> bytes:
    digest = hashlib.sha256(RECOVERY_CHECKSUM_PREFIX + key).digest()
    return digest[:RECOVERY_CHECKSUM_BYTES]


# --------------------------------------------------------------------------- internals


def _passphrase_bytes(passphrase: str, *, new: bool) -> bytes:
    """NFC, then UTF-8. Length is counted in code points after NFC; only a new passphrase
    must meet the minimum, so raising the minimum never locks out an existing account."""
    if not isinstance(passphrase, str):
        raise InputError("a passphrase is text")
    # NFC so that the same characters typed on two keyboards (é as one code point or as
    # e + combining accent) give the same key.
    normalized = unicodedata.normalize("NFC", passphrase)
    if not normalized:
        raise InputError("the passphrase is empty")
    if len(normalized) > MAX_PASSPHRASE_CHARS:
        raise InputError(f"a passphrase has at most {MAX_PASSPHRASE_CHARS} characters")
    if new and len(normalized) < MIN_PASSPHRASE_CHARS:
        raise InputError(
            f"the passphrase is too short: use at least {MIN_PASSPHRASE_CHARS} characters, "
            "for example four unrelated words"
        )
    try:
        return normalized.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InputError("the passphrase contains an unpaired surrogate character") from e


def _check_params(params: Argon2Params, floor: Argon2Params) -> None:
    if params.time_cost < floor.time_cost or params.memory_kib < floor.memory_kib:
        raise InputError(
            f"Argon2id parameters t={params.time_cost}, m={params.memory_kib} KiB are below "
            f"this client's minimum t={floor.time_cost}, m={floor.memory_kib} KiB; "
            "refusing to derive a key that would be cheap to guess passphrases against"
        )


def _derive_passphrase_keys(
    username: str, secret: bytes, salt: bytes, params: Argon2Params
) -> PassphraseKeys:
    master = argon2id(secret, salt, params, MASTER_KEY_BYTES)
    name = username.encode("ascii")
    return PassphraseKeys(
        auth_key=hkdf_sha512(master, AUTH_KEY_INFO + name, AUTH_KEY_BYTES),
        wrap_key=hkdf_sha512(master, WRAP_KEY_INFO + name, aead.KEY_BYTES),
    )


def _derive_recovery_keys(username: str, recovery_key: bytes) -> RecoveryKeys:
    # The recovery key is 256 uniformly random bits, so HKDF alone suffices: there is
    # nothing to slow down a guess against.
    name = username.encode("ascii")
    return RecoveryKeys(
        auth_key=hkdf_sha512(recovery_key, RECOVERY_AUTH_KEY_INFO + name, AUTH_KEY_BYTES),
        wrap_key=hkdf_sha512(recovery_key, RECOVERY_WRAP_KEY_INFO + name, aead.KEY_BYTES),
    )


def _key_check(data_key: bytes) -> bytes:
    return hkdf_sha512(data_key, DATA_KEY_CHECK_INFO, KEY_CHECK_BYTES)


def _wrap_ad(wrapper: str, username: str) -> bytes:
    return WRAPPED_KEY_AD + wrapper.encode("ascii") + b"|" + username.encode("ascii")


def _wrap(key: bytes, data_key: bytes, wrapper: str, username: str, rng: RandomBytes) -> bytes:
    nonce = _draw(rng, aead.NONCE_BYTES)
    return aead.seal(key, data_key, _wrap_ad(wrapper, username), nonce=nonce)


def _checked(bundle: AccountKeyBundle, data_key: bytes) -> DataKey:
    if not bytes_eq(_key_check(data_key), bundle.key_check):
        # The wrapped key opened, so only an altered key_check can get here.
        raise VerificationError("the account's key check does not match; its bundle was altered")
    return DataKey(data_key)


def _check_belongs(bundle: AccountKeyBundle, data_key: DataKey) -> None:
    if not isinstance(data_key, DataKey):
        raise InputError("expected the account's DataKey")
    if not bytes_eq(_key_check(data_key.key), bundle.key_check):
        # Rewrapping another account's key would leave this account's two wrappings
        # holding different keys, so refuse before anything is written.
        raise VerificationError("this data key does not belong to this account")


def _check_bytes(what: str, value: bytes, length: int) -> None:
    if not isinstance(value, bytes) or len(value) != length:
        raise EncodingError(f"{what} must be {length} bytes")


def _draw(rng: RandomBytes, n: int) -> bytes:
    out = rng(n)
    if not isinstance(out, bytes) or len(out) != n:
        raise EncodingError(f"the random source must return exactly {n} bytes")
    return out


def _uniform_below(n: int, rng: RandomBytes) -> int:
    """A uniform integer in [0, n) by rejection sampling on big-endian u32 draws."""
    limit = 2**32 - (2**32 % n)
    while True:
        x = int.from_bytes(_draw(rng, 4), "big")
        if x < limit:
            return x % n
