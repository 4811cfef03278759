"""What every NotAlone HTTP service shares: security headers, problem+json, body limits.

Both the escrow (`notalone.web`) and the key servers (`notalone.keyserver`) serve JSON
APIs with the same defences, so they come from here rather than from either of them
(neither may import the other). The APIs serve JSON only, so the Content-Security-Policy
allows nothing: nothing they return may run or be framed as a page. Answers hold one
person's data or evaluations, so nothing is ever cached.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.exceptions import HTTPException as StarletteHTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: RFC 9457 problem types: a tag URI, so no problem type resolves to a page anywhere.
PROBLEM_BASE = "tag:notalone,2026:problem/"
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


def problem_response(
    status: int,
    kind: str | None,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An RFC 9457 `application/problem+json` response; `kind` None means `about:blank`.

    `detail` must never quote the request: callers pass fixed sentences.
    """
    body = {
        "type": PROBLEM_BASE + kind if kind else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    # The security headers are set here too: a 500 is built outside every middleware.
    return JSONResponse(
        body,
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers={**SECURITY_HEADERS, **(headers or {})},
    )


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
    `advice` is appended to the 413's detail (what to send instead).
    """

    def __init__(self, app: ASGIApp, limit: int, advice: str = "") -> None:
        self.app = app
        self.limit = limit
        self.advice = advice

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
        detail = f"a request body is at most {self.limit} bytes" + (
            f"; {self.advice}" if self.advice else ""
        )
        response = problem_response(413, "body-too-large", "Request body too large", detail)
        await response(scope, receive, send)


async def validation_problem(_: Request, error: Exception) -> JSONResponse:
    """400 for a request FastAPI could not validate: where and what, never the input, which
    may be a ticket, an element, a key or a username."""
    assert isinstance(error, RequestValidationError)  # noqa: S101 - registered for it only.
    problems = [
        f"{'.'.join(str(part) for part in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
        for e in error.errors()
    ]
    return problem_response(400, "invalid-request", "Invalid request", "; ".join(problems[:5]))


async def http_problem(_: Request, error: Exception) -> JSONResponse:
    """Starlette's own errors (404, 405) as problems; they carry fixed texts."""
    assert isinstance(error, StarletteHTTPException)  # noqa: S101 - registered for it only.
    title = str(error.detail)
    return problem_response(error.status_code, None, title, title, dict(error.headers or {}))


def unexpected_problem(
    logger: logging.Logger, detail: str
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """A handler for any other exception: a 500 with `detail`, and a log line naming the
    exception's class only (a message or traceback might quote the request, and a
    database error quotes the values it refused)."""

    async def handle(_: Request, error: Exception) -> JSONResponse:
        logger.error("internal error while handling a request: %s", type(error).__name__)
        return problem_response(500, None, "Internal Server Error", detail)

    return handle


# -- the key-server API's schema -----------------------------------------------------------
# Served by the key servers (notalone.keyserver.app) and documented again by the escrow's
# same-origin relay (notalone.web.api.keyservers), which passes the bodies unchanged.

#: Blinded elements per evaluation request.
MAX_BATCH = 64
MAX_TICKET_CHARS = 1024

Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class EvaluateRequest(BaseModel):
    """A batch of blinded elements and the escrow's ticket for them."""

    model_config = ConfigDict(extra="forbid")

    ticket: Annotated[str, StringConstraints(max_length=MAX_TICKET_CHARS)] = Field(
        description="The evaluation ticket the escrow issued, as lower-case hex (135 bytes)."
    )
    blinded_elements: Annotated[list[Hex32], Field(min_length=1, max_length=MAX_BATCH)] = Field(
        description="RFC 9497 blinded elements (32-byte ristretto255 encodings, hex)."
    )


class EvaluateResponse(BaseModel):
    """Z_i = k_i·B for each blinded element, in order, and one batch DLEQ proof."""

    index: int
    evaluated_elements: list[str]
    proof: str


class ShareEntry(BaseModel):
    """One key server of the federation."""

    index: int
    public_key: str


class KeyServerFederation(BaseModel):
    """τ, pk = k·G and every (i, pk_i)."""

    threshold: int
    public_key: str
    shares: list[ShareEntry]


class KeysResponse(BaseModel):
    """This key server's public key and what it knows of its federation and deployment."""

    index: int
    public_key: str
    federation: KeyServerFederation
    deployment_id: str
    ticket_public_key: str
    ticket_period_ms: int
    suite: str
    mode: int
