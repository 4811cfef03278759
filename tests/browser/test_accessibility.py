"""Every page, at phone and desktop widths: axe-core finds no serious or critical
accessibility violation, and a screenshot is written for review.

axe-core comes from npm (js/node_modules, installed by `make install`); it is evaluated
in the page through the DevTools protocol, which the page's CSP does not govern, so the
page itself stays exactly as served. Screenshots go to build/screenshots/ (ignored by
git), named <page>-<width>.png.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import ROOT, SCREENSHOTS, Up, _require
from tests.browser.survivor import Survivor

AXE = ROOT / "js" / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"phone": (390, 844), "desktop": (1280, 900)}
PUBLIC = {
    "home": "/",
    "register": "/register",
    "login": "/login",
    "exit": "/exit",
    # -- organization admin (issue 5): the pages before the key is unlocked --
    "org": "/org",
    "org-enroll": "/org/enroll",
    # -- counselor console (issue 5): the pages before the key is unlocked (the inbox and
    # the case page are audited by test_counselor_console.py, which holds a key) --
    "counselor": "/counselor",
    "counselor-enroll": "/counselor/enroll",
    # -- membership tokens (issue 5): a member's page, no account needed --
    "join": "/join",
}
#: Pages of an organization admin whose key this tab holds (issue 5).
ORG_ADMIN = {
    "org-dashboard": "/org/dashboard",
    "org-reports": "/org/reports",
    # -- membership tokens (issue 5) --
    "org-members": "/org/members",
}
SIGNED_IN = {
    "records": "/records",
    "record-new": "/records/new",
    "record": "/records/{record}",
    "record-print": "/records/{record}/print",
    "entries": "/entries",
    "entry-new": "/entries/new",
}
SERIOUS = {"serious", "critical"}


@pytest.fixture(scope="module")
def signed_in(browser: Browser, up: Up) -> Iterator[tuple[Survivor, str]]:
    """A survivor with one record and one entry, so every page has something to show."""
    context = browser.new_context()
    survivor = Survivor.open(context, up.url)
    survivor.register(up.invites[4])
    record = survivor.write_record("At the office party", "He cornered me by the lifts.")
    survivor.add_entry(
        [("email", "someone@example.org", "")], up.counselors[0]["id"], "email me at home"
    )
    yield survivor, record
    context.close()


@pytest.fixture(scope="module")
def org_admin(browser: Browser, up: Up) -> Iterator[Page]:
    """A tab of an enrolled organization admin (key unlocked by the enrollment)."""
    config = json.loads((up.data / "escrow.json").read_text(encoding="utf-8"))
    operator = {"Authorization": f"Bearer {config['operator_token']}"}
    made = httpx.post(up.url + "/v1/organizations", json={"name": "Axe org"}, headers=operator)
    code = httpx.post(
        f"{up.url}/v1/organizations/{made.json()['organization_id']}/admin-enrollments",
        json={"display_name": "Axe"},
        headers=operator,
    ).json()["code"]
    context = browser.new_context()
    page = context.new_page()
    page.goto(up.url + "/org/enroll")
    page.locator("#enroll-code").fill(code)
    page.locator("#enroll-passphrase").fill("orange tractor whispers seven lanterns")
    page.locator("#enroll-confirm").fill("orange tractor whispers seven lanterns")
    page.locator("#enroll-form [type=submit]").click()
    page.locator("#enroll-done").wait_for(timeout=60_000)
    yield page
    context.close()


def _audit(page: Page, name: str, width: str) -> list[str]:
    """Run axe-core on the page as it is; return its serious or critical violations."""
    page.wait_for_load_state("networkidle")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{name} ({width}): {v['id']} [{v['impact']}] {v['help']} "
        f"at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in SERIOUS
    ]


@pytest.mark.parametrize("width", WIDTHS)
def test_no_serious_accessibility_violation_on_any_page(
    browser: Browser, up: Up, signed_in: tuple[Survivor, str], org_admin: Page, width: str
) -> None:
    _require(AXE, "make install")
    survivor, record = signed_in
    found: list[str] = []
    viewport = dict(zip(("width", "height"), WIDTHS[width], strict=True))
    anonymous = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    try:
        page = anonymous.new_page()
        for name, path in PUBLIC.items():
            page.goto(up.url + path)
            found += _audit(page, name, width)
    finally:
        anonymous.close()
    # The survivor's own tab: the unlocked key lives in that tab's sessionStorage only.
    page = survivor.page
    page.set_viewport_size(viewport)  # type: ignore[arg-type]
    for name, path in SIGNED_IN.items():
        page.goto(up.url + path.format(record=record))
        # Each signed-in page fills itself from the SDK; wait until it has.
        page.wait_for_function(
            "() => ![...document.querySelectorAll('[data-progress]')].some((p) => !p.hidden)",
            timeout=60_000,
        )
        assert not re.search(r"/login", page.url), f"{name} sent the survivor to log in"
        found += _audit(page, name, width)
    org_admin.set_viewport_size(viewport)  # type: ignore[arg-type]
    for name, path in ORG_ADMIN.items():
        org_admin.goto(up.url + path)
        org_admin.wait_for_function(
            "() => ![...document.querySelectorAll('[data-progress]')].some((p) => !p.hidden)",
            timeout=60_000,
        )
        assert org_admin.url.endswith(path), f"{name} sent the admin away"
        found += _audit(org_admin, name, width)
    assert found == []
    pages = len(PUBLIC) + len(SIGNED_IN) + len(ORG_ADMIN)
    print(f"\naxe-core ({width}): {pages} pages, 0 serious or critical")
