"""What a survivor does in the pages, step by step, as Playwright helpers for the tests.

Each helper uses the page as a person would (labels, buttons, the visible result) and
waits for what the page shows when the step is done.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.sync_api import BrowserContext, Page, Request, expect

from tests.upstack import PASSPHRASE

#: Argon2id at 64 MiB with the key-server round trips: generous on a loaded machine.
SLOW_MS = 60_000


@dataclass
class Survivor:
    """One browser context (one survivor's browser) and every request its pages made."""

    context: BrowserContext
    page: Page
    base: str
    requests: list[str] = field(default_factory=list)
    username: str = ""

    @classmethod
    def open(cls, context: BrowserContext, base: str) -> Survivor:
        page = context.new_page()
        survivor = cls(context, page, base)

        def record(request: Request) -> None:
            survivor.requests.append(request.url)

        context.on("request", record)
        page.set_default_timeout(SLOW_MS)
        return survivor

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def register(self, invite: str) -> str:
        """Register with the invite, confirm the recovery key; the generated username."""
        page = self.page
        self.go("/register")
        page.get_by_label("Invitation code").fill(invite)
        page.locator("#passphrase").fill(PASSPHRASE)
        page.locator("#passphrase-again").fill(PASSPHRASE)
        page.locator("#register-form [type=submit]").click()
        expect(page.locator("#recovery-step")).to_be_visible(timeout=SLOW_MS)
        self.username = page.locator("#username-out").inner_text().strip()
        recovery_key = page.locator("#recovery-key-out").inner_text().strip()
        assert self.username
        assert recovery_key
        page.locator("#confirm-group").fill(recovery_key.split("-")[-1])
        page.locator("#confirm-saved").check()
        page.locator("#confirm-form [type=submit]").click()
        page.wait_for_url("**/records")
        return self.username

    def write_record(self, what: str, text: str) -> str:
        """Write and save a record; its id (from the URL the page moves to)."""
        page = self.page
        self.go("/records/new")
        page.locator("#record-what").fill(what)
        page.locator("#record-text").fill(text)
        page.locator("#save-record").click()
        expect(page.locator("#versions-list li")).to_have_count(1, timeout=SLOW_MS)
        page.wait_for_url("**/records/*")
        return page.url.rstrip("/").rsplit("/", 1)[-1]

    def add_entry(
        self, identifiers: list[tuple[str, str, str]], counselor_id: str, contact: str
    ) -> None:
        """Name a person by (kind, text, region) identifiers through a counselor."""
        page = self.page
        self.go("/entries/new")
        expect(page.locator("input[name=counselor]").first).to_be_attached(timeout=SLOW_MS)
        for number, (kind, text, region) in enumerate(identifiers):
            if number > 0:
                page.locator("#add-identifier").click()
            row = page.locator("#identifier-rows > *").nth(number)
            row.locator("[data-field=kind]").select_option(kind)
            if region:
                row.locator("[data-field=region]").fill(region)
            row.locator("[data-field=text]").fill(text)
            # The live canonical preview, as the survivor sees it before going on.
            expect(row.locator("[data-preview]")).to_contain_text("Will be matched as:")
        page.locator(f"input[name=counselor][value='{counselor_id}']").check()
        page.locator("#contact").fill(contact)
        page.locator("#submit-entry").click()
        expect(page.locator("#entry-done")).to_be_visible(timeout=SLOW_MS)

    def entry_states(self) -> list[str]:
        """The state badge of every entry on the entries page."""
        page = self.page
        self.go("/entries")
        expect(page.locator("#entries-list .card").first).to_be_visible()
        return [
            text.strip() for text in page.locator("#entries-list .card .badge").all_inner_texts()
        ]
