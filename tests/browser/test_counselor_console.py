"""The counselor console in Chromium, end to end against `notalone up`.

Given an enrollment code from the operator, a counselor makes their key in the browser,
downloads the backup, and restores it in a fresh browser (a new context: nothing shared);
two survivors (Python SDK) name one person through that counselor; the counselor opens the
match, moves the case new → contacted → closed (each step survives a reload), writes a
note that reads back decrypted, and sends a formal report whose stored ciphertext opens
with the organization's private key.

With NOTALONE_SCREENSHOTS=1 it also writes the counselor guide's screenshots to
docs/images/counselor-*.png (normal runs leave docs/ alone).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from notalone.client import survivor
from notalone.client.escrow import EscrowClient
from notalone.crypto import hpke
from notalone.protocol.accounts import ARGON2_FLOOR
from notalone.protocol.reports import open_report
from notalone.storage.engine import Database
from notalone.storage.models import Report
from tests.browser.conftest import ROOT, Up, _require
from tests.browser.survivor import SLOW_MS
from tests.upstack import PASSPHRASE

COUNSELOR_ID = "c-browser"
COUNSELOR_PASSPHRASE = "lantern orchard velvet compass"
PERSON = [("email", "Morgan.Perp@example.org", None)]
DOCS_IMAGES = ROOT / "docs" / "images"
VIEWPORT = {"width": 1000, "height": 760}
AXE = ROOT / "js" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = {"serious", "critical"}


def _shot(page: Page, name: str) -> None:
    """A screenshot for docs/counselor-guide.md, only when asked for."""
    if os.environ.get("NOTALONE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        # From the top: the site bar is sticky and would cover the page mid-way.
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=DOCS_IMAGES / f"counselor-{name}.png", full_page=True)


def _serious_violations(page: Page) -> list[str]:
    """axe-core on the page as it is (the pages that need an unlocked counselor key; the
    others are in test_accessibility.py)."""
    page.wait_for_load_state("networkidle")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document)")
    return [f"{v['id']}: {v['help']}" for v in result["violations"] if v["impact"] in SERIOUS]


def _post(http: httpx.Client, up: Up, path: str, body: object, token: str | None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = http.post(up.url + path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _organization_with_intake_key(http: httpx.Client, up: Up, token: str) -> tuple[str, bytes]:
    """An organization whose admin enrolled (Python-made intake key): (id, private key)."""
    organization = _post(http, up, "/v1/organizations", {"name": "Acme Workers' Union"}, token)
    organization_id = organization["organization_id"]
    code = _post(
        http,
        up,
        f"/v1/organizations/{organization_id}/admin-enrollments",
        {"display_name": "Intake desk"},
        token,
    )["code"]
    private, public = hpke.generate_key_pair()
    _post(
        http, up, "/v1/organization/enroll", {"code": code, "intake_public_key": public.hex()}, None
    )
    return organization_id, private


def _match(up: Up, http: httpx.Client) -> None:
    """Two survivors name one person, both through the enrolled counselor."""
    escrow = EscrowClient(up.url, http)
    for number, invite in enumerate(up.invites[:2]):
        registration = survivor.register(escrow, invite, PASSPHRASE, ARGON2_FLOOR)
        session = survivor.login(escrow, registration.username, PASSPHRASE)
        survivor.add_entry(
            session,
            PERSON,
            counselor_id=COUNSELOR_ID,
            contact=f"Signal +1 555 010 00{number}",
            message=f"Survivor {number}: evenings are best.",
        )


def _state(page: Page) -> str:
    return page.locator("#case-state").inner_text().strip()


def test_counselor_console_end_to_end(browser: Browser, up: Up, tmp_path: Path) -> None:
    _require(AXE, "make install")
    with httpx.Client(timeout=60) as http:
        operator_token = json.loads((up.data / "escrow.json").read_text())["operator_token"]
        code = _post(
            http,
            up,
            "/v1/counselor-enrollments",
            {"counselor_id": COUNSELOR_ID, "display_name": "Dr Browser"},
            operator_token,
        )["code"]

        # Given a code, the counselor makes a key in their browser and backs it up.
        first = browser.new_context(viewport=VIEWPORT, accept_downloads=True)  # type: ignore[arg-type]
        try:
            page = first.new_page()
            page.set_default_timeout(SLOW_MS)
            page.goto(up.url + "/counselor/enroll")
            page.get_by_label("Enrollment code").fill(code)
            page.locator("#enroll-passphrase").fill(COUNSELOR_PASSPHRASE)
            page.locator("#enroll-confirm").fill(COUNSELOR_PASSPHRASE)
            page.locator("#enroll-form [type=submit]").click()
            expect(page.locator("#enroll-done")).to_be_visible()
            fingerprint = page.locator("#enroll-fingerprint").inner_text()
            listed = http.get(up.url + "/v1/counselors").json()["counselors"]
            assert [c["fingerprint"] for c in listed if c["id"] == COUNSELOR_ID] == [fingerprint]
            # The inbox link appears only once the backup is saved.
            expect(page.locator("#enroll-continue")).to_be_hidden()
            _shot(page, "enroll")
            with page.expect_download() as download:
                page.locator("#enroll-download").click()
            assert download.value.suggested_filename == f"notalone-counselor-{COUNSELOR_ID}.json"
            backup = tmp_path / download.value.suggested_filename
            download.value.save_as(backup)
            expect(page.locator("#enroll-continue")).to_be_visible()
        finally:
            first.close()
        text = backup.read_text()
        saved = json.loads(text)
        assert (saved["format"], saved["role"], saved["id"]) == (
            "notalone-vault-v1",
            "counselor",
            COUNSELOR_ID,
        )
        assert COUNSELOR_PASSPHRASE not in text

        # Two survivors name the same person through this counselor: a match.
        _match(up, http)
        organization_id, intake_private = _organization_with_intake_key(http, up, operator_token)

        # In a new browser, the counselor imports the backup and unlocks it.
        second = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        try:
            page = second.new_page()
            page.set_default_timeout(SLOW_MS)
            page.goto(up.url + "/counselor/inbox")
            page.wait_for_url("**/counselor")  # no key in this browser yet
            page.locator("#import-file").set_input_files(str(backup))
            expect(page.locator("#unlock-section")).to_be_visible()
            page.get_by_label("Passphrase").fill(COUNSELOR_PASSPHRASE)
            _shot(page, "unlock")
            page.locator("#unlock-form [type=submit]").click()
            page.wait_for_url("**/counselor/inbox")
            card = page.locator("#cases-list li")
            expect(card).to_have_count(1)
            expect(card.locator("[data-state]")).to_have_text("New")
            _shot(page, "inbox")
            assert _serious_violations(page) == []

            # The packages open in the page.
            card.locator("a").click()
            page.wait_for_url("**/counselor/case?match=*")
            contacts = page.locator("[data-contact]")
            expect(contacts).to_have_count(2)
            assert sorted(contacts.all_inner_texts()) == [
                "Signal +1 555 010 000",
                "Signal +1 555 010 001",
            ]
            expect(page.locator("[data-message]").first).to_contain_text("evenings are best")
            expect(page.locator(".identifiers li").first).to_contain_text("Morgan.Perp@example.org")
            assert _state(page) == "New"
            assert _serious_violations(page) == []

            # Case states move forward and persist across reloads.
            page.locator("#state-contacted").click()
            expect(page.locator("#case-state")).to_have_text("Contacted")
            page.reload()
            expect(page.locator("#case-state")).to_have_text("Contacted")
            expect(page.locator("#state-contacted")).to_be_disabled()

            # A note is sealed here and reads back decrypted, also after a reload.
            page.get_by_label("New note").fill("Called survivor 0; she agrees to a report.")
            page.locator("#note-form [type=submit]").click()
            expect(page.locator("#notes li .note-text")).to_have_text(
                ["Called survivor 0; she agrees to a report."]
            )
            page.reload()
            expect(page.locator("#notes li .note-text")).to_have_text(
                ["Called survivor 0; she agrees to a report."]
            )

            # A formal report, sealed to the organization's intake key.
            page.get_by_label("Organization").select_option(label="Acme Workers' Union")
            report_text = f"Formal report {secrets.token_hex(4)}: two survivors, one manager."
            page.get_by_label("Report", exact=True).fill(report_text)
            _shot(page, "case")
            page.locator("#report-form [type=submit]").click()
            expect(page.locator("#page-status")).to_contain_text("Report sent")

            page.locator("#state-closed").click()
            expect(page.locator("#case-state")).to_have_text("Closed")
            page.reload()
            expect(page.locator("#case-state")).to_have_text("Closed")
            expect(page.locator("#state-closed")).to_be_disabled()
        finally:
            second.close()

    database = Database(f"sqlite:///{up.data / 'escrow.sqlite3'}")
    try:
        with database.read() as session:
            [row] = session.scalars(select(Report)).all()
            assert row.organization_id.hex() == organization_id
            assert row.counselor_id == COUNSELOR_ID
            assert report_text.encode() not in row.sealed
            opened = open_report(intake_private, row.organization_id, row.match_id, row.sealed)
    finally:
        database.dispose()
    assert opened == report_text
