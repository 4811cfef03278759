"""The page routes: one GET per page, answered with HTML rendered when the app is built.

Why render once: a page is a shell that is the same for every visitor (its script does
the work in the browser), so rendering it per request could only add a way for request
data to reach the HTML. Rendering at start-up also turns a template error into a
start-up error.

Signed-in pages (`Page.signed_in`) are shown only with a valid cookie session; without
one they redirect (303) to `/login?next=<path>`, and the login page's script goes back
there afterwards, where an unsaved draft waits (drafts live encrypted in the browser).
The check reveals nothing the API would not: the page is the same for everybody.

Every answer carries `notalone.web.security.PAGE_SECURITY_HEADERS`: the page
Content-Security-Policy, `no-store`, `nosniff`, `no-referrer` and a same-origin opener
policy.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from notalone.errors import VerificationError
from notalone.web.auth import services_of, settings_of
from notalone.web.security import PAGE_SECURITY_HEADERS
from notalone.web.settings import EscrowSettings

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

#: A record id in a page path: 16 bytes as lower-case hex, as the API writes them.
RECORD_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Page:
    """One page: its route, its template, its page script (js/src/pages/<script>.js, or
    None for a page without one) and whether it needs a signed-in survivor."""

    path: str
    template: str
    script: str | None
    signed_in: bool = False


PAGES = (
    Page("/", "home.html", "home"),
    Page("/register", "register.html", "register"),
    Page("/login", "login.html", "login"),
    Page("/records", "records.html", "records", signed_in=True),
    # Before /records/{record_id}: routes match in order ("new" is not hex anyway).
    Page("/records/new", "record.html", "record", signed_in=True),
    Page("/records/{record_id}", "record.html", "record", signed_in=True),
    Page("/records/{record_id}/print", "record_print.html", "record-print", signed_in=True),
    Page("/entries", "entries.html", "entries", signed_in=True),
    Page("/entries/new", "entry_new.html", "entry-new", signed_in=True),
    # The quick-exit destination: a neutral page with no script and no mention of us.
    Page("/exit", "exit.html", None),
    # The counselor console (docs/counselor-guide.md): no survivor session; the scripts
    # need an unlocked keyholder vault.
    Page("/counselor", "counselor.html", "counselor"),
    Page("/counselor/enroll", "counselor_enroll.html", "counselor-enroll"),
    Page("/counselor/inbox", "counselor_inbox.html", "counselor-inbox"),
    Page("/counselor/case", "counselor_case.html", "counselor-case"),
    # The organization admin's pages (docs/org-admin-guide.md), likewise.
    Page("/org", "org.html", "org"),
    Page("/org/enroll", "org_enroll.html", "org-enroll"),
    Page("/org/dashboard", "org_dashboard.html", "org-dashboard"),
    Page("/org/reports", "org_reports.html", "org-reports"),
    # Membership tokens (docs/membership-tokens.md).
    Page("/join", "join.html", "join"),
    Page("/org/members", "org_members.html", "org-members"),
)


def template_environment(directory: Path = TEMPLATES_DIR) -> jinja2.Environment:
    """The Jinja2 environment of the pages: autoescaping on for every template (whatever
    its name), and an undefined variable is an error rather than an empty string."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def render_pages(
    settings: EscrowSettings, environment: jinja2.Environment | None = None
) -> dict[str, str]:
    """Every page's HTML by route path. Templates see only the page's own description and
    the deployment's match threshold (for the landing page's explanation)."""
    environment = environment or template_environment()
    return {
        page.path: environment.get_template(page.template).render(
            script=page.script,
            signed_in=page.signed_in,
            match_threshold=settings.match_threshold,
        )
        for page in PAGES
    }


def _has_session(request: Request) -> bool:
    token = request.cookies.get(settings_of(request).cookie_name)
    if token is None:
        return False
    try:
        services_of(request).accounts.authenticate(token, "cookie")
    except VerificationError:
        return False
    return True


def pages_router(settings: EscrowSettings) -> APIRouter:
    """The page routes (left out of the OpenAPI document: they are not the API)."""
    html = render_pages(settings)
    headers = PAGE_SECURITY_HEADERS
    router = APIRouter(include_in_schema=False)

    def endpoint(page: Page) -> Callable[[Request], Response]:
        body = html[page.path]

        def show(request: Request) -> Response:
            record_id = request.path_params.get("record_id")
            if record_id is not None and not RECORD_ID.fullmatch(record_id):
                raise HTTPException(status_code=404)
            if page.signed_in and not _has_session(request):
                # The path is fixed or checked just above, so it is safe to hand back.
                target = "/login?next=" + quote(request.url.path, safe="")
                return RedirectResponse(target, status_code=303, headers=headers)
            return HTMLResponse(body, headers=headers)

        show.__name__ = f"page_{page.template.removesuffix('.html')}"
        return show

    for page in PAGES:
        router.add_api_route(
            page.path, endpoint(page), methods=["GET"], response_class=HTMLResponse
        )
    return router
