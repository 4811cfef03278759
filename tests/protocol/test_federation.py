"""The federation's JSON form: round trips, canonical order, and every refusal."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from notalone.crypto import group, oprf, threshold
from notalone.crypto.oprf import Mode
from notalone.errors import EncodingError, ThresholdError
from notalone.protocol.federation import federation_from_json, federation_to_json

SK, _ = oprf.derive_key_pair(bytes(32), b"federation json", Mode.VOPRF)
FEDERATION, _SHARES = threshold.deal(SK, 2, 3)
JSON = federation_to_json(FEDERATION)


def test_round_trip() -> None:
    assert JSON["threshold"] == 2
    assert [s["index"] for s in JSON["shares"]] == [1, 2, 3]
    assert federation_from_json(JSON) == FEDERATION


def test_share_order_does_not_matter() -> None:
    shuffled = copy.deepcopy(JSON)
    shuffled["shares"].reverse()
    assert federation_from_json(shuffled) == FEDERATION


def _with(path: tuple[Any, ...], value: object) -> dict[str, Any]:
    changed = copy.deepcopy(JSON)
    target: Any = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "must be an object"),
        (_with(("shares",), []), "non-empty list"),
        (_with(("shares",), "x"), "non-empty list"),
        (_with(("shares", 0), "x"), "must be an object"),
        (_with(("shares", 0, "index"), 0), "integer from 1"),
        (_with(("shares", 0, "index"), True), "integer from 1"),
        (_with(("shares", 0, "index"), 256), "integer from 1"),
        (_with(("threshold",), "2"), "integer from 1"),
        (_with(("public_key",), "ab"), "32 bytes"),
        (_with(("public_key",), JSON["public_key"].upper()), "lower-case hex"),
        (_with(("public_key",), "zz" * 32), "lower-case hex"),
        (_with(("shares", 1, "public_key"), 7), "32 bytes"),
    ],
)
def test_malformed_federations_are_refused(value: object, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        federation_from_json(value)


def test_inconsistent_public_keys_are_refused() -> None:
    wrong = _with(("shares", 2, "public_key"), group.mult_base(group.random_scalar()).hex())
    with pytest.raises(ThresholdError, match="inconsistent"):
        federation_from_json(wrong)
