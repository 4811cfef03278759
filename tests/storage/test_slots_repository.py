"""The slot repository on SQLite and PostgreSQL: §6–§8 of docs/protocol.md in storage.

Every test builds real slots (random OPRF outputs, real counselor key pairs) and checks
what each party can see: the counselors' inboxes, the operators' view of a tag, and the
survivor's own list, which must never tell a matched slot from an unmatched one.
"""

from __future__ import annotations

import secrets
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from notalone.crypto import group
from notalone.errors import DecryptionError, EncodingError, InputError
from notalone.protocol import matching
from notalone.protocol import slots as slot_recipes
from notalone.protocol.slots import Slot
from notalone.storage.engine import Database
from notalone.storage.models import SLOT_FORGED, SLOT_WITHDRAWN, Base, SlotRow
from notalone.storage.slots import SlotRepository
from tests.storage.conftest import DEPLOYMENT, NOW_MS, World


def _y() -> bytes:
    """A random OPRF output: stands in for one identifier after the key servers."""
    return secrets.token_bytes(64)


def _counts(database: Database) -> dict[str, int]:
    with database.read() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def _state(database: Database, slot_id: bytes) -> str:
    with database.read() as session:
        row = session.get(SlotRow, slot_id)
        assert row is not None
        return row.state


def _members(repository: SlotRepository, tag: bytes) -> list[bytes]:
    (match,) = repository.matches_for_tag(tag)
    return [slot_id for slot_id, _ in match.members]


# -- matching ---------------------------------------------------------------------------


def test_two_accounts_naming_one_person_make_exactly_one_match(world: World) -> None:
    y = _y()
    ana_slot = world.submit(y, "c-ana")
    assert world.repository.matches_for_tag(ana_slot.tag) == []
    assert world.repository.inbox("c-ana") == []
    ben_slot = world.submit(y, "c-ben")

    (match,) = world.repository.matches_for_tag(ana_slot.tag)
    assert match.members == (
        (ana_slot.slot_id, "c-ana"),
        (ben_slot.slot_id, "c-ben"),
    )
    (ana_item,) = world.repository.inbox("c-ana")
    (ben_item,) = world.repository.inbox("c-ben")
    assert (ana_item.match_id, ana_item.slot_id) == (match.match_id, ana_slot.slot_id)
    assert (ben_item.match_id, ben_item.slot_id) == (match.match_id, ben_slot.slot_id)
    assert ana_item.other_counselors == ("c-ben",)
    assert ben_item.other_counselors == ("c-ana",)

    # Each counselor opens exactly their own survivor's package, and not the other's.
    ana_key, ben_key = world.counselor_keys["c-ana"][0], world.counselor_keys["c-ben"][0]
    package = slot_recipes.open_package(ana_key, DEPLOYMENT, ana_item.slot_id, ana_item.inner)
    assert package.contact == "signal:c-ana"
    assert package.identifiers == (("email", "Perp@Example.org", "perp@example.org"),)
    opened = slot_recipes.open_package(ben_key, DEPLOYMENT, ben_item.slot_id, ben_item.inner)
    assert opened.contact == "signal:c-ben"
    with pytest.raises(DecryptionError):
        slot_recipes.open_package(ben_key, DEPLOYMENT, ana_item.slot_id, ana_item.inner)
    with pytest.raises(DecryptionError):
        slot_recipes.open_package(ana_key, DEPLOYMENT, ben_item.slot_id, ben_item.inner)


def test_different_people_do_not_meet(world: World) -> None:
    first, second = world.submit(_y(), "c-ana"), world.submit(_y(), "c-ben")
    assert world.repository.matches_for_tag(first.tag) == []
    assert world.repository.matches_for_tag(second.tag) == []
    assert world.repository.inbox("c-ana") == world.repository.inbox("c-ben") == []


def test_one_account_naming_someone_twice_is_refused_and_never_matches(world: World) -> None:
    y, account = _y(), world.account()
    first = world.submit(y, "c-ana", account_id=account)
    before = _counts(world.database)
    # From a second entry (or a second session: the account is what counts).
    again = world.slot(y, account, "c-ben")
    with pytest.raises(InputError, match="already holds a slot"):
        world.repository.insert_and_match(again, world.entry(account), 2, NOW_MS)
    assert _counts(world.database) == before | {"entries": before["entries"] + 1}
    assert world.repository.matches_for_tag(first.tag) == []
    assert world.repository.inbox("c-ana") == world.repository.inbox("c-ben") == []


def test_after_withdrawing_an_account_may_name_the_person_again(world: World) -> None:
    y, account = _y(), world.account()
    first = world.submit(y, "c-ana", account_id=account)
    world.repository.withdraw(account, first.slot_id, NOW_MS + 1)
    second = world.submit(y, "c-ana", account_id=account)
    assert world.repository.matches_for_tag(first.tag) == []
    other = world.submit(y, "c-ben")
    assert _members(world.repository, first.tag) == [second.slot_id, other.slot_id]


@pytest.mark.parametrize("threshold", [2, 3])
def test_fewer_than_t_accounts_open_nothing(world: World, threshold: int) -> None:
    y = _y()
    made = [world.submit(y, "c-ana", threshold=threshold) for _ in range(threshold - 1)]
    assert world.repository.matches_for_tag(made[0].tag) == []
    assert world.repository.inbox("c-ana") == []
    made.append(world.submit(y, "c-ben", threshold=threshold))
    assert _members(world.repository, made[0].tag) == [s.slot_id for s in made]
    assert len(world.repository.inbox("c-ana")) == threshold - 1
    assert len(world.repository.inbox("c-ben")) == 1


def test_a_slot_withdrawn_before_a_match_is_never_matched(world: World) -> None:
    y, account = _y(), world.account()
    withdrawn = world.submit(y, "c-ana", account_id=account)
    world.repository.withdraw(account, withdrawn.slot_id, NOW_MS + 1)
    second = world.submit(y, "c-ben")
    assert world.repository.matches_for_tag(second.tag) == []
    third = world.submit(y, "c-ana")
    assert _members(world.repository, second.tag) == [second.slot_id, third.slot_id]
    assert [item.slot_id for item in world.repository.inbox("c-ana")] == [third.slot_id]
    assert _state(world.database, withdrawn.slot_id) == SLOT_WITHDRAWN


def test_a_third_survivor_joins_the_existing_match(world: World) -> None:
    y = _y()
    first, second = world.submit(y, "c-ana"), world.submit(y, "c-ben")
    (before,) = world.repository.matches_for_tag(first.tag)
    third = world.submit(y, "c-ana")
    (after,) = world.repository.matches_for_tag(first.tag)
    assert after.match_id == before.match_id
    assert after.members == (
        (first.slot_id, "c-ana"),
        (second.slot_id, "c-ben"),
        (third.slot_id, "c-ana"),
    )
    # One inbox item per slot: the earlier members got nothing twice.
    ana = world.repository.inbox("c-ana")
    assert sorted(item.slot_id for item in ana) == sorted([first.slot_id, third.slot_id])
    assert [item.slot_id for item in world.repository.inbox("c-ben")] == [second.slot_id]
    assert {item.other_counselors for item in ana} == {("c-ana", "c-ben")}
    ana_key = world.counselor_keys["c-ana"][0]
    for item in ana:
        slot_recipes.open_package(ana_key, DEPLOYMENT, item.slot_id, item.inner)
    # A fourth changes nothing for the others either.
    world.submit(y, "c-ben")
    assert len(world.repository.inbox("c-ana")) == 2
    assert len(world.repository.inbox("c-ben")) == 2


def _random_share(slot: slot_recipes.Slot) -> slot_recipes.Slot:
    return replace(slot, share=group.random_scalar())


def _random_outer(slot: slot_recipes.Slot) -> slot_recipes.Slot:
    return replace(slot, outer=slot.outer[:1] + secrets.token_bytes(len(slot.outer) - 1))


@pytest.mark.parametrize("forge", [_random_share, _random_outer], ids=["share", "outer"])
def test_a_forged_slot_neither_fakes_nor_blocks_a_match(world: World, forge: object) -> None:
    y = _y()
    forger = world.account()
    forged = forge(world.slot(y, forger, "c-ben"))  # type: ignore[operator]
    world.repository.insert_and_match(forged, world.entry(forger), 2, NOW_MS)
    honest = world.submit(y, "c-ana")
    # One honest slot and one forged one: no match is faked.
    assert world.repository.matches_for_tag(honest.tag) == []
    assert world.repository.inbox("c-ana") == world.repository.inbox("c-ben") == []
    # A second honest survivor matches, although the forged slot was stored first.
    other = world.submit(y, "c-ana")
    assert _members(world.repository, honest.tag) == [honest.slot_id, other.slot_id]
    assert _state(world.database, forged.slot_id) == SLOT_FORGED
    assert world.repository.inbox("c-ben") == []
    # The forger's own view does not say so.
    (summary,) = world.repository.list_for_account(forger)
    assert summary.state == "sealed"
    # A forged slot is not matched again, and a later survivor still joins.
    later = world.submit(y, "c-ben")
    assert _members(world.repository, honest.tag)[-1] == later.slot_id
    assert len(_members(world.repository, honest.tag)) == 3


def test_a_forged_slot_stored_after_a_match_is_named_and_skipped(world: World) -> None:
    y = _y()
    first, second = world.submit(y, "c-ana"), world.submit(y, "c-ben")
    forger = world.account()
    forged = _random_share(world.slot(y, forger, "c-ben"))
    world.repository.insert_and_match(forged, world.entry(forger), 2, NOW_MS)
    assert _members(world.repository, first.tag) == [first.slot_id, second.slot_id]
    assert _state(world.database, forged.slot_id) == SLOT_FORGED


# -- what the survivor sees -------------------------------------------------------------


def test_the_insert_never_says_whether_it_matched(world: World) -> None:
    y = _y()
    results = []
    for counselor in ("c-ana", "c-ben"):
        account = world.account()
        made = world.slot(y, account, counselor)
        results.append(world.repository.insert_and_match(made, world.entry(account), 2, NOW_MS))
    assert results == [None, None]


def test_the_survivor_list_shows_sealed_or_withdrawn_never_matched(world: World) -> None:
    y = _y()
    matched_account, lonely_account = world.account(), world.account()
    matched = world.submit(y, "c-ana", account_id=matched_account)
    world.submit(y, "c-ben")
    lonely = world.submit(_y(), "c-ana", account_id=lonely_account)

    (matched_view,) = world.repository.list_for_account(matched_account)
    (lonely_view,) = world.repository.list_for_account(lonely_account)
    assert matched_view.slot_id == matched.slot_id
    assert lonely_view.slot_id == lonely.slot_id
    # Apart from the ids, a matched slot and an unmatched one look the same.
    assert replace(matched_view, slot_id=b"", entry_id=b"") == replace(
        lonely_view, slot_id=b"", entry_id=b""
    )
    assert matched_view.state == "sealed"

    world.repository.withdraw(matched_account, matched.slot_id, NOW_MS + 5)
    (after,) = world.repository.list_for_account(matched_account)
    assert (after.state, after.withdrawn_at_ms) == ("withdrawn", NOW_MS + 5)
    # Withdrawing after a match does not take back a package already delivered.
    assert len(world.repository.inbox("c-ana")) == 1


def test_withdraw_is_for_the_owner_only_and_idempotent(world: World) -> None:
    owner, stranger = world.account(), world.account()
    made = world.submit(_y(), "c-ana", account_id=owner)
    with pytest.raises(InputError, match="no such slot") as by_stranger:
        world.repository.withdraw(stranger, made.slot_id, NOW_MS)
    with pytest.raises(InputError, match="no such slot") as unknown:
        world.repository.withdraw(owner, secrets.token_bytes(16), NOW_MS)
    # The same message either way: a stranger cannot probe slot ids.
    assert str(by_stranger.value) == str(unknown.value)
    assert _state(world.database, made.slot_id) == "live"

    world.repository.withdraw(owner, made.slot_id, NOW_MS + 1)
    world.repository.withdraw(owner, made.slot_id, NOW_MS + 2)
    (view,) = world.repository.list_for_account(owner)
    assert (view.state, view.withdrawn_at_ms) == ("withdrawn", NOW_MS + 1)


def test_withdrawing_an_entry_withdraws_its_slots(world: World) -> None:
    account = world.account()
    entry_id = world.entry(account)
    ys = [_y() for _ in range(3)]
    made = [world.slot(y, account, "c-ana") for y in ys]
    for slot in made:
        world.repository.insert_and_match(slot, entry_id, 2, NOW_MS)
    with pytest.raises(InputError, match="no such entry"):
        world.repository.withdraw_entry(world.account(), entry_id, NOW_MS)
    world.repository.withdraw_entry(account, entry_id, NOW_MS + 1)
    world.repository.withdraw_entry(account, entry_id, NOW_MS + 2)
    assert {v.state for v in world.repository.list_for_account(account)} == {"withdrawn"}
    (entry,) = world.repository.list_entries(account)
    assert (entry.entry_id, entry.withdrawn_at_ms) == (entry_id, NOW_MS + 1)
    with pytest.raises(InputError, match="withdrawn"):
        world.repository.insert_and_match(world.slot(_y(), account, "c-ana"), entry_id, 2, NOW_MS)
    # Another survivor naming the same people later matches none of the withdrawn slots.
    for y, slot in zip(ys, made, strict=True):
        world.submit(y, "c-ben")
        assert world.repository.matches_for_tag(slot.tag) == []


def test_entries_are_listed_with_their_copies(world: World) -> None:
    account = world.account()
    world.repository.create_entry(b"\x01" * 16, account, b"copy-1", NOW_MS)
    world.repository.create_entry(b"\x02" * 16, account, b"copy-2", NOW_MS + 1)
    assert [(e.entry_id, e.entry_copy) for e in world.repository.list_entries(account)] == [
        (b"\x01" * 16, b"copy-1"),
        (b"\x02" * 16, b"copy-2"),
    ]
    assert world.repository.list_entries(world.account()) == []
    with pytest.raises(InputError, match="already in use"):
        world.repository.create_entry(b"\x01" * 16, account, b"copy-3", NOW_MS)
    with pytest.raises(InputError, match="16 bytes"):
        world.repository.create_entry(b"\x01" * 15, account, b"copy-3", NOW_MS)
    with pytest.raises(InputError, match="encrypted copy"):
        world.repository.create_entry(b"\x03" * 16, account, b"", NOW_MS)


# -- refusals leave no trace ------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "error", "message"),
    [
        ("wrong x", InputError, "abscissa"),
        ("short share", EncodingError, "share"),
        ("unknown counselor", InputError, "unknown counselor"),
        ("another account's entry", InputError, "no such entry"),
        ("unknown entry", InputError, "no such entry"),
        ("withdrawn entry", InputError, "withdrawn"),
        ("reused slot id", InputError, "slot id is already in use"),
        ("threshold 1", InputError, "threshold"),
    ],
)
def test_a_refused_insert_changes_nothing(
    world: World, case: str, error: type[Exception], message: str
) -> None:
    y, account = _y(), world.account()
    existing = world.submit(y, "c-ana")
    entry_id = world.entry(account)
    made = world.slot(y, account, "c-ben")
    threshold = 2
    if case == "wrong x":
        made = replace(made, x=group.random_scalar())
    elif case == "short share":
        made = replace(made, share=made.share[:31])
    elif case == "unknown counselor":
        made = replace(made, counselor_id="c-nobody")
    elif case == "another account's entry":
        entry_id = world.entry(world.account())
    elif case == "unknown entry":
        entry_id = secrets.token_bytes(16)
    elif case == "withdrawn entry":
        world.repository.withdraw_entry(account, entry_id, NOW_MS)
    elif case == "reused slot id":
        made = replace(made, slot_id=existing.slot_id)
    else:
        threshold = 1
    before = _counts(world.database)
    with pytest.raises(error, match=message):
        world.repository.insert_and_match(made, entry_id, threshold, NOW_MS)
    assert _counts(world.database) == before
    assert world.repository.matches_for_tag(existing.tag) == []


def test_a_failure_after_the_insert_rolls_everything_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    y = _y()
    first = world.submit(y, "c-ana")
    account = world.account()
    entry_id = world.entry(account)
    before = _counts(world.database)

    def broken(*_args: object, **_kwargs: object) -> matching.MatchOutcome:
        raise RuntimeError("simulated crash after the slot was inserted")

    monkeypatch.setattr(matching, "open_tag", broken)
    with pytest.raises(RuntimeError, match="simulated crash"):
        world.repository.insert_and_match(world.slot(y, account, "c-ben"), entry_id, 2, NOW_MS)
    assert _counts(world.database) == before
    monkeypatch.undo()
    # The same slot goes in afterwards, and matches.
    again = world.slot(y, account, "c-ben")
    world.repository.insert_and_match(again, entry_id, 2, NOW_MS)
    assert _members(world.repository, first.tag) == [first.slot_id, again.slot_id]


def test_an_undecided_tag_is_logged_without_identifiers(
    database: Database, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    repository = SlotRepository(database, max_attempts=1)
    y = _y()
    made = []
    for _ in range(3):
        account = world.account()
        made.append(_random_share(world.slot(y, account, "c-ana")))
        repository.insert_and_match(made[-1], world.entry(account), 2, NOW_MS)
    assert repository.matches_for_tag(made[0].tag) == []
    assert "undecided" in caplog.text
    for slot in made:
        assert slot.tag.hex() not in caplog.text
        assert slot.slot_id.hex() not in caplog.text


def test_an_entry_and_its_slots_are_stored_all_or_nothing(world: World) -> None:
    account = world.account()
    held = _y()
    world.submit(held, "c-ana", account_id=account)
    before = world.repository.list_for_account(account)
    entry_id = secrets.token_bytes(16)
    # The second of three slots names someone the account already holds a live slot for.
    made = [world.slot(y, account, "c-ben") for y in (_y(), held, _y())]
    with pytest.raises(InputError, match="already holds"):
        world.repository.create_entry_with_slots(entry_id, account, b"\x01copy", made, 2, NOW_MS)
    assert entry_id not in {e.entry_id for e in world.repository.list_entries(account)}
    assert world.repository.list_for_account(account) == before
    with world.database.read() as session:
        stored = session.scalars(select(SlotRow.id).where(SlotRow.entry_id == entry_id)).all()
    assert stored == []


def test_an_entry_with_slots_matches_like_single_inserts(world: World) -> None:
    ys = [_y() for _ in range(3)]
    first, second = world.account(), world.account()
    mine = [world.slot(y, first, "c-ana") for y in ys]
    world.repository.create_entry_with_slots(
        secrets.token_bytes(16), first, b"\x01copy", mine, 2, NOW_MS
    )
    assert all(world.repository.matches_for_tag(s.tag) == [] for s in mine)
    # The second survivor names the same person by two of the three identifiers.
    theirs = [world.slot(y, second, "c-ben") for y in ys[1:]]
    world.repository.create_entry_with_slots(
        secrets.token_bytes(16), second, b"\x01copy", theirs, 2, NOW_MS
    )
    assert world.repository.matches_for_tag(mine[0].tag) == []
    for slot in theirs:
        (match,) = world.repository.matches_for_tag(slot.tag)
        assert len(match.members) == 2
    assert len(world.repository.inbox("c-ana")) == 2
    assert len(world.repository.inbox("c-ben")) == 2


def test_an_entry_with_slots_refuses_bad_input_and_writes_nothing(world: World) -> None:
    account, other = world.account(), world.account()
    good = world.slot(_y(), account, "c-ana")
    taken = world.entry(account)
    cases: list[tuple[bytes, bytes, bytes, list[Slot], int, str]] = [
        (secrets.token_bytes(16), account, b"c", [good], 1, "threshold"),
        (secrets.token_bytes(15), account, b"c", [good], 2, "entry id"),
        (secrets.token_bytes(16), b"short", b"c", [good], 2, "account id"),
        (secrets.token_bytes(16), account, b"", [good], 2, "encrypted copy"),
        (secrets.token_bytes(16), account, b"c", [], 2, "at least one slot"),
        (secrets.token_bytes(16), other, b"c", [good], 2, "belong to the account"),
        (taken, account, b"c", [good], 2, "already in use"),
    ]
    for entry_id, owner, copy, made, threshold, expected in cases:
        with pytest.raises(InputError, match=expected):
            world.repository.create_entry_with_slots(entry_id, owner, copy, made, threshold, NOW_MS)
    assert [e.entry_id for e in world.repository.list_entries(account)] == [taken]
    assert world.repository.list_for_account(account) == []


def test_a_retried_entry_succeeds_without_writing_it_twice(world: World) -> None:
    # The server was killed after the commit and before its answer: the client sends the
    # very same entry again, and must not get "already in use" for its own entry.
    account = world.account()
    entry_id, copy = secrets.token_bytes(16), b"\x01" + secrets.token_bytes(60)
    made = [world.slot(_y(), account, "c-ana") for _ in range(2)]
    world.repository.create_entry_with_slots(entry_id, account, copy, made, 2, NOW_MS)
    before = (world.repository.list_entries(account), world.repository.list_for_account(account))
    world.repository.create_entry_with_slots(entry_id, account, copy, made, 2, NOW_MS + 9)
    after = (world.repository.list_entries(account), world.repository.list_for_account(account))
    assert after == before
    # Anything that is not the same request stays refused.
    stranger = world.account()
    others = [
        (account, b"\x01another copy", made),
        (account, copy, [made[0]]),
        (account, copy, [world.slot(_y(), account, "c-ana"), made[1]]),
        (account, copy, [replace(made[0], counselor_id="c-ben"), made[1]]),
        (stranger, copy, [world.slot(_y(), stranger, "c-ana")]),
    ]
    for owner, entry_copy, slots in others:
        with pytest.raises(InputError, match="already in use"):
            world.repository.create_entry_with_slots(entry_id, owner, entry_copy, slots, 2, NOW_MS)
    assert world.repository.list_for_account(stranger) == []
