"""OPRF micro-benchmark: our proven evaluation against libsodium's compute bound and a Rust peer.

Everything is measured side by side in one run, in interleaved rounds, on one core, and
the figures are medians over the rounds, so a noisy neighbour slows every contender alike:

- raw libsodium: one ristretto255 scalar multiplication and one base multiplication;
  from them the compute bound of a proven evaluation (RFC 9497 VOPRF with its proof):
  4 mults + 1 base mult for one element, 2m + 2 mults + 1 base mult for a batch of m.
  A batch's composite M = Σ d_i·B_i also needs m - 1 point additions, which that bound
  leaves out; libsodium's ristretto255 add decodes two points and encodes one, so it
  costs about a third of a mult. A second bound counts them too;
- ours: `notalone.crypto.oprf.blind_evaluate[_batch]` in VOPRF mode, proof included;
- the `voprf` package (Rust, curve25519-dalek): `Evaluator.evaluate[_batch]`, proof included.

Targets (issue 2): ours >= 0.9 x the compute bound; ours >= 0.9 x voprf for single elements.
Usage: python bench/oprf.py [--rounds N] [--seconds S] [--batch M] [--json FILE]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pysodium
from voprf import ristretto as peer

from notalone.crypto import oprf
from notalone.crypto.oprf import Mode

TARGET = 0.9


def _rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of `fn`, timed over at least `seconds` of wall time."""
    calls, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(10):
            fn()
        calls += 10
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - start)


def _pin_to_one_core() -> str:
    """Per-core rates: run on a single CPU when the OS allows it."""
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned"  # pragma: no cover - Linux always has sched_setaffinity


def measure(rounds: int, seconds: float, batch: int) -> dict[str, object]:
    """Run the interleaved rounds and return rates (per second) and ratios."""
    sk, pk = oprf.derive_key_pair(os.urandom(32), b"bench", Mode.VOPRF)
    point = oprf.blind(b"point", Mode.VOPRF)[1]
    one = oprf.blind(b"alice@example.org", Mode.VOPRF)[1]
    many = [oprf.blind(os.urandom(16), Mode.VOPRF)[1] for _ in range(batch)]
    lib, out = pysodium.sodium, ctypes.create_string_buffer(32)
    evaluator = peer.Evaluator(os.urandom(32))
    peer_one = peer.Client.blind(list(b"alice@example.org"))[1]
    peer_many = [peer.Client.blind(list(os.urandom(16)))[1] for _ in range(batch)]

    contenders: dict[str, Callable[[], object]] = {
        # Raw library calls into a preallocated buffer: the cheapest way Python reaches
        # libsodium, so the bound is as strict as it can be.
        "libsodium_mult": lambda: lib.crypto_scalarmult_ristretto255(out, sk, point),
        "libsodium_base_mult": lambda: lib.crypto_scalarmult_ristretto255_base(out, sk),
        "libsodium_add": lambda: lib.crypto_core_ristretto255_add(out, point, one),
        "ours_single": lambda: oprf.blind_evaluate(sk, one, Mode.VOPRF, public_key=pk),
        "voprf_single": lambda: evaluator.evaluate(peer_one),
        "ours_batch": lambda: oprf.blind_evaluate_batch(sk, many, Mode.VOPRF, public_key=pk),
        "voprf_batch": lambda: evaluator.evaluate_batch(peer_many),
    }
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for round_ in range(rounds):
        for name, fn in contenders.items():
            samples[name].append(_rate(fn, seconds))
        print(f"  round {round_ + 1}/{rounds} done", file=sys.stderr, flush=True)
    rate = {name: statistics.median(values) for name, values in samples.items()}

    mult_s, base_s = 1 / rate["libsodium_mult"], 1 / rate["libsodium_base_mult"]
    bound_single = 1 / (4 * mult_s + base_s)
    bound_batch = 1 / ((2 * batch + 2) * mult_s + base_s)
    bound_batch_adds = 1 / ((2 * batch + 2) * mult_s + base_s + (batch - 1) / rate["libsodium_add"])
    ratios = {
        "ours_single / bound_single": rate["ours_single"] / bound_single,
        "ours_single / voprf_single": rate["ours_single"] / rate["voprf_single"],
        "ours_batch / bound_batch": rate["ours_batch"] / bound_batch,
        "ours_batch / bound_batch_with_adds": rate["ours_batch"] / bound_batch_adds,
        "ours_batch / voprf_batch": rate["ours_batch"] / rate["voprf_batch"],
    }
    targets = {
        "ours_single / bound_single": TARGET,
        "ours_single / voprf_single": TARGET,
        "ours_batch / bound_batch": TARGET,
    }
    return {
        "batch": batch,
        "rounds": rounds,
        "seconds_per_sample": seconds,
        "rates_per_second": rate,
        "bound_single_per_second": bound_single,
        "bound_batch_per_second": bound_batch,
        "bound_batch_with_adds_per_second": bound_batch_adds,
        "ratios": ratios,
        "targets": targets,
    }


def report(result: dict[str, object]) -> str:
    """A plain-text table of the result."""
    rates = result["rates_per_second"]
    ratios = result["ratios"]
    targets = result["targets"]
    assert isinstance(rates, dict)
    assert isinstance(ratios, dict)
    assert isinstance(targets, dict)
    batch = result["batch"]
    lines = [f"OPRF evaluation with proof, ristretto255-SHA512, batch of {batch}", ""]
    labels = {
        "libsodium_mult": "libsodium scalar mult",
        "libsodium_base_mult": "libsodium base mult",
        "libsodium_add": "libsodium point add",
        "ours_single": "ours, single (VOPRF + proof)",
        "voprf_single": "voprf (Rust), single",
        "ours_batch": f"ours, batch of {batch}",
        "voprf_batch": f"voprf (Rust), batch of {batch}",
    }
    for name, label in labels.items():
        lines.append(f"  {label:<34} {rates[name]:>10.0f} /s  {1e6 / rates[name]:>8.1f} us")
    lines.append(f"  {'compute bound, single':<34} {result['bound_single_per_second']:>10.0f} /s")
    lines.append(f"  {'compute bound, batch':<34} {result['bound_batch_per_second']:>10.0f} /s")
    lines.append(
        f"  {'compute bound, batch, with adds':<34} "
        f"{result['bound_batch_with_adds_per_second']:>10.0f} /s"
    )
    lines.append("")
    for name, value in ratios.items():
        target = targets.get(name)
        verdict = "" if target is None else ("  met" if value >= target else "  MISSED")
        goal = "" if target is None else f"(target >= {target})"
        lines.append(f"  {name:<36} {value:6.3f} {goal}{verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table (and JSON if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median)")
    parser.add_argument("--seconds", type=float, default=0.5, help="seconds per sample")
    parser.add_argument("--batch", type=int, default=10, help="elements per batch")
    parser.add_argument("--json", type=Path, help="also write the result as JSON here")
    args = parser.parse_args(argv)
    print(_pin_to_one_core(), file=sys.stderr)
    result = measure(args.rounds, args.seconds, args.batch)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
