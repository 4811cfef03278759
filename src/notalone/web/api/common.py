"""What every API module shares: strict request models, hex types, JSON bodies, the
Idempotency-Key handling and the problem documentation of authenticated routes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, StringConstraints

from notalone.services.accounts import MAX_IDEMPOTENCY_KEY_CHARS, check_idempotency_key
from notalone.web.auth import services_of
from notalone.web.problems import problem_doc

JSON_MEDIA_TYPE = "application/json"
Hex16 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
IdempotencyKeyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=MAX_IDEMPOTENCY_KEY_CHARS)
]


class Strict(BaseModel):
    """A request model that refuses unknown fields."""

    model_config = ConfigDict(extra="forbid")


def json_body(payload: dict[str, Any]) -> bytes:
    """Compact JSON with sorted keys: the same payload is always the same bytes."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def json_response(payload: dict[str, Any], status: int = 200) -> Response:
    """A JSON response whose bytes depend only on `payload` and `status`."""
    return Response(json_body(payload), status_code=status, media_type=JSON_MEDIA_TYPE)


def idempotent(
    request: Request,
    key: str | None,
    scope: Callable[[], bytes | None],
    payload: BaseModel,
    run: Callable[[], tuple[bytes, int, bytes]],
) -> Response:
    """Run a write at most once per Idempotency-Key.

    `scope()` is the account the key belongs to (None: not yet known, so nothing can be
    replayed); `run()` performs the write and returns (account id, status, JSON body).
    """
    idempotency = services_of(request).idempotency
    if key is None:
        _, status, body = run()
        return Response(body, status_code=status, media_type=JSON_MEDIA_TYPE)
    check_idempotency_key(key)
    route = getattr(request.scope.get("route"), "path", request.url.path)
    request_hash = idempotency.request_hash(
        request.method, route, payload.model_dump_json().encode()
    )
    account_id = scope()
    if account_id is not None:
        stored = idempotency.replay(account_id, key, request_hash)
        if stored is not None:
            return Response(
                stored.body,
                status_code=stored.status,
                media_type=JSON_MEDIA_TYPE,
                headers={"Idempotent-Replayed": "true"},
            )
    account_id, status, body = run()
    stored = idempotency.remember(account_id, key, request_hash, status, body)
    return Response(stored.body, status_code=stored.status, media_type=JSON_MEDIA_TYPE)


AUTH_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: problem_doc("The body is not a well-formed request."),
    401: problem_doc("No valid session (or operator or counselor token)."),
    413: problem_doc("The body is too large."),
}
