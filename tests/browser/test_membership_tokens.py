"""Membership tokens in Chromium, end to end (docs/membership-tokens.md): an organization
admin sends a member code from /org/members; the email arrives at a local SMTP server
(aiosmtpd); the member gets tokens on /join (blinded and verified in the page) and
registers with one on /register; the same token is then refused.

The escrow runs in this process (uvicorn on a free port) with SMTP pointed at the local
server, so the notifier delivers the code as it would in production. One flow, one module:
each Argon2id in the page (the admin's vault, two registrations) takes seconds. With
NOTALONE_SCREENSHOTS=1 it writes docs/images/member-*.png for the admin guide.
"""

from __future__ import annotations

import email
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect

from notalone.storage.engine import Database
from notalone.web.app import build_services, create_app
from tests.browser.conftest import ROOT
from tests.browser.survivor import SLOW_MS
from tests.upstack import PASSPHRASE, free_port
from tests.web.conftest import OPERATOR_TOKEN, make_settings
from tests.web.test_notifier import Sink, smtp_server

ADMIN_PASSPHRASE = "orange tractor whispers seven lanterns"
IMAGES = ROOT / "docs" / "images"
MEMBER = "ana.member@riverside-clinic.org"
CODE_RE = re.compile(r"^\s+([0-9A-Z]{4}(?:-[0-9A-Z]{4}){4})\s*$", re.MULTILINE)


def _shot(page: Page, name: str) -> None:
    # Only on request: normal runs must not rewrite the committed images of the guide.
    if os.environ.get("NOTALONE_SCREENSHOTS") == "1":
        IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=IMAGES / f"{name}.png", full_page=True)


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Stack:
    url: str
    sink: Sink


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """The escrow (uvicorn, SQLite in tmp_path) mailing through a local SMTP server."""
    smtp_port = free_port()
    with smtp_server(smtp_port) as sink:
        url = f"sqlite:///{tmp_path / 'escrow.db'}"
        database = Database(url)
        database.upgrade()
        settings = make_settings(
            url,
            _wall_clock_ms,  # type: ignore[arg-type]
            clock_ms=_wall_clock_ms,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_sender="notalone@escrow.example",
            smtp_starttls=False,
            notify_poll_s=0.05,
            entry_response_floor_ms=0,
        )
        app = create_app(settings, build_services(settings, database))
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="critical")
        )
        thread = threading.Thread(target=server.run, name="escrow", daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while not server.started:
                assert thread.is_alive()
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.01)
            yield Stack(f"http://127.0.0.1:{port}", sink)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            database.dispose()
    assert not thread.is_alive()


def _mailed_code(sink: Sink) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for received in sink.messages:
            if received.rcpt_tos == (MEMBER,):
                body = email.message_from_bytes(received.raw).get_payload(decode=True)
                assert isinstance(body, bytes)
                found = CODE_RE.search(body.decode())
                assert found, "the email carries no code"
                return found.group(1)
        time.sleep(0.05)
    raise AssertionError("the member code email did not arrive")


def _register_with_token(page: Page, base: str, token: str) -> None:
    page.goto(base + "/register")
    page.get_by_label("Or a registration token").fill(token)
    page.locator("#passphrase").fill(PASSPHRASE)
    page.locator("#passphrase-again").fill(PASSPHRASE)
    page.locator("#register-form [type=submit]").click()


def test_admin_sends_a_code_member_joins_and_registers_once(
    browser: Browser, stack: Stack, tmp_path: Path
) -> None:
    operator = httpx.Client(
        base_url=stack.url, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}, timeout=30
    )
    org_id = operator.post("/v1/organizations", json={"name": "Riverside Clinic"}).json()[
        "organization_id"
    ]
    enrollment = operator.post(
        f"/v1/organizations/{org_id}/admin-enrollments", json={"display_name": "Dana"}
    ).json()["code"]

    admin = browser.new_context()
    member = browser.new_context(accept_downloads=True)
    try:
        # The admin enrolls (the vault is made in the page), then sends a member code.
        page = admin.new_page()
        page.set_default_timeout(SLOW_MS)
        sent: list[str] = []
        page.on("request", lambda r: sent.append(r.post_data or ""))
        page.goto(stack.url + "/org/enroll")
        page.get_by_label("Enrollment code").fill(enrollment)
        page.get_by_label("Passphrase for the organization key").fill(ADMIN_PASSPHRASE)
        page.get_by_label("Passphrase again").fill(ADMIN_PASSPHRASE)
        page.locator("#enroll-form [type=submit]").click()
        expect(page.locator("#enroll-done")).to_be_visible(timeout=SLOW_MS)
        page.goto(stack.url + "/org/members")
        expect(page.locator("h1")).to_have_text("Members")
        page.get_by_label("Member's work email address").fill(MEMBER)
        _shot(page, "member-codes")
        page.locator("#member-form [type=submit]").click()
        expect(page.locator("#page-status")).to_contain_text("on its way")
        expect(page.locator("#member-sent-count")).to_have_text("1")
        code = _mailed_code(stack.sink)
        # The admin's page never saw the code.
        assert all(code not in body for body in sent)
        assert code not in page.content()

        # The member: /join blinds, asks, verifies the proof and shows the tokens.
        join = member.new_page()
        join.set_default_timeout(SLOW_MS)
        requests: list[str] = []
        join.on("request", lambda r: requests.append(r.post_data or ""))
        join.goto(stack.url + "/join")
        join.get_by_label("Your organization", exact=True).select_option(label="Riverside Clinic")
        join.get_by_label("Member code").fill(code.lower())
        _shot(join, "member-join")
        join.locator("#join-form [type=submit]").click()
        expect(join.locator("#tokens-step")).to_be_visible()
        token = join.locator("#token-text").input_value()
        assert token.startswith("nmt1-")
        assert len(token) == 229
        expect(join.locator("#tokens-count")).to_contain_text("3 tokens")
        _shot(join, "member-tokens")
        with join.expect_download() as download:
            join.locator("#tokens-download").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert token in saved.read_text()
        # What the escrow received at issuance holds no token value.
        issuance = next(body for body in requests if '"blinded"' in body)
        assert token[5 + 32 :][:64] not in issuance

        # Register with the token, then try the same token again.
        _register_with_token(join, stack.url, token)
        expect(join.locator("#recovery-step")).to_be_visible(timeout=SLOW_MS)
        other = member.new_page()
        other.set_default_timeout(SLOW_MS)
        _register_with_token(other, stack.url, token)
        expect(other.locator("#page-error")).to_contain_text("already been used", timeout=SLOW_MS)
        expect(other.locator("#recovery-step")).to_be_hidden()
    finally:
        admin.close()
        member.close()
        operator.close()
    # The mail's address and code are gone from the escrow once delivered.
    listed = httpx.get(stack.url + "/v1/organizations").json()["organizations"]
    assert [o["name"] for o in listed] == ["Riverside Clinic"]
