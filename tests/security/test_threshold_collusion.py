"""τ-1 colluding key servers learn nothing: one key share and the whole database recover
no tag.

The attacker here holds ONE share of a 2-of-3 federation (a corrupt key server, or its
stolen disk) and the escrow's full database, i.e. every tag. To learn who is named in the
escrow they would guess identifiers and recompute tags; without τ shares the OPRF output
y = F(k, x), hence s and the tag, stays out of reach (docs/protocol.md §5, §6). Every
strategy that one share allows is tried on 1,000 known identifiers, each of which really is
in the database, and must recover 0 of them. A control run with τ shares recovers all
1,000, so the recomputation itself is sound and the test can fail.
"""

from __future__ import annotations

import pytest

from notalone.crypto import group, oprf, shamir, threshold
from notalone.crypto.oprf import Mode
from notalone.crypto.threshold import Federation, KeyShare
from notalone.protocol import slots
from notalone.protocol.identifiers import canonicalize

IDENTIFIERS = 1_000
MATCH_THRESHOLD = 2  # the deployment's slot threshold t (default 2), not the federation's τ
BATCH = 64  # one key-server request holds at most 64 blinded elements (§5.2)
GUESSES = 2  # random guesses of the missing share, per missing index


def _known_identifiers() -> list[bytes]:
    """1,000 distinct canonical OPRF inputs: a third each email, phone and profile."""
    specs: list[tuple[str, str, str | None]] = []
    for i in range(IDENTIFIERS):
        if i % 3 == 0:
            specs.append(("email", f"Person.{i}@Example.org", None))
        elif i % 3 == 1:
            specs.append(("phone", f"(212) 7{i % 100:02d}-{1000 + i * 7:04d}", "US"))
        else:
            specs.append(("profile", f"https://github.com/survivor-ref-{i}", None))
    inputs = [
        canonicalize(kind, value, region=region).oprf_input() for kind, value, region in specs
    ]
    assert len(set(inputs)) == IDENTIFIERS
    return inputs


def _tag(oprf_output: bytes) -> bytes:
    """The tag the escrow stores for an OPRF output, derived as the client derives it."""
    return slots.derive_slot_secrets(oprf_output, MATCH_THRESHOLD).tag


def _genuine_tags(
    federation: Federation, shares: list[KeyShare], inputs: list[bytes]
) -> set[bytes]:
    """The database: tags from the real threshold evaluation (blind, τ proven answers,
    verify and combine), batched as FederationClient batches them."""
    tags: set[bytes] = set()
    for start in range(0, len(inputs), BATCH):
        batch = inputs[start : start + BATCH]
        blinds, blinded = zip(*(oprf.blind(x, threshold.MODE) for x in batch), strict=True)
        answers = [threshold.evaluate_share(share, list(blinded)) for share in shares[:2]]
        outputs = threshold.finalize_threshold(
            federation, batch, list(blinds), list(blinded), answers
        )
        tags.update(_tag(y) for y in outputs)
    return tags


def _index(i: int) -> bytes:
    return group.scalar_from_int(i)


def _strategies(share: KeyShare, servers: int) -> dict[str, bytes]:
    """Every candidate OPRF key an attacker holding only `share` can form."""
    others = [j for j in range(1, servers + 1) if j != share.index]
    candidates = {
        f"share {share.index} used as the key": share.secret_key,
        f"share {share.index} interpolated alone (degree-0 Lagrange)": shamir.interpolate(
            [(_index(share.index), share.secret_key)]
        ),
    }
    for j in others:
        # The share's own term of the τ-point Lagrange sum, the missing term left out.
        lam = shamir.lagrange_coefficients([_index(share.index), _index(j)])[0]
        candidates[f"share {share.index}'s Lagrange term with {j} missing"] = group.scalar_mul(
            lam, share.secret_key
        )
        for guess in range(GUESSES):
            candidates[f"share {share.index} + random guess #{guess} for share {j}"] = (
                shamir.interpolate(
                    [(_index(share.index), share.secret_key), (_index(j), group.random_scalar())]
                )
            )
    return candidates


def _recovered(key: bytes, inputs: list[bytes], database: set[bytes]) -> int:
    """How many identifiers' tags the candidate key recomputes into the database."""
    return sum(1 for x in inputs if _tag(oprf.evaluate(key, x, Mode.VOPRF)) in database)


@pytest.fixture(scope="module")
def dealt() -> tuple[bytes, Federation, list[KeyShare], list[bytes], set[bytes]]:
    secret_key = group.random_scalar()
    federation, shares = threshold.deal(secret_key, 2, 3)
    inputs = _known_identifiers()
    return secret_key, federation, shares, inputs, _genuine_tags(federation, shares, inputs)


def test_the_database_holds_every_known_identifier_and_tau_shares_recover_all(
    dealt: tuple[bytes, Federation, list[KeyShare], list[bytes], set[bytes]],
) -> None:
    """Control: the database is exactly the 1,000 identifiers' tags, and τ shares (or the
    key itself) recompute every one of them, so a recovery would be detected."""
    secret_key, _, shares, inputs, database = dealt
    assert len(database) == IDENTIFIERS
    tau_key = shamir.interpolate([(_index(s.index), s.secret_key) for s in shares[1:]])
    assert tau_key == secret_key
    recovered = _recovered(tau_key, inputs, database)
    print(f"\ncontrol: tau = 2 shares recover {recovered} of {IDENTIFIERS} tags")
    assert recovered == IDENTIFIERS


def test_one_share_and_the_full_database_recover_no_tag(
    dealt: tuple[bytes, Federation, list[KeyShare], list[bytes], set[bytes]],
) -> None:
    """Each single share, under every strategy, recovers 0 of 1,000 known identifiers."""
    secret_key, _, shares, inputs, database = dealt
    total = 0
    tried = 0
    for share in shares:
        for strategy, key in _strategies(share, servers=3).items():
            assert key != secret_key
            recovered = _recovered(key, inputs, database)
            print(f"\n{strategy}: recovered {recovered} of {IDENTIFIERS}", end="")
            total += recovered
            tried += 1
    print(f"\ntau-1 = 1 share, {tried} strategies x {IDENTIFIERS} identifiers: recovered {total}")
    assert tried == 3 * (2 + 2 * (1 + GUESSES))
    assert total == 0
