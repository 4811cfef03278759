"""Canonical forms of the identifiers a survivor gives for the person they name.

Two survivors who write the same person's identifier differently must produce the same
canonical bytes, and two different people must never produce the same bytes: the
canonical form is what the OPRF sees, so this module decides whether a match can happen.

    canonicalize(kind, value, region=...) -> CanonicalIdentifier
    CanonicalIdentifier.oprf_input()      -> b"notalone/v1/id|<kind>|<canonical>"

Every function here is pure: no I/O, no network look-up, no state beyond constant
tables. The rules, and the reason for each, are specified in docs/protocol.md
("Identifiers"); the comments here point at the choices that are easy to undo by mistake.

Every refusal is an `IdentifierError` whose message says what to fix and never contains
the input or any part of it. The refusal carries no chained exception either: the
parsing libraries' own messages can quote the input, so they are never attached.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import idna
import phonenumbers
from email_validator import EmailNotValidError, ValidatedEmail, validate_email

from notalone.errors import IdentifierError

__all__ = [
    "MAX_INPUT_CHARS",
    "OPRF_INPUT_PREFIX",
    "CanonicalIdentifier",
    "IdentifierKind",
    "canonicalize",
]

OPRF_INPUT_PREFIX: Final = "notalone/v1/id|"
"""Domain separator in front of every OPRF input; the kind and the canonical form follow."""

MAX_INPUT_CHARS: Final = 512
"""Longest input accepted, in code points, before and after Unicode normalization."""


class IdentifierKind(StrEnum):
    """The kinds of identifier a survivor can give; the value is part of the OPRF input."""

    EMAIL = "email"
    PHONE = "phone"
    PROFILE = "profile"
    ORGID = "orgid"


_KINDS_BY_NAME: Final = {kind.value: kind for kind in IdentifierKind}
_KIND_LIST: Final = ", ".join(kind.value for kind in IdentifierKind)


@dataclass(frozen=True, slots=True)
class CanonicalIdentifier:
    """An identifier in canonical form; a value that is not canonical cannot be built."""

    kind: IdentifierKind
    canonical: str

    def __post_init__(self) -> None:
        kind = _resolve_kind(self.kind)
        object.__setattr__(self, "kind", kind)
        # A hand-built value that is not canonical would never meet its other spellings;
        # refusing it here means every oprf_input() is one that the protocol can match.
        if _canonical_form(kind, self.canonical, None) != self.canonical:
            raise IdentifierError(
                kind, "this value is not in canonical form: pass it through canonicalize()"
            )

    def oprf_input(self) -> bytes:
        """Return the OPRF input: ``notalone/v1/id|<kind>|<canonical>`` in UTF-8."""
        return f"{OPRF_INPUT_PREFIX}{self.kind.value}|{self.canonical}".encode()

    def __repr__(self) -> str:
        # The canonical value is a secret: a repr must never carry it into a log.
        return f"CanonicalIdentifier(kind={self.kind.value!r}, canonical=<redacted>)"

    __str__ = __repr__


def canonicalize(
    kind: IdentifierKind | str, value: str, *, region: str | None = None
) -> CanonicalIdentifier:
    """Return the canonical form of `value`, or raise IdentifierError saying what to fix.

    `region` is the ISO 3166 alpha-2 country that a phone number written without its
    country code belongs to; it is refused for every other kind.
    """
    resolved = _resolve_kind(kind)
    return CanonicalIdentifier(resolved, _canonical_form(resolved, value, region))


def _resolve_kind(kind: object) -> IdentifierKind:
    if isinstance(kind, IdentifierKind):
        return kind
    name = kind.strip().lower() if isinstance(kind, str) else ""
    if name not in _KINDS_BY_NAME:
        # The kind is not echoed: a user who swapped the arguments would see their secret.
        raise IdentifierError("unknown", f"unknown identifier kind: choose one of {_KIND_LIST}")
    return _KINDS_BY_NAME[name]


def _canonical_form(kind: IdentifierKind, value: object, region: str | None) -> str:
    if region is not None and kind is not IdentifierKind.PHONE:
        raise IdentifierError(kind, "a region applies only to phone numbers")
    text = _prepare(kind, value)
    if kind is IdentifierKind.EMAIL:
        return _canonical_email(text)
    if kind is IdentifierKind.PHONE:
        return _canonical_phone(text, region)
    if kind is IdentifierKind.PROFILE:
        return _canonical_profile(text)
    return _canonical_orgid(text)


# --- Formatting noise, common to every kind --------------------------------------------

# The characters with the Unicode White_Space property, listed so that every
# implementation strips the same set (Python's str.strip() and JavaScript's trim() differ).
_WHITESPACE: Final = (
    "\t\n\v\f\r \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

# Control, surrogate, private-use and unassigned code points cannot be typed on purpose,
# have no place in any identifier, and (unassigned ones) have no stable normalization.
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cs", "Co", "Cn"})


def _normalize_text(text: str) -> str:
    # Format characters (category Cf: zero-width spaces, joiners, soft hyphens, bidi
    # marks, byte-order marks) are invisible: a survivor cannot see them to reproduce
    # them, and copy-paste from web pages and phones adds them. They are removed.
    visible = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    # NFKC folds full-width and other compatibility forms (what an East Asian input
    # method types) onto the characters that platforms actually store.
    return unicodedata.normalize("NFKC", visible).strip(_WHITESPACE)


def _prepare(kind: IdentifierKind, value: object) -> str:
    if not isinstance(value, str):
        raise IdentifierError(kind, f"the {kind.value} must be given as text")
    if len(value) > MAX_INPUT_CHARS:
        raise IdentifierError(
            kind, f"the {kind.value} is too long: at most {MAX_INPUT_CHARS} characters"
        )
    text = _normalize_text(value)
    if not text:
        raise IdentifierError(kind, f"the {kind.value} is empty")
    if len(text) > MAX_INPUT_CHARS:
        raise IdentifierError(
            kind, f"the {kind.value} is too long: at most {MAX_INPUT_CHARS} characters"
        )
    _check_characters(kind, text)
    return text


def _check_characters(kind: IdentifierKind, text: str) -> None:
    if any(
        unicodedata.category(ch) in _REFUSED_CATEGORIES and ch not in _WHITESPACE for ch in text
    ):
        raise IdentifierError(
            kind, f"the {kind.value} contains control or unassigned characters: retype it"
        )


def _has_whitespace(text: str) -> bool:
    return any(ch in _WHITESPACE for ch in text)


def _domain_name(kind: IdentifierKind, name: str, message: str) -> str:
    """Return `name` as a lower-case IDNA A-label domain with at least two labels."""
    candidate = name.removesuffix(".")
    encoded: str | None
    try:
        # UTS 46 processing (non-transitional) with the STD3 rules: what a browser does
        # to a host name, then the letters, digits and hyphens that DNS allows.
        encoded = idna.encode(candidate, uts46=True, std3_rules=True).decode("ascii")
    except (UnicodeError, ValueError):
        encoded = None
    # Raised outside the except block so that the library's message (which quotes the
    # name) is not attached to the error as its context.
    if encoded is None or "." not in encoded:
        raise IdentifierError(kind, message)
    return encoded.lower()


# --- email -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Mailbox:
    """How one provider's addresses reach the same mailbox (see docs/protocol.md)."""

    domain: str
    ignored: str = ""

    def fold(self, local: str) -> str:
        """Drop the +tag and the characters this provider ignores in the local part."""
        base = local.split("+", 1)[0]
        return base.translate({ord(ch): None for ch in self.ignored})


# Only providers that document these rules (iCloud's +tags are widely reported rather than
# documented), and where "+" cannot occur in a mailbox name, so that dropping a +tag can
# never merge two people whatever the provider does with such mail. Sources: §4.4 of
# docs/protocol.md.
_GMAIL: Final = _Mailbox("gmail.com", ignored=".")
_ICLOUD: Final = _Mailbox("icloud.com")
_PROTON: Final = _Mailbox("proton.me", ignored="._-")
_MAILBOX_RULES: Final[dict[str, _Mailbox]] = {
    # Google: "dots don't matter", "+anything" is delivered, googlemail.com = gmail.com.
    "gmail.com": _GMAIL,
    "googlemail.com": _GMAIL,
    # Outlook.com: plus addressing; each Microsoft domain is its own namespace.
    "outlook.com": _Mailbox("outlook.com"),
    "hotmail.com": _Mailbox("hotmail.com"),
    "live.com": _Mailbox("live.com"),
    "msn.com": _Mailbox("msn.com"),
    # Apple: an @me.com or @mac.com address is the same account's @icloud.com address.
    "icloud.com": _ICLOUD,
    "me.com": _ICLOUD,
    "mac.com": _ICLOUD,
    # Fastmail: plus addressing; its domains are separate namespaces.
    "fastmail.com": _Mailbox("fastmail.com"),
    "fastmail.fm": _Mailbox("fastmail.fm"),
    # Proton: +aliases; ".", "_" and "-" are transparent and case does not count; one
    # username holds its name on every Proton domain.
    "proton.me": _PROTON,
    "protonmail.com": _PROTON,
    "protonmail.ch": _PROTON,
    "pm.me": _PROTON,
}

# Substrings of email-validator's messages, mapped to messages that quote nothing: the
# library's own messages can name the offending characters of the address.
_EMAIL_REASONS: Final = (
    ("too long", "the email address is too long"),
    ("special-use or reserved", "the domain after the @ is reserved and cannot receive email"),
    ("must have an @-sign", "an email address needs an @, as in name@example.org"),
    ("something before the @-sign", "there is nothing before the @"),
    ("something after the @-sign", "there is nothing after the @"),
    ("two periods in a row", "there are two dots in a row"),
    ("immediately before the @-sign", "there cannot be a dot right before the @"),
    ("immediately after the @-sign", "the domain after the @ cannot start with a dot or hyphen"),
    ("cannot start with a", "the address cannot start with a dot"),
    ("cannot end with a", "the address cannot end with a dot or a hyphen"),
    ("period and a hyphen", "the domain cannot have a dot and a hyphen side by side"),
    ("unsafe characters", "the address contains invisible or unsafe characters: retype it"),
    ("quot", "quoted addresses are not supported: remove the quotation marks"),
    ("display name", "copy just the address, without the name or the angle brackets"),
    ("angle bracket", "copy just the address, without the name or the angle brackets"),
    ("after the email address", "copy just the address, with nothing after it"),
    (
        "before the @-sign",
        "the part before the @ is not valid: look for spaces, a dot at its start or end, "
        "two dots in a row, or characters that addresses cannot contain",
    ),
    ("after the @-sign", "the part after the @ is not a valid domain name such as example.org"),
)


def _canonical_email(text: str) -> str:
    if text[:7].lower() == "mailto:":
        text = _mailto_address(text[7:])
    # A final dot is the DNS root (example.org. is example.org), or the full stop of the
    # sentence the address was copied from.
    parsed = _parse_email(text.removesuffix("."))
    # Lower-cased everywhere: RFC 5321 lets a server treat case as significant, but the
    # providers in use do not, and survivors cannot know how the person typed it.
    local = unicodedata.normalize("NFKC", parsed.local_part.lower())
    domain = parsed.ascii_domain.lower()
    rule = _MAILBOX_RULES.get(domain)
    if rule is not None:
        local = rule.fold(local)
        if not local:
            raise IdentifierError(IdentifierKind.EMAIL, "there is nothing before the +tag")
        domain = rule.domain
    canonical = f"{local}@{domain}"
    # The canonical form must itself be accepted as input (idempotence); dropping a
    # +tag can leave, for example, a trailing dot.
    _parse_email(canonical)
    return canonical


def _mailto_address(rest: str) -> str:
    # RFC 6068: the address is percent-encoded and may be followed by ?headers.
    decoded = _percent_decode(rest.split("?", 1)[0])
    if decoded is None:
        raise IdentifierError(
            IdentifierKind.EMAIL, "this mailto: link is broken: copy just the address"
        )
    address = _normalize_text(decoded)
    _check_characters(IdentifierKind.EMAIL, address)
    return address


def _parse_email(address: str) -> ValidatedEmail:
    try:
        return validate_email(
            address,
            check_deliverability=False,
            allow_smtputf8=True,
            allow_display_name=True,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_empty_local=False,
            globally_deliverable=True,
            test_environment=False,
        )
    except EmailNotValidError as error:
        detail = str(error).lower()
    reason = next(
        (message for marker, message in _EMAIL_REASONS if marker in detail),
        "this is not a valid email address: check it for typos",
    )
    raise IdentifierError(IdentifierKind.EMAIL, reason)


# --- phone -------------------------------------------------------------------------------

_PHONE_SEPARATORS: Final = frozenset(
    "-./()[]\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc" + _WHITESPACE
)
# An extension written after the number: ";ext=12", "ext. 12", "extension 12", "x12", "#12".
_EXTENSION: Final = re.compile(r"(?:;\s*ext\s*=|ext(?:ension)?\.?|x|#)\s*(\d{1,15})$", re.I)
_EXTENSION_DIGITS: Final = re.compile(r"\d{1,15}")

_PHONE_PARSE_REASONS: Final = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "the country code is not valid",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "this is not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "the number is too short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "the number is too short",
    phonenumbers.NumberParseException.TOO_LONG: "the number is too long",
}
_PHONE_INVALID_REASONS: Final = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "the country code is not valid",
    phonenumbers.ValidationResult.TOO_SHORT: "the number is too short for its country",
    phonenumbers.ValidationResult.TOO_LONG: "the number is too long for its country",
}


def _canonical_phone(text: str, region: str | None) -> str:
    default_region = None if region is None else _check_region(region)
    number, extension = _split_extension(text)
    _check_phone_characters(number)
    if "+" not in number:
        bare = number.lstrip(_WHITESPACE + "(")
        if default_region is None and len(bare) > 2 and bare[:2].isdecimal() and int(bare[:2]) == 0:
            # "00" is the international prefix almost everywhere; with a chosen region,
            # that region's own prefix (011 in the US, 0011 in Australia) applies instead.
            number = "+" + bare[2:]
        elif default_region is None:
            raise IdentifierError(
                IdentifierKind.PHONE,
                "add the country code, starting with + (for example +1 for the US or +44 "
                "for the UK), or choose the region the number belongs to",
            )
    parsed = _parse_phone(number, default_region)
    if not phonenumbers.is_valid_number(parsed):
        reason = _PHONE_INVALID_REASONS.get(
            phonenumbers.is_possible_number_with_reason(parsed),
            "this number does not exist in its country's numbering plan: check the digits "
            "and the country code",
        )
        raise IdentifierError(IdentifierKind.PHONE, reason)
    canonical = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    # An extension names a different line behind a shared number, so it is kept (in the
    # RFC 3966 spelling); dropping it would merge everyone behind one switchboard.
    return canonical if extension is None else f"{canonical};ext={extension}"


def _check_region(region: str) -> str:
    code = region.strip().upper() if isinstance(region, str) else ""
    if len(code) != 2 or code not in phonenumbers.SUPPORTED_REGIONS:
        raise IdentifierError(
            IdentifierKind.PHONE,
            "unknown region: give an ISO 3166 two-letter country code such as US, DE or IN "
            "(GB for the United Kingdom)",
        )
    return code


def _ascii_digits(digits: str) -> str:
    return "".join(str(unicodedata.decimal(ch)) for ch in digits)


def _split_extension(text: str) -> tuple[str, str | None]:
    if text[:4].lower() == "tel:":
        return _split_tel_uri(text[4:])
    match = _EXTENSION.search(text)
    if match is None:
        return text, None
    return text[: match.start()], _ascii_digits(match.group(1))


def _split_tel_uri(body: str) -> tuple[str, str | None]:
    # RFC 3966: tel:+<global number>[;ext=<digits>]. Local numbers (phone-context) and
    # other parameters are refused rather than guessed at.
    number, *parameters = body.split(";")
    extension: str | None = None
    for parameter in parameters:
        name, _, digits = parameter.partition("=")
        if (
            extension is not None
            or name.strip(_WHITESPACE).lower() != "ext"
            or not _EXTENSION_DIGITS.fullmatch(digits.strip(_WHITESPACE))
        ):
            raise IdentifierError(
                IdentifierKind.PHONE,
                "a tel: link may carry only an ;ext= extension after the number",
            )
        extension = _ascii_digits(digits.strip(_WHITESPACE))
    if not number.strip(_WHITESPACE).startswith("+"):
        raise IdentifierError(
            IdentifierKind.PHONE,
            "a tel: link must hold the full number, starting with + and the country code",
        )
    return number, extension


def _check_phone_characters(number: str) -> None:
    if any(not (ch.isdecimal() or ch == "+" or ch in _PHONE_SEPARATORS) for ch in number):
        raise IdentifierError(
            IdentifierKind.PHONE,
            "a phone number may contain only digits, spaces, a leading + and the separators "
            "- . / ( ); letters are not accepted",
        )
    if not any(ch.isdecimal() for ch in number):
        raise IdentifierError(IdentifierKind.PHONE, "the phone number has no digits")
    plus = number.find("+")
    if plus >= 0 and (number.count("+") > 1 or number[:plus].strip(_WHITESPACE + "(")):
        raise IdentifierError(
            IdentifierKind.PHONE, "the + must come first, before the country code"
        )


def _parse_phone(number: str, region: str | None) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException as error:
        reason = _PHONE_PARSE_REASONS.get(error.error_type, "this is not a phone number")
    raise IdentifierError(IdentifierKind.PHONE, reason)


# --- profile -----------------------------------------------------------------------------

_PLATFORM_LABELS: Final = {
    "linkedin": "LinkedIn",
    "x": "X (Twitter)",
    "instagram": "Instagram",
    "facebook": "Facebook",
    "tiktok": "TikTok",
    "github": "GitHub",
    "mastodon": "Mastodon",
}
_PLATFORM_EXAMPLES: Final = {
    "linkedin": "linkedin.com/in/<name>",
    "x": "x.com/<name>",
    "instagram": "instagram.com/<name>",
    "facebook": "facebook.com/<name> or facebook.com/profile.php?id=<number>",
    "tiktok": "tiktok.com/@<name>",
    "github": "github.com/<name>",
    "mastodon": "https://<server>/@<name> or <name>@<server>",
}
_PLATFORM_ALIASES: Final = {"twitter": "x"}
_SUPPORTED_PLATFORMS: Final = "LinkedIn, X (Twitter), Instagram, Facebook, TikTok, GitHub, Mastodon"

# Registrable domain -> platform. Only the exact domain or an allowed subdomain of it is
# recognized, so that look-alikes such as linkedin.com.example.net never are.
_PLATFORM_DOMAINS: Final = {
    "linkedin.com": "linkedin",
    "twitter.com": "x",
    "x.com": "x",
    "instagram.com": "instagram",
    "instagr.am": "instagram",
    "facebook.com": "facebook",
    "fb.com": "facebook",
    "tiktok.com": "tiktok",
    "github.com": "github",
}
_WEB_SUBDOMAINS: Final = frozenset({"www", "m", "mobile"})
_EXTRA_SUBDOMAINS: Final = {"facebook": frozenset({"web", "mbasic", "touch"})}
# LinkedIn serves public profiles on country subdomains such as uk.linkedin.com.
_COUNTRY_SUBDOMAIN: Final = re.compile(r"[a-z]{2}")
# Sites that also write profiles as /@name but are not supported; without this list a
# link to them would be taken for a Mastodon server.
_UNSUPPORTED_DOMAINS: Final = (
    "youtube.com",
    "youtu.be",
    "medium.com",
    "substack.com",
    "threads.net",
    "threads.com",
    "bsky.app",
)
# Mail domains that are never Mastodon servers: name@gmail.com is an email address.
_MAIL_ONLY_DOMAINS: Final = frozenset(_MAILBOX_RULES) | frozenset(
    {"yahoo.com", "aol.com", "gmx.com", "gmx.de", "web.de", "yandex.ru", "mail.ru", "qq.com"}
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Site pages whose path has the shape of a profile; none of them can be a user name.
_X_RESERVED: Final = _words(
    "about account bookmarks communities compose download explore hashtag home i "
    "intent jobs lists login logout messages notifications premium privacy search "
    "settings share signup tos"
)
_X_TABS: Final = _words(
    "with_replies media likes highlights articles followers following verified_followers"
)
_INSTAGRAM_RESERVED: Final = _words(
    "about accounts ar challenge developer direct directory emails explore legal lite "
    "p privacy reel reels session stories terms tv web"
)
_INSTAGRAM_TABS: Final = _words("tagged reels saved guides followers following")
_FACEBOOK_RESERVED: Final = _words(
    "ads bookmarks business dialog events fundraisers games gaming groups hashtag "
    "help home jobs legal live login marketplace media memories messages "
    "notifications pages people permalink pg photo photos places plugins policies "
    "privacy public reel reels saved search settings share sharer stories story watch"
)
_FACEBOOK_TABS: Final = _words(
    "about photos friends videos reels followers following likes mentions"
)
_GITHUB_RESERVED: Final = _words(
    "about apps codespaces collections contact copilot customer-stories dashboard "
    "enterprise events explore features home issues join login logout marketplace new "
    "notifications organizations orgs pricing pulls readme search security sessions "
    "settings signup site sponsors stars team topics trending"
)
_MASTODON_TABS: Final = _words("with_replies media followers following")

_X_HANDLE: Final = re.compile(r"[A-Za-z0-9_]{1,15}")
_INSTAGRAM_HANDLE: Final = re.compile(r"[A-Za-z0-9._]{1,30}")
_TIKTOK_HANDLE: Final = re.compile(r"[A-Za-z0-9._]{2,30}")
# GitHub names cannot start with a hyphen; old accounts may end with one or hold two in
# a row, so "foo-" is a different account from "foo" and both are accepted.
_GITHUB_HANDLE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}")
_FACEBOOK_USERNAME: Final = re.compile(r"[A-Za-z0-9.]{1,50}")
_FACEBOOK_ID: Final = re.compile(r"[0-9]{1,25}")
_MASTODON_USER: Final = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?")
_LINKEDIN_EXTRA: Final = frozenset("-_")

_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.*)", re.S)
_HANDLE_AT_SERVER: Final = re.compile(r"@?[^@/]+@[^@/]+")
_URL_WITH_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_URL: Final = re.compile(
    r"(?P<scheme>[^:/?#]+)://(?P<authority>[^/?#]*)(?P<path>[^?#]*)"
    r"(?:\?(?P<query>[^#]*))?(?:#.*)?",
    re.S,
)
_PERCENT_ESCAPES: Final = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def _not_a_profile(platform: str) -> IdentifierError:
    return IdentifierError(
        IdentifierKind.PROFILE,
        f"this is not a link to a profile on {_PLATFORM_LABELS[platform]}: a profile link "
        f"looks like {_PLATFORM_EXAMPLES[platform]}",
    )


def _bad_handle(platform: str, rule: str) -> IdentifierError:
    return IdentifierError(
        IdentifierKind.PROFILE, f"a name on {_PLATFORM_LABELS[platform]} has {rule}: check it"
    )


def _canonical_profile(text: str) -> str:
    if _has_whitespace(text):
        raise IdentifierError(
            IdentifierKind.PROFILE, "a profile link or name has no spaces: remove them"
        )
    scheme = _SCHEME.fullmatch(text)
    if scheme is not None and not scheme.group(2).startswith("//"):
        name = scheme.group(1).lower()
        platform = _PLATFORM_ALIASES.get(name, name)
        if platform not in _PLATFORM_LABELS:
            raise IdentifierError(
                IdentifierKind.PROFILE,
                f"unknown platform: write platform:name with one of {', '.join(_PLATFORM_LABELS)}",
            )
        return _profile(platform, scheme.group(2).removeprefix("@"))
    if "/" not in text and _HANDLE_AT_SERVER.fullmatch(text):
        return _profile("mastodon", text.removeprefix("@"))
    if text.startswith("@") or ("/" not in text and "." not in text):
        # "@name" alone could be anyone on any platform: it is refused, never guessed.
        raise IdentifierError(
            IdentifierKind.PROFILE,
            "say which platform this name is on: write platform:name (for example x:name or "
            "instagram:name) or paste the link to the profile",
        )
    return _profile_from_url(text)


def _profile(platform: str, handle: str) -> str:
    return f"{platform}:{_HANDLE_NORMALIZERS[platform](handle)}"


def _percent_decode(text: str) -> str | None:
    """Decode %XX escapes as UTF-8; None when an escape is malformed or not UTF-8."""
    if "%" in _PERCENT_ESCAPES.sub("", text):
        return None
    try:
        return _PERCENT_ESCAPES.sub(
            lambda run: bytes.fromhex(run.group().replace("%", "")).decode("utf-8"), text
        )
    except UnicodeDecodeError:
        return None


def _profile_from_url(text: str) -> str:
    # The link is split with RFC 3986's own regular expression (appendix B), written
    # out here rather than borrowed so that every implementation splits it the same way.
    url = text if _URL_WITH_SCHEME.match(text) else "https://" + text.removeprefix("//")
    parts = _URL.fullmatch(url)
    authority = parts.group("authority") if parts is not None else ""
    # A user name, a password or a port has no place in a link to a profile.
    if parts is None or not authority or "@" in authority or ":" in authority:
        raise IdentifierError(IdentifierKind.PROFILE, "this is not a valid link: copy it again")
    if parts.group("scheme").lower() not in {"http", "https"}:
        raise IdentifierError(IdentifierKind.PROFILE, "a profile link starts with https://")
    host = _domain_name(
        IdentifierKind.PROFILE, authority, "the site name in this link is not valid"
    )
    segments = _path_segments(parts.group("path"))
    platform = _platform_for_host(host)
    if platform is None:
        return _mastodon_from_url(host, segments)
    return _profile(platform, _URL_HANDLERS[platform](segments, parts.group("query") or ""))


def _path_segments(path: str) -> list[str]:
    segments: list[str] = []
    for raw in path.split("/"):
        decoded = _percent_decode(raw)
        if decoded is None:
            raise IdentifierError(
                IdentifierKind.PROFILE, "this link has a broken %-escape: copy it again"
            )
        segment = _normalize_text(decoded)
        _check_characters(IdentifierKind.PROFILE, segment)
        if segment:
            segments.append(segment)
    return segments


def _platform_for_host(host: str) -> str | None:
    for domain, platform in _PLATFORM_DOMAINS.items():
        if host == domain:
            return platform
        if host.endswith("." + domain):
            sub = host.removesuffix("." + domain)
            if (
                sub in _WEB_SUBDOMAINS
                or sub in _EXTRA_SUBDOMAINS.get(platform, frozenset())
                or (platform == "linkedin" and _COUNTRY_SUBDOMAIN.fullmatch(sub))
            ):
                return platform
            # Short links (vm.tiktok.com, lnkd.in-style redirects) hide the profile behind
            # a server look-up; this module never performs one.
            raise IdentifierError(
                IdentifierKind.PROFILE,
                f"this {_PLATFORM_LABELS[platform]} link does not point at a profile directly: "
                "open it and copy the address of the profile page, which looks like "
                f"{_PLATFORM_EXAMPLES[platform]}",
            )
    if host in _UNSUPPORTED_DOMAINS or host.endswith(tuple("." + d for d in _UNSUPPORTED_DOMAINS)):
        raise _unsupported_site()
    return None


def _unsupported_site() -> IdentifierError:
    return IdentifierError(
        IdentifierKind.PROFILE,
        f"this site is not supported: profiles are accepted from {_SUPPORTED_PLATFORMS}",
    )


def _single_handle(platform: str, segments: list[str], tabs: frozenset[str]) -> str:
    # /<name>, or /<name>/<tab> for the tabs of a profile page; anything else (a post, a
    # repository, a settings page) is not a profile.
    if (
        not segments
        or len(segments) > 2
        or (len(segments) == 2 and segments[1].lower() not in tabs)
    ):
        raise _not_a_profile(platform)
    return segments[0]


def _linkedin_from_url(segments: list[str], _query: str) -> str:
    if len(segments) >= 2 and segments[0].lower() == "in":
        # Anything after the name (/details/..., /recent-activity/, a locale) is a view
        # of the same profile.
        return segments[1]
    if segments and segments[0].lower() == "pub":
        raise IdentifierError(
            IdentifierKind.PROFILE,
            "old LinkedIn links (/pub/...) cannot be resolved here: open the link and copy "
            "the address it leads to, which looks like linkedin.com/in/<name>",
        )
    raise _not_a_profile("linkedin")


def _x_from_url(segments: list[str], _query: str) -> str:
    return _single_handle("x", segments, _X_TABS)


def _instagram_from_url(segments: list[str], _query: str) -> str:
    return _single_handle("instagram", segments, _INSTAGRAM_TABS)


def _github_from_url(segments: list[str], _query: str) -> str:
    # Tabs of a GitHub profile are query strings (?tab=repositories); a second path
    # segment is a repository.
    return _single_handle("github", segments, frozenset())


def _tiktok_from_url(segments: list[str], _query: str) -> str:
    if len(segments) == 1 and segments[0].startswith("@"):
        return segments[0][1:]
    raise _not_a_profile("tiktok")


def _facebook_from_url(segments: list[str], query: str) -> str:
    first = segments[0].lower() if segments else ""
    if first == "profile.php" and len(segments) == 1:
        ids = [value for name, _, value in _query_pairs(query) if name == "id"]
        if len(ids) != 1:
            raise _not_a_profile("facebook")
        return "id:" + ids[0]
    if first == "people" and len(segments) >= 3:
        # /people/<Display-Name>/<numeric id>: the display name is not unique.
        return "id:" + segments[2]
    return _single_handle("facebook", segments, _FACEBOOK_TABS)


def _query_pairs(query: str) -> list[tuple[str, str, str]]:
    pairs = []
    for pair in query.split("&"):
        decoded = _percent_decode(pair)
        if decoded is None:
            raise IdentifierError(
                IdentifierKind.PROFILE, "this link has a broken %-escape: copy it again"
            )
        pairs.append(_normalize_text(decoded).partition("="))
    return pairs


def _mastodon_from_url(host: str, segments: list[str]) -> str:
    if (
        not segments
        or not segments[0].startswith("@")
        or len(segments) > 2
        or (len(segments) == 2 and segments[1].lower() not in _MASTODON_TABS)
    ):
        raise _unsupported_site()
    user = segments[0][1:]
    # https://<your server>/@<name>@<their server> shows a remote account through your
    # own server: the account is <name>@<their server>.
    return _profile("mastodon", user if "@" in user else f"{user}@{host}")


def _linkedin_handle(handle: str) -> str:
    # Links copied from LinkedIn search carry an internal member id (ACoAA...), not the
    # public name; it would never meet the public link of the same person.
    if handle.startswith("ACoAA"):
        raise IdentifierError(
            IdentifierKind.PROFILE,
            "this is LinkedIn's internal link to a member: open the profile and copy its "
            "public address (linkedin.com/in/<name>) from 'Contact info'",
        )
    # LinkedIn: "the customizable part of the URL is case insensitive"; names other than
    # custom ones may hold letters of any script.
    slug = unicodedata.normalize("NFKC", handle.lower())
    if not 3 <= len(slug) <= 100 or not all(
        unicodedata.category(ch)[0] in "LMN" or ch in _LINKEDIN_EXTRA for ch in slug
    ):
        raise _bad_handle("linkedin", "3 to 100 letters, digits or hyphens")
    return slug


def _x_handle(handle: str) -> str:
    if not _X_HANDLE.fullmatch(handle):
        raise _bad_handle("x", "1 to 15 letters, digits or underscores")
    if handle.lower() in _X_RESERVED:
        raise _not_a_profile("x")
    return handle.lower()


def _instagram_handle(handle: str) -> str:
    if not _INSTAGRAM_HANDLE.fullmatch(handle) or handle.endswith("."):
        raise _bad_handle(
            "instagram", "1 to 30 letters, digits, dots or underscores, not ending in a dot"
        )
    if handle.lower() in _INSTAGRAM_RESERVED:
        raise _not_a_profile("instagram")
    return handle.lower()


def _tiktok_handle(handle: str) -> str:
    if not _TIKTOK_HANDLE.fullmatch(handle):
        raise _bad_handle("tiktok", "2 to 30 letters, digits, dots or underscores")
    return handle.lower()


def _github_handle(handle: str) -> str:
    if not _GITHUB_HANDLE.fullmatch(handle):
        raise _bad_handle(
            "github", "1 to 39 letters, digits or hyphens, not starting with a hyphen"
        )
    if handle.lower() in _GITHUB_RESERVED:
        raise _not_a_profile("github")
    return handle.lower()


def _facebook_handle(handle: str) -> str:
    tagged = handle[:3].lower() == "id:"
    if tagged or (handle.isascii() and handle.isdigit()):
        # facebook.com/<number> opens the profile with that id, so a name made of digits
        # only is an id: the same namespace as facebook.com/profile.php?id=<number>.
        number = handle[3:] if tagged else handle
        if not _FACEBOOK_ID.fullmatch(number) or int(number) == 0:
            raise _bad_handle("facebook", "a numeric profile id made of digits only")
        return f"id:{int(number)}"
    lowered = handle.lower()
    # Facebook: "periods and capitalization can't be used to differentiate usernames".
    name = lowered.replace(".", "")
    if (
        not _FACEBOOK_USERNAME.fullmatch(handle)
        or lowered.endswith(".php")
        or lowered in _FACEBOOK_RESERVED
        or name in _FACEBOOK_RESERVED
    ):
        raise _not_a_profile("facebook")
    if not name or name.isdigit():
        raise IdentifierError(
            IdentifierKind.PROFILE,
            "a Facebook user name has at least one letter; for a numeric profile id use "
            "facebook.com/profile.php?id=<number>",
        )
    return name


def _mastodon_handle(handle: str) -> str:
    user, at, server = handle.partition("@")
    if not at or not _MASTODON_USER.fullmatch(user):
        raise IdentifierError(
            IdentifierKind.PROFILE,
            "a Mastodon account looks like name@server or https://<server>/@<name>: check it",
        )
    host = _domain_name(IdentifierKind.PROFILE, server, "the Mastodon server name is not valid")
    if host in _MAIL_ONLY_DOMAINS:
        raise IdentifierError(
            IdentifierKind.PROFILE, "this looks like an email address: give it with the kind email"
        )
    platform = _platform_for_host(host)
    if platform is not None:
        raise IdentifierError(
            IdentifierKind.PROFILE,
            f"this is not a Mastodon server: for {_PLATFORM_LABELS[platform]} write "
            f"{platform}:<name> or paste the profile link",
        )
    # Mastodon compares user names without case (local names are unique regardless of
    # case) and DNS names are case-insensitive: both are lower-cased.
    return f"{user.lower()}@{host}"


_HANDLE_NORMALIZERS: Final = {
    "linkedin": _linkedin_handle,
    "x": _x_handle,
    "instagram": _instagram_handle,
    "facebook": _facebook_handle,
    "tiktok": _tiktok_handle,
    "github": _github_handle,
    "mastodon": _mastodon_handle,
}
_URL_HANDLERS: Final = {
    "linkedin": _linkedin_from_url,
    "x": _x_from_url,
    "instagram": _instagram_from_url,
    "facebook": _facebook_from_url,
    "tiktok": _tiktok_from_url,
    "github": _github_from_url,
}


# --- orgid -------------------------------------------------------------------------------

_UUID: Final = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)
_MAX_ORG_ID_CHARS: Final = 256


def _canonical_orgid(text: str) -> str:
    domain_part, colon, local_id = text.partition(":")
    domain_part = domain_part.strip(_WHITESPACE)
    local_id = local_id.strip(_WHITESPACE)
    if not colon or not domain_part or not local_id:
        raise IdentifierError(
            IdentifierKind.ORGID,
            "write an organization id as domain:id, for example example.org:E12345",
        )
    domain = _domain_name(
        IdentifierKind.ORGID,
        domain_part,
        "the part before the : must be the organization's domain name, such as example.org",
    )
    # "www." names a web server, never an organization: www.example.org is example.org.
    if domain.startswith("www.") and domain.count(".") >= 2:
        domain = domain.removeprefix("www.")
    if _has_whitespace(local_id):
        # Refused rather than removed: only the survivor knows whether the space was part
        # of the id; typed without it, both spellings meet.
        raise IdentifierError(
            IdentifierKind.ORGID, "an organization id has no spaces: type it without them"
        )
    if len(local_id) > _MAX_ORG_ID_CHARS:
        raise IdentifierError(
            IdentifierKind.ORGID,
            f"the id after the : is too long: at most {_MAX_ORG_ID_CHARS} characters",
        )
    # Case is kept: an organization's ids may be case-sensitive. UUIDs are the exception:
    # RFC 9562 makes them case-insensitive on input, lower-case on output.
    if _UUID.fullmatch(local_id):
        local_id = local_id.lower()
    return f"{domain}:{local_id}"
