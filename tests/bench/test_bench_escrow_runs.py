"""The escrow benchmark runs and reports every figure (speed itself is judged in bench/)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_escrow_benchmark_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    run = subprocess.run(  # noqa: S603 - runs our own script with the test's interpreter
        [sys.executable, str(REPO / "bench" / "escrow.py"), "--clients", "4", "--seconds", "0.5",
         "--rounds", "1", "--large", "2000", "--inserts", "8", "--json", str(out)],
        capture_output=True, text=True, check=True, timeout=180,
    )  # fmt: skip
    result = json.loads(out.read_text())
    for figure in (
        "raw_commits_per_second", "http_inserts_per_second", "http_p50_ms", "http_p99_ms",
        "http_p99_ms_pooled", "insert_ms_small", "insert_ms_large", "prefill_seconds",
    ):  # fmt: skip
        assert result[figure] > 0, figure
    assert result["http_inserts_total"] > 0
    assert result["http_failures"] == 0
    assert (result["clients"], result["small_slots"], result["large_slots"]) == (4, 10_000, 2000)
    assert set(result["targets"]) == set(result["ratios"])
    assert len(result["ratios"]) == 3
    assert "http / raw" in run.stdout
    assert "p99 ms" in run.stdout
    assert "insert 2000 / 10000 slots" in run.stdout
    # Every server stopped and every temporary file deleted.
    assert "notalone-bench-" in run.stderr
    leftover = run.stderr.split("working in ", 1)[1].split()[0]
    assert not Path(leftover).exists()
