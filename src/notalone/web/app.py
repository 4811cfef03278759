"""The escrow's web application: `create_app(settings, services)`.

Nothing here is a module-level singleton (style rule 6): the settings, the services and
the metrics live on the app built here, so two apps in one process (as in tests) share
nothing. `build_services(settings, database)` wires the SQL stores into the services.

    GET /healthz   {"status": "ok"}
    GET /metrics   Prometheus text format: counters only, never an identifier
    GET /, /register, /login, /records…, /entries…, /exit, /static/…
                   the survivor's pages and their files (notalone.web.pages, docs/web.md)

The metrics carry no username, account id, tag, token or client address: requests are
counted by method, route TEMPLATE (for example `/v1/organizations/{organization_id}/
invites`, never the path actually requested) and status, and account events by outcome.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from notalone.services.accounts import AccountService, Idempotency
from notalone.services.casework import CaseworkService
from notalone.services.escrow import EscrowService
from notalone.services.membership import MembershipService
from notalone.services.notifications import NotificationService
from notalone.services.organizations import OrganizationService
from notalone.services.records import RecordService
from notalone.storage.accounts import SqlAccountStore, SqlIdempotencyStore
from notalone.storage.casework import SqlCaseworkStore
from notalone.storage.counselors import SqlCounselorStore
from notalone.storage.engine import Database
from notalone.storage.membership import SqlMembershipStore
from notalone.storage.organizations import SqlOrganizationStore
from notalone.storage.outbox import SqlOutbox
from notalone.storage.records import RecordRepository
from notalone.storage.slots import SlotRepository
from notalone.web.api.accounts import accounts_router
from notalone.web.api.casework import casework_router
from notalone.web.api.counselors import counselors_router
from notalone.web.api.escrow import escrow_router
from notalone.web.api.keyservers import KeyServerRelay
from notalone.web.api.membership import membership_router
from notalone.web.api.organizations import organizations_router
from notalone.web.api.records import records_router
from notalone.web.csrf import CrossSiteWriteMiddleware
from notalone.web.notifier import Notifier, SmtpMailer
from notalone.web.pages import pages_router, static_files
from notalone.web.problems import install_problem_docs, install_problem_handlers
from notalone.web.security import (
    ASGIApp,
    BodyLimitMiddleware,
    Message,
    Receive,
    Scope,
    SecurityHeadersMiddleware,
    Send,
)
from notalone.web.settings import EscrowSettings
from notalone.web.timing import PreciseWaker, ResponseFloorMiddleware

PROMETHEUS_MEDIA_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Account events counted by /metrics, with their help texts.
EVENTS = {
    "registrations": "Accounts registered.",
    "logins_ok": "Successful logins (passphrase or recovery).",
    "logins_failed": "Logins refused because a key was wrong.",
    "logins_limited": "Logins refused by a rate limit.",
    "logouts": "Sessions ended by logout.",
    "passphrase_changes": "Passphrases changed.",
}


@dataclass(frozen=True)
class Services:
    """The use cases the routes call. `escrow` and `records` are None in an accounts-only
    app (settings without the deployment's keys); their routes are then not mounted."""

    accounts: AccountService
    idempotency: Idempotency
    escrow: EscrowService | None = None
    records: RecordService | None = None
    #: None without SMTP settings: outbox rows then wait (docs/escrow-api.md).
    notifications: NotificationService | None = None
    #: The counselor console: enrollment, cases, notes, reports (docs/counselor-guide.md).
    #: None without the escrow (enrollment signs with its vouching key).
    casework: CaseworkService | None = None
    #: Organization admins: invites, counselor pool, totals, report intake.
    organizations: OrganizationService | None = None
    #: Membership tokens: member codes, blind issuance, redemption (§15).
    membership: MembershipService | None = None


def build_services(settings: EscrowSettings, database: Database) -> Services:
    """The services of a deployment, on its database."""
    escrow = records = notifications = None
    if settings.notifications_configured:
        notifications = NotificationService(
            SqlOutbox(database), SmtpMailer(settings), settings.clock_ms
        )
    if settings.escrow_configured:
        # escrow_configured guarantees every key below (EscrowSettings checks them).
        assert settings.vouching_key is not None  # noqa: S101
        assert settings.log_signing_key is not None  # noqa: S101
        escrow = EscrowService(
            SlotRepository(database),
            SqlCounselorStore(database),
            settings.ticket_issuer(),
            settings.vouching_key,
            settings.escrow_policy(),
            settings.clock_ms,
        )
        records = RecordService(RecordRepository(database), settings.log_signing_key)
    return Services(
        accounts=AccountService(
            SqlAccountStore(database),
            settings.server_secret,
            settings.account_policy(),
            settings.clock_ms,
        ),
        idempotency=Idempotency(
            SqlIdempotencyStore(database), settings.server_secret, settings.clock_ms
        ),
        escrow=escrow,
        records=records,
        notifications=notifications,
        casework=None
        if escrow is None or settings.vouching_key is None
        else CaseworkService(SqlCaseworkStore(database), settings.vouching_key, settings.clock_ms),
        organizations=OrganizationService(
            SqlOrganizationStore(database), settings.clock_ms, escrow
        ),
        membership=MembershipService(
            SqlMembershipStore(database),
            settings.server_secret,
            settings.membership_policy(),
            settings.clock_ms,
        ),
    )


class Metrics:
    """Counters, written out in the Prometheus text exposition format (version 0.0.4)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str, int]] = Counter()
        self._events: Counter[str] = Counter(dict.fromkeys(EVENTS, 0))

    def count_request(self, method: str, route: str, status: int) -> None:
        """Count one answered request by method, route template and status."""
        with self._lock:
            self._requests[(method, route, status)] += 1

    def count(self, event: str) -> None:
        """Count one account event (a key of EVENTS)."""
        if event not in EVENTS:
            raise KeyError(event)
        with self._lock:
            self._events[event] += 1

    def render(self) -> str:
        """The exposition text."""
        with self._lock:
            requests = sorted(self._requests.items())
            events = sorted(self._events.items())
        lines = [
            "# HELP notalone_http_requests_total HTTP requests by method, route and status.",
            "# TYPE notalone_http_requests_total counter",
        ]
        for (method, route, status), value in requests:
            labels = f'method="{_label(method)}",route="{_label(route)}",status="{status}"'
            lines.append(f"notalone_http_requests_total{{{labels}}} {value}")
        for name, value in events:
            metric = f"notalone_{name}_total"
            lines += [f"# HELP {metric} {EVENTS[name]}", f"# TYPE {metric} counter"]
            lines.append(f"{metric} {value}")
        return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsMiddleware:
    """Counts every response by method, route template and status, the 500s of
    unexpected exceptions included."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        def count(status: int) -> None:
            route = scope.get("route")
            # The template, never the requested path: a path may hold an id.
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.count_request(scope["method"], template, status)

        async def counting_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                count(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        except Exception:
            # The catch-all handler answers such an exception with a 500 from Starlette's
            # ServerErrorMiddleware, which wraps every middleware: the answer never passes
            # through here, so it is counted as the exception goes by.
            if not started:
                count(500)
            raise


class HealthResponse(BaseModel):
    """Liveness."""

    status: str


def create_app(
    settings: EscrowSettings,
    services: Services,
    *,
    keyserver_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Build the escrow's web application; `keyserver_transport` replaces the network
    between the key-server relay and the key servers (tests)."""
    relay = KeyServerRelay(keyserver_transport)
    waker = PreciseWaker()
    notifier = None
    if services.notifications is not None:
        notifier = Notifier(services.notifications, settings.notify_poll_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The notifier sends counselors' "new match" emails while the app serves.
        if notifier is not None:
            notifier.start()
        yield
        if notifier is not None:
            notifier.stop()
        waker.close()
        await relay.aclose()

    app = FastAPI(
        lifespan=lifespan,
        title="NotAlone escrow",
        version="1",
        description="Survivor accounts and sessions, evaluation tickets, escrow entries, "
        "counselors and their inboxes, records and the transparency log.",
        # Swagger UI and ReDoc load scripts from a CDN, which the CSP forbids.
        docs_url=None,
        redoc_url=None,
    )
    metrics = Metrics()
    app.state.settings = settings
    app.state.services = services
    app.state.metrics = metrics
    app.state.response_waker = waker
    install_problem_handlers(app)
    # The last added runs first: the security headers and the metrics see even the 413
    # of the body limit and the 403 of a cross-site write.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(CrossSiteWriteMiddleware)
    # Counted from the request's arrival: only the headers and metrics run before it.
    app.add_middleware(
        ResponseFloorMiddleware,
        floors={("POST", "/v1/entries"): settings.entry_response_floor_ms / 1000},
        waker=waker,
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(SecurityHeadersMiddleware)

    @app.get("/healthz", response_model=HealthResponse, tags=["operations"])
    def healthz() -> HealthResponse:
        """Liveness: the process answers."""
        return HealthResponse(status="ok")

    @app.get("/metrics", response_class=PlainTextResponse, tags=["operations"])
    def prometheus(request: Request) -> PlainTextResponse:
        """Counters in the Prometheus text format; they carry no identifier."""
        text = request.app.state.metrics.render()
        return PlainTextResponse(text, media_type=PROMETHEUS_MEDIA_TYPE)

    app.include_router(accounts_router())
    if services.escrow is not None:
        app.include_router(escrow_router())
        app.include_router(relay.router())
        app.include_router(counselors_router())
    if services.records is not None:
        app.include_router(records_router())
    if services.casework is not None:
        app.include_router(casework_router())
    if services.organizations is not None:
        app.include_router(organizations_router())
    if services.membership is not None:
        app.include_router(membership_router())
    # The survivor's pages and their style sheet and scripts (docs/web.md).
    app.include_router(pages_router(settings))
    app.mount("/static", static_files(), name="static")
    install_problem_docs(app)
    return app
