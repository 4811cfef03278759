"""Every page, at phone and desktop widths: axe-core finds no serious or critical
accessibility violation, and a screenshot is written for review.

axe-core comes from npm (js/node_modules, installed by `make install`); it is evaluated
in the page through the DevTools protocol, which the page's CSP does not govern, so the
page itself stays exactly as served. Screenshots go to build/screenshots/ (ignored by
git), named <page>-<width>.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import ROOT, SCREENSHOTS, Up, _require
from tests.browser.survivor import Survivor

AXE = ROOT / "js" / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"phone": (390, 844), "desktop": (1280, 900)}
PUBLIC = {"home": "/", "register": "/register", "login": "/login", "exit": "/exit"}
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
    browser: Browser, up: Up, signed_in: tuple[Survivor, str], width: str
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
    assert found == []
    print(f"\naxe-core ({width}): {len(PUBLIC) + len(SIGNED_IN)} pages, 0 serious or critical")
