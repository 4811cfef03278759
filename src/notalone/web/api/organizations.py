"""Organizations: the public list, admin enrollment, and what an admin manages.

    GET    /v1/organizations                 public: {organizations: [{id, name,
                                             intake_public_key|null}]}
    POST   /v1/organizations/{id}/admin-enrollments
                                             operator: {display_name, ttl_seconds?}
                                             → 201 {code, expires_at_ms}
    POST   /v1/organization/enroll           {code, intake_public_key} → 201 {admin_id,
                                             organization_id, token}
    GET    /v1/organization                  admin: {id, name, intake_public_key, admins}
    POST   /v1/organization/invites          admin: {count, max_uses, ttl_seconds?}
                                             → 201 {invites: [{code, max_uses, expires_at_ms}]}
    GET    /v1/organization/invites          admin: {invites: [{id, uses, max_uses,
                                             created_at_ms, expires_at_ms, revoked}]}
    DELETE /v1/organization/invites/{id}     admin: revoke → 204
    GET    /v1/organization/counselors       admin: {counselors: [{…, in_pool}]}
    PUT    /v1/organization/counselors/{id}  admin: add to the pool → 204
    DELETE /v1/organization/counselors/{id}  admin: remove from the pool → 204
    GET    /v1/organization/totals           admin: {quarters: [{quarter, entries, matches}]}
    GET    /v1/organization/reports          admin: {reports: [{id, match_id, counselor_id,
                                             counselor_name, sealed, created_at_ms}]}
    GET    /v1/account/counselors            survivor: the counselors they may choose

Admin routes take the organization from the admin's token, never from the request: an
admin cannot even name another organization's objects. An invite's id is the first 8
bytes of its code's hash (the code is shown once, at creation). Counts in totals below 5,
zero included, are the string "fewer than 5".
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StringConstraints

from notalone.services.accounts import MAX_INVITE_USES, Principal
from notalone.services.escrow import MAX_DISPLAY_NAME_CHARS, CounselorRecord, counselor_fingerprint
from notalone.services.organizations import INVITE_ID_BYTES
from notalone.web.api.common import AUTH_PROBLEMS, Hex32, Strict, json_response
from notalone.web.auth import (
    OrgAdminPrincipal,
    current_account,
    current_org_admin,
    organizations_of,
    require_operator,
    services_of,
)
from notalone.web.problems import problem_doc

OrganizationId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
InviteId = Annotated[str, Path(pattern=rf"^[0-9a-f]{{{2 * INVITE_ID_BYTES}}}$")]
CounselorId = Annotated[str, Path(min_length=1, max_length=64)]
Admin = Annotated[OrgAdminPrincipal, Depends(current_org_admin)]
Survivor = Annotated[Principal, Depends(current_account)]
_ADMIN_PROBLEMS = AUTH_PROBLEMS


# --------------------------------------------------------------------------- models


class PublicOrganization(BaseModel):
    """An organization and its intake key (null until its first admin enrolled)."""

    id: str
    name: str
    intake_public_key: str | None


class OrganizationsResponse(BaseModel):
    """Every organization, by name."""

    organizations: list[PublicOrganization]


class AdminEnrollmentRequest(Strict):
    """Who the enrollment code is for, and how long it lasts (default 7 days)."""

    display_name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_DISPLAY_NAME_CHARS)]
    ttl_seconds: int | None = Field(default=None, ge=1, le=90 * 24 * 3600)


class AdminEnrollmentResponse(BaseModel):
    """The one-time code, shown once: hand it to the admin in person."""

    code: str
    expires_at_ms: int


class EnrollRequest(Strict):
    """An enrollment code and the organization's intake key made in the admin's browser."""

    code: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    intake_public_key: Hex32


class EnrollResponse(BaseModel):
    """The admin enrolled and their token (shown once; kept in their vault)."""

    admin_id: str
    organization_id: str
    token: str


class AdminModel(BaseModel):
    """An admin, by name."""

    id: str
    display_name: str


class OrganizationView(BaseModel):
    """The admin's organization."""

    id: str
    name: str
    intake_public_key: str | None
    admins: list[AdminModel]


class InvitesRequest(Strict):
    """How many invite codes to make, and how each may be used."""

    count: int = Field(default=1, ge=1, le=100)
    max_uses: int = Field(default=1, ge=1, le=MAX_INVITE_USES)
    ttl_seconds: int | None = Field(default=30 * 24 * 3600, ge=1, le=10 * 365 * 24 * 3600)


class NewInviteModel(BaseModel):
    """An invite code, shown once: only its hash is stored."""

    code: str
    max_uses: int
    expires_at_ms: int | None


class NewInvitesResponse(BaseModel):
    """The invite codes created."""

    invites: list[NewInviteModel]


class InviteModel(BaseModel):
    """An invite, without its code."""

    id: str
    uses: int
    max_uses: int
    created_at_ms: int
    expires_at_ms: int | None
    revoked: bool


class InvitesResponse(BaseModel):
    """The organization's invites, oldest first."""

    invites: list[InviteModel]


class PoolCounselorModel(BaseModel):
    """A counselor and whether the organization's pool holds them."""

    id: str
    display_name: str
    public_key: str
    fingerprint: str
    vouching_signature: str
    in_pool: bool


class PoolResponse(BaseModel):
    """Every counselor, by id."""

    counselors: list[PoolCounselorModel]


class CounselorModel(BaseModel):
    """A counselor a survivor may choose (the shape of GET /v1/counselors)."""

    id: str
    display_name: str
    public_key: str
    fingerprint: str
    vouching_signature: str


class CounselorsResponse(BaseModel):
    """The counselors the survivor may choose, by id."""

    counselors: list[CounselorModel]


class QuarterModel(BaseModel):
    """One quarter's totals: a count of at least 5, or "fewer than 5"."""

    quarter: str
    entries: int | str
    matches: int | str


class TotalsResponse(BaseModel):
    """Totals per quarter since the organization was created, newest first."""

    quarters: list[QuarterModel]


class ReportModel(BaseModel):
    """A formal report, sealed to the organization's intake key (open it in the browser)."""

    id: str
    match_id: str
    counselor_id: str
    counselor_name: str
    sealed: str
    created_at_ms: int


class ReportsResponse(BaseModel):
    """The organization's reports, oldest first."""

    reports: list[ReportModel]


def _counselor(c: CounselorRecord) -> dict[str, str]:
    return {
        "id": c.id,
        "display_name": c.display_name,
        "public_key": c.public_key.hex(),
        "fingerprint": counselor_fingerprint(c.public_key),
        "vouching_signature": c.vouching_signature.hex(),
    }


# --------------------------------------------------------------------------- routes


def organizations_router() -> APIRouter:
    """The organization routes (built per app: no module-level router)."""
    router = APIRouter(tags=["organizations"])
    _public_routes(router)
    _admin_routes(router)
    _pool_routes(router)
    _report_routes(router)
    return router


def _public_routes(router: APIRouter) -> None:
    @router.get("/v1/organizations", response_model=OrganizationsResponse)
    def list_organizations(request: Request) -> Response:
        """Every organization with its intake key, for counselors sending reports."""
        return json_response(
            {
                "organizations": [
                    {
                        "id": o.id.hex(),
                        "name": o.name,
                        "intake_public_key": (
                            None if o.intake_public_key is None else o.intake_public_key.hex()
                        ),
                    }
                    for o in organizations_of(request).organizations()
                ]
            }
        )

    @router.post(
        "/v1/organizations/{organization_id}/admin-enrollments",
        status_code=201,
        response_model=AdminEnrollmentResponse,
        dependencies=[Depends(require_operator)],
        responses={
            **AUTH_PROBLEMS,
            404: problem_doc("There is no such organization."),
            422: problem_doc("The display name or lifetime is refused."),
        },
    )
    def create_admin_enrollment(
        organization_id: OrganizationId, body: AdminEnrollmentRequest, request: Request
    ) -> Response:
        """Operator: a one-time code an organization's admin enrolls with (hashed here)."""
        ttl_ms = None if body.ttl_seconds is None else body.ttl_seconds * 1000
        created = organizations_of(request).create_admin_enrollment(
            bytes.fromhex(organization_id), body.display_name, ttl_ms
        )
        return json_response({"code": created.code, "expires_at_ms": created.expires_at_ms}, 201)

    @router.post(
        "/v1/organization/enroll",
        status_code=201,
        response_model=EnrollResponse,
        responses={
            **AUTH_PROBLEMS,
            409: problem_doc("The organization has another intake key; nothing changed."),
            422: problem_doc("The code is not valid, used or expired, or the key is refused."),
        },
    )
    def enroll(body: EnrollRequest, request: Request) -> Response:
        """Redeem an enrollment code with the organization's intake key."""
        admin = organizations_of(request).enroll(body.code, bytes.fromhex(body.intake_public_key))
        return json_response(
            {
                "admin_id": admin.admin_id.hex(),
                "organization_id": admin.organization_id.hex(),
                "token": admin.token,
            },
            201,
        )

    @router.get(
        "/v1/account/counselors",
        response_model=CounselorsResponse,
        responses={401: problem_doc("No valid session.")},
    )
    def survivor_counselors(survivor: Survivor, request: Request) -> Response:
        """The counselors the survivor may choose: their organization's pool, or every
        counselor when the pool is empty."""
        chosen = organizations_of(request).counselors_for_survivor(survivor.organization_id)
        return json_response({"counselors": [_counselor(c) for c in chosen]})


def _admin_routes(router: APIRouter) -> None:
    @router.get("/v1/organization", response_model=OrganizationView, responses=_ADMIN_PROBLEMS)
    def organization(admin: Admin, request: Request) -> Response:
        """The admin's organization, its intake key and its admins."""
        found, admins = organizations_of(request).organization(admin.organization_id)
        return json_response(
            {
                "id": found.id.hex(),
                "name": found.name,
                "intake_public_key": (
                    None if found.intake_public_key is None else found.intake_public_key.hex()
                ),
                "admins": [{"id": a.id.hex(), "display_name": a.display_name} for a in admins],
            }
        )

    @router.post(
        "/v1/organization/invites",
        status_code=201,
        response_model=NewInvitesResponse,
        responses={**_ADMIN_PROBLEMS, 422: problem_doc("The count, uses or lifetime is refused.")},
    )
    def create_invites(admin: Admin, body: InvitesRequest, request: Request) -> Response:
        """Invite codes for the admin's organization, each shown here once."""
        ttl_ms = None if body.ttl_seconds is None else body.ttl_seconds * 1000
        invites = services_of(request).accounts.create_invites(
            admin.organization_id, body.count, body.max_uses, ttl_ms
        )
        return json_response(
            {
                "invites": [
                    {"code": i.code, "max_uses": i.max_uses, "expires_at_ms": i.expires_at_ms}
                    for i in invites
                ]
            },
            201,
        )

    @router.get(
        "/v1/organization/invites", response_model=InvitesResponse, responses=_ADMIN_PROBLEMS
    )
    def list_invites(admin: Admin, request: Request) -> Response:
        """The organization's invites, with their uses; never their codes."""
        invites = organizations_of(request).invites(admin.organization_id)
        return json_response(
            {
                "invites": [
                    {
                        "id": i.id,
                        "uses": i.uses,
                        "max_uses": i.max_uses,
                        "created_at_ms": i.created_at_ms,
                        "expires_at_ms": i.expires_at_ms,
                        "revoked": i.revoked,
                    }
                    for i in invites
                ]
            }
        )

    @router.delete(
        "/v1/organization/invites/{invite_id}",
        status_code=204,
        responses={**_ADMIN_PROBLEMS, 404: problem_doc("The organization has no such invite.")},
    )
    def revoke_invite(admin: Admin, invite_id: InviteId, request: Request) -> Response:
        """Revoke an invite: registration refuses it from now on (again: no-op)."""
        organizations_of(request).revoke_invite(admin.organization_id, invite_id)
        return Response(status_code=204)


def _pool_routes(router: APIRouter) -> None:
    @router.get(
        "/v1/organization/counselors", response_model=PoolResponse, responses=_ADMIN_PROBLEMS
    )
    def pool(admin: Admin, request: Request) -> Response:
        """Every counselor, each marked in or out of the organization's pool."""
        listed = organizations_of(request).counselors(admin.organization_id)
        return json_response(
            {"counselors": [{**_counselor(p.counselor), "in_pool": p.in_pool} for p in listed]}
        )

    @router.put(
        "/v1/organization/counselors/{counselor_id}",
        status_code=204,
        responses={
            **_ADMIN_PROBLEMS,
            404: problem_doc("There is no such counselor."),
            422: problem_doc("The counselor id is not well-formed."),
        },
    )
    def add_to_pool(admin: Admin, counselor_id: CounselorId, request: Request) -> Response:
        """Add a counselor to the pool (again: no-op)."""
        organizations_of(request).add_to_pool(admin.organization_id, counselor_id)
        return Response(status_code=204)

    @router.delete(
        "/v1/organization/counselors/{counselor_id}",
        status_code=204,
        responses={**_ADMIN_PROBLEMS, 422: problem_doc("The counselor id is not well-formed.")},
    )
    def remove_from_pool(admin: Admin, counselor_id: CounselorId, request: Request) -> Response:
        """Remove a counselor from the pool (absent: no-op). An empty pool means every
        counselor."""
        organizations_of(request).remove_from_pool(admin.organization_id, counselor_id)
        return Response(status_code=204)


def _report_routes(router: APIRouter) -> None:
    @router.get("/v1/organization/totals", response_model=TotalsResponse, responses=_ADMIN_PROBLEMS)
    def totals(admin: Admin, request: Request) -> Response:
        """Entries and matches per quarter; every count below 5 is "fewer than 5"."""
        quarters = organizations_of(request).totals(admin.organization_id)
        return json_response(
            {
                "quarters": [
                    {"quarter": q.quarter, "entries": q.entries, "matches": q.matches}
                    for q in quarters
                ]
            }
        )

    @router.get(
        "/v1/organization/reports", response_model=ReportsResponse, responses=_ADMIN_PROBLEMS
    )
    def reports(admin: Admin, request: Request) -> Response:
        """The organization's formal reports, sealed to its intake key."""
        found = organizations_of(request).reports(admin.organization_id)
        return json_response(
            {
                "reports": [
                    {
                        "id": r.id.hex(),
                        "match_id": r.match_id.hex(),
                        "counselor_id": r.counselor_id,
                        "counselor_name": r.counselor_name,
                        "sealed": r.sealed.hex(),
                        "created_at_ms": r.created_at_ms,
                    }
                    for r in found
                ]
            }
        )
