"""RFC 9457 problem details: the one place where NotAlone errors become HTTP statuses.

    ConflictError      409   a taken username, an Idempotency-Key reused for another request,
                             a record version that is not the next one
    NotFoundError      404   no such entry or record of the caller's (missing and someone
                             else's get the same answer)
    InputError         422   well-formed JSON whose content the rules refuse (400 for shape)
    VersionError       400   an unknown version marker
    VerificationError  401   a failed login or a missing, expired or revoked session
    LimitError         429   with Retry-After when known
    NotAloneError      500   without detail
    anything else      500   without detail; only the class name is logged

A problem never echoes the request: validation problems name the field and the rule, and
error messages are written never to contain a secret (notalone.errors). A database
exception is never passed on: its text quotes the values it refused.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from notalone.errors import (
    ConflictError,
    InputError,
    LimitError,
    NotAloneError,
    VerificationError,
    VersionError,
)
from notalone.services.escrow import NotFoundError
from notalone.serving import (
    PROBLEM_MEDIA_TYPE,
    http_problem,
    problem_response,
    unexpected_problem,
    validation_problem,
)

logger = logging.getLogger("notalone.web")

#: What a client is told to send when it is not authenticated.
WWW_AUTHENTICATE = 'Bearer realm="notalone"'


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    type: str
    title: str
    status: int
    detail: str


def problem_doc(description: str) -> dict[str, Any]:
    """An OpenAPI `responses` entry for a problem."""
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": Problem.model_json_schema()}},
    }


def response_for(error: NotAloneError) -> JSONResponse:  # noqa: PLR0911 - one per status.
    """The problem response for a NotAlone error."""
    if isinstance(error, ConflictError):
        return problem_response(409, "conflict", "Conflict", str(error))
    if isinstance(error, NotFoundError):
        return problem_response(404, "not-found", "Not Found", str(error))
    if isinstance(error, InputError):
        return problem_response(422, "invalid-input", "Invalid input", str(error))
    if isinstance(error, VersionError):
        return problem_response(400, "unknown-version", "Unknown version", str(error))
    if isinstance(error, VerificationError):
        return problem_response(
            401,
            "unauthorized",
            "Unauthorized",
            str(error),
            headers={"WWW-Authenticate": WWW_AUTHENTICATE},
        )
    if isinstance(error, LimitError):
        headers = {}
        if error.retry_after_seconds is not None:
            headers["Retry-After"] = str(error.retry_after_seconds)
        return problem_response(429, "limit", "Too many requests", str(error), headers=headers)
    # Any other NotAlone error is a fault of the server, not of the request.
    logger.error("internal error while handling a request: %s", type(error).__name__)
    return problem_response(500, None, "Internal Server Error", "the server failed; retry later")


async def _on_notalone_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, NotAloneError)  # noqa: S101 - registered for NotAloneError only.
    return response_for(error)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of `app` an RFC 9457 problem."""
    app.add_exception_handler(NotAloneError, _on_notalone_error)
    app.add_exception_handler(RequestValidationError, validation_problem)
    app.add_exception_handler(StarletteHTTPException, http_problem)
    app.add_exception_handler(
        Exception, unexpected_problem(logger, "the server failed; retry later")
    )


#: FastAPI's own validation models, which its generated document names for every 422;
#: this app answers a request that fails validation with a 400 problem instead.
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def document_problems(schema: dict[str, Any]) -> None:
    """Make an OpenAPI document say which problems the app really answers, in place.

    Every operation may get a 400 (a parameter or the body fails validation,
    `validation_problem`); every operation with a body may get a 413 (the body limit);
    and every documented 422 is an RFC 9457 problem rather than FastAPI's default
    `HTTPValidationError`, which the app never sends. Without this, clients and schema
    checkers (tests/security/test_openapi_fuzzing.py) would be told the wrong shapes.
    """
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            responses.setdefault(
                "400", problem_doc("A parameter or the body does not match this schema.")
            )
            if "requestBody" in operation:
                responses.setdefault("413", problem_doc("The body is too large."))
            refused = responses.get("422")
            if refused is not None and PROBLEM_MEDIA_TYPE not in refused.get("content", {}):
                responses["422"] = problem_doc("A value is refused.")
    components = schema.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        components.pop(name, None)


def install_problem_docs(app: FastAPI) -> None:
    """Post-process `app`'s OpenAPI document with `document_problems`, once."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_problems(generate())
        return app.openapi_schema  # type: ignore[return-value]  # set by generate()

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented hook
