"""The survivor's pages in Chromium, one promise of the web app issue per test.

- a record being written survives a reload as an ENCRYPTED local draft (nothing of its
  text in localStorage), and the saved record shows its receipt;
- an identifier that cannot be used gets a clear message under its field, and no entry
  is made;
- an entry can be withdrawn, and then shows "Withdrawn";
- the session cookie is HttpOnly, Secure and SameSite=Strict;
- with JavaScript off, every page says clearly, once, that it needs it; with it on, the
  notice is not shown.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Up
from tests.browser.survivor import SLOW_MS, Survivor
from tests.upstack import PASSPHRASE

SECRET_TEXT = "the words nobody else may read 4711"


#: `up` is per module: this module's tests take its invite codes in turn.
_INVITES = itertools.count()


@pytest.fixture
def survivor(browser: Browser, up: Up) -> Iterator[Survivor]:
    context = browser.new_context()
    made = Survivor.open(context, up.url)
    made.register(up.invites[next(_INVITES)])
    yield made
    context.close()


def test_a_record_draft_survives_a_reload_encrypted(survivor: Survivor) -> None:
    page = survivor.page
    survivor.go("/records/new")
    page.locator("#record-what").fill("A draft")
    page.locator("#record-text").fill(SECRET_TEXT)
    expect(page.locator("#draft-state")).to_contain_text("Draft kept", timeout=SLOW_MS)
    stored = page.evaluate("JSON.stringify(Object.entries(localStorage))")
    assert "nobody else" not in stored
    assert "4711" not in stored
    page.reload()
    expect(page.locator("#draft-restored")).to_be_visible(timeout=SLOW_MS)
    expect(page.locator("#record-text")).to_have_value(SECRET_TEXT)
    page.locator("#save-record").click()
    expect(page.locator("#versions-list li").first).to_be_visible(timeout=SLOW_MS)
    page.wait_for_url("**/records/*")
    page.reload()
    # After a reload the record comes from the server, decrypted here, its receipt shown.
    expect(page.locator("#record-text")).to_have_value(SECRET_TEXT, timeout=SLOW_MS)
    receipt = page.locator("#versions-list .receipt").first
    expect(receipt).to_be_attached()
    assert len((receipt.text_content() or "").strip()) > 100


def test_an_unusable_identifier_is_explained_and_nothing_is_sent(survivor: Survivor) -> None:
    page = survivor.page
    survivor.go("/entries/new")
    row = page.locator("#identifier-rows > *").first
    row.locator("[data-field=kind]").select_option("email")
    row.locator("[data-field=text]").fill("not an email address")
    row.locator("[data-field=text]").blur()
    error = row.locator("[data-error]")
    expect(error).not_to_be_empty()
    assert "not an email address" not in error.inner_text()
    page.locator("input[name=counselor]").first.check()
    page.locator("#contact").fill("a way to reach me")
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    page.locator("#submit-entry").click()
    expect(page.locator("#entry-done")).to_be_hidden()
    assert not any(url.endswith("/v1/entries") for url in posted)


def test_an_entry_can_be_withdrawn(survivor: Survivor, up: Up) -> None:
    survivor.add_entry([("email", "withdrawn.person@example.org", "")],
                       up.counselors[0]["id"], "my contact")  # fmt: skip
    assert survivor.entry_states() == ["Sealed"]
    page = survivor.page
    page.get_by_role("button", name="Withdraw this entry").click()
    page.get_by_role("button", name="Yes, withdraw it").click()
    expect(page.locator("#entries-list .card .badge")).to_have_text("Withdrawn", timeout=SLOW_MS)
    assert survivor.entry_states() == ["Withdrawn"]


def test_the_session_cookie_is_httponly_secure_and_strict(survivor: Survivor) -> None:
    (cookie,) = survivor.context.cookies()
    assert cookie["httpOnly"] is True
    assert cookie["secure"] is True
    assert cookie["sameSite"] == "Strict"
    assert survivor.page.evaluate("document.cookie") == ""


@pytest.mark.parametrize("path", ["/", "/register", "/login", "/records", "/entries/new"])
def test_without_javascript_a_page_says_it_needs_it(browser: Browser, up: Up, path: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(up.url + path)
        # Exactly one visible notice (Chromium renders the media-feature one).
        notice = page.get_by_text("This page needs JavaScript.")
        expect(notice.locator("visible=true")).to_have_count(1)
    finally:
        context.close()


def test_with_javascript_the_notice_is_not_shown(browser: Browser, up: Up) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(up.url + "/register")
        expect(
            page.get_by_text("This page needs JavaScript.").locator("visible=true")
        ).to_have_count(0)
    finally:
        context.close()


def test_log_in_edit_verify_and_print_a_record(survivor: Survivor, up: Up) -> None:
    page = survivor.page
    record = survivor.write_record("First version", "What I remember first.")
    # Log out, then in again through the login page: the data key is unlocked anew.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(up.url + "/")
    survivor.go("/login")
    page.locator("#username").fill(survivor.username)
    page.locator("#passphrase").fill(PASSPHRASE)
    page.locator("#login-form [type=submit]").click()
    page.wait_for_url("**/records", timeout=SLOW_MS)
    # Edit: a second version, with its own receipt.
    survivor.go(f"/records/{record}")
    expect(page.locator("#record-text")).to_have_value("What I remember first.", timeout=SLOW_MS)
    page.locator("#record-text").fill("What I remember now, more fully.")
    page.locator("#save-record").click()
    expect(page.locator("#versions-list .receipt")).to_have_count(2, timeout=SLOW_MS)
    page.locator("#verify-log").click()
    expect(page.locator("#verify-result")).to_contain_text("2 receipts check", timeout=SLOW_MS)
    # The print view holds both versions with their receipts.
    survivor.go(f"/records/{record}/print")
    expect(page.get_by_text("What I remember now, more fully.")).to_be_visible(timeout=SLOW_MS)
    expect(page.locator(".receipt")).not_to_have_count(0)
    assert "not given the receipt" not in page.locator("main").inner_text()
    # The entry page shows each counselor's key fingerprint, as up.json has it.
    survivor.go("/entries/new")
    for counselor in up.counselors:
        expect(page.get_by_text(counselor["fingerprint"])).to_be_visible(timeout=SLOW_MS)
