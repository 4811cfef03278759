"""Escrow slots and matching: the threshold holds, forgeries are named, accounts count once."""

from __future__ import annotations

import secrets
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notalone.crypto import aead, group, hpke, shamir
from notalone.errors import DecryptionError, EncodingError, InputError, VersionError
from notalone.protocol import matching, slots
from notalone.protocol.slots import Package, Slot

DEPLOYMENT = bytes(range(16))
Y = secrets.token_bytes(64)  # stands in for the OPRF output of one identifier
COUNSELORS = {name: hpke.generate_key_pair() for name in ("c-ana", "c-ben")}


def _slot(
    y: bytes = Y, threshold: int = 2, account: bytes | None = None, counselor: str = "c-ana"
) -> Slot:
    return slots.build_slot(
        y,
        Package(contact=f"signal:{counselor}", identifiers=(("email", "A@x.org", "a@x.org"),)),
        threshold=threshold,
        account_id=account or secrets.token_bytes(16),
        slot_id=secrets.token_bytes(16),
        deployment_id=DEPLOYMENT,
        counselor_id=counselor,
        counselor_public_key=COUNSELORS[counselor][1],
    )


@pytest.mark.parametrize("threshold", [2, 3, 4, 5])
def test_t_minus_one_slots_open_nothing_and_t_open_all(threshold: int) -> None:
    made = [_slot(threshold=threshold) for _ in range(threshold + 1)]
    assert len({s.tag for s in made}) == 1
    assert matching.open_tag(made[: threshold - 1], threshold) == matching.MatchOutcome(False)
    outcome = matching.open_tag(made[:threshold], threshold)
    assert outcome.matched
    assert [o.slot_id for o in outcome.opened] == [s.slot_id for s in made[:threshold]]
    # A later survivor joins the match: every valid slot is opened.
    assert len(matching.open_tag(made, threshold).opened) == threshold + 1


def test_each_counselor_opens_only_their_own_survivors_package() -> None:
    a, b = _slot(counselor="c-ana"), _slot(counselor="c-ben")
    outcome = matching.open_tag([a, b], 2)
    by_counselor = {o.counselor_id: o for o in outcome.opened}
    ana_key, ben_key = COUNSELORS["c-ana"][0], COUNSELORS["c-ben"][0]
    package = slots.open_package(ana_key, DEPLOYMENT, a.slot_id, by_counselor["c-ana"].inner)
    assert package.contact == "signal:c-ana"
    assert package.identifiers == (("email", "A@x.org", "a@x.org"),)
    with pytest.raises(DecryptionError):
        slots.open_package(ben_key, DEPLOYMENT, a.slot_id, by_counselor["c-ana"].inner)
    with pytest.raises(DecryptionError):  # bound to its slot: it cannot pose as another
        slots.open_package(ana_key, DEPLOYMENT, b.slot_id, by_counselor["c-ana"].inner)
    with pytest.raises(VersionError):
        slots.open_package(ana_key, DEPLOYMENT, a.slot_id, b"\x02" + by_counselor["c-ana"].inner)


def test_two_slots_of_one_account_never_complete_a_match() -> None:
    account = secrets.token_bytes(16)
    first, second = _slot(account=account), _slot(account=account)
    assert first.x == second.x  # the abscissa is bound to the account
    outcome = matching.open_tag([first, second], 2)
    assert not outcome.matched
    assert outcome.duplicates == (second.slot_id,)


def test_different_identifiers_do_not_meet() -> None:
    assert _slot(Y).tag != _slot(secrets.token_bytes(64)).tag
    with pytest.raises(InputError, match="single tag"):
        matching.open_tag([_slot(Y), _slot(secrets.token_bytes(64))], 2)


def _random_share(slot: Slot) -> Slot:
    return replace(slot, share=group.random_scalar())


def _random_outer(slot: Slot) -> Slot:
    return replace(slot, outer=slot.outer[:1] + secrets.token_bytes(len(slot.outer) - 1))


def _wrong_x(slot: Slot) -> Slot:
    return replace(slot, x=group.random_scalar())


def _wrong_version(slot: Slot) -> Slot:
    return replace(slot, outer=b"\x07" + slot.outer[1:])


@pytest.mark.parametrize("forge", [_random_share, _random_outer, _wrong_x, _wrong_version])
@pytest.mark.parametrize("position", [0, 1, 2])
def test_a_forged_slot_is_named_and_does_not_block_honest_ones(
    forge: object, position: int
) -> None:
    honest = [_slot(), _slot()]
    forged = forge(_slot())  # type: ignore[operator]
    ordered = [*honest]
    ordered.insert(position, forged)
    outcome = matching.open_tag(ordered, 2)
    assert outcome.matched
    assert outcome.forged == (forged.slot_id,)
    assert sorted(o.slot_id for o in outcome.opened) == sorted(s.slot_id for s in honest)


def test_forged_slot_alone_with_one_honest_fakes_nothing() -> None:
    outcome = matching.open_tag([_slot(), _random_share(_slot())], 2)
    assert not outcome.matched
    assert outcome.opened == ()


def test_attempt_budget_is_reported() -> None:
    made = [_random_share(_slot()) for _ in range(5)]
    outcome = matching.open_tag(made, 2, max_attempts=3)
    assert not outcome.matched
    assert outcome.undecided


def test_genuine_shares_whose_ciphertexts_do_not_open_match_nothing() -> None:
    made = [_random_outer(_slot()) for _ in range(3)]
    outcome = matching.open_tag(made, 2)
    assert not outcome.matched
    assert not outcome.undecided
    assert sorted(outcome.forged) == sorted(s.slot_id for s in made)


@settings(max_examples=40)
@given(
    threshold=st.integers(2, 4),
    honest=st.integers(0, 6),
    forged=st.integers(0, 3),
    repeats=st.integers(0, 2),
    data=st.data(),
)
def test_match_iff_t_distinct_accounts_hold_valid_slots(
    threshold: int, honest: int, forged: int, repeats: int, data: st.DataObject
) -> None:
    made = [_slot(threshold=threshold) for _ in range(honest)]
    fakes = [_random_share(_slot(threshold=threshold)) for _ in range(forged)]
    again = [_slot(threshold=threshold, account=s.account_id) for s in made[:repeats]]
    ordered = data.draw(st.permutations(made + fakes + again))
    # The first slot of each account counts; its later slots are duplicates.
    first_of: dict[bytes, Slot] = {}
    for s in ordered:
        first_of.setdefault(s.account_id, s)
    valid = [s for s in first_of.values() if s in made or s in again]
    outcome = matching.open_tag(ordered, threshold)
    assert outcome.matched == (len(valid) >= threshold)
    if outcome.matched:
        assert {o.slot_id for o in outcome.opened} == {s.slot_id for s in valid}
    else:
        assert outcome.opened == ()


def test_check_slot_rejects_malformed_slots() -> None:
    good = _slot()
    slots.check_slot(good)
    for bad, reason in [
        (replace(good, slot_id=b"x"), "slot id"),
        (replace(good, share=b"\xff" * 32), "not reduced"),
        (replace(good, account_id=b"short"), "account id"),
        (replace(good, outer=b"\x01" * 10), "too short"),
        (replace(good, outer=b"\x01" * 70_000), "larger"),
        (replace(good, counselor_id=""), "counselor"),
        (_wrong_x(good), "abscissa"),
    ]:
        with pytest.raises((EncodingError, InputError), match=reason):
            slots.check_slot(bad)


def test_derivation_parameters_are_checked() -> None:
    with pytest.raises(EncodingError, match="OPRF output"):
        slots.derive_slot_secrets(b"short", 2)
    with pytest.raises(InputError, match="threshold"):
        slots.derive_slot_secrets(Y, 1)
    with pytest.raises(InputError, match="threshold"):
        matching.open_tag([], 1)
    with pytest.raises(EncodingError, match="deployment id"):
        slots.package_info(b"x", bytes(16))


def test_secrets_stay_out_of_reprs() -> None:
    derived = slots.derive_slot_secrets(Y, 3)
    text = repr(derived)
    assert derived.secret.hex() not in text
    assert derived.entry_key.hex() not in text
    assert "contact" not in repr(Package(contact="+1 555", identifiers=()))
    outcome = matching.open_tag([_slot(), _slot()], 2)
    assert outcome.opened[0].inner.hex()[:16] not in repr(outcome)


def test_package_round_trip_and_rejections() -> None:
    package = Package(contact="ring me", identifiers=(("phone", "(415) 555-0134", "+14155550134"),),
                      message="née Zoë")  # fmt: skip
    assert Package.from_bytes(package.to_bytes()) == package
    for bad, error in [
        (b"\xff", EncodingError),
        (b"[]", EncodingError),
        (b'{"v": 2}', VersionError),
        (b'{"v": 1}', EncodingError),
    ]:
        with pytest.raises(error):
            Package.from_bytes(bad)
    with pytest.raises(InputError, match="KiB"):
        Package(contact="x" * 70_000, identifiers=()).to_bytes()


def _poisoned_slot(y: bytes, fake_polynomial: list[bytes], account: bytes) -> Slot:
    """An insider who knows y plants a slot on a polynomial of their own, with the right tag."""
    real = slots.derive_slot_secrets(y, len(fake_polynomial))
    fake_secret = fake_polynomial[0]
    x = slots.share_abscissa(account, real.tag)
    share = shamir.evaluate_polynomial(fake_polynomial, x)
    slot_id = secrets.token_bytes(16)
    inner = slots.INNER_VERSION + hpke.seal(
        COUNSELORS["c-ana"][1], b"{}", slots.package_info(DEPLOYMENT, slot_id)
    )
    outer = aead.seal(
        slots.entry_key(fake_secret), inner, slots.outer_ad(real.tag, account, slot_id)
    )
    return Slot(slot_id, account, real.tag, x, share, outer, "c-ana")


def test_an_insider_cannot_poison_a_tag_with_a_polynomial_of_their_own() -> None:
    # Two sybil accounts store slots on a fake polynomial (with self-consistent entry keys)
    # before the real survivors arrive: the survivors must still match, and the planted
    # slots must be named as forged rather than define the match.
    fake_polynomial = [group.random_scalar(), group.random_scalar()]
    planted = [_poisoned_slot(Y, fake_polynomial, secrets.token_bytes(16)) for _ in range(2)]
    honest = [_slot(), _slot()]
    outcome = matching.open_tag([*planted, *honest], 2)
    assert outcome.matched
    assert sorted(o.slot_id for o in outcome.opened) == sorted(s.slot_id for s in honest)
    assert sorted(outcome.forged) == sorted(s.slot_id for s in planted)
