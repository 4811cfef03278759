"""The benchmark script runs and reports every figure (speed itself is judged in bench/)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_oprf_benchmark_reports_rates_and_ratios(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    run = subprocess.run(  # noqa: S603 - runs our own script with the test's interpreter
        [sys.executable, str(REPO / "bench" / "oprf.py"), "--rounds", "1", "--seconds", "0.01",
         "--batch", "3", "--json", str(out)],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert set(result["rates_per_second"]) == {
        "libsodium_mult", "libsodium_base_mult", "libsodium_add", "ours_single", "voprf_single",
        "ours_batch", "voprf_batch",
    }  # fmt: skip
    assert all(rate > 0 for rate in result["rates_per_second"].values())
    assert set(result["targets"]) <= set(result["ratios"])
    assert "ours_single / voprf_single" in run.stdout
    assert "batch of 3" in run.stdout
