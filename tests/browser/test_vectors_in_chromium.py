"""The JavaScript protocol passes the Python-generated vectors inside Chromium too.

`npm test` runs the same checks (js/test/vector-checks.js) in node; here the bundle built
from them (build/js-test/vectors.js) runs in a page of real Chromium, with WebCrypto,
WebAssembly (hash-wasm's Argon2id) and fetch as a survivor's browser has them. The page
and the vector files are served from a made-up origin by Playwright's request routing,
from the files on disk: no server, no network.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path

from playwright.sync_api import Browser, Route

from tests.browser.conftest import JS_TEST_BUILD, ROOT, _require

ORIGIN = "https://vectors.notalone.test"
VECTORS = ROOT / "vectors"
SHARED_VECTORS = ROOT.parent / "shared" / "vectors"
PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>vectors</title>"
    '<script type="module" src="/vectors.js" data-vectors-base="/vectors"></script>'
    "</head><body></body></html>"
)
EXPECTED_FILES = {
    "identifiers",
    "threshold-oprf",
    "slots",
    "accounts",
    "records",
    "receipts",
}


def _serve(route: Route) -> None:
    path = route.request.url.removeprefix(ORIGIN)
    files = {"/vectors.js": JS_TEST_BUILD / "vectors.js"}
    if path == "/":
        route.fulfill(status=200, body=PAGE, content_type="text/html")
        return
    if path.startswith("/vectors/shared/"):
        target: Path | None = SHARED_VECTORS / path.removeprefix("/vectors/shared/")
    elif path.startswith("/vectors/"):
        target = VECTORS / path.removeprefix("/vectors/")
    else:
        target = files.get(path)
    if target is None or not target.is_file():
        route.fulfill(status=404, body="not found")
        return
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    route.fulfill(status=200, body=target.read_bytes(), content_type=content_type)


def test_every_vector_check_passes_in_chromium(browser: Browser) -> None:
    _require(JS_TEST_BUILD / "vectors.js", "make install")
    context = browser.new_context()
    try:
        page = context.new_page()
        context.route(f"{ORIGIN}/**", _serve)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{ORIGIN}/")
        page.wait_for_selector("body[data-done='true']", timeout=120_000)
        summary = json.loads(page.evaluate("document.body.dataset.results"))
    finally:
        context.close()
    assert errors == []
    failed = [r for r in summary["results"] if not r["ok"]]
    assert failed == []
    names = " ".join(r["name"] for r in summary["results"])
    for expected in EXPECTED_FILES:
        assert expected in names, f"no check ran for vectors/{expected}.json"
    assert summary["passed"] >= 80
    print(f"\nChromium: {summary['passed']} vector checks passed, {summary['failed']} failed")
