"""The counselor console: enrollment in the browser, cases, case notes, formal reports.

    POST /v1/counselor-enrollments               operator: {counselor_id, display_name,
                                                 notify_email?, ttl_seconds?}
                                                 → 201 {code, expires_at_ms}
    POST /v1/counselor/enroll                    {code, public_key} → 201 {id, token,
                                                 fingerprint, vouching_signature}
    GET  /v1/counselor/cases                     counselor: {cases: [{match_id, state,
                                                 updated_at_ms, packages: [{slot_id, inner,
                                                 created_at_ms}], other_counselors: [{id,
                                                 display_name}]}]}
    PUT  /v1/counselor/cases/{match_id}/state    counselor: {state} → 200 the case
    POST /v1/counselor/cases/{match_id}/notes    counselor: {sealed} → 201 {id}
    GET  /v1/counselor/cases/{match_id}/notes    counselor: {notes: [{id, sealed,
                                                 created_at_ms}]}
    POST /v1/counselor/cases/{match_id}/reports  counselor: {organization_id, sealed}
                                                 → 201 {id}

Case routes take the counselor from their token; a match they hold no package of is a
404, the same answer as a match that does not exist. Notes are sealed in the browser to
the counselor's own key, reports to the organization's intake key (docs/protocol.md §13):
the escrow stores bytes it cannot open. The enrollment code is shown once; only its hash
is stored. Bodies are capped by the app's body limit (64 KiB by default), which bounds a
sealed note or report (hex) to a little under 32 KiB.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StringConstraints

from notalone.protocol.casework import MAX_SEALED_BYTES
from notalone.services.casework import (
    MAX_ENROLLMENT_TTL_MS,
    CaseView,
    CaseworkService,
)
from notalone.services.escrow import MAX_DISPLAY_NAME_CHARS, MAX_NOTIFY_EMAIL_CHARS
from notalone.web.api.common import AUTH_PROBLEMS, Hex16, Hex32, Strict, json_response
from notalone.web.auth import current_counselor, require_operator, services_of
from notalone.web.problems import problem_doc

MatchId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
CounselorId = Annotated[str, Depends(current_counselor)]
SealedHex = Annotated[
    str,
    StringConstraints(min_length=2, max_length=2 * MAX_SEALED_BYTES, pattern=r"^(?:[0-9a-f]{2})+$"),
]
_NOT_HELD = problem_doc("You hold no package of this match (or there is no such match).")


def casework_of(request: Request) -> CaseworkService:
    """The casework service (create_app mounts these routes only when there is one)."""
    casework = services_of(request).casework
    assert casework is not None  # noqa: S101 - routes are mounted only with the service.
    return casework


# --------------------------------------------------------------------------- models


class EnrollmentRequest(Strict):
    """Who the enrollment code is for, and how long it lasts (default 7 days)."""

    counselor_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_DISPLAY_NAME_CHARS)]
    #: The counselor's work address for "you have a new match" emails; write-only.
    notify_email: (
        Annotated[str, StringConstraints(min_length=3, max_length=MAX_NOTIFY_EMAIL_CHARS)] | None
    ) = None
    ttl_seconds: (
        Annotated[int, Field(strict=True, ge=1, le=MAX_ENROLLMENT_TTL_MS // 1000)] | None
    ) = None


class EnrollmentCreated(BaseModel):
    """The one-time code (shown once) and when it expires."""

    code: str
    expires_at_ms: int


class EnrollRequest(Strict):
    """The code the operator handed over and the X25519 key made in the browser."""

    code: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    public_key: Hex32


class Enrolled(BaseModel):
    """The counselor now registered: their token (shown once), fingerprint and vouching."""

    id: str
    token: str
    fingerprint: str
    vouching_signature: str


class PackageModel(BaseModel):
    """A sealed package of the case (open it with `protocol.slots.open_package`)."""

    slot_id: str
    inner: str
    created_at_ms: int


class OtherCounselor(BaseModel):
    """Another counselor holding packages of the same match (never their packages)."""

    id: str
    display_name: str


class CaseModel(BaseModel):
    """A counselor's case of one match."""

    match_id: str
    state: Literal["new", "contacted", "closed"]
    updated_at_ms: int
    packages: list[PackageModel]
    other_counselors: list[OtherCounselor]


class CasesResponse(BaseModel):
    """The counselor's cases, most recently updated first."""

    cases: list[CaseModel]


class StateRequest(Strict):
    """The state to move the case to (only forward)."""

    state: Literal["new", "contacted", "closed"]


class NoteRequest(Strict):
    """A note sealed in the browser to the counselor's own key (hex)."""

    sealed: SealedHex


class ReportRequest(Strict):
    """A report sealed in the browser to the organization's intake key (hex)."""

    organization_id: Hex16
    sealed: SealedHex


class Created(BaseModel):
    """The id of what was stored."""

    id: str


class NoteModel(BaseModel):
    """A sealed note."""

    id: str
    sealed: str
    created_at_ms: int


class NotesResponse(BaseModel):
    """The case's notes, oldest first."""

    notes: list[NoteModel]


def _case(view: CaseView) -> dict[str, object]:
    return {
        "match_id": view.match_id.hex(),
        "state": view.state,
        "updated_at_ms": view.updated_at_ms,
        "packages": [
            {"slot_id": p.slot_id.hex(), "inner": p.inner.hex(), "created_at_ms": p.created_at_ms}
            for p in view.packages
        ],
        "other_counselors": [{"id": i, "display_name": n} for i, n in view.other_counselors],
    }


def casework_router() -> APIRouter:
    """The counselor console's routes (built per app: no module-level router)."""
    router = APIRouter(tags=["counselor console"])

    @router.post(
        "/v1/counselor-enrollments",
        status_code=201,
        response_model=EnrollmentCreated,
        dependencies=[Depends(require_operator)],
        responses={
            **AUTH_PROBLEMS,
            409: problem_doc("A counselor has this id already."),
            422: problem_doc("The id, name, notify_email or lifetime is refused."),
        },
    )
    def create_enrollment(body: EnrollmentRequest, request: Request) -> Response:
        """Operator: a one-time code for a counselor to enroll their browser-made key."""
        made = casework_of(request).create_enrollment(
            body.counselor_id,
            body.display_name,
            body.notify_email,
            None if body.ttl_seconds is None else body.ttl_seconds * 1000,
        )
        return json_response({"code": made.code, "expires_at_ms": made.expires_at_ms}, status=201)

    @router.post(
        "/v1/counselor/enroll",
        status_code=201,
        response_model=Enrolled,
        responses={
            400: problem_doc("The body is not a well-formed request."),
            409: problem_doc("A counselor has this id or public key already; nothing changed."),
            413: problem_doc("The body is too large."),
            422: problem_doc("The code is unknown, used or expired, or the key is refused."),
        },
    )
    def enroll(body: EnrollRequest, request: Request) -> Response:
        """Counselor: redeem the operator's code with the key made in this browser."""
        made = casework_of(request).enroll(body.code, bytes.fromhex(body.public_key))
        return json_response(
            {
                "id": made.counselor.id,
                "token": made.token,
                "fingerprint": made.fingerprint,
                "vouching_signature": made.counselor.vouching_signature.hex(),
            },
            status=201,
        )

    @router.get("/v1/counselor/cases", response_model=CasesResponse, responses=AUTH_PROBLEMS)
    def cases(request: Request, counselor_id: CounselorId) -> Response:
        """The counselor's cases with their sealed packages."""
        return json_response(
            {"cases": [_case(v) for v in casework_of(request).cases(counselor_id)]}
        )

    @router.put(
        "/v1/counselor/cases/{match_id}/state",
        response_model=CaseModel,
        responses={
            **AUTH_PROBLEMS,
            404: _NOT_HELD,
            409: problem_doc("The case is already in this state or a later one."),
        },
    )
    def set_state(
        match_id: MatchId, body: StateRequest, request: Request, counselor_id: CounselorId
    ) -> Response:
        """Move the case forward: new → contacted → closed."""
        view = casework_of(request).set_state(counselor_id, bytes.fromhex(match_id), body.state)
        return json_response(_case(view))

    @router.post(
        "/v1/counselor/cases/{match_id}/notes",
        status_code=201,
        response_model=Created,
        responses={**AUTH_PROBLEMS, 404: _NOT_HELD, 422: problem_doc("The note is refused.")},
    )
    def add_note(
        match_id: MatchId, body: NoteRequest, request: Request, counselor_id: CounselorId
    ) -> Response:
        """Store a note sealed to the counselor's own key."""
        note_id = casework_of(request).add_note(
            counselor_id, bytes.fromhex(match_id), bytes.fromhex(body.sealed)
        )
        return json_response({"id": note_id.hex()}, status=201)

    @router.get(
        "/v1/counselor/cases/{match_id}/notes",
        response_model=NotesResponse,
        responses={**AUTH_PROBLEMS, 404: _NOT_HELD},
    )
    def notes(match_id: MatchId, request: Request, counselor_id: CounselorId) -> Response:
        """The case's sealed notes, oldest first."""
        return json_response(
            {
                "notes": [
                    {"id": n.id.hex(), "sealed": n.sealed.hex(), "created_at_ms": n.created_at_ms}
                    for n in casework_of(request).notes(counselor_id, bytes.fromhex(match_id))
                ]
            }
        )

    @router.post(
        "/v1/counselor/cases/{match_id}/reports",
        status_code=201,
        response_model=Created,
        responses={
            **AUTH_PROBLEMS,
            404: _NOT_HELD,
            422: problem_doc("The organization has no intake key, or the report is refused."),
        },
    )
    def send_report(
        match_id: MatchId, body: ReportRequest, request: Request, counselor_id: CounselorId
    ) -> Response:
        """Send a formal report, sealed to the organization's intake key."""
        report_id = casework_of(request).send_report(
            counselor_id,
            bytes.fromhex(match_id),
            bytes.fromhex(body.organization_id),
            bytes.fromhex(body.sealed),
        )
        return json_response({"id": report_id.hex()}, status=201)

    return router
