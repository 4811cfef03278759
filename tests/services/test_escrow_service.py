"""The escrow use cases on in-memory ports: entries are checked before anything is
written (the store's transaction is all or nothing), answers never reveal a match, counselors are
vouched for and authenticated by token."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from notalone.crypto import hpke
from notalone.errors import EncodingError, InputError, VerificationError
from notalone.protocol import slots as slot_recipes
from notalone.protocol.slots import Package, Slot
from notalone.protocol.tickets import TicketIssuer, verify_ticket
from notalone.services.escrow import (
    EscrowPolicy,
    EscrowService,
    InMemoryCounselorStore,
    NotFoundError,
    check_counselor_id,
    counselor_fingerprint,
    counselor_token_hash,
    vouching_message,
)
from tests.services.conftest import START_MS, Clock

DEPLOYMENT = bytes(16)


@dataclass(frozen=True)
class _Entry:
    entry_id: bytes
    entry_copy: bytes
    created_at_ms: int
    withdrawn_at_ms: int | None = None


@dataclass(frozen=True)
class _SlotView:
    slot_id: bytes
    entry_id: bytes
    state: str


@dataclass
class FakeSlots:
    """Records what the service asks of a `SlotStore`; may refuse the n-th insert."""

    entries: dict[bytes, tuple[bytes, _Entry]] = field(default_factory=dict)
    slots: list[tuple[bytes, Slot]] = field(default_factory=list)
    withdrawn: set[bytes] = field(default_factory=set)
    refuse_insert: int | None = None

    def create_entry_with_slots(
        self,
        entry_id: bytes,
        account_id: bytes,
        entry_copy: bytes,
        slots: Sequence[Slot],
        threshold: int,
        now_ms: int,
    ) -> None:
        # All or nothing, as the real store's single transaction.
        if self.refuse_insert is not None and self.refuse_insert < len(slots):
            raise InputError("this account already holds a slot for this identifier")
        self.entries[entry_id] = (account_id, _Entry(entry_id, entry_copy, now_ms))
        self.slots.extend((entry_id, slot) for slot in slots)

    def list_entries(self, account_id: bytes) -> list[_Entry]:
        return [
            replace(e, withdrawn_at_ms=START_MS if e.entry_id in self.withdrawn else None)
            for owner, e in self.entries.values()
            if owner == account_id
        ]

    def list_for_account(self, account_id: bytes) -> list[_SlotView]:
        return [
            _SlotView(s.slot_id, entry_id, "withdrawn" if entry_id in self.withdrawn else "sealed")
            for entry_id, s in self.slots
            if s.account_id == account_id
        ]

    def withdraw_entry(self, account_id: bytes, entry_id: bytes, now_ms: int) -> None:
        found = self.entries.get(entry_id)
        if found is None or found[0] != account_id:
            raise InputError("this account has no such entry")
        self.withdrawn.add(entry_id)

    def inbox(self, counselor_id: str) -> list[object]:
        return []


@dataclass
class World:
    service: EscrowService
    slots: FakeSlots
    counselors: InMemoryCounselorStore
    counselor_key: bytes
    issuer: TicketIssuer
    vouching_key: Ed25519PrivateKey


@pytest.fixture
def world() -> World:
    slots, counselors = FakeSlots(), InMemoryCounselorStore()
    issuer = TicketIssuer(Ed25519PrivateKey.generate(), bytes(32), DEPLOYMENT)
    vouching = Ed25519PrivateKey.generate()
    service = EscrowService(
        slots, counselors, issuer, vouching, EscrowPolicy(ticket_quota=9), Clock()
    )
    _, public_key = hpke.generate_key_pair()
    service.register_counselor("c-ana", "Ana", public_key)
    return World(service, slots, counselors, public_key, issuer, vouching)


def _slot(world: World, account_id: bytes, y: bytes | None = None) -> Slot:
    return slot_recipes.build_slot(
        y or secrets.token_bytes(64),
        Package(contact="signal:me", identifiers=(("email", "a@b.org", "a@b.org"),)),
        threshold=2,
        account_id=account_id,
        slot_id=secrets.token_bytes(16),
        deployment_id=DEPLOYMENT,
        counselor_id="c-ana",
        counselor_public_key=world.counselor_key,
    )


def test_an_entry_is_stored_with_its_slots_and_shown_sealed(world: World) -> None:
    account, entry = secrets.token_bytes(16), secrets.token_bytes(16)
    made = [_slot(world, account), _slot(world, account)]
    assert world.service.submit_entry(account, entry, b"\x01copy", made) is None  # type: ignore[func-returns-value]
    (view,) = world.service.list_entries(account)
    assert view.entry_id == entry
    assert view.slots == tuple((s.slot_id, "sealed") for s in made)
    world.service.withdraw_entry(account, entry)
    assert world.service.list_entries(account)[0].slots[0][1] == "withdrawn"
    with pytest.raises(NotFoundError):
        world.service.withdraw_entry(secrets.token_bytes(16), entry)


def test_entries_are_checked_before_anything_is_written(world: World) -> None:
    account = secrets.token_bytes(16)
    good = _slot(world, account)
    y = secrets.token_bytes(64)
    refusals: dict[str, tuple[bytes, list[Slot]]] = {
        "encrypted copy": (b"", [good]),
        "1 to 16 slots": (b"c", []),
        "belong to the account": (b"c", [_slot(world, secrets.token_bytes(16))]),
        "abscissa": (b"c", [replace(good, x=_slot(world, secrets.token_bytes(16)).x)]),
        "tag is 32": (b"c", [replace(good, tag=b"short")]),
        "same slot id": (b"c", [good, replace(_slot(world, account), slot_id=good.slot_id)]),
        "same identifier": (b"c", [_slot(world, account, y), _slot(world, account, y)]),
    }
    for expected, (copy, slots) in refusals.items():
        with pytest.raises(InputError, match=expected):
            world.service.submit_entry(account, secrets.token_bytes(16), copy, slots)
    with pytest.raises(EncodingError, match="entry id"):
        world.service.submit_entry(account, b"short", b"c", [good])
    assert world.slots.entries == {}
    assert world.slots.slots == []


def test_a_slot_the_store_refuses_is_reported_and_leaves_nothing(world: World) -> None:
    account, entry = secrets.token_bytes(16), secrets.token_bytes(16)
    world.slots.refuse_insert = 1
    with pytest.raises(InputError, match="already holds"):
        world.service.submit_entry(
            account, entry, b"c", [_slot(world, account), _slot(world, account)]
        )
    assert world.slots.entries == {}
    assert world.slots.slots == []
    assert world.service.list_entries(account) == []


def test_tickets_carry_the_policys_quota(world: World) -> None:
    account = secrets.token_bytes(16)
    ticket = world.service.issue_ticket(account)
    checked = verify_ticket(world.issuer.public_key, DEPLOYMENT, ticket.to_bytes(), START_MS)
    assert checked.quota == 9
    with pytest.raises(EncodingError):
        world.service.issue_ticket(b"short")


def test_counselors_are_vouched_for_and_found_by_token(world: World) -> None:
    _, key = hpke.generate_key_pair()
    made = world.service.register_counselor("c-ben", "  Ben  ", key)
    assert made.counselor.display_name == "Ben"
    assert made.token not in repr(made)
    world.vouching_key.public_key().verify(
        made.counselor.vouching_signature, vouching_message("c-ben", key)
    )
    assert world.service.vouching_public_key == world.vouching_key.public_key().public_bytes_raw()
    assert [c.id for c in world.service.counselors()] == ["c-ana", "c-ben"]
    assert world.service.authenticate_counselor(made.token) == "c-ben"
    assert world.counselors.tokens[counselor_token_hash(made.token)] == "c-ben"
    for token in ("short", secrets.token_hex(32)):
        with pytest.raises(VerificationError):
            world.service.authenticate_counselor(token)
    assert world.service.inbox("c-ben") == []
    refusals = {
        "already registered": ("c-ben", "Ben", secrets.token_bytes(32)),
        "counselor id": ("bad id", "Ben", secrets.token_bytes(32)),
        "display name": ("c-cy", " ", secrets.token_bytes(32)),
        "public key": ("c-cy", "Cy", b"short"),
    }
    for expected, args in refusals.items():
        with pytest.raises(InputError, match=expected):
            world.service.register_counselor(*args)


def test_helpers_and_policy() -> None:
    assert counselor_fingerprint(bytes(32)).count("-") == 7
    assert len(counselor_fingerprint(bytes(32))) == 39
    assert vouching_message("a", b"k") == b"notalone/v1/counselor\x01ak"
    check_counselor_id("A.b_c-1")
    for bad in ("", "-a", "a" * 65, "é", 3):
        with pytest.raises(InputError):
            check_counselor_id(bad)  # type: ignore[arg-type]
    for threshold, quota in ((1, 5), (17, 5), (2, 0), (2, 70_000), (2, True)):
        with pytest.raises(InputError):
            EscrowPolicy(match_threshold=threshold, ticket_quota=quota)  # type: ignore[arg-type]
