"""Security headers on every response, a request body limit, and the session cookie.

The API serves JSON only, so its Content-Security-Policy allows nothing: nothing it
returns may run or be framed as a page. Answers hold one survivor's data: never cached.
The session cookie is HttpOnly (no script reads it), Secure (never sent over plain HTTP)
and SameSite=Strict (no other site's page can make the browser send it, which is what
keeps cross-site requests from acting as the survivor).

The survivor's HTML pages (notalone.web.pages) replace the API's Content-Security-Policy
with PAGE_CONTENT_SECURITY_POLICY, the strictest one under which their own scripts run.
"""

from __future__ import annotations

from starlette.responses import Response

# The headers, the ASGI types and the middlewares are shared with the key servers.
from notalone.serving import (
    SECURITY_HEADERS,
    ASGIApp,
    BodyLimitMiddleware,
    Message,
    Receive,
    Scope,
    SecurityHeadersMiddleware,
    Send,
)

__all__ = [
    "PAGE_CONTENT_SECURITY_POLICY",
    "PAGE_SECURITY_HEADERS",
    "SECURITY_HEADERS",
    "ASGIApp",
    "BodyLimitMiddleware",
    "Message",
    "Receive",
    "Scope",
    "SecurityHeadersMiddleware",
    "Send",
    "clear_session_cookie",
    "set_session_cookie",
]

# -- The survivor's HTML pages (notalone.web.pages, docs/web.md) -------------------------
#: The pages run their own scripts (and WebAssembly, for Argon2id) and load one style
#: sheet, all from this origin; nothing inline, nothing from anywhere else, no framing,
#: no <base>, forms post only here. Page scripts talk to this origin only: the SDK
#: reaches the key servers through the escrow's same-origin proxy.
PAGE_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
#: The headers of an HTML page: SECURITY_HEADERS with the page CSP, and an opener policy
#: that keeps a page opened from elsewhere from reaching back into this one.
PAGE_SECURITY_HEADERS = {
    **SECURITY_HEADERS,
    "content-security-policy": PAGE_CONTENT_SECURITY_POLICY,
    "cross-origin-opener-policy": "same-origin",
}


def set_session_cookie(response: Response, name: str, token: str, max_age_s: int) -> None:
    """Set the session cookie: HttpOnly, Secure, SameSite=Strict, Path=/ and no Domain."""
    response.set_cookie(
        name,
        token,
        max_age=max_age_s,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, name: str) -> None:
    """Tell the browser to drop the session cookie (with the same attributes)."""
    response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="strict")
