"""Identifier canonicalization: spellings that must meet, look-alikes that must not,
refusals that say what to fix without quoting the input, and Hypothesis properties."""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Callable

import phonenumbers
import pytest
from hypothesis import assume, given, reject, settings
from hypothesis import strategies as st

from notalone.errors import IdentifierError, InputError
from notalone.protocol.identifiers import (
    MAX_INPUT_CHARS,
    OPRF_INPUT_PREFIX,
    CanonicalIdentifier,
    IdentifierKind,
    canonicalize,
)

EMAIL = IdentifierKind.EMAIL
PHONE = IdentifierKind.PHONE
PROFILE = IdentifierKind.PROFILE
ORGID = IdentifierKind.ORGID

Spelling = str | tuple[str, str]


def _group(kind: IdentifierKind, canonical: str, *spellings: Spelling) -> list[object]:
    """One expected canonical form and the spellings (value or (value, region)) of it."""
    cases: list[object] = []
    for spelling in (canonical, *spellings):
        value, region = (spelling, None) if isinstance(spelling, str) else spelling
        cases.append(pytest.param(kind, value, region, canonical, id=f"{kind}:{value!a}"))
    return cases


# --- (a) spellings of one identifier that must meet -------------------------------------

MEET = [
    *_group(
        PHONE,
        "+14155550134",
        ("(415) 555-0134", "US"),
        ("415.555.0134", "us"),
        ("+14155550134", "GB"),  # A number with its country code ignores the region.
        "+1 415 555 0134",
        "+1-415-555-0134",
        "+1 (415) 555.0134",
        "(+1) 415 555 0134",
        "tel:+14155550134",
        "tel:+1-415-555-0134",
        "001 415 555 0134",
        "\u200b+1\u00a0415\u00a0555\u00a00134\u200e",
        "+\uff11 \uff14\uff11\uff15 \uff15\uff15\uff15 \uff10\uff11\uff13\uff14",
        "+\u0661 \u0664\u0661\u0665 \u0665\u0665\u0665 \u0660\u0661\u0663\u0664",
    ),
    *_group(
        PHONE,
        "+442079460958",
        "+44 20 7946 0958",
        "+44 (0)20 7946 0958",
        ("020 7946 0958", "GB"),
        "0044 20 7946 0958",
        ("011 44 20 7946 0958", "US"),
    ),
    *_group(
        PHONE,
        "+14155550134;ext=12",
        "+1 415 555 0134 ext. 12",
        "+1 415 555 0134 extension 12",
        "+1 415 555 0134 x12",
        "tel:+1-415-555-0134;ext=12",
        ("(415) 555-0134 #12", "US"),
    ),
    *_group(PHONE, "+390612345678", "+39 06 1234 5678", ("06 1234 5678", "IT")),
    *_group(PHONE, "+4915123456789", "+49 1512 3456789", ("01512 3456789", "DE")),
    *_group(PHONE, "+819012345678", ("090-1234-5678", "JP"), "+81 90-1234-5678"),
    *_group(
        EMAIL,
        "johndoe@gmail.com",
        "John.Doe+work@GMail.com",
        "johndoe@googlemail.com",
        "j.o.h.n.d.o.e@gmail.com",
        "JOHNDOE@GMAIL.COM",
        " johndoe@gmail.com\n",
        "john\u200bdoe@gmail.com",
        "johndoe@gmail.com.",
        "mailto:John.Doe%2Bx@gmail.com?subject=hello",
        "John Doe <john.doe@gmail.com>",
        "\uff4a\uff4f\uff48\uff4e\uff44\uff4f\uff45\uff20\uff47\uff4d\uff41\uff49\uff4c\uff0e\uff43\uff4f\uff4d",
    ),
    *_group(EMAIL, "john.doe@outlook.com", "John.Doe@Outlook.com", "john.doe+shop@outlook.com"),
    *_group(EMAIL, "jane@icloud.com", "Jane@me.com", "jane@MAC.com", "jane+news@icloud.com"),
    *_group(
        EMAIL,
        "alicejones@proton.me",
        "alice.jones@protonmail.com",
        "Alice_Jones+x@pm.me",
        "alice-jones@protonmail.ch",
    ),
    *_group(EMAIL, "j.smith@fastmail.com", "J.Smith+lists@FastMail.com"),
    *_group(
        EMAIL,
        "jos\u00e9@xn--bcher-kva.example",
        "Jos\u00e9@B\u00fccher.example",
        "JOS\u00c9@XN--BCHER-KVA.EXAMPLE",
        "jose\u0301@b\u00fccher.example",
    ),
    *_group(EMAIL, "first.last+tag@example.org", "First.Last+Tag@Example.ORG"),
    *_group(
        PROFILE,
        "linkedin:jane-doe",
        "https://www.linkedin.com/in/Jane-Doe/?trk=x",
        "linkedin.com/in/jane-doe",
        "http://linkedin.com/in/JANE-DOE",
        "https://uk.linkedin.com/in/jane-doe",
        "https://m.linkedin.com/in/jane-doe/details/experience/",
        "https://www.linkedin.com/in/jane-doe#experience",
        "www.linkedin.com/in/jane%2Ddoe",
        "LinkedIn:@Jane-Doe",
    ),
    *_group(
        PROFILE,
        "linkedin:\u0438\u0432\u0430\u043d-\u043f\u0435\u0442\u0440\u043e\u0432",
        "https://www.linkedin.com/in/%D0%B8%D0%B2%D0%B0%D0%BD-%D0%BF%D0%B5%D1%82%D1%80%D0%BE%D0%B2/",
        "linkedin.com/in/\u0418\u0432\u0430\u043d-\u041f\u0435\u0442\u0440\u043e\u0432",
    ),
    *_group(
        PROFILE,
        "x:jack",
        "https://twitter.com/Jack",
        "x.com/jack",
        "https://mobile.twitter.com/jack?lang=en",
        "www.x.com/jack/with_replies",
        "HTTPS://X.COM/JACK/",
        "//x.com/jack#top",
        "x:@Jack",
        "twitter:jack",
    ),
    *_group(
        PROFILE,
        "instagram:jane.doe",
        "https://www.instagram.com/Jane.Doe/",
        "instagram.com/jane.doe?igsh=abc",
        "instagr.am/jane.doe",
        "instagram:@jane.doe",
    ),
    *_group(
        PROFILE,
        "facebook:johnsmith55",
        "https://www.facebook.com/John.Smith55",
        "m.facebook.com/john.smith.55/about",
        "fb.com/JohnSmith55",
        "facebook:john.smith55",
    ),
    *_group(
        PROFILE,
        "facebook:id:100004123456789",
        "https://www.facebook.com/profile.php?id=100004123456789",
        "m.facebook.com/profile.php?sk=about&id=100004123456789",
        "facebook.com/100004123456789",
        "https://www.facebook.com/people/Jane-Doe/100004123456789/",
        "facebook:100004123456789",
    ),
    *_group(
        PROFILE,
        "tiktok:some.user",
        "https://www.tiktok.com/@Some.User?lang=en",
        "tiktok.com/%40some.user",
        "tiktok:@some.user",
    ),
    *_group(
        PROFILE,
        "github:foo",
        "https://github.com/Foo",
        "github.com/foo?tab=repositories",
        "www.github.com/foo/",
        "github:FOO",
    ),
    *_group(PROFILE, "github:foo-", "https://github.com/Foo-"),
    *_group(
        PROFILE,
        "mastodon:gargron@mastodon.social",
        "https://mastodon.social/@Gargron",
        "mastodon.social/@gargron/with_replies",
        "https://hachyderm.io/@Gargron@mastodon.social",
        "@Gargron@Mastodon.Social",
        "gargron@mastodon.social",
        "mastodon:@gargron@mastodon.social",
    ),
    *_group(
        PROFILE,
        "mastodon:anna@xn--bcher-kva.example",
        "https://b\u00fccher.example/@anna",
        "anna@B\u00dcCHER.example",
    ),
    *_group(
        ORGID,
        "example.org:E-1042",
        "Example.ORG:E-1042",
        "www.example.org:E-1042",
        " example.org : E-1042 ",
        "example.org.:E-1042",
        "\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff4f\uff52\uff47\uff1aE-1042",
    ),
    *_group(
        ORGID,
        "example.org:550e8400-e29b-41d4-a716-446655440000",
        "example.org:550E8400-E29B-41D4-A716-446655440000",
    ),
    *_group(ORGID, "xn--bcher-kva.example:123", "b\u00fccher.example:\uff11\uff12\uff13"),
]


@pytest.mark.parametrize(("kind", "value", "region", "expected"), MEET)
def test_spellings_meet(
    kind: IdentifierKind, value: str, region: str | None, expected: str
) -> None:
    identifier = canonicalize(kind, value, region=region)
    assert identifier.kind is kind
    assert identifier.canonical == expected
    assert identifier.oprf_input() == f"{OPRF_INPUT_PREFIX}{kind}|{expected}".encode()


# --- (b) look-alikes that must not meet -------------------------------------------------

NOT_MEET = [
    (PHONE, "+1 415 555 0134", PHONE, "+1 415 555 0135"),
    (PHONE, "+1 415 555 0134", PHONE, "+1 415 555 0134 ext. 12"),
    (PHONE, "+1 415 555 0134 ext. 12", PHONE, "+1 415 555 0134 ext. 13"),
    (PHONE, "+44 20 7946 0958", PHONE, "+1 207 946 0958"),
    (EMAIL, "john.doe@outlook.com", EMAIL, "johndoe@outlook.com"),
    (EMAIL, "johndoe@gmail.com", EMAIL, "johndoe@outlook.com"),
    (EMAIL, "jane@hotmail.com", EMAIL, "jane@outlook.com"),
    (EMAIL, "alice@fastmail.com", EMAIL, "alice@fastmail.fm"),
    (EMAIL, "first.last+tag@example.org", EMAIL, "first.last@example.org"),
    (EMAIL, "a.b@example.org", EMAIL, "ab@example.org"),
    (EMAIL, "jane@example.org", EMAIL, "jane@example.org.uk"),
    (PROFILE, "x:jack", PROFILE, "instagram:jack"),
    (PROFILE, "twitter.com/jack", PROFILE, "github.com/jack"),
    (PROFILE, "github.com/foo", PROFILE, "github.com/foo-"),
    (PROFILE, "instagram.com/jane.doe", PROFILE, "instagram.com/janedoe"),
    (PROFILE, "instagram.com/jane_doe", PROFILE, "instagram.com/jane.doe"),
    (PROFILE, "tiktok.com/@jane.doe", PROFILE, "tiktok.com/@janedoe"),
    (PROFILE, "linkedin.com/in/jane-doe", PROFILE, "linkedin.com/in/janedoe"),
    (PROFILE, "facebook:id:12345", PROFILE, "facebook:id:123456"),
    (PROFILE, "alice@mastodon.social", PROFILE, "alice@mastodon.online"),
    (PROFILE, "https://mastodon.social/@alice", PROFILE, "https://hachyderm.io/@alice"),
    (ORGID, "example.org:E-1042", ORGID, "example.org:e-1042"),
    (ORGID, "example.org:E-1042", ORGID, "example.com:E-1042"),
    (ORGID, "eng.example.org:1", ORGID, "example.org:1"),
    (EMAIL, "jane@example.org", PROFILE, "jane@example.org"),
]


@pytest.mark.parametrize(
    ("kind_a", "value_a", "kind_b", "value_b"),
    [pytest.param(*case, id=f"{case[1]!a}-vs-{case[3]!a}") for case in NOT_MEET],
)
def test_look_alikes_do_not_meet(
    kind_a: IdentifierKind, value_a: str, kind_b: IdentifierKind, value_b: str
) -> None:
    first = canonicalize(kind_a, value_a)
    second = canonicalize(kind_b, value_b)
    assert first.oprf_input() != second.oprf_input()
    assert first != second


# --- (c) refusals: what to fix, never the input -----------------------------------------

TOO_LONG = "x" * (MAX_INPUT_CHARS + 1)

INVALID = [
    (PHONE, "(415) 555-0134", None, "add the country code"),
    (PHONE, "+1 415 555 0134", "ZZ", "unknown region"),
    (PHONE, "415 555 0134", "USA", "unknown region"),
    (PHONE, "+1 415 555 013", None, "too short"),
    (PHONE, "+1 415 555 01345", None, "too long"),
    (PHONE, "+999 123 4567", None, "country code is not valid"),
    (PHONE, "+1 555 555 5555", None, "does not exist"),
    (PHONE, "+1 800 FLOWERS", None, "letters are not accepted"),
    (PHONE, "call +1 415 555 0134", None, "letters are not accepted"),
    (PHONE, "+1 415 555 0134 +1 415 555 0135", None, "the + must come first"),
    (PHONE, "415 + 555 0134", "US", "the + must come first"),
    (PHONE, "tel:415-555-0134", None, "starting with +"),
    (PHONE, "tel:+14155550134;isub=1234", None, "only an ;ext="),
    (PHONE, "tel:+14155550134;ext=1;ext=2", None, "only an ;ext="),
    (PHONE, "tel:5550134;phone-context=+1415", None, "only an ;ext="),
    (PHONE, "(--)", None, "no digits"),
    (PHONE, "+1 415 555 0134", "", "unknown region"),
    (EMAIL, "jane.doe", None, "needs an @"),
    (EMAIL, "jane@localhost", None, "not a valid domain name"),
    (EMAIL, "@example.org", None, "nothing before the @"),
    (EMAIL, "jane@", None, "nothing after the @"),
    (EMAIL, "+news@gmail.com", None, "nothing before the +tag"),
    (EMAIL, "jane.+news@outlook.com", None, "dot right before the @"),
    (EMAIL, "jane doe@example.org", None, "part before the @ is not valid"),
    (EMAIL, "jane..doe@example.org", None, "two dots in a row"),
    (EMAIL, ".jane@example.org", None, "cannot start with a dot"),
    (EMAIL, "jane@example.org..", None, "cannot end with a dot"),
    (EMAIL, "jane@.example.org", None, "cannot start with a dot or hyphen"),
    (EMAIL, "jane@example-.org", None, "a dot and a hyphen"),
    (EMAIL, '"jane doe"@example.org', None, "quoted addresses"),
    (EMAIL, "jane@example.local", None, "reserved"),
    (EMAIL, "jane@example.org, joe@example.org", None, "not a valid domain name"),
    (EMAIL, "mailto:%E2%28@example.org", None, "mailto: link is broken"),
    (EMAIL, "jane@[192.0.2.1]", None, "not a valid"),
    (EMAIL, "jane@example.org", "US", "region applies only to phone numbers"),
    (PROFILE, "@jack", None, "say which platform"),
    (PROFILE, "jack", None, "say which platform"),
    (PROFILE, "x.com/home", None, "x.com/<name>"),
    (PROFILE, "https://x.com/jack/status/123", None, "not a link to a profile on X"),
    (PROFILE, "github.com/org/repo", None, "github.com/<name>"),
    (PROFILE, "github.com/settings", None, "github.com/<name>"),
    (PROFILE, "linkedin.com/company/acme", None, "linkedin.com/in/<name>"),
    (PROFILE, "https://www.linkedin.com/feed/", None, "linkedin.com/in/<name>"),
    (PROFILE, "instagram.com/p/Cabc123", None, "instagram.com/<name>"),
    (PROFILE, "instagram.com/janedoe/p/Cabc123", None, "instagram.com/<name>"),
    (PROFILE, "https://www.facebook.com/groups/12345", None, "not a link to a profile"),
    (PROFILE, "https://m.facebook.com/profile.php?ref=bookmarks", None, "?id=<number>"),
    (PROFILE, "facebook.com/home.php", None, "not a link to a profile"),
    (PROFILE, "facebook.com/1234.5678", None, "at least one letter"),
    (PROFILE, "facebook:id:0", None, "numeric profile id"),
    (PROFILE, "tiktok.com/janedoe", None, "tiktok.com/@<name>"),
    (PROFILE, "tiktok.com/@janedoe/video/123", None, "tiktok.com/@<name>"),
    (PROFILE, "https://vm.tiktok.com/ZMabc/", None, "does not point at a profile directly"),
    (PROFILE, "https://www.youtube.com/@janedoe", None, "not supported"),
    (PROFILE, "https://example.com/janedoe", None, "not supported"),
    (PROFILE, "https://example.com/@janedoe/12345", None, "not supported"),
    (PROFILE, "myspace:janedoe", None, "unknown platform"),
    (PROFILE, "x:this_is_far_too_long", None, "1 to 15"),
    (PROFILE, "x.com/jane doe", None, "no spaces"),
    (PROFILE, "ftp://x.com/jack", None, "starts with https://"),
    (PROFILE, "https://x.com:8080/jack", None, "not a valid link"),
    (PROFILE, "https://someone@x.com/jack", None, "not a valid link"),
    (PROFILE, "https://", None, "not a valid link"),
    (PROFILE, "https://x_y.example/@jack", None, "site name in this link is not valid"),
    (PROFILE, "x.com/%E2%28", None, "broken %-escape"),
    (PROFILE, "x.com/%ZZjack", None, "broken %-escape"),
    (PROFILE, "instagram.com/explore", None, "instagram.com/<name>"),
    (PROFILE, "facebook.com/profile.php?id=%E2%28", None, "broken %-escape"),
    (PROFILE, "https://www.linkedin.com/in/ACoAAAbCdEfGhIjKlMnOp", None, "internal link"),
    (PROFILE, "https://www.linkedin.com/pub/jane-doe/1/23/456", None, "/pub/"),
    (PROFILE, "linkedin.com/in/jd", None, "3 to 100"),
    (PROFILE, "janedoe@gmail.com", None, "looks like an email address"),
    (PROFILE, "jack@x.com", None, "not a Mastodon server"),
    (PROFILE, "mastodon:janedoe", None, "name@server"),
    (PROFILE, "mastodon:jane@localhost", None, "server name is not valid"),
    (PROFILE, "github.com/-foo", None, "not starting with a hyphen"),
    (PROFILE, "instagram.com/jane.", None, "not ending in a dot"),
    (PROFILE, "tiktok:@j", None, "2 to 30"),
    (ORGID, "E-1042", None, "domain:id"),
    (ORGID, "acme.example:", None, "domain:id"),
    (ORGID, "example.org:E 1042", None, "no spaces"),
    (ORGID, "https://example.org/E-1042", None, "domain name"),
    (ORGID, "localhost:E-1042", None, "domain name"),
    (ORGID, "example.org:" + "9" * 300, None, "too long"),
    # U+FDFA is one character that NFKC expands to eighteen.
    (ORGID, "example.org:" + "\ufdfa" * 30, None, "too long"),
    ("name", "Jane Doe", None, "unknown identifier kind"),
    *[(kind, "", None, "is empty") for kind in IdentifierKind],
    *[(kind, " \u200b\t\ufeff ", None, "is empty") for kind in IdentifierKind],
    *[(kind, TOO_LONG, None, "too long") for kind in IdentifierKind],
    *[(kind, "abc\x00def@example.org", None, "control") for kind in IdentifierKind],
    (PROFILE, "x:\ue000jack", None, "control or unassigned"),
]


@pytest.mark.parametrize(
    ("kind", "value", "region", "fragment"),
    [pytest.param(*case, id=f"{case[0]}:{case[1][:40]!a}") for case in INVALID],
)
def test_refusals_say_what_to_fix_without_the_input(
    kind: IdentifierKind | str, value: str, region: str | None, fragment: str
) -> None:
    with pytest.raises(IdentifierError) as caught:
        canonicalize(kind, value, region=region)
    error = caught.value
    message = str(error)
    assert fragment in message
    assert isinstance(error, InputError)
    assert error.kind == (kind if kind in set(IdentifierKind) else "unknown")
    if len(value.strip()) >= 4:
        assert value.strip() not in message
    # The libraries' messages quote the input: nothing of theirs may ride along.
    assert error.__cause__ is None
    assert error.__context__ is None


def test_the_table_is_large_enough() -> None:
    assert len(MEET) + len(NOT_MEET) + len(INVALID) >= 80


# --- the value object -------------------------------------------------------------------


def test_oprf_input_is_prefix_kind_and_canonical_in_utf8() -> None:
    identifier = canonicalize("email", "Jos\u00e9@example.org")
    assert identifier.oprf_input() == "notalone/v1/id|email|jos\u00e9@example.org".encode()


def test_repr_and_str_redact_the_value() -> None:
    identifier = canonicalize("profile", "x.com/secretive_name")
    for text in (repr(identifier), str(identifier), f"{identifier}", f"{[identifier]}"):
        assert "secretive" not in text
        assert "<redacted>" in text
        assert "'profile'" in text


def test_kind_is_accepted_as_text_in_any_case() -> None:
    assert canonicalize(" Phone ", "+1 415 555 0134").kind is PHONE
    assert CanonicalIdentifier("orgid", "example.org:E-1042").kind is ORGID  # type: ignore[arg-type]


def test_only_canonical_values_can_be_built() -> None:
    assert CanonicalIdentifier(PHONE, "+14155550134").canonical == "+14155550134"
    with pytest.raises(IdentifierError, match="not in canonical form"):
        CanonicalIdentifier(PHONE, "+1 415 555 0134")
    with pytest.raises(IdentifierError, match="must be given as text"):
        CanonicalIdentifier(EMAIL, b"jane@example.org")  # type: ignore[arg-type]
    with pytest.raises(IdentifierError, match="unknown identifier kind"):
        CanonicalIdentifier("nickname", "jane")  # type: ignore[arg-type]


def test_region_is_case_and_space_insensitive() -> None:
    assert canonicalize(PHONE, "020 7946 0958", region=" gb ").canonical == "+442079460958"


# --- Hypothesis: idempotence, noise invariance, no echo ---------------------------------

# 200 examples by default; HYPOTHESIS_PROFILE=thorough (tests/conftest.py) raises it.
PROPERTIES = settings(max_examples=max(200, settings().max_examples))

_ATOM = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,7}", fullmatch=True)
_UNICODE_ATOM = st.text(
    alphabet="abcz\u00e9\u00df\u03a3\u03c3\u03c2\u0130\u0131\ufb01\uff21\u00c5\u212b",
    min_size=1,
    max_size=6,
)
_MAIL_DOMAINS = (
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "me.com",
    "icloud.com",
    "pm.me",
    "protonmail.com",
    "fastmail.com",
    "example.org",
    "mail.example.co.uk",
    "b\u00fccher.example",
)


def _locals(atom: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda atoms, tag: ".".join(atoms) + tag,
        st.lists(atom, min_size=1, max_size=3),
        st.one_of(st.just(""), _ATOM.map(lambda tag: "+" + tag)),
    )


@st.composite
def _case_noise(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(ch.swapcase() if flip else ch for ch, flip in zip(text, flips, strict=True))


_SURROUNDING = st.sampled_from(["", " ", "\t", "\n", "\u00a0", "\u200b", "\ufeff", " \u3000 "])


def _canonical_or_reject(kind: IdentifierKind, value: str) -> str:
    try:
        return canonicalize(kind, value).canonical
    except IdentifierError:
        reject()


def _assert_idempotent(kind: IdentifierKind, value: str) -> None:
    canonical = _canonical_or_reject(kind, value)
    assert canonicalize(kind, canonical).canonical == canonical
    assert unicodedata.is_normalized("NFKC", canonical)


@PROPERTIES
@given(local=_locals(st.one_of(_ATOM, _UNICODE_ATOM)), domain=st.sampled_from(_MAIL_DOMAINS))
def test_email_is_idempotent(local: str, domain: str) -> None:
    _assert_idempotent(EMAIL, f"{local}@{domain}")


@st.composite
def _noisy_email(draw: st.DrawFn) -> tuple[str, str]:
    local = draw(_locals(_ATOM))
    domain = draw(st.sampled_from(_MAIL_DOMAINS))
    clean = f"{local}@{domain}"
    noisy = draw(_case_noise(local)) + "@" + draw(_case_noise(domain))
    if draw(st.booleans()):
        noisy = "mailto:" + noisy.replace("+", "%2B")
    return clean, draw(_SURROUNDING) + noisy + draw(_SURROUNDING)


@PROPERTIES
@given(pair=_noisy_email())
def test_email_noise_does_not_change_the_result(pair: tuple[str, str]) -> None:
    clean, noisy = pair
    assert canonicalize(EMAIL, noisy) == canonicalize(EMAIL, clean)


@PROPERTIES
@given(local=_ATOM, dots=st.lists(st.integers(min_value=1, max_value=8), max_size=3))
def test_gmail_dots_never_matter(local: str, dots: list[int]) -> None:
    dotted = local
    for position in sorted({d for d in dots if d < len(local)}, reverse=True):
        dotted = dotted[:position] + "." + dotted[position:]
    assert canonicalize(EMAIL, f"{dotted}@gmail.com") == canonicalize(EMAIL, f"{local}@gmail.com")


def _example_numbers() -> list[phonenumbers.PhoneNumber]:
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for number_type in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE,
        ):
            number = phonenumbers.example_number_for_type(region, number_type)
            if number is not None:
                numbers.append(number)
    return numbers


_NUMBERS = _example_numbers()
_SEPARATORS = st.sampled_from(["", "", "", " ", "-", ".", "\u00a0", "\u2011"])


@st.composite
def _noisy_phone(draw: st.DrawFn) -> tuple[str, str, str | None]:
    number = draw(st.sampled_from(_NUMBERS))
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    style = draw(st.sampled_from(["international", "national", "separated", "tel", "00"]))
    region: str | None = None
    if style == "international":
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    elif style == "national":
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        region = phonenumbers.region_code_for_number(number)
    elif style == "tel":
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.RFC3966)
    else:
        digits = e164[1:]
        text = "+" if style == "separated" else "00"
        text += "".join(digit + draw(_SEPARATORS) for digit in digits)
    return e164, draw(_SURROUNDING) + text + draw(_SURROUNDING), region


@PROPERTIES
@given(case=_noisy_phone())
def test_phone_noise_does_not_change_the_result(case: tuple[str, str, str | None]) -> None:
    e164, noisy, region = case
    identifier = canonicalize(PHONE, noisy, region=region)
    assert identifier.canonical == e164
    assert canonicalize(PHONE, identifier.canonical) == identifier


# Handles per platform, built to each platform's character rules.
_HANDLES: dict[str, st.SearchStrategy[str]] = {
    "x": st.from_regex(r"[A-Za-z0-9_]{1,15}", fullmatch=True).filter(
        lambda h: h.lower() not in {"i", "home", "tos", "jobs", "about", "share", "lists"}
    ),
    "instagram": st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._]{0,28}[A-Za-z0-9_]", fullmatch=True),
    "tiktok": st.from_regex(r"[A-Za-z0-9._]{2,24}", fullmatch=True),
    "github": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}", fullmatch=True),
    "linkedin": st.from_regex(r"[a-z0-9][A-Za-z0-9-]{2,40}", fullmatch=True),
    "facebook": st.from_regex(r"[A-Za-z][A-Za-z0-9.]{4,30}", fullmatch=True),
}
_URL_SHAPES: dict[str, Callable[[str], str]] = {
    "x": lambda h: f"x.com/{h}",
    "instagram": lambda h: f"instagram.com/{h}",
    "tiktok": lambda h: f"tiktok.com/@{h}",
    "github": lambda h: f"github.com/{h}",
    "linkedin": lambda h: f"linkedin.com/in/{h}",
    "facebook": lambda h: f"facebook.com/{h}",
}
_RESERVED_LOOKING = {"explore", "search", "settings", "login", "p", "tv", "new", "orgs"}


@st.composite
def _profile_link(draw: st.DrawFn) -> tuple[str, str, str]:
    platform = draw(st.sampled_from(sorted(_HANDLES)))
    handle = draw(_HANDLES[platform])
    assume(handle.lower() not in _RESERVED_LOOKING and not handle.startswith("ACoAA"))
    return platform, handle, _URL_SHAPES[platform](handle)


@st.composite
def _url_noise(draw: st.DrawFn, link: str) -> str:
    host, _, path = link.partition("/")
    scheme = draw(st.sampled_from(["", "https://", "http://", "HTTPS://", "//"]))
    sub = draw(st.sampled_from(["", "www.", "m."]))
    trailing = draw(st.sampled_from(["", "/"]))
    query = draw(st.sampled_from(["", "?utm_source=share&lang=en", "?igshid=abc"]))
    fragment = draw(st.sampled_from(["", "#top"]))
    # Percent-encode one character of the path, as browsers do with "@".
    encoded = path.replace("@", "%40") if draw(st.booleans()) else path
    return scheme + sub + draw(_case_noise(host)) + "/" + encoded + trailing + query + fragment


@PROPERTIES
@given(data=st.data())
def test_profile_is_idempotent_and_url_noise_does_not_matter(data: st.DataObject) -> None:
    platform, handle, link = data.draw(_profile_link())
    canonical = _canonical_or_reject(PROFILE, link)
    assert canonical.startswith(platform + ":")
    assert canonicalize(PROFILE, canonical).canonical == canonical
    noisy = data.draw(_url_noise(link))
    assert canonicalize(PROFILE, noisy).canonical == canonical
    # Every supported platform compares names without case.
    case_noisy = _URL_SHAPES[platform](data.draw(_case_noise(handle)))
    assert canonicalize(PROFILE, case_noisy).canonical == canonical
    explicit = f"{platform}:{data.draw(_case_noise(handle))}"
    assert canonicalize(PROFILE, data.draw(_SURROUNDING) + explicit).canonical == canonical


@PROPERTIES
@given(
    user=st.from_regex(r"[A-Za-z0-9_]{1,20}", fullmatch=True),
    server=st.sampled_from(
        ["mastodon.social", "hachyderm.io", "fosstodon.org", "b\u00fccher.example"]
    ),
    shape=st.sampled_from(
        ["https://{s}/@{u}", "{s}/@{u}/", "@{u}@{s}", "{u}@{s}", "mastodon:{u}@{s}"]
    ),
    data=st.data(),
)
def test_mastodon_is_idempotent_and_case_insensitive(
    user: str, server: str, shape: str, data: st.DataObject
) -> None:
    canonical = canonicalize(PROFILE, f"{user}@{server}").canonical
    assert canonicalize(PROFILE, canonical).canonical == canonical
    noisy = shape.format(u=data.draw(_case_noise(user)), s=data.draw(_case_noise(server)))
    assert canonicalize(PROFILE, noisy).canonical == canonical


@PROPERTIES
@given(
    domain=st.sampled_from(["example.org", "eng.example.co.uk", "b\u00fccher.example"]),
    local_id=st.text(
        alphabet=st.characters(
            categories=["L", "N", "P", "S"], exclude_characters="\u3000", max_codepoint=0x2FFF
        ),
        min_size=1,
        max_size=24,
    ),
    data=st.data(),
)
def test_orgid_is_idempotent_and_keeps_the_id(
    domain: str, local_id: str, data: st.DataObject
) -> None:
    canonical = _canonical_or_reject(ORGID, f"{domain}:{local_id}")
    assert canonicalize(ORGID, canonical).canonical == canonical
    noisy_domain = data.draw(st.sampled_from(["", "www."])) + data.draw(_case_noise(domain))
    noisy = data.draw(_SURROUNDING) + noisy_domain + " : " + local_id + data.draw(_SURROUNDING)
    assert canonicalize(ORGID, noisy).canonical == canonical


# A marker no message can contain unless it quotes the input.
_MARKER = st.from_regex(r"[QZJKV]{2}[0-9]{2}[QZJKV]{2}", fullmatch=True)
_NEAR_MISSES = st.sampled_from(
    [
        "{m}",
        "{m}@gmail.com",
        "{m}@{m}",
        "+1 415 {m}",
        "tel:{m}",
        "x.com/{m}",
        "https://{m}.example/@{m}",
        "linkedin.com/in/{m}/",
        "{m}:{m}",
        "example.org:{m} {m}",
        "mailto:{m}",
        "facebook.com/profile.php?id={m}",
        "{m}@{m}.{m}",
    ]
)


@PROPERTIES
@given(
    kind=st.sampled_from(list(IdentifierKind)),
    shape=st.one_of(_NEAR_MISSES, st.text(max_size=20).map(lambda t: t + "{m}")),
    marker=_MARKER,
    region=st.sampled_from([None, "US"]),
)
def test_errors_never_echo_the_input(
    kind: IdentifierKind, shape: str, marker: str, region: str | None
) -> None:
    value = shape.replace("{m}", marker)
    error: IdentifierError | None = None
    try:
        identifier = canonicalize(kind, value, region=region if kind is PHONE else None)
    except IdentifierError as caught:
        error = caught
    if error is None:
        assert marker.lower() not in repr(identifier).lower()
        return
    message = str(error) + repr(error)
    assert marker not in message
    assert marker.lower() not in message
    assert error.__cause__ is None
    assert error.__context__ is None


@PROPERTIES
@given(value=st.text(alphabet=string.printable + "\u200b\u00a0\uff20\u0661", max_size=60))
def test_every_kind_either_canonicalizes_or_raises_identifier_error(value: str) -> None:
    for kind in IdentifierKind:
        try:
            canonical = canonicalize(kind, value).canonical
        except IdentifierError:
            continue
        assert canonicalize(kind, canonical).canonical == canonical
