"""The `notalone` entry point: help that explains the product, and safe crash output."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from notalone.cli.main import app

runner = CliRunner()


def test_help_explains_the_product_and_lists_commands() -> None:
    result = runner.invoke(app, ["--help"], prog_name="notalone")
    assert result.exit_code == 0
    text = " ".join(result.output.split())  # Rich wraps lines at the terminal width.
    assert "Usage: notalone" in text
    assert "keeps a survivor's record private and holds the names they give in escrow" in text
    assert "contacted by their own counselor" in text
    for command in ("canon", "vectors", "up"):
        assert f"│ {command} " in result.output


def test_up_escrow_survivor_and_counselor_are_commands() -> None:
    # `up` itself runs servers until stopped: tests/e2e/test_up.py starts it for real.
    result = runner.invoke(app, ["up", "--help"])
    assert result.exit_code == 0
    assert "--data" in result.output
    for command in ("escrow", "survivor", "counselor"):
        assert runner.invoke(app, [command, "--help"]).exit_code == 0


def test_crash_reports_never_show_local_variables() -> None:
    # Typer prints locals in its tracebacks by default; they may hold an identifier.
    assert app.pretty_exceptions_show_locals is False


def test_console_script_runs() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "notalone.cli.main", "--help"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "Usage" in run.stdout
