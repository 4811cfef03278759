"""The counselor registry and counselors' inboxes.

    GET  /v1/counselors         public: {counselors: [{id, display_name, public_key,
                                fingerprint, vouching_signature}]}
    POST /v1/counselors         operator: {id, display_name, public_key, notify_email?}
                                → 201 {id, token}
    GET  /v1/counselor/inbox    counselor token: {items: [{match_id, slot_id, inner,
                                created_at_ms, other_counselors}]}

The vouching signature is the operator's Ed25519 signature over "notalone/v1/counselor"
‖ u8 len(id) ‖ id ‖ public_key, checkable with the deployment's `vouching_public_key`.
The token is shown once; only its hash is stored. Operator writes are not replayed with
Idempotency-Key (the idempotency table is keyed by account); registering the same id
again is a 409.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, StringConstraints

from notalone.services.escrow import (
    MAX_DISPLAY_NAME_CHARS,
    MAX_NOTIFY_EMAIL_CHARS,
    counselor_fingerprint,
)
from notalone.web.api.common import AUTH_PROBLEMS, Hex32, Strict, json_response
from notalone.web.auth import current_counselor, escrow_of, require_operator
from notalone.web.problems import problem_doc


class CounselorRequest(Strict):
    """A counselor to vouch for: a public id, a name to show, their X25519 public key."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_DISPLAY_NAME_CHARS)]
    public_key: Hex32
    #: The counselor's work address for "you have a new match" emails; write-only: no
    #: route returns it (survivors read GET /v1/counselors).
    notify_email: (
        Annotated[str, StringConstraints(min_length=3, max_length=MAX_NOTIFY_EMAIL_CHARS)] | None
    ) = None


class CounselorCreated(BaseModel):
    """The counselor registered and their inbox token (shown once)."""

    id: str
    token: str


class CounselorModel(BaseModel):
    """A counselor a survivor may choose."""

    id: str
    display_name: str
    public_key: str
    fingerprint: str
    vouching_signature: str


class CounselorsResponse(BaseModel):
    """Every counselor, by id."""

    counselors: list[CounselorModel]


class InboxItemModel(BaseModel):
    """A sealed package (open it with `protocol.slots.open_package`)."""

    match_id: str
    slot_id: str
    inner: str
    created_at_ms: int
    other_counselors: list[str]


class InboxResponse(BaseModel):
    """The counselor's packages, oldest first."""

    items: list[InboxItemModel]


def counselors_router() -> APIRouter:
    """The counselor routes (built per app: no module-level router)."""
    router = APIRouter(tags=["counselors"])

    @router.get("/v1/counselors", response_model=CounselorsResponse)
    def list_counselors(request: Request) -> Response:
        """Every counselor with their key, its fingerprint and the operator's vouching."""
        return json_response(
            {
                "counselors": [
                    {
                        "id": c.id,
                        "display_name": c.display_name,
                        "public_key": c.public_key.hex(),
                        "fingerprint": counselor_fingerprint(c.public_key),
                        "vouching_signature": c.vouching_signature.hex(),
                    }
                    for c in escrow_of(request).counselors()
                ]
            }
        )

    @router.post(
        "/v1/counselors",
        status_code=201,
        response_model=CounselorCreated,
        dependencies=[Depends(require_operator)],
        responses={
            **AUTH_PROBLEMS,
            409: problem_doc("A counselor has this id or public key."),
            422: problem_doc("The id, name, key or notify_email is refused."),
        },
    )
    def register_counselor(body: CounselorRequest, request: Request) -> Response:
        """Operator: vouch for a counselor's key; returns their inbox token once."""
        made = escrow_of(request).register_counselor(
            body.id, body.display_name, bytes.fromhex(body.public_key), body.notify_email
        )
        return json_response({"id": made.counselor.id, "token": made.token}, status=201)

    @router.get("/v1/counselor/inbox", response_model=InboxResponse, responses=AUTH_PROBLEMS)
    def inbox(
        request: Request, counselor_id: Annotated[str, Depends(current_counselor)]
    ) -> Response:
        """The sealed packages of the matches that name this counselor."""
        return json_response(
            {
                "items": [
                    {
                        "match_id": item.match_id.hex(),
                        "slot_id": item.slot_id.hex(),
                        "inner": item.inner.hex(),
                        "created_at_ms": item.created_at_ms,
                        "other_counselors": list(item.other_counselors),
                    }
                    for item in escrow_of(request).inbox(counselor_id)
                ]
            }
        )

    return router
