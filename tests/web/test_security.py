"""Security headers on every route, the body limit, settings, and no shared state."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Route

from notalone.errors import InputError
from notalone.services.accounts import AccountService, LoginParameters
from notalone.web.app import create_app
from notalone.web.pages import PAGES
from notalone.web.security import PAGE_SECURITY_HEADERS, SECURITY_HEADERS
from notalone.web.settings import EscrowSettings
from tests.services.conftest import SERVER_SECRET
from tests.web.conftest import OPERATOR_TOKEN, Env

PROBLEM = "application/problem+json"


def _assert_secure_headers(
    headers: dict[str, str] | object, what: str, expected: dict[str, str] = SECURITY_HEADERS
) -> None:
    for name, value in expected.items():
        assert headers[name] == value, f"{what}: {name}"  # type: ignore[index]


def _walk(routes: list[BaseRoute]) -> Iterator[APIRoute | Route]:
    for route in routes:
        if isinstance(route, APIRoute | Route):
            yield route
        # FastAPI 0.16x keeps an included router as one entry that wraps the original.
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _walk(included.routes)


def _routes(env: Env) -> Iterator[tuple[str, str]]:
    walked = list(_walk(env.app.routes))
    # Every documented operation is among the routes walked: none escapes the check.
    documented = {
        (method.upper(), path)
        for path, operations in env.app.openapi()["paths"].items()
        for method in operations
    }
    assert documented <= {(m, r.path) for r in walked for m in r.methods or ()}
    for route in walked:
        path = route.path.replace("{organization_id}", "0" * 32)
        for method in sorted(route.methods or {"GET"}):
            if method != "HEAD":
                yield method, path


def test_every_route_sends_the_security_headers(env: Env) -> None:
    seen = set()
    pages = {page.path for page in PAGES}
    for method, path in _routes(env):
        for headers in ({}, env.operator()):
            response = env.client.request(method, path, json={}, headers=headers)
            # The survivor's pages have their own (still strict) CSP; the API allows nothing.
            is_page = path in pages and response.headers["content-type"].startswith("text/html")
            _assert_secure_headers(
                response.headers,
                f"{method} {path} {response.status_code}",
                PAGE_SECURITY_HEADERS if is_page else SECURITY_HEADERS,
            )
            seen.add(path)
    assert {"/healthz", "/metrics", "/v1/accounts", "/v1/login/finish", "/v1/account"} <= seen
    assert len(seen) >= 10


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nowhere", 404), ("DELETE", "/v1/accounts", 405), ("GET", "/v1/logout", 405)],
)
def test_framework_errors_are_problems_with_headers(
    env: Env, method: str, path: str, status: int
) -> None:
    response = env.client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    _assert_secure_headers(response.headers, path)


def test_oversized_body_is_413(env: Env) -> None:
    limit = env.settings.max_body_bytes
    body = b'{"username": "' + b"a" * limit + b'"}'
    response = env.client.post("/v1/login/start", content=body)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    _assert_secure_headers(response.headers, "413")
    assert b"a" * 100 not in response.content

    def chunks() -> Iterator[bytes]:
        yield b'{"username": "'
        for _ in range(limit // 1024 + 1):
            yield b"a" * 1024
        yield b'"}'

    streamed = env.client.post("/v1/login/start", content=chunks())
    assert streamed.status_code == 413
    assert 'route="unmatched",status="413"' in env.client.get("/metrics").text


def test_a_body_at_the_limit_is_read(env: Env) -> None:
    start = b'{"username": "mossy-walrus-7731"'
    body = start + b" " * (env.settings.max_body_bytes - len(start) - 1) + b"}"
    assert len(body) == env.settings.max_body_bytes
    response = env.client.post(
        "/v1/login/start", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200


def test_unexpected_errors_are_500_without_detail(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    class Exploding(AccountService):
        def login_start(self, username_text: str) -> LoginParameters:
            raise RuntimeError(f"database said: {username_text}")

    accounts = Exploding.__new__(Exploding)
    broken = replace(env.services, accounts=accounts)
    app = create_app(env.settings, broken)
    with (
        TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client,
        caplog.at_level(logging.DEBUG, logger="notalone"),
    ):
        response = client.post("/v1/login/start", json={"username": "mossy-walrus-7731"})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert "mossy" not in response.text
    assert "database" not in response.text
    _assert_secure_headers(response.headers, "500")
    assert "RuntimeError" in caplog.text
    assert "mossy" not in caplog.text
    # Counted by /metrics like any other answer, under the route's template.
    with TestClient(app, base_url="https://testserver") as client:
        metrics = client.get("/metrics").text
    assert (
        'notalone_http_requests_total{method="POST",route="/v1/login/start",status="500"} 1'
        in metrics.splitlines()
    )


def test_apps_share_no_state(env: Env) -> None:
    other = create_app(env.settings, env.services)
    env.client.get("/healthz")
    with TestClient(other, base_url="https://testserver") as client:
        assert "/healthz" not in client.get("/metrics").text
    assert 'route="/healthz"' in env.client.get("/metrics").text


def test_settings_require_their_secrets() -> None:
    good = {"database_url": "sqlite:///x.db", "operator_token": OPERATOR_TOKEN}
    EscrowSettings(server_secret=SERVER_SECRET, **good)
    with pytest.raises(InputError, match="server_secret"):
        EscrowSettings(server_secret=b"short", **good)
    with pytest.raises(InputError, match="operator_token"):
        EscrowSettings(server_secret=SERVER_SECRET, database_url="x", operator_token="short")
    with pytest.raises(InputError, match="database_url"):
        EscrowSettings(server_secret=SERVER_SECRET, database_url="", operator_token=OPERATOR_TOKEN)
    with pytest.raises(InputError, match="max_body_bytes"):
        EscrowSettings(server_secret=SERVER_SECRET, max_body_bytes=0, **good)
    assert "operator" not in repr(EscrowSettings(server_secret=SERVER_SECRET, **good)).split(
        "cookie_name"
    )[0].replace("database_url", "")


def test_settings_from_a_config_mapping() -> None:
    settings = EscrowSettings.from_mapping(
        {
            "database_url": "sqlite:///x.db",
            "server_secret": SERVER_SECRET.hex(),
            "operator_token": OPERATOR_TOKEN,
            "max_failures_per_username": 7,
        }
    )
    assert settings.server_secret == SERVER_SECRET
    assert settings.account_policy().max_failures_per_username == 7
    with pytest.raises(InputError, match="unknown settings: colour"):
        EscrowSettings.from_mapping({"colour": "red"})
    with pytest.raises(InputError, match="hex"):
        EscrowSettings.from_mapping(
            {"database_url": "x", "server_secret": "zz", "operator_token": OPERATOR_TOKEN}
        )
