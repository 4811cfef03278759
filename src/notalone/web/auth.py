"""FastAPI dependencies that say who is calling.

- `current_account`: a survivor, from `Authorization: Bearer <token>` (SDK sessions) or
  the session cookie (browser sessions). Each token is accepted only the way it was
  issued, so a bearer token pasted into a cookie (or the reverse) is refused.
- `require_operator`: the deployment's operator, by the operator token of the settings.
- `current_counselor`: a counselor, by the bearer token the operator issued them. It is
  hashed under another label than survivors' sessions, so neither passes as the other.
- `current_org_admin`: an organization's admin, by the bearer token their enrollment
  gave them (hashed under a third label); routes scope everything to the organization
  of the returned `OrgAdminPrincipal`, never to an id in the request.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from fastapi import Request

from notalone.errors import VerificationError
from notalone.services.accounts import Principal
from notalone.services.escrow import EscrowService
from notalone.services.organizations import OrganizationService
from notalone.services.records import RecordService
from notalone.web.settings import EscrowSettings

if TYPE_CHECKING:
    from notalone.web.app import Services


def settings_of(request: Request) -> EscrowSettings:
    """The settings of the app serving `request` (set by create_app)."""
    return cast(EscrowSettings, request.app.state.settings)


def services_of(request: Request) -> Services:
    """The services of the app serving `request` (set by create_app)."""
    return cast("Services", request.app.state.services)


def escrow_of(request: Request) -> EscrowService:
    """The escrow service (create_app mounts its routes only when there is one)."""
    escrow = services_of(request).escrow
    assert escrow is not None  # noqa: S101 - routes are mounted only with the service.
    return escrow


def records_of(request: Request) -> RecordService:
    """The records service (create_app mounts its routes only when there is one)."""
    records = services_of(request).records
    assert records is not None  # noqa: S101 - routes are mounted only with the service.
    return records


def organizations_of(request: Request) -> OrganizationService:
    """The organizations service (create_app mounts its routes only when there is one)."""
    organizations = services_of(request).organizations
    if organizations is None:  # pragma: no cover - routes are mounted only with it.
        raise VerificationError("this deployment has no organization admins")
    return organizations


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise VerificationError("send the token as Authorization: Bearer <token>")
    return token.strip()


def current_account(request: Request) -> Principal:
    """The survivor whose session this request carries, or VerificationError (401)."""
    accounts = services_of(request).accounts
    token = _bearer(request)
    if token is not None:
        return accounts.authenticate(token, "bearer")
    cookie = request.cookies.get(settings_of(request).cookie_name)
    if cookie is not None:
        return accounts.authenticate(cookie, "cookie")
    raise VerificationError("log in first: this route needs a session")


def require_operator(request: Request) -> None:
    """Pass only with the operator token; VerificationError (401) otherwise."""
    token = _bearer(request)
    if token is None:
        raise VerificationError("this route needs the operator token")
    expected = settings_of(request).operator_token
    # Hashing first makes the comparison constant-time whatever the lengths.
    if not hmac.compare_digest(
        hashlib.sha256(token.encode("utf-8", "replace")).digest(),
        hashlib.sha256(expected.encode("utf-8")).digest(),
    ):
        raise VerificationError("this route needs the operator token")


def current_counselor(request: Request) -> str:
    """The id of the counselor whose token this request carries, or VerificationError."""
    token = _bearer(request)
    if token is None:
        raise VerificationError("this route needs a counselor token")
    return escrow_of(request).authenticate_counselor(token)


@dataclass(frozen=True)
class OrgAdminPrincipal:
    """The organization admin a request's bearer token belongs to."""

    admin_id: bytes
    organization_id: bytes


def current_org_admin(request: Request) -> OrgAdminPrincipal:
    """The organization admin whose token this request carries, or VerificationError."""
    token = _bearer(request)
    if token is None:
        raise VerificationError("this route needs an organization admin token")
    admin = organizations_of(request).authenticate(token)
    return OrgAdminPrincipal(admin_id=admin.id, organization_id=admin.organization_id)
