"""`notalone vectors`: writes, keeps sealed packages stable, and checks staleness."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from notalone.cli.main import app
from notalone.protocol.vectors import FILE_NAMES

runner = CliRunner()


def test_write_then_check(tmp_path: Path) -> None:
    out = tmp_path / "v"
    missing = runner.invoke(app, ["vectors", "--out", str(out), "--check"])
    assert missing.exit_code == 1
    assert "stale vectors" in missing.output

    first = runner.invoke(app, ["vectors", "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert f"wrote {len(FILE_NAMES)} files" in first.output
    before = {p.name: p.read_text() for p in out.iterdir()}

    second = runner.invoke(app, ["vectors", "--out", str(out)])
    assert "0 changed" in second.output
    assert {p.name: p.read_text() for p in out.iterdir()} == before

    ok = runner.invoke(app, ["vectors", "--out", str(out), "--check"])
    assert ok.exit_code == 0
    assert "up to date" in ok.output


def test_check_detects_an_edited_file(tmp_path: Path) -> None:
    runner.invoke(app, ["vectors", "--out", str(tmp_path)])
    path = tmp_path / "threshold-oprf.json"
    data = json.loads(path.read_text())
    data["cases"][0]["output"] = "00" * 64
    path.write_text(json.dumps(data))
    result = runner.invoke(app, ["vectors", "--out", str(tmp_path), "--check"])
    assert result.exit_code == 1
    assert "threshold-oprf.json" in result.output


def test_corrupt_previous_file_is_rewritten(tmp_path: Path) -> None:
    (tmp_path / "slots.json").write_text("{not json")
    result = runner.invoke(app, ["vectors", "--out", str(tmp_path)])
    assert result.exit_code == 0
    assert "not valid JSON" in result.output
    json.loads((tmp_path / "slots.json").read_text())
