"""Organizations, invites, registration, login, sessions and passphrase changes.

    POST /v1/organizations                    operator: {name} → 201 {organization_id, name}
    POST /v1/organizations/{id}/invites       operator: {count, max_uses, ttl_seconds}
                                              → 201 {invites: [{code, max_uses, expires_at_ms}]}
    POST /v1/accounts                         {username, invite_code | membership_token,
                                              key_bundle, auth_key, recovery_auth_key}
                                              → 201 {account_id, username, organization_id}
    POST /v1/login/start                      {username} → {salt, time_cost, memory_kib}
    POST /v1/login/finish                     {username, auth_key, kind} → session + bundle
    POST /v1/login/recovery                   {username, recovery_auth_key, kind} → the same
    POST /v1/logout                           → 204
    PUT  /v1/account/passphrase               {key_bundle, auth_key} → {status: "changed"}
    GET  /v1/account                          → {account_id, username, organization_id, ...}

Bytes travel as lower-case hex. `Idempotency-Key` is honoured on registration (scoped to
the username being registered) and on the passphrase change (scoped to the account): the
same key with the same request replays the stored response; with another request, 409.
Login responses are never stored for replay, because they carry a fresh session token
that the server keeps only as a hash; retrying a login simply opens another session.
Logout is idempotent by nature. The operator routes are not replayed either: the
idempotency table is keyed by account (see docs/drafts/escrow-accounts-api.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StringConstraints

from notalone.errors import InputError, LimitError, VerificationError
from notalone.protocol.membership import Token
from notalone.services.accounts import (
    MAX_ORGANIZATION_NAME_CHARS,
    AccountRecord,
    NewSession,
    Principal,
)
from notalone.web.api.common import (
    AUTH_PROBLEMS,
    JSON_MEDIA_TYPE,
    Hex16,
    Hex32,
    IdempotencyKeyHeader,
    Strict,
    idempotent,
    json_body,
)
from notalone.web.auth import current_account, require_operator, services_of, settings_of
from notalone.web.problems import problem_doc
from notalone.web.security import clear_session_cookie, set_session_cookie

# Whole bytes only: an odd number of digits is refused as malformed (400), not a crash.
HexBundle = Annotated[str, StringConstraints(pattern=r"^(?:[0-9a-f]{2})+$", max_length=1024)]
# Login input is forgiving (normalize_username), so only its length is bounded here.
UsernameText = Annotated[str, StringConstraints(min_length=1, max_length=64)]
OrganizationId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
_Strict = Strict
_json_body = json_body
_idempotent = idempotent
_AUTH_PROBLEMS = AUTH_PROBLEMS


class OrganizationRequest(_Strict):
    """A new organization."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_ORGANIZATION_NAME_CHARS)]


class OrganizationResponse(BaseModel):
    """The organization created."""

    organization_id: str
    name: str


class InvitesRequest(_Strict):
    """How many invite codes to make, and how each may be used."""

    count: int = Field(default=1, ge=1, le=100)
    max_uses: int = Field(default=1, ge=1, le=100_000)
    ttl_seconds: int | None = Field(default=30 * 24 * 3600, ge=1, le=10 * 365 * 24 * 3600)


class InviteModel(BaseModel):
    """One invite code, shown once: only its hash is stored."""

    code: str
    max_uses: int
    expires_at_ms: int | None


class InvitesResponse(BaseModel):
    """The invite codes created."""

    organization_id: str
    invites: list[InviteModel]


class MembershipTokenModel(_Strict):
    """A membership token (docs/protocol.md §15): spent by this registration."""

    organization_id: Hex16
    input: Hex32
    output: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{128}$")]

    def token(self) -> Token:
        """The protocol's token."""
        return Token(
            bytes.fromhex(self.organization_id),
            bytes.fromhex(self.input),
            bytes.fromhex(self.output),
        )


class RegisterRequest(_Strict):
    """What the client's `create_account` made, and an invite code or a membership token
    (exactly one of the two)."""

    username: Annotated[str, StringConstraints(min_length=12, max_length=22)]
    invite_code: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    membership_token: MembershipTokenModel | None = None
    key_bundle: HexBundle
    auth_key: Hex32
    recovery_auth_key: Hex32


class RegisterResponse(BaseModel):
    """The account registered."""

    account_id: str
    username: str
    organization_id: str


class LoginStartRequest(_Strict):
    """Step 1 of a login."""

    username: UsernameText


class LoginStartResponse(BaseModel):
    """The salt and Argon2id parameters to derive the auth key with."""

    salt: str
    time_cost: int
    memory_kib: int


class LoginFinishRequest(_Strict):
    """Step 2 of a login: the auth key, and how the session should travel."""

    username: UsernameText
    auth_key: Hex32
    kind: Literal["cookie", "bearer"] = "bearer"


class RecoveryLoginRequest(_Strict):
    """A login with the recovery auth key."""

    username: UsernameText
    recovery_auth_key: Hex32
    kind: Literal["cookie", "bearer"] = "bearer"


class SessionResponse(BaseModel):
    """A new session and the account's bundle. `token` is present for bearer sessions
    only; a cookie session's token is in the HttpOnly cookie, out of scripts' reach."""

    kind: str
    expires_at_ms: int
    account_id: str
    key_bundle: str
    token: str | None = None


class PassphraseRequest(_Strict):
    """A bundle rewrapped under a new passphrase, and the new auth key."""

    key_bundle: HexBundle
    auth_key: Hex32


class AccountResponse(BaseModel):
    """The caller's account."""

    account_id: str
    username: str
    organization_id: str
    key_bundle: str
    created_at_ms: int


def _address(request: Request) -> str:
    # The peer address as the server sees it: behind a proxy this is the proxy, and the
    # per-address limit then applies to all its clients (trusting X-Forwarded-For would let
    # any client choose its own address).
    return request.client.host if request.client is not None else "unknown"


def _count(request: Request, event: str) -> None:
    request.app.state.metrics.count(event)


def _session_response(request: Request, session: NewSession) -> Response:
    payload: dict[str, Any] = {
        "kind": session.kind,
        "expires_at_ms": session.expires_at_ms,
        "account_id": session.account_id.hex(),
        "key_bundle": session.key_bundle.hex(),
    }
    if session.kind == "bearer":
        payload["token"] = session.token
    response = Response(_json_body(payload), status_code=200, media_type=JSON_MEDIA_TYPE)
    if session.kind == "cookie":
        settings = settings_of(request)
        lifetime_s = (session.expires_at_ms - settings.clock_ms()) // 1000
        set_session_cookie(response, settings.cookie_name, session.token, max(1, lifetime_s))
    return response


def accounts_router() -> APIRouter:
    """The account routes (built per app: no module-level router)."""
    router = APIRouter(tags=["accounts"])
    _operator_routes(router)
    _registration_routes(router)
    _session_routes(router)
    return router


def _operator_routes(router: APIRouter) -> None:
    @router.post(
        "/v1/organizations",
        status_code=201,
        response_model=OrganizationResponse,
        dependencies=[Depends(require_operator)],
        responses={**_AUTH_PROBLEMS, 409: problem_doc("An organization has this name.")},
    )
    def create_organization(body: OrganizationRequest, request: Request) -> OrganizationResponse:
        """Operator: create an organization."""
        organization_id = services_of(request).accounts.create_organization(body.name)
        return OrganizationResponse(organization_id=organization_id.hex(), name=body.name.strip())

    @router.post(
        "/v1/organizations/{organization_id}/invites",
        status_code=201,
        response_model=InvitesResponse,
        dependencies=[Depends(require_operator)],
        responses={**_AUTH_PROBLEMS, 422: problem_doc("There is no such organization.")},
    )
    def create_invites(
        organization_id: OrganizationId, body: InvitesRequest, request: Request
    ) -> InvitesResponse:
        """Operator: create invite codes; each is shown here once and stored as a hash."""
        ttl_ms = None if body.ttl_seconds is None else body.ttl_seconds * 1000
        invites = services_of(request).accounts.create_invites(
            bytes.fromhex(organization_id), body.count, body.max_uses, ttl_ms
        )
        return InvitesResponse(
            organization_id=organization_id,
            invites=[
                InviteModel(code=i.code, max_uses=i.max_uses, expires_at_ms=i.expires_at_ms)
                for i in invites
            ],
        )


def _registration_routes(router: APIRouter) -> None:
    @router.post(
        "/v1/accounts",
        status_code=201,
        response_model=RegisterResponse,
        responses={
            **_AUTH_PROBLEMS,
            409: problem_doc(
                "The username is taken, the membership token was already used, "
                "or the Idempotency-Key was reused."
            ),
            422: problem_doc(
                "The invite code or membership token, bundle or keys are refused "
                "(or both or neither of invite_code and membership_token were sent)."
            ),
            429: problem_doc("The server is busy hashing; see Retry-After."),
        },
    )
    def register(
        body: RegisterRequest, request: Request, idempotency_key: IdempotencyKeyHeader = None
    ) -> Response:
        """Register with an invite code or a membership token: the bundle and the two auth
        keys (hashed here). A token works once; the account joins the token's organization."""
        services = services_of(request)
        accounts = services.accounts

        def create() -> AccountRecord:
            # A 422 of our own rather than a model validator's 400: the body is well-formed,
            # the choice of credential is what is refused.
            if (body.invite_code is None) == (body.membership_token is None):
                raise InputError("send exactly one of invite_code and membership_token")
            key_bundle = bytes.fromhex(body.key_bundle)
            auth_key = bytes.fromhex(body.auth_key)
            recovery_auth_key = bytes.fromhex(body.recovery_auth_key)
            if body.membership_token is None:
                assert body.invite_code is not None  # noqa: S101 - checked just above.
                return accounts.register(
                    body.username, body.invite_code, key_bundle, auth_key, recovery_auth_key
                )
            membership = services.membership
            if membership is None:
                raise InputError("this server does not accept membership tokens")
            token = body.membership_token.token()
            # Checked before the Argon2id hashing: a forged token costs the server little.
            membership.check(token)
            return accounts.register_with_token(
                body.username,
                key_bundle,
                auth_key,
                recovery_auth_key,
                lambda account: membership.redeem(token, account),
            )

        def run() -> tuple[bytes, int, bytes]:
            account = create()
            _count(request, "registrations")
            payload = {
                "account_id": account.id.hex(),
                "username": account.username,
                "organization_id": account.organization_id.hex(),
            }
            return account.id, 201, _json_body(payload)

        return _idempotent(
            request, idempotency_key, lambda: accounts.account_id_for(body.username), body, run
        )


def _session_routes(router: APIRouter) -> None:
    @router.post(
        "/v1/login/start",
        response_model=LoginStartResponse,
        responses={**_AUTH_PROBLEMS, 422: problem_doc("The username is not well-formed.")},
    )
    def login_start(body: LoginStartRequest, request: Request) -> LoginStartResponse:
        """Step 1: the salt and Argon2id parameters (made up, stably, for unknown names)."""
        found = services_of(request).accounts.login_start(body.username)
        return LoginStartResponse(
            salt=found.salt.hex(), time_cost=found.time_cost, memory_kib=found.memory_kib
        )

    login_problems = {
        **_AUTH_PROBLEMS,
        401: problem_doc("The username or key is wrong (one answer for both)."),
        429: problem_doc("Too many failed logins; see Retry-After."),
    }

    def login(request: Request, attempt: Callable[[], NewSession]) -> Response:
        try:
            session = attempt()
        except VerificationError:
            _count(request, "logins_failed")
            raise
        except LimitError:
            _count(request, "logins_limited")
            raise
        _count(request, "logins_ok")
        return _session_response(request, session)

    @router.post("/v1/login/finish", response_model=SessionResponse, responses=login_problems)
    def login_finish(body: LoginFinishRequest, request: Request) -> Response:
        """Step 2: the auth key; a session (cookie or bearer token) and the bundle."""
        accounts = services_of(request).accounts
        return login(
            request,
            lambda: accounts.login_finish(
                body.username, bytes.fromhex(body.auth_key), body.kind, _address(request)
            ),
        )

    @router.post("/v1/login/recovery", response_model=SessionResponse, responses=login_problems)
    def login_recovery(body: RecoveryLoginRequest, request: Request) -> Response:
        """A login with the recovery auth key; the client then sets a new passphrase."""
        accounts = services_of(request).accounts
        return login(
            request,
            lambda: accounts.login_recovery(
                body.username, bytes.fromhex(body.recovery_auth_key), body.kind, _address(request)
            ),
        )

    @router.post("/v1/logout", status_code=204, responses=_AUTH_PROBLEMS)
    def logout(
        request: Request, principal: Annotated[Principal, Depends(current_account)]
    ) -> Response:
        """End this session."""
        services_of(request).accounts.logout(principal)
        _count(request, "logouts")
        response = Response(status_code=204)
        if principal.kind == "cookie":
            clear_session_cookie(response, settings_of(request).cookie_name)
        return response

    @router.put(
        "/v1/account/passphrase",
        responses={
            **_AUTH_PROBLEMS,
            409: problem_doc("The Idempotency-Key was reused for another request."),
            422: problem_doc("The bundle does not fit the account."),
        },
    )
    def change_passphrase(
        body: PassphraseRequest,
        request: Request,
        principal: Annotated[Principal, Depends(current_account)],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response:
        """Store a bundle rewrapped under a new passphrase; other sessions are revoked."""
        accounts = services_of(request).accounts

        def run() -> tuple[bytes, int, bytes]:
            accounts.change_passphrase(
                principal, bytes.fromhex(body.key_bundle), bytes.fromhex(body.auth_key)
            )
            _count(request, "passphrase_changes")
            return principal.account_id, 200, _json_body({"status": "changed"})

        return _idempotent(request, idempotency_key, lambda: principal.account_id, body, run)

    @router.get("/v1/account", response_model=AccountResponse, responses=_AUTH_PROBLEMS)
    def get_account(
        request: Request, principal: Annotated[Principal, Depends(current_account)]
    ) -> AccountResponse:
        """The caller's account, with its bundle."""
        account = services_of(request).accounts.account(principal)
        return AccountResponse(
            account_id=account.id.hex(),
            username=account.username,
            organization_id=account.organization_id.hex(),
            key_bundle=account.key_bundle.hex(),
            created_at_ms=account.created_at_ms,
        )
