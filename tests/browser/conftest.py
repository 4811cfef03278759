"""Real Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright.

`make test` installs the chromium package (make browser-deps) and builds the JavaScript
bundles (make install), so nothing here is skipped: a missing browser or bundle is an
error that says which command fixes it. Playwright never downloads a browser here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.upstack import UpProcess, free_port

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

SCREENSHOTS = ROOT / "build" / "screenshots"


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
    and counselors), on a free port, per test module; stopped with SIGINT, as Ctrl-C."""
    data = tmp_path_factory.mktemp("up") / "data"
    running = UpProcess.start(data, free_port())
    try:
        described = running.described
        yield Up(running.url, described["invite_codes"], described["counselors"], data)
    finally:
        running.stop()
