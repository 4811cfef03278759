"""Security headers on every response, a request body limit, and the session cookie.

The API serves JSON only, so its Content-Security-Policy allows nothing: nothing it
returns may run or be framed as a page. Answers hold one survivor's data: never cached.
The session cookie is HttpOnly (no script reads it), Secure (never sent over plain HTTP)
and SameSite=Strict (no other site's page can make the browser send it, which is what
keeps cross-site requests from acting as the survivor).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.responses import Response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


class SecurityHeadersMiddleware:
    """Adds SECURITY_HEADERS to every HTTP response that does not already set them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(
                        (name.encode(), value.encode())
                        for name, value in SECURITY_HEADERS.items()
                        if name.encode() not in names
                    ),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware:
    """Refuses a request body above `limit` bytes with 413, before anything parses it.

    The declared Content-Length is checked first; a chunked body is counted as it arrives.
    The body (at most `limit` bytes) is then handed to the application in one piece.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # The client left: there is nobody to answer.
            body += message.get("body", b"")
            more = bool(message.get("more_body", False))
            if len(body) > self.limit:
                await self._refuse(scope, receive, send)
                return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Built here rather than through problems.py, which imports this module.
        body = {
            "type": "tag:notalone,2026:problem/body-too-large",
            "title": "Request body too large",
            "status": 413,
            "detail": f"a request body is at most {self.limit} bytes",
        }
        response = Response(
            json.dumps(body).encode(),
            status_code=413,
            media_type="application/problem+json",
            headers=SECURITY_HEADERS,
        )
        await response(scope, receive, send)


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
