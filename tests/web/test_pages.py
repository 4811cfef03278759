"""The survivor's pages (notalone.web.pages, docs/web.md): every page answers with the
page security headers, signed-in pages need a cookie session, and every page's HTML keeps
the rules that the Content-Security-Policy and the accessibility bar depend on (no inline
script or style, no handler attributes, labelled inputs, a quick exit, a noscript notice).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from notalone.storage.engine import Database
from notalone.web.app import build_services, create_app
from notalone.web.pages import PAGES, STATIC_DIR, static_files
from notalone.web.pages.routes import TEMPLATES_DIR, template_environment
from notalone.web.security import SECURITY_HEADERS
from tests.conftest import REPO
from tests.web.conftest import Clock, Env, make_settings

RECORD_ID = "0123456789abcdef" * 2
#: The page policy, written out here rather than imported, so that a change to the code's
#: constant cannot silently change what is tested. Page scripts reach the key servers
#: through the escrow's same-origin proxy, so connect-src is 'self' alone.
PAGE_CSP = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
PUBLIC_PAGES = [
    "/",
    "/register",
    "/login",
    "/join",
    # The counselor console and the organization admin's pages need no survivor session:
    # their scripts unlock the keyholder's vault in the browser (docs/web.md).
    "/counselor",
    "/counselor/enroll",
    "/counselor/inbox",
    "/counselor/case",
    "/org",
    "/org/enroll",
    "/org/dashboard",
    "/org/reports",
    "/org/members",
]
SIGNED_IN_PAGES = [
    "/records",
    "/records/new",
    f"/records/{RECORD_ID}",
    f"/records/{RECORD_ID}/print",
    "/entries",
    "/entries/new",
]
APP_PAGES = PUBLIC_PAGES + SIGNED_IN_PAGES
EXIT = "/exit"
ALL_PAGES = [*APP_PAGES, EXIT]
#: Words that must not appear on the quick-exit page: it must not betray what was left.
EXIT_FORBIDDEN = (
    "notalone",
    "not alone",
    "survivor",
    "escrow",
    "counsel",
    "assault",
    "harass",
    "abuse",
    "quick exit",
    "passphrase",
)
LABELLED_BY_TYPE_EXEMPT = {"hidden", "submit", "button", "reset", "image"}


# -- A small HTML model built with html.parser ---------------------------------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    ancestors: tuple[str, ...]
    text: str = ""


@dataclass
class Document:
    elements: list[Element] = field(default_factory=list)
    inline_scripts: list[str] = field(default_factory=list)
    style_blocks: int = 0
    lang: str | None = None
    title: str = ""
    text: str = ""

    def find(self, tag: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag]

    def ids(self) -> list[str]:
        return [e.attrs["id"] for e in self.elements if "id" in e.attrs]


class _Parser(HTMLParser):
    VOID = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.document = Document()
        self.stack: list[Element] = []
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        element = Element(tag, values, tuple(e.tag for e in self.stack))
        self.document.elements.append(element)
        if tag == "html":
            self.document.lang = values.get("lang")
        if tag == "style":
            self.document.style_blocks += 1
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID and self.stack and self.stack[-1].tag == tag:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index].tag == tag:
                element = self.stack[index]
                del self.stack[index:]
                if tag == "script" and element.text.strip():
                    self.document.inline_scripts.append(element.text)
                if tag == "title":
                    self.document.title = element.text.strip()
                return

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element.text += data
        self._text.append(data)

    def close(self) -> None:
        super().close()
        self.document.text = " ".join(" ".join(self._text).split())


def parse(html: str) -> Document:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.document


# -- Fixtures -------------------------------------------------------------------------------


@pytest.fixture
def signed_in(env: Env) -> str:
    """Register a survivor and log in with a cookie session; returns the username."""
    username = "mossy-walrus-7731"
    body = env.register(username)
    response = env.login(username, body["auth_key"], kind="cookie")
    assert response.status_code == 200, response.text
    assert env.settings.cookie_name in env.client.cookies
    return username


def _pages(env: Env, signed_in: str) -> dict[str, str]:
    html = {}
    for path in ALL_PAGES:
        response = env.client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert response.headers["content-type"] == "text/html; charset=utf-8", path
        html[path] = response.text
    return html


@pytest.fixture
def pages(env: Env, signed_in: str) -> dict[str, str]:
    return _pages(env, signed_in)


def _assert_page_headers(headers: object, what: str) -> None:
    expected = {
        "content-security-policy": PAGE_CSP,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
    }
    for name, value in expected.items():
        assert headers[name] == value, f"{what}: {name}"  # type: ignore[index]


# -- Answers and headers --------------------------------------------------------------------


def test_every_page_answers_html_with_the_page_headers(env: Env, signed_in: str) -> None:
    for path in ALL_PAGES:
        response = env.client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html"), path
        _assert_page_headers(response.headers, path)
        assert response.headers["cross-origin-opener-policy"] == "same-origin"


def test_every_route_of_the_page_table_is_tested() -> None:
    tested = {re.sub(RECORD_ID, "{record_id}", path) for path in ALL_PAGES}
    assert tested == {page.path for page in PAGES}


def test_an_accounts_only_app_serves_the_pages_too(database_url: str) -> None:
    settings = make_settings(
        database_url,
        Clock(),
        deployment_id=None,
        federation=None,
        key_servers=(),
        ticket_signing_key=None,
        ticket_secret=None,
        log_signing_key=None,
        vouching_key=None,
    )
    database = Database(settings.database_url)
    try:
        app = create_app(settings, build_services(settings, database))
        with TestClient(app, base_url="https://testserver") as client:
            for path in [*PUBLIC_PAGES, EXIT]:
                response = client.get(path)
                assert response.status_code == 200
                _assert_page_headers(response.headers, path)
    finally:
        database.dispose()


def test_api_answers_keep_their_own_headers(env: Env, signed_in: str) -> None:
    for path in ["/healthz", "/v1/account", "/v1/deployment", "/nowhere"]:
        response = env.client.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)


@pytest.mark.parametrize("path", SIGNED_IN_PAGES)
def test_signed_in_pages_need_a_cookie_session(env: Env, path: str) -> None:
    response = env.client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + path.replace("/", "%2F")
    _assert_page_headers(response.headers, path)
    assert response.content == b""


def test_a_bearer_token_or_a_bad_cookie_is_not_a_page_session(env: Env) -> None:
    survivor = env.survivor()
    response = env.client.get("/records", headers=survivor.headers, follow_redirects=False)
    assert response.status_code == 303
    for token in ("0" * 64, "not a token", survivor.headers["Authorization"].split()[1]):
        cookie = {"cookie": f"{env.settings.cookie_name}={token}"}
        response = env.client.get("/records", headers=cookie, follow_redirects=False)
        assert response.status_code == 303, token


def test_an_expired_session_redirects_to_log_in(env: Env, signed_in: str) -> None:
    assert env.client.get("/records", follow_redirects=False).status_code == 200
    env.clock.now_ms += env.settings.cookie_session_s * 1000 + 1
    assert env.client.get("/records", follow_redirects=False).status_code == 303


def test_a_logged_out_session_redirects_to_log_in(env: Env, signed_in: str) -> None:
    assert env.client.post("/v1/logout").status_code == 204
    env.client.cookies.clear()
    assert env.client.get("/entries", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    "path",
    [
        "/records/XYZ",
        "/records/" + RECORD_ID.upper(),
        "/records/" + RECORD_ID + "0",
        "/records/" + RECORD_ID + "/print/more",
        "/records/%3Cscript%3E",
    ],
)
def test_a_malformed_record_id_is_404(env: Env, signed_in: str, path: str) -> None:
    response = env.client.get(path, follow_redirects=False)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "script" not in response.text.lower()


def test_pages_are_the_same_for_everybody(env: Env, signed_in: str) -> None:
    """No user data is rendered: not even the username (page scripts show it)."""
    signed_in_html = {path: env.client.get(path).text for path in ALL_PAGES}
    for html in signed_in_html.values():
        assert signed_in not in html
    env.client.cookies.clear()
    for path in [*PUBLIC_PAGES, EXIT]:
        assert env.client.get(path).text == signed_in_html[path]


def test_pages_are_not_in_the_api_document(env: Env) -> None:
    paths = env.app.openapi()["paths"]
    assert not any(page.path in paths for page in PAGES)


# -- The HTML rules -------------------------------------------------------------------------


def _check_common_rules(path: str, document: Document) -> None:
    assert document.lang == "en", path
    assert document.title, path
    assert not document.inline_scripts, f"{path}: inline script"
    assert document.style_blocks == 0, f"{path}: <style>"
    for element in document.elements:
        assert "style" not in element.attrs, f"{path}: style= on <{element.tag}>"
        handlers = [name for name in element.attrs if name.startswith("on")]
        assert not handlers, f"{path}: {handlers} on <{element.tag}>"
        for name in ("href", "src", "action", "formaction"):
            value = element.attrs.get(name, "").strip().lower()
            assert not value.startswith(("javascript:", "data:", "http:", "https:", "//")), (
                f"{path}: {name}={value!r}"
            )
    # Only module scripts of our own bundle; only our own style sheet.
    for script in document.find("script"):
        assert script.attrs.get("type") == "module", path
        assert script.attrs["src"].startswith("/static/js/pages/"), path
    for link in document.find("link"):
        if link.attrs.get("rel") == "stylesheet":
            assert link.attrs["href"] == "/static/css/site.css", path
    viewport = [m for m in document.find("meta") if m.attrs.get("name") == "viewport"]
    assert len(viewport) == 1, path
    assert "user-scalable" not in viewport[0].attrs["content"], path
    assert "maximum-scale" not in viewport[0].attrs["content"], path
    # Ids are unique, and every id an ARIA or label attribute points at exists.
    ids = document.ids()
    assert len(ids) == len(set(ids)), f"{path}: duplicate ids"
    for element in document.elements:
        for name in ("aria-describedby", "aria-labelledby", "for", "aria-controls"):
            for target in element.attrs.get(name, "").split():
                assert target in ids, f"{path}: {name}={target} points nowhere"
    # No form posts to the server: forms are handled by the page scripts, which call the
    # JSON API (so there is no HTML form that would need a CSRF token).
    for form in document.find("form"):
        assert form.attrs.get("method", "get").lower() == "get", path
        assert "action" not in form.attrs, path
    assert len(document.find("main")) == 1, path
    assert len(document.find("h1")) == 1, path


def _check_labels(path: str, document: Document) -> None:
    labelled = {e.attrs["for"] for e in document.find("label") if "for" in e.attrs}
    for element in document.elements:
        if element.tag not in ("input", "select", "textarea"):
            continue
        if element.attrs.get("type", "text") in LABELLED_BY_TYPE_EXEMPT:
            continue
        has_label = (
            element.attrs.get("id") in labelled
            or "label" in element.ancestors
            or element.attrs.get("aria-label", "").strip()
            or element.attrs.get("aria-labelledby", "").strip()
        )
        assert has_label, f"{path}: <{element.tag} id={element.attrs.get('id')}> has no label"
    for element in document.elements:
        if element.tag in ("progress", "meter"):
            assert element.attrs.get("aria-labelledby") or element.attrs.get("id") in labelled
        if element.tag == "button":
            assert element.text.strip() or element.attrs.get("aria-label"), path
        if element.tag == "a":
            assert element.text.strip(), f"{path}: an empty link"


@pytest.mark.parametrize("path", APP_PAGES)
def test_app_pages_follow_the_rules(pages: dict[str, str], path: str) -> None:
    document = parse(pages[path])
    _check_common_rules(path, document)
    _check_labels(path, document)
    # Quick exit: a plain link to /exit, the first link on the page.
    links = document.find("a")
    assert links[0].attrs["href"] == "/exit", path
    assert "data-quick-exit" in links[0].attrs, path
    assert links[0].text.strip() == "Quick exit", path
    assert "header" in links[0].ancestors, path
    # A noscript notice that says why JavaScript is needed.
    notices = document.find("noscript")
    assert len(notices) == 1, path
    assert "JavaScript" in notices[0].text
    assert "encrypted" in notices[0].text
    # Landmarks, the skip link, and a page script of its own.
    for landmark in ("header", "nav", "main", "footer"):
        assert document.find(landmark), f"{path}: no <{landmark}>"
    assert any(a.attrs.get("href") == "#main" for a in links), path
    assert any(e.attrs.get("id") == "main" for e in document.find("main")), path
    assert len(document.find("script")) == 1, path
    # The page script's source exists (the build bundles it to /static/js/pages/).
    name = document.find("script")[0].attrs["src"].removeprefix("/static/js/pages/")
    assert (REPO / "js" / "src" / "pages" / name).is_file(), name


def test_messages_and_progress_are_live_regions(pages: dict[str, str]) -> None:
    for path in APP_PAGES:
        document = parse(pages[path])
        if path == "/":
            continue
        by_id = {e.attrs.get("id"): e for e in document.elements}
        assert by_id["page-error"].attrs.get("role") == "alert", path
        assert by_id["page-status"].attrs.get("role") == "status", path
        for element in document.elements:
            if element.tag == "progress":
                step = by_id[element.attrs["id"].removesuffix("-bar") + "-step"]
                assert step.attrs.get("aria-live") == "polite", path


def test_the_exit_page_is_neutral(pages: dict[str, str]) -> None:
    html = pages[EXIT]
    document = parse(html)
    _check_common_rules(EXIT, document)
    _check_labels(EXIT, document)
    lowered = html.lower()
    for word in EXIT_FORBIDDEN:
        assert word not in lowered, word
    assert not document.find("script")
    assert not document.find("noscript")
    assert not document.find("form")
    hrefs = {e.attrs.get("href") for e in document.elements if "href" in e.attrs}
    assert hrefs == {"/static/css/site.css"}
    # Its one style sheet (loaded by every page) says nothing about us either.
    css = (STATIC_DIR / "css" / "site.css").read_text(encoding="utf-8").lower()
    for word in EXIT_FORBIDDEN:
        assert word not in css, word


def test_the_entry_pages_never_say_matched_as_a_state(pages: dict[str, str]) -> None:
    source = (REPO / "js" / "src" / "pages" / "entries.js").read_text(encoding="utf-8")
    assert "'Sealed'" in source
    assert "'Withdrawn'" in source
    assert "'Matched'" not in source
    assert "matched" not in parse(pages["/entries"]).text.lower().replace(
        "never shows whether an entry has matched", ""
    )


# -- The templates themselves ---------------------------------------------------------------

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
_STYLE = re.compile(r"\sstyle\s*=|<style", re.IGNORECASE)
_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)


def _templates() -> list[Path]:
    return sorted(TEMPLATES_DIR.glob("*.html"))


@pytest.mark.parametrize("template", _templates(), ids=lambda p: p.name)
def test_templates_have_no_inline_script_style_or_handlers(template: Path) -> None:
    # Jinja comments may describe the rules; only the markup must keep them.
    source = _COMMENT.sub("", template.read_text(encoding="utf-8"))
    assert not _INLINE_SCRIPT.search(source)
    assert not _HANDLER.search(source)
    assert not _STYLE.search(source)
    assert "|safe" not in source.replace(" ", "")
    assert "autoescape false" not in source


def test_every_template_is_used() -> None:
    used = {page.template for page in PAGES} | {"base.html", "_parts.html"}
    assert {t.name for t in _templates()} == used


def test_autoescape_is_on() -> None:
    environment = template_environment()
    rendered = environment.from_string("{{ value }}").render(value="<script>x</script>")
    assert rendered == "&lt;script&gt;x&lt;/script&gt;"
    # On for every template, whatever its file name.
    assert environment.autoescape is True


def test_every_page_script_source_exists() -> None:
    for page in PAGES:
        if page.script is not None:
            assert (REPO / "js" / "src" / "pages" / f"{page.script}.js").is_file()


# -- Static files ---------------------------------------------------------------------------


def test_the_style_sheet_is_served(env: Env) -> None:
    response = env.client.get("/static/css/site.css")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "path",
    [
        "/static/css/missing.css",
        "/static/../pyproject.toml",
        "/static/%2e%2e/app.py",
        "/static/css",
        "/static/",
    ],
)
def test_other_static_paths_are_404(env: Env, path: str) -> None:
    response = env.client.get(path)
    assert response.status_code == 404
    assert response.headers["x-content-type-options"] == "nosniff"


def test_static_files_are_served_by_an_allow_list(tmp_path: Path) -> None:
    (tmp_path / "js" / "pages").mkdir(parents=True)
    (tmp_path / "js" / "pages" / "home.js").write_text("export {};\n")
    (tmp_path / "js" / "pages" / "home.js.map").write_text("{}")
    (tmp_path / "page.html").write_text("<p>")
    (tmp_path / "argon2.wasm").write_bytes(b"\0asm")
    app = FastAPI()
    app.mount("/static", static_files(tmp_path))
    with TestClient(app, raise_server_exceptions=True) as client:
        script = client.get("/static/js/pages/home.js")
        assert script.status_code == 200
        assert script.headers["content-type"] == "text/javascript; charset=utf-8"
        assert client.get("/static/argon2.wasm").headers["content-type"] == "application/wasm"
        assert client.get("/static/js/pages/home.js.map").status_code == 404
        assert client.get("/static/page.html").status_code == 404
        assert client.post("/static/js/pages/home.js").status_code == 405


def test_built_page_scripts_are_served_as_javascript(env: Env) -> None:
    built = STATIC_DIR / "js" / "pages"
    if not built.is_dir():
        pytest.skip("the page scripts are not built (cd js && npm run build)")
    scripts = [f"/static/js/pages/{page.script}.js" for page in PAGES if page.script]
    # The SDK's own bundle, which every page script imports.
    for path in [*scripts, "/static/js/notalone.js"]:
        response = env.client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "text/javascript; charset=utf-8"
        assert response.headers["x-content-type-options"] == "nosniff"
