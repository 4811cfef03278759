"""Real Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright.

`make test` installs the chromium package (make browser-deps) and builds the JavaScript
bundles (make install), so nothing here is skipped: a missing browser or bundle is an
error that says which command fixes it. Playwright never downloads a browser here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
STATIC_JS = ROOT / "src" / "notalone" / "web" / "static" / "js"
JS_TEST_BUILD = ROOT / "build" / "js-test"
# Headless, no sandbox (tests may run as root), and no background traffic: the machine's
# network is closed, and a page must not reach anything but the app under test.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-gpu",
]


def _require(path: Path, fix: str) -> None:
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `{fix}` first")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    _require(CHROMIUM, "make browser-deps")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()


# --------------------------------------------------------------------------- the stack

PASSPHRASE = "quiet river under seven lanterns"
SCREENSHOTS = ROOT / "build" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, profile: Path | None = None) -> Any:
    """Run `notalone … --json` (the CLI of the server issue) and return its JSON."""
    command = [sys.executable, "-m", "notalone.cli.main", *args, "--json"]
    if profile is not None:
        command += ["--profile-dir", str(profile)]
    env = {**os.environ, "NOTALONE_PASSPHRASE": PASSPHRASE}
    run = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        command, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@dataclass
class Up:
    """`notalone up` running in a temporary data directory: what up.json says."""

    url: str
    invites: list[str]
    counselors: list[dict[str, str]]
    data: Path

    def counselor_files(self, index: int) -> list[str]:
        counselor = self.counselors[index]
        return ["--key", counselor["key_file"], "--token-file", counselor["token_file"]]


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """The main job as `make up` starts it (escrow, three key servers, demo organization
    and counselors), on a free port; stopped with SIGINT, as Ctrl-C would."""
    data = tmp_path_factory.mktemp("up") / "data"
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "notalone.cli.main", "up", "--data", str(data), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (data / "up.json").exists():
            if process.poll() is not None:
                raise RuntimeError(f"notalone up stopped: {process.communicate()[1][-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("notalone up did not start within 60 s")
            time.sleep(0.1)
        described = json.loads((data / "up.json").read_text())
        yield Up(described["escrow_url"], described["invite_codes"], described["counselors"], data)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
