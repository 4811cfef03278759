"""Membership tokens (docs/protocol.md §15): key derivation, blind issuance, finalization,
verification, encodings, codes, pseudonyms and periods."""

from __future__ import annotations

import json

import pytest

from notalone.crypto import group, oprf
from notalone.crypto.kdf import hkdf_sha512
from notalone.crypto.oprf import Mode
from notalone.errors import EncodingError, InputError, ProofError, VerificationError
from notalone.protocol import membership as m

SECRET = bytes(range(32))
ORG = bytes(range(16))
OTHER_ORG = bytes(range(1, 17))


def issued(count: int = 2, organization_id: bytes = ORG) -> tuple[list[m.Token], bytes, bytes]:
    """Tokens issued honestly; with the issuer's key pair."""
    sk, pk = m.issuer_key_pair(m.issuer_seed(SECRET), organization_id)
    pending = m.blind_tokens(organization_id, count)
    evaluated, proof = m.issue(sk, pk, pending.blinded)
    return m.finalize_tokens(pending, pk, evaluated, proof), sk, pk


def test_issuer_key_is_rfc9497_derive_key_pair_with_the_documented_labels() -> None:
    seed = m.issuer_seed(SECRET)
    assert seed == hkdf_sha512(SECRET, b"notalone/v1/escrow/member-issuer-seed", 32)
    sk, pk = m.issuer_key_pair(seed, ORG)
    assert (sk, pk) == oprf.derive_key_pair(seed, b"notalone/v1/member-issuer" + ORG, Mode.VOPRF)
    assert m.issuer_key_pair(seed, OTHER_ORG)[1] != pk
    assert m.issuer_key_pair(m.issuer_seed(bytes(32) + b"x"), ORG)[1] != pk


def test_short_secrets_and_bad_organization_ids_are_refused() -> None:
    with pytest.raises(InputError, match="32 bytes"):
        m.issuer_seed(b"short")
    with pytest.raises(InputError, match="32 bytes"):
        m.pseudonym_key(b"short")
    with pytest.raises(EncodingError, match="16 bytes"):
        m.issuer_info(b"\x00" * 15)
    with pytest.raises(EncodingError, match="16 bytes"):
        m.member_pseudonym(m.pseudonym_key(SECRET), "not bytes", "a@b.example")  # type: ignore[arg-type]


def test_issued_tokens_verify_and_their_output_is_the_prf_of_the_input() -> None:
    tokens, sk, _ = issued(3)
    assert len({t.input for t in tokens}) == 3
    for token in tokens:
        m.verify_token(sk, token)
        assert token.output == oprf.evaluate(sk, token.input, Mode.VOPRF)
        assert token.organization_id == ORG


def test_a_forged_or_foreign_token_is_refused() -> None:
    (token,), sk, _ = issued(1)
    forged = m.Token(ORG, token.input, bytes(64))
    with pytest.raises(VerificationError, match="not valid"):
        m.verify_token(sk, forged)
    # A genuine token of another organization does not verify under this one's key.
    (other,), _, _ = issued(1, OTHER_ORG)
    with pytest.raises(VerificationError):
        m.verify_token(sk, m.Token(ORG, other.input, other.output))


def test_a_proof_under_another_key_is_refused_by_the_member() -> None:
    # An escrow that evaluated under a member-specific key could recognize that member's
    # tokens later; the member checks the proof against the published key.
    _, pk = m.issuer_key_pair(m.issuer_seed(SECRET), ORG)
    rogue_sk, rogue_pk = m.issuer_key_pair(m.issuer_seed(SECRET), OTHER_ORG)
    pending = m.blind_tokens(ORG, 2)
    evaluated, proof = m.issue(rogue_sk, rogue_pk, pending.blinded)
    with pytest.raises(ProofError):
        m.finalize_tokens(pending, pk, evaluated, proof)
    with pytest.raises(EncodingError, match="wrong number"):
        m.finalize_tokens(pending, pk, evaluated[:1], proof)


def test_issue_bounds_the_batch() -> None:
    sk, pk = m.issuer_key_pair(m.issuer_seed(SECRET), ORG)
    with pytest.raises(InputError, match="1 to 16"):
        m.issue(sk, pk, [])
    with pytest.raises(InputError, match="1 to 16"):
        m.issue(sk, pk, [group.mult_base(group.random_scalar())] * (m.MAX_BATCH + 1))


def test_blinding_is_deterministic_with_injected_randomness_and_checks_its_arguments() -> None:
    blinds = [group.scalar_from_int(7), group.scalar_from_int(9)]
    draws = iter([b"\x01" * 32, b"\x02" * 32])
    pending = m.blind_tokens(ORG, 2, rng=lambda n: next(draws), blinds=blinds)
    assert pending.inputs == (b"\x01" * 32, b"\x02" * 32)
    assert pending.blinds == tuple(blinds)
    assert pending.blinded[0] == oprf.blind(b"\x01" * 32, Mode.VOPRF, blind_scalar=blinds[0])[1]
    for count in (0, m.MAX_BATCH + 1, True):
        with pytest.raises(InputError, match="1 to 16"):
            m.blind_tokens(ORG, count)
    with pytest.raises(InputError, match="one blind"):
        m.blind_tokens(ORG, 3, blinds=blinds)
    with pytest.raises(EncodingError):
        m.blind_tokens(b"short", 1)


def test_token_text_round_trips_and_malformed_texts_are_refused() -> None:
    (token,), _, _ = issued(1)
    text = token.to_text()
    assert text.startswith("nmt1-")
    assert len(text) == 5 + 224
    assert m.Token.from_text(f"  {text}\n") == token
    assert "input" not in repr(token)
    assert token.input.hex() not in repr(token)
    bad = [
        "",
        "nmt2-" + text[5:],
        text[:-2],
        text[:-2] + "zz",
        42,
    ]
    for value in bad:
        with pytest.raises(EncodingError, match="224 hex"):
            m.Token.from_text(value)  # type: ignore[arg-type]


def test_token_fields_are_checked() -> None:
    with pytest.raises(EncodingError, match="input"):
        m.Token(ORG, b"\x00" * 31, b"\x00" * 64)
    with pytest.raises(EncodingError, match="output"):
        m.Token(ORG, b"\x00" * 32, b"\x00" * 63)
    with pytest.raises(EncodingError, match="organization"):
        m.Token(b"\x00", b"\x00" * 32, b"\x00" * 64)


def test_tokens_file_round_trips_and_is_checked() -> None:
    tokens, _, pk = issued(2)
    text = m.tokens_file(tokens, pk)
    document = json.loads(text)
    assert document["format"] == "notalone-membership-tokens-v1"
    assert document["organization_id"] == ORG.hex()
    assert document["issuer_public_key"] == pk.hex()
    assert m.parse_tokens(text) == tokens
    assert m.parse_tokens(tokens[1].to_text()) == [tokens[1]]
    with pytest.raises(InputError, match="at least one"):
        m.tokens_file([], pk)
    (foreign,), _, _ = issued(1, OTHER_ORG)
    with pytest.raises(InputError, match="one organization"):
        m.tokens_file([tokens[0], foreign], pk)
    refused = [
        "not json",
        json.dumps([1]),
        json.dumps({"format": "other"}),
        json.dumps({"format": m.TOKENS_FILE_FORMAT, "tokens": []}),
        json.dumps({"format": m.TOKENS_FILE_FORMAT, "tokens": [1]}),
        json.dumps({"format": m.TOKENS_FILE_FORMAT}),
        None,
    ]
    for value in refused:
        with pytest.raises(EncodingError):
            m.parse_tokens(value)  # type: ignore[arg-type]


def test_member_codes_normalize_hash_and_refuse_one_way() -> None:
    code = m.new_code()
    groups = code.split("-")
    assert [len(g) for g in groups] == [4] * 5
    assert all(c in m.CODE_ALPHABET for c in "".join(groups))
    assert m.normalize_code(code.lower().replace("-", " ")) == code.replace("-", "")
    assert m.normalize_code("oooo-iiii-llll-0000-1111") == "0" * 4 + "1" * 8 + "0" * 4 + "1" * 4
    assert m.code_hash(code) == m.code_hash(code.lower())
    assert len(m.code_hash(code)) == 32
    assert m.new_code(lambda n: bytes(range(n))) == "0123-4567-89AB-CDEF-GHJK"
    for bad in ("", "ABC", "U" * 20, "A" * 65, None):
        with pytest.raises(InputError) as caught:
            m.normalize_code(bad)  # type: ignore[arg-type]
        assert str(caught.value) == m.CODE_REFUSED


def test_pseudonyms_are_keyed_per_organization_and_address() -> None:
    key = m.pseudonym_key(SECRET)
    one = m.member_pseudonym(key, ORG, "ana@example.org")
    assert len(one) == 32
    assert one == m.member_pseudonym(key, ORG, "ana@example.org")
    assert one != m.member_pseudonym(key, OTHER_ORG, "ana@example.org")
    assert one != m.member_pseudonym(key, ORG, "ben@example.org")
    assert one != m.member_pseudonym(m.pseudonym_key(SECRET[::-1]), ORG, "ana@example.org")


@pytest.mark.parametrize(
    ("now_ms", "period"),
    [
        (0, "1970-Q1"),
        (1_767_225_599_999, "2025-Q4"),  # 2025-12-31T23:59:59.999Z
        (1_767_225_600_000, "2026-Q1"),  # 2026-01-01T00:00:00Z
        (1_772_323_200_000, "2026-Q1"),  # 2026-03-01 (after February)
        (1_775_001_600_000, "2026-Q2"),  # 2026-04-01
        (1_782_864_000_000, "2026-Q3"),  # 2026-07-01
        (1_790_812_800_000, "2026-Q4"),  # 2026-10-01
        (951_782_400_000, "2000-Q1"),  # 2000-02-29, a leap day
    ],
)
def test_periods_are_utc_calendar_quarters(now_ms: int, period: str) -> None:
    assert m.period_of(now_ms) == period


def test_period_refuses_what_is_not_a_time() -> None:
    for bad in (-1, True, 1.5):
        with pytest.raises(InputError):
            m.period_of(bad)  # type: ignore[arg-type]


def test_random_inputs_differ() -> None:
    pending = m.blind_tokens(ORG, 4)
    assert len(set(pending.inputs)) == 4
    assert len(set(pending.blinded)) == 4
