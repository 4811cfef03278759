"""End to end in Chromium against `notalone up`: the issue's whole survivor story.

Two survivors, each in their own browser context, register with invite codes, write a
record, and name the same person with differently written identifiers through different
counselors. The counselors (the CLI of the server issue, with the key files `notalone up`
wrote) each open exactly their own survivor's package; a third survivor, from the CLI,
names the same person and joins the match the browser entries made. Throughout, every
request the pages make goes to the app's own origin, and the entries page shows
"Sealed", never whether anything matched.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, expect

from tests.browser.conftest import Up
from tests.browser.survivor import Survivor
from tests.upstack import cli

PERSON = [
    [("email", "Jordan.Perp@Example.ORG", ""), ("phone", "(415) 555-0199", "US")],
    [("email", "  jordan.perp@example.org ", ""), ("phone", "+1 415-555-0199", "")],
]
CONTACTS = ["signal: +41 79 000 11 22", "call the front desk and ask for room 12"]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_two_browsers_and_the_cli_name_one_person(browser: Browser, up: Up, tmp_path: Path) -> None:
    survivors = []
    for number in range(2):
        context = browser.new_context()
        survivor = Survivor.open(context, up.url)
        survivor.register(up.invites[number])
        survivor.write_record(f"What happened ({number})", f"A private account, number {number}.")
        survivor.add_entry(PERSON[number], up.counselors[number]["id"], CONTACTS[number])
        survivors.append(survivor)
    try:
        for survivor in survivors:
            assert survivor.entry_states() == ["Sealed"]
            foreign = {u for u in survivor.requests if _origin(u) != up.url}
            assert foreign == set(), "a page sent a request to another origin"
            assert any("/v1/keyservers/" in u for u in survivor.requests)

        server = ["--server", up.url]
        for number, counselor in enumerate(up.counselors):
            files = up.counselor_files(number)
            items = cli("counselor", "inbox", *files, *server)
            # Both survivors named the person by email and by phone: two matches, one
            # package of this counselor's own survivor in each.
            assert len({item["match_id"] for item in items}) == len(items) == 2
            for item in items:
                assert item["other_counselors"] == [up.counselors[1 - number]["id"]]
                assert counselor["id"] not in item["other_counselors"]
                (package,) = cli("counselor", "open", item["match_id"], *files, *server)
                assert package["contact"] == CONTACTS[number]
                entered = sorted(i["entered"] for i in package["identifiers"])
                assert entered == sorted(text for _, text, _ in PERSON[number])
                canonical = {i["canonical"] for i in package["identifiers"]}
                assert canonical == {"jordan.perp@example.org", "+14155550199"}

        # A survivor using the CLI names the same person by email: that match grows.
        profile = tmp_path / "cli-survivor"
        cli("survivor", "register", "--invite", up.invites[2], *server, profile=profile)
        cli("survivor", "entry", "add", "--email", "JORDAN.PERP@example.org",
            "--counselor", up.counselors[0]["id"], "--contact", "cli contact",
            profile=profile)  # fmt: skip
        files = up.counselor_files(0)
        items = cli("counselor", "inbox", *files, *server)
        assert len(items) == 3
        contacts_by_match = {
            match_id: sorted(
                p["contact"] for p in cli("counselor", "open", match_id, *files, *server)
            )
            for match_id in {item["match_id"] for item in items}
        }
        assert sorted(contacts_by_match.values()) == [
            sorted([CONTACTS[0], "cli contact"]),
            [CONTACTS[0]],
        ]
    finally:
        for survivor in survivors:
            survivor.context.close()


def test_the_csp_blocks_an_injected_inline_script(browser: Browser, up: Up) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(up.url + "/")
        page.evaluate(
            """() => {
                window.__violations = [];
                document.addEventListener('securitypolicyviolation',
                    (e) => window.__violations.push(e.violatedDirective));
                const s = document.createElement('script');
                s.textContent = 'window.__injected = true';
                document.body.append(s);
                const styled = document.createElement('div');
                styled.setAttribute('style', 'color: red');
                document.body.append(styled);
            }"""
        )
        page.wait_for_function("window.__violations.length > 0")
        assert page.evaluate("window.__injected") is None
        violations = page.evaluate("window.__violations")
        assert any(v.startswith("script-src") for v in violations)
    finally:
        context.close()


def test_quick_exit_leaves_for_the_neutral_page_and_wipes_the_tab(browser: Browser, up: Up) -> None:
    context = browser.new_context()
    try:
        survivor = Survivor.open(context, up.url)
        survivor.register(up.invites[3])
        page = survivor.page
        survivor.go("/entries/new")
        assert page.evaluate("sessionStorage.length") > 0
        page.get_by_role("link", name="Quick exit").first.click()
        page.wait_for_url("**/exit")
        expect(page.locator("body")).not_to_contain_text("NotAlone")
        assert page.evaluate("sessionStorage.length") == 0
        # The page it left was replaced in the history: Back does not lead to it.
        page.go_back()
        assert not page.url.endswith("/entries/new")
    finally:
        context.close()
