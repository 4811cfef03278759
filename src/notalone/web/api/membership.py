"""Membership tokens (docs/protocol.md §15, docs/escrow-api.md "Membership tokens").

    GET  /v1/organizations/{id}/issuer     public: {organization_id, public_key, suite,
                                           mode, tokens_per_period, period}
    POST /v1/organization/member-codes     org admin: {email} → 202 {queued: true}
                                           (the code goes only by email)
    POST /v1/membership/tokens             {organization_id, code, blinded: [hex…]}
                                           → {evaluated: [hex…], proof: hex}

Registration with a token is `POST /v1/accounts` with `membership_token` (web/api/
accounts.py). The issuance route is deliberately not tied to any session: a member asks
for tokens anonymously, with the code only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StringConstraints

from notalone.protocol.membership import MAX_BATCH, period_of
from notalone.services.membership import MembershipService
from notalone.web.api.common import AUTH_PROBLEMS, Hex16, Strict, json_response
from notalone.web.auth import OrgAdminPrincipal, current_org_admin, services_of, settings_of
from notalone.web.problems import problem_doc

OrganizationId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
HexElement = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
# Addresses are checked by the service (email-validator); only the size is bounded here.
EmailText = Annotated[str, StringConstraints(min_length=3, max_length=254)]
CodeText = Annotated[str, StringConstraints(min_length=1, max_length=64)]


def membership_of(request: Request) -> MembershipService:
    """The membership service (the routes are mounted only with one)."""
    membership = services_of(request).membership
    assert membership is not None  # noqa: S101 - routes are mounted only with the service.
    return membership


class IssuerResponse(BaseModel):
    """An organization's issuer public key and the issuance rules."""

    organization_id: str
    public_key: str
    suite: str = "ristretto255-SHA512"
    mode: int = 1
    tokens_per_period: int
    period: str


class MemberCodeRequest(Strict):
    """The work address to mail a member code to."""

    email: EmailText


class QueuedResponse(BaseModel):
    """The code's mail is owed (it is sent by the notifier)."""

    queued: bool


class TokensRequest(Strict):
    """A member code and the blinded elements to evaluate."""

    organization_id: Hex16
    code: CodeText
    blinded: list[HexElement] = Field(min_length=1, max_length=MAX_BATCH)


class TokensResponse(BaseModel):
    """The evaluated elements, in the order asked, and one DLEQ proof for all."""

    evaluated: list[str]
    proof: str


def membership_router() -> APIRouter:
    """The membership-token routes (built per app)."""
    router = APIRouter(tags=["membership"])

    @router.get(
        "/v1/organizations/{organization_id}/issuer",
        response_model=IssuerResponse,
        responses={404: problem_doc("There is no such organization.")},
    )
    def issuer(organization_id: OrganizationId, request: Request) -> IssuerResponse:
        """Public: the organization's VOPRF issuer key (the same for every member)."""
        membership = membership_of(request)
        public_key = membership.issuer_public_key(bytes.fromhex(organization_id))
        return IssuerResponse(
            organization_id=organization_id,
            public_key=public_key.hex(),
            tokens_per_period=membership.policy.tokens_per_period,
            period=period_of(settings_of(request).clock_ms()),
        )

    @router.post(
        "/v1/organization/member-codes",
        status_code=202,
        response_model=QueuedResponse,
        responses={**AUTH_PROBLEMS, 422: problem_doc("The address is not a plain email address.")},
    )
    def member_code(
        body: MemberCodeRequest,
        request: Request,
        admin: Annotated[OrgAdminPrincipal, Depends(current_org_admin)],
    ) -> Response:
        """Org admin: mail a one-time member code to a work address; the admin never sees it."""
        membership_of(request).send_code(admin.organization_id, body.email)
        return json_response({"queued": True}, 202)

    @router.post(
        "/v1/membership/tokens",
        response_model=TokensResponse,
        responses={
            400: problem_doc("The body is not a well-formed request."),
            413: problem_doc("The body is too large."),
            422: problem_doc(
                "The code is unknown, expired or used (one answer), or an element is invalid."
            ),
            429: problem_doc("The member has received every token allowed this quarter."),
        },
    )
    def tokens(body: TokensRequest, request: Request) -> TokensResponse:
        """Spend a member code for blind-evaluated tokens (batched VOPRF with a DLEQ proof)."""
        evaluated, proof = membership_of(request).issue(
            bytes.fromhex(body.organization_id),
            body.code,
            [bytes.fromhex(b) for b in body.blinded],
        )
        return TokensResponse(evaluated=[e.hex() for e in evaluated], proof=proof.hex())

    return router
