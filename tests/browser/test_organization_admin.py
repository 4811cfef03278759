"""An organization admin in Chromium, end to end on `notalone up`: enrollment (the
intake key made in the page) and its backup restored in another browser, invites made and
revoked (a revoked code registers nobody), the counselor pool (a member's new-entry page
then offers only pool counselors), totals shown as "fewer than 5", and a formal report
sealed by a counselor arriving and opened in the admin's page.

One flow in one module (the browser steps are slow: Argon2id at 64 MiB runs in the page
for each vault and each survivor). With NOTALONE_SCREENSHOTS=1 it writes the screenshots
of docs/org-admin-guide.md to docs/images/org-*.png.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from notalone.protocol.reports import seal_report
from notalone.services.accounts import invite_code_hash
from notalone.services.organizations import FEWER_THAN_5, invite_id
from tests.browser.conftest import ROOT, Up
from tests.browser.survivor import SLOW_MS, Survivor
from tests.services.conftest import make_bundle

ADMIN_PASSPHRASE = "orange tractor whispers seven lanterns"
REPORT_TEXT = "Formal report: the survivor agrees to be contacted by HR in person."
IMAGES = ROOT / "docs" / "images"


def _shot(page: Page, name: str) -> None:
    # Only on request: normal runs must not rewrite the committed images of the guide.
    if os.environ.get("NOTALONE_SCREENSHOTS") == "1":
        IMAGES.mkdir(parents=True, exist_ok=True)
        # From the top: scrolled, the sticky site header would be drawn mid-page.
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=IMAGES / f"{name}.png", full_page=True)


def _operator(up: Up) -> httpx.Client:
    config = json.loads((up.data / "escrow.json").read_text(encoding="utf-8"))
    headers = {"Authorization": f"Bearer {config['operator_token']}"}
    return httpx.Client(base_url=up.url, headers=headers, timeout=30)


def _enroll_in_page(page: Page, base: str, code: str, tmp_path: Path) -> Path:
    """Enroll with `code`; download the backup; the saved file."""
    page.goto(base + "/org/enroll")
    page.get_by_label("Enrollment code").fill(code)
    page.get_by_label("Passphrase for the organization key").fill(ADMIN_PASSPHRASE)
    page.get_by_label("Passphrase again").fill(ADMIN_PASSPHRASE)
    page.locator("#enroll-form [type=submit]").click()
    expect(page.locator("#enroll-done")).to_be_visible(timeout=SLOW_MS)
    _shot(page, "org-enroll")
    with page.expect_download() as download:
        page.locator("#enroll-download").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    return saved


def test_an_organization_admin_end_to_end(browser: Browser, up: Up, tmp_path: Path) -> None:
    operator = _operator(up)
    organization = operator.post("/v1/organizations", json={"name": "Riverside Clinic"}).json()
    org_id = organization["organization_id"]
    code = operator.post(
        f"/v1/organizations/{org_id}/admin-enrollments", json={"display_name": "Dana"}
    ).json()["code"]

    # Enrollment: the key is made in the page; only its public half reaches the escrow.
    first = browser.new_context(accept_downloads=True)
    try:
        page = first.new_page()
        page.set_default_timeout(SLOW_MS)
        sent: list[str] = []
        page.on("request", lambda r: sent.append(r.post_data or ""))
        backup = _enroll_in_page(page, up.url, code, tmp_path)
    finally:
        first.close()
    vault = json.loads(backup.read_text())
    assert (vault["format"], vault["role"], backup.name) == (
        "notalone-vault-v1",
        "org-admin",
        f"notalone-org-admin-{vault['id']}.json",
    )
    listed = httpx.get(up.url + "/v1/organizations").json()["organizations"]
    [intake_key] = [o["intake_public_key"] for o in listed if o["id"] == org_id]
    assert intake_key is not None
    assert ADMIN_PASSPHRASE not in "".join(sent)
    assert all("private" not in body for body in sent)

    # The backup, restored in another browser, unlocks the dashboard.
    admin = browser.new_context()
    members = browser.new_context()
    try:
        page = admin.new_page()
        page.set_default_timeout(SLOW_MS)
        page.goto(up.url + "/org/dashboard")
        page.wait_for_url("**/org")
        page.get_by_label("Backup file", exact=True).set_input_files(str(backup))
        expect(page.locator("#unlock-section")).to_be_visible()
        page.get_by_label("Passphrase", exact=True).fill(ADMIN_PASSPHRASE)
        page.locator("#unlock-form [type=submit]").click()
        page.wait_for_url("**/org/dashboard", timeout=SLOW_MS)
        expect(page.locator("#org-summary")).to_contain_text("Riverside Clinic")

        # Invites: three codes, shown once; the third is revoked.
        page.get_by_label("How many codes").fill("3")
        page.locator("#invite-form [type=submit]").click()
        expect(page.locator("[data-new-invite]")).to_have_count(3)
        codes = page.locator("[data-new-invite]").all_inner_texts()
        rows = page.locator("[data-invite-row]")
        expect(rows).to_have_count(3)
        revoke = page.locator("[data-invite]").nth(2)
        revoked_id = revoke.get_attribute("data-invite")
        revoke.click()
        expect(page.locator("[data-invite-state]").filter(has_text="Revoked")).to_have_count(1)
        [revoked_code] = [c for c in codes if invite_id(invite_code_hash(c)) == revoked_id]
        refused = _register_api(up, revoked_code)
        assert refused.json()["detail"].startswith("this invite code has been revoked")
        usable = [c for c in codes if c != revoked_code]

        # The pool: only the first demo counselor.
        pooled, other = up.counselors[0]["id"], up.counselors[1]["id"]
        page.locator(f"[data-pool='{pooled}']").check()
        expect(page.locator("#page-status")).to_contain_text("added to the pool")

        # Two members name the same person through the pooled counselor: a match.
        first_member = Survivor.open(members, up.url)
        first_member.register(usable[0])
        first_member.go("/entries/new")
        expect(first_member.page.locator("input[name=counselor]")).to_have_count(1)
        expect(first_member.page.locator(f"input[value='{other}']")).to_have_count(0)
        first_member.add_entry([("email", "manager@riverside.example", "")], pooled, "call me")
        second = browser.new_context()
        try:
            second_member = Survivor.open(second, up.url)
            second_member.register(usable[1])
            second_member.add_entry(
                [("email", "Manager@Riverside.example", "")], pooled, "signal please"
            )
        finally:
            second.close()

        # Totals: 2 entries and 1 match this quarter, both shown as "fewer than 5".
        page.reload()
        cells = page.locator("#totals-body td")
        expect(cells.first).to_be_visible()
        assert set(cells.all_inner_texts()) == {FEWER_THAN_5}
        _shot(page, "org-dashboard")

        # The counselor sends a formal report, sealed to the intake key.
        token = Path(up.counselors[0]["token_file"]).read_text().strip()
        counselor = {"Authorization": f"Bearer {token}"}
        inbox = httpx.get(up.url + "/v1/counselor/inbox", headers=counselor).json()["items"]
        match_id = inbox[0]["match_id"]
        sealed = seal_report(
            bytes.fromhex(intake_key), bytes.fromhex(org_id), bytes.fromhex(match_id), REPORT_TEXT
        )
        sent_report = httpx.post(
            f"{up.url}/v1/counselor/cases/{match_id}/reports",
            json={"organization_id": org_id, "sealed": sealed.hex()},
            headers=counselor,
        )
        assert sent_report.status_code == 201, sent_report.text
        page.get_by_role("link", name="Reports").click()
        page.wait_for_url("**/org/reports")
        expect(page.locator("[data-report-text]")).to_have_text(REPORT_TEXT)
        _shot(page, "org-reports")
    finally:
        members.close()
        admin.close()
        operator.close()


def _register_api(up: Up, code: str) -> httpx.Response:
    """Register through the API (the page would only add Argon2id time)."""
    username = f"calm-otter-{secrets.randbelow(10**4):04d}"
    return httpx.post(
        up.url + "/v1/accounts",
        json={
            "username": username,
            "invite_code": code,
            "key_bundle": make_bundle(username).to_bytes().hex(),
            "auth_key": secrets.token_hex(32),
            "recovery_auth_key": secrets.token_hex(32),
        },
    )
