"""The survivor and counselor flow across real components, below the HTTP layer.

Survivors' clients evaluate the OPRF at real key-server apps (through the SDK's
FederationClient), prepare entries with the SDK, and their slots are stored and matched
by the escrow's storage layer on SQLite and on PostgreSQL; counselors read their inboxes
and open packages with their own keys. The escrow's HTTP API will wrap exactly these
calls.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import pytest

from notalone.client import FederationClient, PreparedEntry, prepare_entry
from notalone.errors import DecryptionError, InputError
from notalone.protocol import records, slots
from notalone.protocol.accounts import DataKey
from notalone.storage.engine import Database
from notalone.storage.slots import SlotRepository
from tests.client.conftest import DEPLOYMENT_ID, Deployed

# The storage fixtures run every test here on SQLite and on PostgreSQL.
from tests.storage.conftest import (  # noqa: F401 - imported fixtures are used by name
    NOW_MS,
    World,
    backend,
    database,
    make_database,
    pg_server,
    pg_template,
    repository,
)

THRESHOLD = 2


# pytest injects the imported storage fixtures by name, which ruff reads as shadowing.
@pytest.fixture
def world(database: Database, repository: SlotRepository) -> World:  # noqa: F811
    """Rows for the flow: one organization and three counselors."""
    made = World(database, repository)
    for counselor_id in ("c-anna", "c-bo", "c-cy"):
        made.counselor(counselor_id)
    return made


@pytest.fixture
def federation(deployed: Deployed) -> FederationClient:
    return deployed.federation_client([deployed.server(i) for i in (1, 2, 3)])


def _enter(
    world: World,
    deployed: Deployed,
    federation: FederationClient,
    identifiers: Sequence[tuple[str, str, str | None]],
    counselor_id: str,
    contact: str,
    account: bytes | None = None,
) -> tuple[bytes, PreparedEntry]:
    """One survivor: register (unless `account` is given), prepare an entry through the
    key servers, upload it."""
    account = world.account() if account is None else account
    prepared = prepare_entry(
        identifiers,
        contact=contact,
        counselor_id=counselor_id,
        counselor_public_key=world.counselor_keys[counselor_id][1],
        account_id=account,
        deployment_id=DEPLOYMENT_ID,
        threshold=THRESHOLD,
        oprf=federation.evaluator(deployed.ticket(account)),
    )
    data_key = DataKey(secrets.token_bytes(32))
    copy = records.encrypt_entry_copy(data_key, prepared.entry_id, prepared.copy)
    world.repository.create_entry(prepared.entry_id, account, copy, NOW_MS)
    for slot in prepared.slots:
        world.repository.insert_and_match(slot, prepared.entry_id, THRESHOLD, NOW_MS)
    return account, prepared


def _open(world: World, counselor_id: str) -> list[slots.Package]:
    private_key = world.counselor_keys[counselor_id][0]
    return [
        slots.open_package(private_key, DEPLOYMENT_ID, item.slot_id, item.inner)
        for item in world.repository.inbox(counselor_id)
    ]


def test_two_survivors_meet_a_third_joins_and_each_counselor_reads_only_their_own(
    world: World, deployed: Deployed, federation: FederationClient
) -> None:
    # Given two survivors who never met, naming one manager by different spellings
    anna_survivor, first = _enter(
        world,
        deployed,
        federation,
        [("phone", "(415) 555-0134", "US"), ("email", "j.doe@studio.example", None)],
        "c-anna",
        "Signal +1 555 0100",
    )
    bo_survivor, second = _enter(
        world,
        deployed,
        federation,
        [("phone", "+1 415 555 0134", None), ("profile", "linkedin.com/in/jdoe", None)],
        "c-bo",
        "bo.contact@example.net",
    )
    phone_tag = first.slots[0].tag
    assert second.slots[0].tag == phone_tag

    # Then exactly one match exists, on the phone number only
    (match,) = world.repository.matches_for_tag(phone_tag)
    assert {slot_id for slot_id, _ in match.members} == {
        first.slots[0].slot_id,
        second.slots[0].slot_id,
    }
    assert world.repository.matches_for_tag(first.slots[1].tag) == []
    assert world.repository.matches_for_tag(second.slots[1].tag) == []

    # And each counselor opens exactly their survivor's package, as entered
    (anna_package,) = _open(world, "c-anna")
    assert anna_package.contact == "Signal +1 555 0100"
    assert ("phone", "(415) 555-0134", "+14155550134") in anna_package.identifiers
    (bo_package,) = _open(world, "c-bo")
    assert bo_package.contact == "bo.contact@example.net"
    assert ("phone", "+1 415 555 0134", "+14155550134") in bo_package.identifiers
    # and sees who else holds part of the match, never their contents
    (anna_item,) = world.repository.inbox("c-anna")
    assert anna_item.other_counselors == ("c-bo",)
    with pytest.raises(DecryptionError):
        slots.open_package(
            world.counselor_keys["c-bo"][0], DEPLOYMENT_ID, anna_item.slot_id, anna_item.inner
        )

    # And nothing a survivor's client can see says that their entry matched
    for account in (anna_survivor, bo_survivor):
        states = {s.state for s in world.repository.list_for_account(account)}
        assert states == {"sealed"}

    # When a third survivor names the same number
    _enter(world, deployed, federation, [("phone", "+14155550134", None)], "c-cy", "cy@x.example")

    # Then they join the existing match and their counselor receives their package
    (match,) = world.repository.matches_for_tag(phone_tag)
    assert len(match.members) == 3
    (cy_package,) = _open(world, "c-cy")
    assert cy_package.identifiers == (("phone", "+14155550134", "+14155550134"),)
    assert len(world.repository.inbox("c-anna")) == 1  # nothing new for the others


def test_one_survivor_naming_a_person_twice_and_a_withdrawn_entry_never_match(
    world: World, deployed: Deployed, federation: FederationClient
) -> None:
    # One survivor enters the same person in two spellings within one entry: one slot.
    single_account, single = _enter(
        world,
        deployed,
        federation,
        [("email", "Jane.Roe@GMail.com", None), ("email", "janeroe@googlemail.com", None)],
        "c-anna",
        "a",
    )
    assert len(single.slots) == 1
    assert world.repository.matches_for_tag(single.slots[0].tag) == []

    # The same survivor coming back in another session and entering him again is refused
    # (one slot per account and identifier), and can never complete a match alone.
    with pytest.raises(InputError, match="already holds a slot"):
        _enter(
            world,
            deployed,
            federation,
            [("email", "janeroe@gmail.com", None)],
            "c-bo",
            "d",
            account=single_account,
        )
    assert world.repository.matches_for_tag(single.slots[0].tag) == []

    # A survivor who withdraws before anyone else arrives is never matched.
    withdrawn_account, withdrawn = _enter(
        world, deployed, federation, [("profile", "x.com/someone", None)], "c-anna", "b"
    )
    world.repository.withdraw_entry(withdrawn_account, withdrawn.entry_id, NOW_MS + 1)
    _, later = _enter(
        world, deployed, federation, [("profile", "twitter.com/SomeOne", None)], "c-bo", "c"
    )
    assert later.slots[0].tag == withdrawn.slots[0].tag
    assert world.repository.matches_for_tag(later.slots[0].tag) == []
    assert world.repository.inbox("c-anna") == []
    assert world.repository.inbox("c-bo") == []
