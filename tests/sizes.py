"""How much the slow tests drive: the full sizes the threat model quotes, or quick ones.

The fault-injection, fuzzing, canary and timing tests (marked `slow`) make the promises
of docs/threat-model.md at a size: 10,000 fuzzed requests, 50 SIGKILLs, 40 power cuts,
1,000 canaries of each kind, 10,000 timed requests. At those sizes they take most of
the suite's time on a 2-CPU machine, so:

- `make test` runs every test, the slow ones at their quick size
  (NOTALONE_TEST_SIZE=quick): each promise is still checked, and can still fail, within
  the suite's time budget;
- `make test-slow` runs the slow ones again at full size (NOTALONE_TEST_SIZE=full), and
  CI runs it after `make test`. The figures in the threat model come from it.

A bare `pytest` runs at full size. A test's own variable (NOTALONE_CRASH_KILLS, …)
overrides both, for digging into one test.
"""

from __future__ import annotations

import os

SIZE_VARIABLE = "NOTALONE_TEST_SIZE"
_SIZES = ("full", "quick")


def _chosen() -> str:
    chosen = os.environ.get(SIZE_VARIABLE, "full")
    if chosen not in _SIZES:
        raise ValueError(f"{SIZE_VARIABLE} must be one of {', '.join(_SIZES)}, not {chosen!r}")
    return chosen


FULL = _chosen() == "full"


def size(variable: str, *, full: int, quick: int) -> int:
    """The count a slow test uses: `variable` if set, else the full or the quick size."""
    value = os.environ.get(variable)
    if value is None:
        return full if FULL else quick
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"{variable} must be a whole number, not {value!r}") from None
    if count < 1:
        raise ValueError(f"{variable} must be at least 1, not {count}")
    return count
