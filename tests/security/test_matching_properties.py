"""Matching, property-tested: a tag opens exactly when t distinct accounts hold live, valid
slots of it, and otherwise counselors can open nothing (docs/protocol.md §6, §7).

Each Hypothesis scenario draws a threshold t, 1-6 honest accounts with 0-2 genuine slots
each (some withdrawn), 0-3 forging accounts with forged slots of five kinds, and a storage
order, then runs `protocol.matching.open_tag` on the live slots as the escrow's storage
does. The oracle is the protocol's promise, computed independently of the matcher:

- matched  iff  the number of distinct accounts with a live genuine slot >= t;
- when matched, exactly one slot per such account opens (its first live one, §7.1), with
  the package its survivor sealed, and no forged slot opens;
- when not matched, nothing opens: the counselors receive 0 packages.

Building a slot costs an HPKE seal, so every slot is built once per module into a pool and
the scenarios draw from it. `NOTALONE_MATCHING_EXAMPLES` sets the number of scenarios
(10,000 at full size, 1,500 in `make test`: tests/sizes.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notalone.crypto import aead, group, hpke, shamir
from notalone.protocol import matching, slots
from notalone.protocol.slots import Package, Slot
from tests.sizes import size

# Quick in `make test`, at full size in `make test-slow` (tests/sizes.py).
pytestmark = pytest.mark.slow

EXAMPLES = size("NOTALONE_MATCHING_EXAMPLES", full=10_000, quick=1_500)
THRESHOLDS = (2, 3)
HONEST_ACCOUNTS = 6
GENUINE_PER_ACCOUNT = 2
FORGING_ACCOUNTS = 3
#: A genuine slot is withdrawn one time in four.
WITHDRAWN = st.sampled_from([False, False, False, True])
DEPLOYMENT = bytes(range(16))
COUNSELOR_ID = "c-ana"
COUNSELOR_SK, COUNSELOR_PK = hpke.generate_key_pair()


def _package(account: bytes) -> Package:
    return Package(
        contact=f"signal:{account.hex()}", identifiers=(("email", "A@x.org", "a@x.org"),)
    )


def _build(y: bytes, threshold: int, account: bytes) -> Slot:
    return slots.build_slot(
        y,
        _package(account),
        threshold=threshold,
        account_id=account,
        slot_id=secrets.token_bytes(16),
        deployment_id=DEPLOYMENT,
        counselor_id=COUNSELOR_ID,
        counselor_public_key=COUNSELOR_PK,
    )


# Forgeries of a slot built by a forging account for the very tag, so that each carries
# the right tag, account and (but for one kind) the right abscissa.
def _random_share(slot: Slot, other_y: bytes, threshold: int) -> Slot:
    return replace(slot, share=group.random_scalar())


def _random_outer(slot: Slot, other_y: bytes, threshold: int) -> Slot:
    # A genuine share on the genuine polynomial, with a box nobody can open.
    return replace(slot, outer=slot.outer[:1] + secrets.token_bytes(len(slot.outer) - 1))


def _other_box_key(slot: Slot, other_y: bytes, threshold: int) -> Slot:
    # A genuine share, and a well-formed box under a key of the forger's choosing.
    key = slots.derive_slot_secrets(other_y, threshold).entry_key
    inner = slots.INNER_VERSION + secrets.token_bytes(200)
    ad = slots.outer_ad(slot.tag, slot.account_id, slot.slot_id)
    return replace(slot, outer=aead.seal(key, inner, ad))


def _other_polynomial(slot: Slot, other_y: bytes, threshold: int) -> Slot:
    # The share another identifier's polynomial takes at this slot's abscissa.
    other = slots.derive_slot_secrets(other_y, threshold)
    share = shamir.evaluate_polynomial([other.secret, *other.coefficients], slot.x)
    return replace(slot, share=share)


def _wrong_abscissa(slot: Slot, other_y: bytes, threshold: int) -> Slot:
    return replace(slot, x=group.random_scalar())


FORGERIES: dict[str, Callable[[Slot, bytes, int], Slot]] = {
    "random share": _random_share,
    "random outer box": _random_outer,
    "box under another key": _other_box_key,
    "share of another polynomial": _other_polynomial,
    "abscissa not bound to the account": _wrong_abscissa,
}


@dataclass
class Pool:
    """Prebuilt slots of one tag for one threshold."""

    threshold: int
    honest: list[bytes]
    forgers: list[bytes]
    #: genuine[a][i]: the i-th genuine slot of honest account a.
    genuine: list[list[Slot]]
    #: forged[f][kind]: forging account f's slot of that kind.
    forged: list[dict[str, Slot]]
    #: The inner package each genuine slot's survivor sealed, by slot id.
    inner: dict[bytes, bytes] = field(default_factory=dict)


def _build_pool(threshold: int) -> Pool:
    y, other_y = secrets.token_bytes(64), secrets.token_bytes(64)
    secrets_ = slots.derive_slot_secrets(y, threshold)
    honest = [secrets.token_bytes(16) for _ in range(HONEST_ACCOUNTS)]
    forgers = [secrets.token_bytes(16) for _ in range(FORGING_ACCOUNTS)]
    genuine = [[_build(y, threshold, a) for _ in range(GENUINE_PER_ACCOUNT)] for a in honest]
    forged = [
        {
            kind: forge(_build(y, threshold, f), other_y, threshold)
            for kind, forge in FORGERIES.items()
        }
        for f in forgers
    ]
    pool = Pool(threshold, honest, forgers, genuine, forged)
    for account_slots in genuine:
        for slot in account_slots:
            ad = slots.outer_ad(slot.tag, slot.account_id, slot.slot_id)
            pool.inner[slot.slot_id] = aead.open_(secrets_.entry_key, slot.outer, ad)
            # The survivor's counselor reads what the survivor sealed.
            package = slots.open_package(
                COUNSELOR_SK, DEPLOYMENT, slot.slot_id, pool.inner[slot.slot_id]
            )
            assert package == _package(slot.account_id)
    all_slots = [s for a in genuine for s in a] + [s for f in forged for s in f.values()]
    assert len({s.tag for s in all_slots}) == 1
    assert len({s.slot_id for s in all_slots}) == len(all_slots)
    return pool


@pytest.fixture(scope="module")
def pools() -> dict[int, Pool]:
    return {t: _build_pool(t) for t in THRESHOLDS}


@dataclass
class Tally:
    """What the scenarios covered, printed at the end."""

    scenarios: int = 0
    matched: int = 0
    unmatched: int = 0
    unmatched_live_slots: int = 0
    opened_in_unmatched: int = 0
    forged_slots: int = 0
    forged_opened: int = 0
    withdrawn: int = 0
    duplicates: int = 0


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, list[list[bool]], list[list[str]]]:
    """(t, per honest account the withdrawn flag of each of its 0-2 genuine slots, per
    forging account the kinds of its 1-2 forged slots)."""
    threshold = draw(st.sampled_from(THRESHOLDS))
    accounts = draw(st.integers(1, HONEST_ACCOUNTS))
    withdrawn = [
        draw(st.lists(WITHDRAWN, min_size=0, max_size=GENUINE_PER_ACCOUNT)) for _ in range(accounts)
    ]
    forgers = draw(st.integers(0, FORGING_ACCOUNTS))
    kinds = [
        draw(st.lists(st.sampled_from(sorted(FORGERIES)), min_size=1, max_size=2, unique=True))
        for _ in range(forgers)
    ]
    return threshold, withdrawn, kinds


def test_match_iff_t_distinct_accounts_hold_live_valid_slots(pools: dict[int, Pool]) -> None:
    """>= 10,000 scenarios: the matcher agrees with the oracle in every one."""
    tally = Tally()

    @settings(max_examples=EXAMPLES)
    @given(scenario=scenarios(), data=st.data())
    def check(scenario: tuple[int, list[list[bool]], list[list[str]]], data: st.DataObject) -> None:
        threshold, withdrawn, kinds = scenario
        pool = pools[threshold]
        live: list[Slot] = []
        genuine_ids: set[bytes] = set()
        for a, flags in enumerate(withdrawn):
            for i, gone in enumerate(flags):
                slot = pool.genuine[a][i]
                genuine_ids.add(slot.slot_id)
                if gone:
                    tally.withdrawn += 1
                else:
                    live.append(slot)
        forged = [pool.forged[f][kind] for f, chosen in enumerate(kinds) for kind in chosen]
        forged_ids = {s.slot_id for s in forged}
        ordered = data.draw(st.permutations(live + forged))

        # The oracle: the first live genuine slot of every account that has one.
        first_of: dict[bytes, Slot] = {}
        for slot in ordered:
            if slot.slot_id in genuine_ids:
                first_of.setdefault(slot.account_id, slot)
        expect_match = len(first_of) >= threshold

        outcome = matching.open_tag(ordered, threshold)
        opened = {o.slot_id for o in outcome.opened}
        assert not outcome.undecided
        assert outcome.matched == expect_match
        tally.scenarios += 1
        tally.forged_slots += len(forged)
        tally.forged_opened += len(opened & forged_ids)
        tally.duplicates += len(outcome.duplicates)
        if expect_match:
            tally.matched += 1
            assert opened == {s.slot_id for s in first_of.values()}
            assert len(outcome.opened) == len(first_of)  # one per account
            for o in outcome.opened:
                assert o.inner == pool.inner[o.slot_id]
                assert o.counselor_id == COUNSELOR_ID
            # Every forged slot is named (forged, or a later slot of its account).
            assert forged_ids <= set(outcome.forged) | set(outcome.duplicates)
        else:
            tally.unmatched += 1
            tally.unmatched_live_slots += len(ordered)
            tally.opened_in_unmatched += len(outcome.opened)
            assert outcome.opened == ()
        assert not opened & forged_ids

    check()
    print(
        f"\n{tally.scenarios} scenarios: {tally.matched} matched, {tally.unmatched} not matched;"
        f" {tally.forged_slots} forged slots, {tally.forged_opened} opened;"
        f" {tally.withdrawn} withdrawn, {tally.duplicates} duplicates;"
        f" counselors opened {tally.opened_in_unmatched} of {tally.unmatched_live_slots}"
        " live slots of unmatched tags"
    )
    assert tally.scenarios >= EXAMPLES
    assert tally.matched > 0
    assert tally.unmatched > 0
    assert tally.forged_opened == 0
    assert tally.opened_in_unmatched == 0
