"""Security headers on every response, a request body limit, and the session cookie.

The API serves JSON only, so its Content-Security-Policy allows nothing: nothing it
returns may run or be framed as a page. Answers hold one survivor's data: never cached.
The session cookie is HttpOnly (no script reads it), Secure (never sent over plain HTTP)
and SameSite=Strict (no other site's page can make the browser send it, which is what
keeps cross-site requests from acting as the survivor).
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
