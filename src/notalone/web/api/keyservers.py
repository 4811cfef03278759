"""A same-origin relay to the deployment's key servers, for the survivor's pages.

    GET  /v1/keyservers/{position}/keys       the key server's own GET /v1/keys
    POST /v1/keyservers/{position}/evaluate   the key server's own POST /v1/evaluate

`position` is the key server's 0-based place in /v1/deployment's `key_servers`.

Why a relay: the pages may talk to their own origin only (CSP `connect-src 'self'`), and
the key servers live elsewhere. Relaying gives the escrow nothing it does not already
have: blinded elements are uniformly random group elements (RFC 9497), the ticket is the
escrow's own, and the page checks every evaluation's DLEQ proof against the share public
key from /v1/deployment, so a relay that altered an answer would be caught and the key
server named, exactly as with a key server that lies. The SDK and CLI keep talking to
the key servers directly.

Bodies go through byte for byte; they are neither parsed nor logged. The key server's
status, its JSON or problem+json body and its Retry-After pass back unchanged. A key
server that does not answer in time is a 502 problem naming its position only.
"""

from __future__ import annotations

import ssl
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from notalone.serving import EvaluateRequest, EvaluateResponse, KeysResponse, problem_response
from notalone.web.auth import settings_of
from notalone.web.problems import problem_doc

#: How long the relay waits for a key server (connect, then the whole answer).
RELAY_TIMEOUT_S = 10.0
#: A key server's answer to an evaluation of 64 elements is about 9 KB.
MAX_ANSWER_BYTES = 64 * 1024
_PASSED_HEADERS = ("content-type", "retry-after")

Position = Annotated[int, Path(ge=0, le=15)]


class KeyServerRelay:
    """The relay's routes and its HTTP client: one per app, its connections to the key
    servers kept alive between requests (a new client per request cost ~25 ms, most of
    it loading the CA bundle). `aclose()` at the app's shutdown; `transport` replaces
    the network in tests."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                verify=ssl.create_default_context(),
                timeout=RELAY_TIMEOUT_S,
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        """Close the connections to the key servers (the next request opens new ones)."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def router(self) -> APIRouter:
        """The relay routes."""
        router = APIRouter(tags=["key-server relay"])
        responses: dict[int | str, dict[str, Any]] = {
            404: problem_doc("There is no key server at this position."),
            502: problem_doc("The key server did not answer, or answered too much."),
        }
        # The key server's own answers pass through unchanged (docs/keyserver.md).
        evaluate_responses: dict[int | str, dict[str, Any]] = {
            200: {"model": EvaluateResponse, "description": "The key server's evaluation."},
            400: problem_doc("The key server found the body malformed."),
            401: problem_doc("The key server refused the ticket."),
            413: problem_doc("The body is too large for the key server."),
            422: problem_doc("The key server refused an element."),
            429: problem_doc("The ticket's quota at this key server is spent."),
            **responses,
        }
        # The body is relayed as bytes (the key server checks it); this documents it.
        evaluate_body = {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": EvaluateRequest.model_json_schema()}},
            }
        }

        @router.get(
            "/v1/keyservers/{position}/keys",
            responses={200: {"model": KeysResponse, "description": "The keys."}, **responses},
        )
        async def keys(position: Position, request: Request) -> Response:
            """The key server's public keys (relayed)."""
            return await self._relay(request, position, "GET", "/v1/keys", None)

        @router.post(
            "/v1/keyservers/{position}/evaluate",
            responses=evaluate_responses,
            openapi_extra=evaluate_body,
        )
        async def evaluate(position: Position, request: Request) -> Response:
            """An evaluation of blinded elements by the key server (relayed)."""
            body = await request.body()
            return await self._relay(request, position, "POST", "/v1/evaluate", body)

        return router

    async def _relay(
        self, request: Request, position: int, method: str, path: str, body: bytes | None
    ) -> Response:
        servers = settings_of(request).key_servers
        if position >= len(servers):
            return problem_response(
                404, "not-found", "Not Found", "there is no key server at this position"
            )
        url = servers[position].rstrip("/") + path
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            async with self._http().stream(method, url, content=body, headers=headers) as answer:
                content = await _read_capped(answer)
        except httpx.HTTPError:
            # Which error it was stays out of the answer and the logs: it may quote a URL.
            return problem_response(
                502,
                "key-server-unavailable",
                "Key server unavailable",
                f"key server {position} did not answer; the others may still be enough",
            )
        passed = {k: answer.headers[k] for k in _PASSED_HEADERS if k in answer.headers}
        return Response(content, status_code=answer.status_code, headers=passed)


async def _read_capped(answer: httpx.Response) -> bytes:
    received = bytearray()
    async for chunk in answer.aiter_bytes():
        received += chunk
        if len(received) > MAX_ANSWER_BYTES:
            raise httpx.DecodingError("the key server's answer is too large")
    return bytes(received)
