"""Preparing entries: identifiers as typed → slots that match across survivors."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pytest

from notalone.client.entries import ENTRY_COPY_VERSION, PreparedEntry, prepare_entry
from notalone.client.keyservers import FederationClient
from notalone.crypto import hpke, oprf
from notalone.crypto.oprf import Mode
from notalone.errors import DecryptionError, EncodingError, IdentifierError, InputError
from notalone.protocol import matching, records, slots
from notalone.protocol.accounts import DataKey
from notalone.protocol.identifiers import canonicalize
from tests.client.conftest import DEPLOYMENT_ID, Deployed

ALICE = bytes.fromhex("a1" * 16)
BEATRIZ = bytes.fromhex("b2" * 16)
CONTACT_A = "Signal +1 555 0100, evenings only"
CONTACT_B = "canary-contact-b@example.net"
THRESHOLD = 2


@pytest.fixture
def federation(deployed: Deployed) -> FederationClient:
    return deployed.federation_client([deployed.server(i) for i in (1, 2, 3)])


@pytest.fixture
def counselors() -> dict[str, tuple[bytes, bytes]]:
    return {"c-anna": hpke.generate_key_pair(), "c-bo": hpke.generate_key_pair()}


class CountingOPRF:
    """Computes the VOPRF directly under the dealt key and records each call's batch."""

    def __init__(self, secret_key: bytes) -> None:
        self.secret_key = secret_key
        self.calls: list[list[bytes]] = []

    def __call__(self, inputs: list[bytes]) -> list[bytes]:
        self.calls.append(list(inputs))
        return [oprf.evaluate(self.secret_key, x, Mode.VOPRF) for x in inputs]


def prepare(
    identifiers: Sequence[tuple[str, str, str | None]],
    oprf_: object,
    counselor: tuple[str, bytes],
    *,
    account: bytes = ALICE,
    contact: str = CONTACT_A,
    **overrides: Any,
) -> PreparedEntry:
    arguments: dict[str, Any] = {
        "contact": contact,
        "message": "He was my manager in 2019.",
        "counselor_id": counselor[0],
        "counselor_public_key": counselor[1],
        "account_id": account,
        "deployment_id": DEPLOYMENT_ID,
        "threshold": THRESHOLD,
        "oprf": oprf_,
        **overrides,
    }
    return prepare_entry(identifiers, **arguments)


def test_two_survivors_spelling_one_number_differently_match(
    deployed: Deployed, federation: FederationClient, counselors: dict[str, tuple[bytes, bytes]]
) -> None:
    anna_sk, anna_pk = counselors["c-anna"]
    bo_sk, bo_pk = counselors["c-bo"]
    # Each survivor's client has its own ticket, issued by the escrow for its account.
    entry_a = prepare(
        [("phone", "(415) 555-0134", "US")],
        federation.evaluator(deployed.ticket(ALICE)),
        ("c-anna", anna_pk),
    )
    entry_b = prepare(
        [("phone", "+1 415 555 0134", None)],
        federation.evaluator(deployed.ticket(BEATRIZ)),
        ("c-bo", bo_pk),
        account=BEATRIZ,
        contact=CONTACT_B,
    )
    (slot_a,) = entry_a.slots
    (slot_b,) = entry_b.slots
    assert slot_a.tag == slot_b.tag
    assert slot_a.slot_id != slot_b.slot_id

    outcome = matching.open_tag([slot_a, slot_b], THRESHOLD)
    assert outcome.matched
    opened = {o.slot_id: o for o in outcome.opened}
    package = slots.open_package(
        anna_sk, DEPLOYMENT_ID, slot_a.slot_id, opened[slot_a.slot_id].inner
    )
    assert package.contact == CONTACT_A
    assert package.identifiers == (("phone", "(415) 555-0134", "+14155550134"),)
    assert package.message == "He was my manager in 2019."
    assert opened[slot_a.slot_id].counselor_id == "c-anna"
    package_b = slots.open_package(
        bo_sk, DEPLOYMENT_ID, slot_b.slot_id, opened[slot_b.slot_id].inner
    )
    assert package_b.identifiers == (("phone", "+1 415 555 0134", "+14155550134"),)
    # The other survivor's counselor cannot read Alice's package.
    with pytest.raises(DecryptionError):
        slots.open_package(bo_sk, DEPLOYMENT_ID, slot_a.slot_id, opened[slot_a.slot_id].inner)


def test_one_survivor_alone_does_not_match(
    deployed: Deployed, counselors: dict[str, tuple[bytes, bytes]]
) -> None:
    evaluate = CountingOPRF(deployed.secret_key)
    first = prepare(
        [("email", "Canary@Example.org", None)], evaluate, ("c-anna", counselors["c-anna"][1])
    )
    second = prepare(
        [("email", "canary@example.org", None)], evaluate, ("c-anna", counselors["c-anna"][1])
    )
    assert first.slots[0].tag == second.slots[0].tag
    outcome = matching.open_tag([first.slots[0], second.slots[0]], THRESHOLD)
    assert not outcome.matched
    assert outcome.duplicates == (second.slots[0].slot_id,)


def test_one_identifier_twice_in_an_entry_is_one_slot(
    deployed: Deployed, federation: FederationClient, counselors: dict[str, tuple[bytes, bytes]]
) -> None:
    entry = prepare(
        [
            ("phone", "(415) 555-0134", "US"),
            ("email", "canary@example.org", None),
            ("phone", "+1 415 555 0134", None),
            ("phone", "(415) 555-0134", "US"),
        ],
        federation.evaluator(deployed.ticket()),
        ("c-anna", counselors["c-anna"][1]),
    )
    assert len(entry.slots) == 2
    assert len({s.tag for s in entry.slots}) == 2
    # One batch: each of the τ servers asked once.
    assert deployed.evaluations() == 2
    phone_slot, email_slot = entry.slot_ids
    assert entry.copy == {
        "v": ENTRY_COPY_VERSION,
        "entry_id": entry.entry_id.hex(),
        "identifiers": [
            {
                "kind": "phone",
                "entered": "(415) 555-0134",
                "region": "US",
                "slot_id": phone_slot.hex(),
            },
            {
                "kind": "email",
                "entered": "canary@example.org",
                "region": None,
                "slot_id": email_slot.hex(),
            },
            {
                "kind": "phone",
                "entered": "+1 415 555 0134",
                "region": None,
                "slot_id": phone_slot.hex(),
            },
            {
                "kind": "phone",
                "entered": "(415) 555-0134",
                "region": "US",
                "slot_id": phone_slot.hex(),
            },
        ],
        "counselor_id": "c-anna",
        "contact": CONTACT_A,
        "message": "He was my manager in 2019.",
        "slot_ids": [phone_slot.hex(), email_slot.hex()],
    }
    # The package holds each spelling once, with its canonical form.
    sk = counselors["c-anna"][0]
    for slot in entry.slots:
        outcome = matching.open_tag([slot, _other_account_slot(deployed, slot, entry)], THRESHOLD)
        inner = next(o.inner for o in outcome.opened if o.slot_id == slot.slot_id)
        package = slots.open_package(sk, DEPLOYMENT_ID, slot.slot_id, inner)
        assert package.identifiers == (
            ("phone", "(415) 555-0134", "+14155550134"),
            ("email", "canary@example.org", "canary@example.org"),
            ("phone", "+1 415 555 0134", "+14155550134"),
        )


def _other_account_slot(deployed: Deployed, slot: slots.Slot, entry: PreparedEntry) -> slots.Slot:
    """A second survivor's slot for whichever identifier `slot` holds."""
    for identifier in entry.copy["identifiers"]:
        if identifier["slot_id"] == slot.slot_id.hex():
            kind, value, region = identifier["kind"], identifier["entered"], identifier["region"]
            break
    canonical = canonicalize(kind, value, region=region)
    y = oprf.evaluate(deployed.secret_key, canonical.oprf_input(), Mode.VOPRF)
    package = slots.Package("someone else", ((kind, value, canonical.canonical),))
    return slots.build_slot(
        y,
        package,
        threshold=THRESHOLD,
        account_id=BEATRIZ,
        slot_id=b"\x07" * 16,
        deployment_id=DEPLOYMENT_ID,
        counselor_id="c-bo",
        counselor_public_key=hpke.generate_key_pair()[1],
    )


def test_an_invalid_identifier_stops_before_any_request(
    deployed: Deployed, federation: FederationClient, counselors: dict[str, tuple[bytes, bytes]]
) -> None:
    with pytest.raises(IdentifierError) as caught:
        prepare(
            [("email", "canary@example.org", None), ("phone", "canary-555-not-a-number", "US")],
            federation.evaluator(deployed.ticket()),
            ("c-anna", counselors["c-anna"][1]),
        )
    assert caught.value.kind == "phone"
    assert "canary" not in str(caught.value)
    assert all(t.requests == [] for t in deployed.transports.values())


@pytest.mark.parametrize(
    ("override", "error", "message"),
    [
        ({"contact": "  "}, InputError, "contact is empty"),
        ({"counselor_id": ""}, InputError, "counselor"),
        ({"counselor_public_key": b"short"}, EncodingError, "counselor's public key"),
        ({"account_id": b"x" * 15}, EncodingError, "account id"),
        ({"deployment_id": b"x" * 17}, EncodingError, "deployment id"),
        ({"threshold": 1}, InputError, "threshold"),
        ({"message": "x" * 70_000}, InputError, "larger than 64 KiB"),
    ],
)
def test_bad_arguments_stop_before_the_oprf(
    deployed: Deployed,
    counselors: dict[str, tuple[bytes, bytes]],
    override: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    evaluate = CountingOPRF(deployed.secret_key)
    with pytest.raises(error, match=message):
        prepare(
            [("email", "canary@example.org", None)],
            evaluate,
            ("c-anna", counselors["c-anna"][1]),
            **override,
        )
    assert evaluate.calls == []


def test_an_entry_holds_1_to_64_identifiers(
    deployed: Deployed, counselors: dict[str, tuple[bytes, bytes]]
) -> None:
    evaluate = CountingOPRF(deployed.secret_key)
    counselor = ("c-anna", counselors["c-anna"][1])
    with pytest.raises(InputError, match="at least one"):
        prepare([], evaluate, counselor)
    with pytest.raises(InputError, match="at most 64"):
        prepare([("orgid", f"example.org:E{i}", None) for i in range(65)], evaluate, counselor)
    entry = prepare([("orgid", f"example.org:E{i}", None) for i in range(64)], evaluate, counselor)
    assert len(entry.slots) == 64
    assert [len(call) for call in evaluate.calls] == [64]


def test_the_oprf_must_answer_each_input(
    deployed: Deployed, counselors: dict[str, tuple[bytes, bytes]]
) -> None:
    counselor = ("c-anna", counselors["c-anna"][1])
    with pytest.raises(EncodingError, match="one 64-byte output per identifier"):
        prepare([("email", "a@example.org", None)], lambda xs: [], counselor)
    with pytest.raises(EncodingError, match="one 64-byte output per identifier"):
        prepare([("email", "a@example.org", None)], lambda xs: [b"y" * 32], counselor)


def test_randomness_is_checked(
    deployed: Deployed, counselors: dict[str, tuple[bytes, bytes]]
) -> None:
    evaluate = CountingOPRF(deployed.secret_key)
    counselor = ("c-anna", counselors["c-anna"][1])
    two = [("email", "a@example.org", None), ("email", "b@example.org", None)]
    with pytest.raises(InputError, match="repeated a slot id"):
        prepare(two, evaluate, counselor, rng=lambda n: b"\x00" * n)
    with pytest.raises(EncodingError, match="wrong length"):
        prepare(two, evaluate, counselor, rng=lambda n: b"\x00")
    counter = itertools.count()
    entry = prepare(two, evaluate, counselor, rng=lambda n: next(counter).to_bytes(n))
    assert entry.entry_id == (0).to_bytes(16)
    assert entry.slot_ids == ((1).to_bytes(16), (2).to_bytes(16))


def test_the_entry_copy_round_trips_through_its_encryption(
    deployed: Deployed, counselors: dict[str, tuple[bytes, bytes]]
) -> None:
    entry = prepare(
        [("profile", "https://github.com/Canary-Person", None)],
        CountingOPRF(deployed.secret_key),
        ("c-anna", counselors["c-anna"][1]),
    )
    data_key = DataKey(b"\x11" * 32)
    blob = records.encrypt_entry_copy(data_key, entry.entry_id, entry.copy)
    assert records.decrypt_entry_copy(data_key, entry.entry_id, blob) == entry.copy


def test_the_repr_hides_identifiers_contact_and_canonical_forms(
    deployed: Deployed, counselors: dict[str, tuple[bytes, bytes]]
) -> None:
    entry = prepare(
        [("email", "Canary.Person@Example.org", None), ("phone", "(415) 555-0134", "US")],
        CountingOPRF(deployed.secret_key),
        ("c-anna", counselors["c-anna"][1]),
        contact="canary-contact@example.net",
    )
    text = repr(entry)
    assert text == f"PreparedEntry(entry_id={entry.entry_id.hex()}, slots=2)"
    assert str(entry) == text
    for secret in ("anary", "example", "4155550134", "555-0134", "He was"):
        assert secret not in text
