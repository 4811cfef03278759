"""The key server's HTTP API: one share of the threshold VOPRF, behind evaluation tickets.

    GET  /v1/keys      this server's index and pk_i, the federation, the deployment
    POST /v1/evaluate  {"ticket", "blinded_elements": [...]} → Z_i for each, one DLEQ proof
    GET  /healthz      {"status": "ok"}

Every error is an RFC 9457 problem (`application/problem+json`). A request is checked
in this order, so that nothing is spent on a request that will be refused: body size
(413), shape (400), ticket (401), elements (422), quota (429, with Retry-After), and only
then evaluated. The quota is consumed before the evaluation, for the whole batch or not
at all.

Nothing here logs or returns a ticket pseudonym, an element or a key: refusals are logged
by reason only, and client addresses are not logged at all (the CLI turns uvicorn's
access log off).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from notalone.crypto import group, threshold
from notalone.errors import (
    EncodingError,
    InvalidElementError,
    SignatureError,
    TicketError,
    VersionError,
)
from notalone.keyserver.keyfile import MODE, SUITE, KeyServerKey
from notalone.protocol import tickets
from notalone.serving import (
    PROBLEM_MEDIA_TYPE,
    BodyLimitMiddleware,
    EvaluateRequest,
    EvaluateResponse,
    KeyServerFederation,
    KeysResponse,
    SecurityHeadersMiddleware,
    ShareEntry,
    http_problem,
    problem_response,
    unexpected_problem,
    validation_problem,
)
from notalone.storage.quota import QuotaStore

logger = logging.getLogger("notalone.keyserver")

MAX_BODY_BYTES = 64 * 1024
# Room for a hex ticket; a longer string is not a ticket, whatever it holds.


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class KeyServerSettings:
    """Everything a key server needs, read once at the edge and passed in."""

    key: KeyServerKey
    clock_ms: Callable[[], int] = _wall_clock_ms
    skew_ms: int = tickets.DEFAULT_SKEW_MS
    max_ticket_lifetime_ms: int = tickets.MAX_LIFETIME_MS


# --------------------------------------------------------------------------- schema


class HealthResponse(BaseModel):
    """Liveness."""

    status: str


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    type: str
    title: str
    status: int
    detail: str


def _problem_doc(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": Problem.model_json_schema()}},
    }


# --------------------------------------------------------------------------- errors


class ProblemError(Exception):
    """A refusal to send as an RFC 9457 problem."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.headers = headers or {}


async def _on_problem(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ProblemError)  # noqa: S101 - registered for ProblemError only.
    return problem_response(error.status, error.kind, error.title, error.detail, error.headers)


# --------------------------------------------------------------------------- the app


class _Pruner:
    """Deletes quota counts once no acceptable ticket can name their period any more."""

    def __init__(self, store: QuotaStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._kept_from = -1

    def maybe_prune(self, oldest_live_period: int) -> None:
        with self._lock:
            if oldest_live_period <= self._kept_from:
                return
            self._kept_from = oldest_live_period
        removed = self._store.prune(oldest_live_period)
        logger.info("quota store: forgot %d count(s) of past periods", removed)


def create_app(settings: KeyServerSettings, quota_store: QuotaStore) -> FastAPI:
    """Build a key server for the share in `settings.key`, counting in `quota_store`."""
    key = settings.key
    deployment = key.deployment
    pruner = _Pruner(quota_store)
    keys_body = KeysResponse(
        index=key.share.index,
        public_key=key.share.public_key.hex(),
        federation=KeyServerFederation(
            threshold=key.federation.threshold,
            public_key=key.federation.public_key.hex(),
            shares=[
                ShareEntry(index=i, public_key=pk.hex())
                for i, pk in key.federation.share_public_keys
            ],
        ),
        deployment_id=deployment.deployment_id.hex(),
        ticket_public_key=deployment.ticket_public_key.hex(),
        ticket_period_ms=deployment.ticket_period_ms,
        suite=SUITE,
        mode=MODE,
    )

    app = FastAPI(
        title=f"NotAlone key server {key.share.index}",
        version="1",
        description=(
            "One share of a NotAlone deployment's threshold VOPRF (RFC 9497, "
            "ristretto255-SHA512, mode 1). Evaluations need an evaluation ticket signed by "
            "the escrow and count against the ticket's per-period quota."
        ),
        # Swagger UI and ReDoc load scripts from a CDN; a key server serves none.
        docs_url=None,
        redoc_url=None,
    )
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, validation_problem)
    app.add_exception_handler(StarletteHTTPException, http_problem)
    app.add_exception_handler(
        Exception, unexpected_problem(logger, "the key server failed; try another key server")
    )
    # The last added runs first: security headers wrap even the 413 of the body limit.
    app.add_middleware(
        BodyLimitMiddleware, limit=MAX_BODY_BYTES, advice="send fewer elements per batch"
    )
    app.add_middleware(SecurityHeadersMiddleware)

    @app.get("/healthz", response_model=HealthResponse, tags=["operations"])
    def healthz() -> HealthResponse:
        """Liveness: the process answers."""
        return HealthResponse(status="ok")

    @app.get("/v1/keys", response_model=KeysResponse, tags=["oprf"])
    def keys() -> KeysResponse:
        """This key server's share public key, its federation and deployment settings."""
        return keys_body

    @app.post(
        "/v1/evaluate",
        response_model=EvaluateResponse,
        tags=["oprf"],
        responses={
            400: _problem_doc(
                "The body is not a well-formed request, or holds 0 or > 64 elements."
            ),
            401: _problem_doc("The ticket is malformed, not the escrow's, expired or early."),
            413: _problem_doc(f"The body is larger than {MAX_BODY_BYTES} bytes."),
            422: _problem_doc("An element is the identity or not a canonical encoding."),
            429: _problem_doc("The ticket's quota for this period is used up; see Retry-After."),
        },
    )
    def evaluate(request: EvaluateRequest) -> EvaluateResponse:
        """Evaluate a batch of blinded elements under this server's key share."""
        now_ms = settings.clock_ms()
        ticket = _verify(settings, request.ticket, now_ms)
        elements = _decode_elements(request.blinded_elements)
        count = len(elements)
        pruner.maybe_prune(
            max(0, now_ms - settings.max_ticket_lifetime_ms - settings.skew_ms)
            // deployment.ticket_period_ms
        )
        if not quota_store.consume(ticket.pseudonym, ticket.period, count, ticket.quota):
            retry_after = _seconds_until_period_end(ticket, deployment.ticket_period_ms, now_ms)
            logger.info("evaluation refused: quota of %d used up for this period", ticket.quota)
            raise ProblemError(
                429,
                "quota-exceeded",
                "Evaluation quota exceeded",
                f"this ticket allows {ticket.quota} evaluations per period and this batch "
                f"of {count} does not fit; retry after {retry_after} s with a new ticket",
                headers={"Retry-After": str(retry_after)},
            )
        result = threshold.evaluate_share(key.share, elements)
        logger.info("evaluated %d element(s)", count)
        return EvaluateResponse(
            index=result.index,
            evaluated_elements=[z.hex() for z in result.evaluated_elements],
            proof=result.proof.hex(),
        )

    return app


def _verify(settings: KeyServerSettings, ticket_hex: str, now_ms: int) -> tickets.Ticket:
    deployment = settings.key.deployment
    try:
        wire = bytes.fromhex(ticket_hex)
        return tickets.verify_ticket(
            deployment.ticket_public_key,
            deployment.deployment_id,
            wire,
            now_ms,
            skew_ms=settings.skew_ms,
            period_ms=deployment.ticket_period_ms,
            max_lifetime_ms=settings.max_ticket_lifetime_ms,
        )
    except ValueError as e:
        reason = "the ticket is not hex"
        raise _ticket_problem(reason) from e
    except (EncodingError, VersionError, SignatureError, TicketError) as e:
        raise _ticket_problem(str(e)) from e


def _ticket_problem(reason: str) -> ProblemError:
    logger.info("evaluation refused: %s", reason)
    return ProblemError(
        401,
        "invalid-ticket",
        "Invalid evaluation ticket",
        reason,
        headers={"WWW-Authenticate": 'NotAlone-Ticket realm="notalone"'},
    )


def _decode_elements(hex_elements: list[str]) -> list[bytes]:
    elements = []
    for position, text in enumerate(hex_elements):
        try:
            elements.append(group.decode_element(bytes.fromhex(text), "blinded element"))
        except InvalidElementError as e:
            logger.info("evaluation refused: invalid blinded element")
            raise ProblemError(
                422,
                "invalid-element",
                "Invalid blinded element",
                f"blinded_elements[{position}]: {e}",
            ) from e
    return elements


def _seconds_until_period_end(ticket: tickets.Ticket, period_ms: int, now_ms: int) -> int:
    end_ms = tickets.period_end_ms(ticket.period, period_ms)
    # At least 1 s: a ticket used just after its period ended should still wait a moment.
    return max(1, math.ceil((end_ms - now_ms) / 1000))
