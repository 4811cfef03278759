"""Cross-site request forgery: writes from another site's pages are refused.

The survivor's pages send every write with `fetch` to their own origin; the session
cookie is `SameSite=Strict`, so a browser does not attach it to a request another site
starts. This middleware is the second, independent layer (OWASP's "verifying origin with
standard headers" and "Fetch Metadata"): a state-changing request (any method but GET,
HEAD, OPTIONS) is refused with 403 when the browser says it comes from elsewhere:

- `Sec-Fetch-Site` present and not `same-origin` (or `none`, a user typing a URL), or
- no `Sec-Fetch-Site`, and an `Origin` whose host and port differ from the request's Host.

A request with neither header is not from a browser page (the SDK, the CLI, curl); it
carries a bearer token or nothing a forger could use, and passes. No form on the pages
posts outside `fetch`, so there is no token to embed; the check covers every route, the
JSON API and the pages alike.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from notalone.serving import ASGIApp, Receive, Scope, Send, problem_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ALLOWED_SITES = frozenset({"same-origin", "none"})
REFUSED_DETAIL = "this request came from another site's page and was refused"


class CrossSiteWriteMiddleware:
    """Refuse state-changing requests that a browser says another site started (403)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if is_cross_site(headers):
            response = problem_response(403, "cross-site", "Forbidden", REFUSED_DETAIL)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def is_cross_site(headers: dict[str, str]) -> bool:
    """True when the (lower-cased) headers show a browser sent this from another origin."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site.strip().lower() not in _ALLOWED_SITES
    origin = headers.get("origin")
    if origin is None:
        return False
    host = headers.get("host", "").strip().lower()
    if origin.strip().lower() == "null":
        return True
    try:
        parts = urlsplit(origin.strip())
        netloc = parts.netloc.lower()
    except ValueError:
        return True
    return parts.scheme not in ("http", "https") or netloc != host
