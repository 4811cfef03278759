"""Writes that a browser says another site started are refused (notalone.web.csrf)."""

from __future__ import annotations

import pytest

from notalone.web.csrf import REFUSED_DETAIL, is_cross_site
from tests.web.conftest import Env, entry_body


@pytest.mark.parametrize(
    ("headers", "cross"),
    [
        ({}, False),  # not a browser page: the SDK, the CLI
        ({"sec-fetch-site": "same-origin"}, False),
        ({"sec-fetch-site": "none"}, False),  # typed into the address bar
        ({"sec-fetch-site": "same-site"}, True),  # a sibling subdomain is another origin
        ({"sec-fetch-site": "cross-site"}, True),
        ({"sec-fetch-site": "cross-site", "origin": "https://a.test", "host": "a.test"}, True),
        ({"origin": "https://a.test", "host": "a.test"}, False),
        ({"origin": "http://127.0.0.1:8080", "host": "127.0.0.1:8080"}, False),
        ({"origin": "https://evil.test", "host": "a.test"}, True),
        ({"origin": "https://a.test:444", "host": "a.test"}, True),
        ({"origin": "null", "host": "a.test"}, True),  # sandboxed frames, data: URLs
        ({"origin": "ftp://a.test", "host": "a.test"}, True),
        ({"origin": "https://[::1", "host": "a.test"}, True),  # unparsable
    ],
)
def test_cross_site_is_recognised(headers: dict[str, str], cross: bool) -> None:
    assert is_cross_site(headers) is cross


def test_a_cross_site_write_is_refused_and_changes_nothing(env: Env) -> None:
    survivor = env.survivor()
    before = env.client.get("/v1/entries", headers=survivor.headers).json()
    ana = env.counselor("c-ana")
    body = entry_body([env.slot(b"\x07" * 64, survivor.account_id, ana)])
    for forged in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.test"}):
        refused = env.client.post("/v1/entries", json=body, headers={**survivor.headers, **forged})
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["detail"] == REFUSED_DETAIL
        assert refused.headers["x-content-type-options"] == "nosniff"
    assert env.client.get("/v1/entries", headers=survivor.headers).json() == before
    # Reads are never refused; the same write from the app's own origin goes through.
    cross_read = env.client.get(
        "/v1/entries", headers={**survivor.headers, "Sec-Fetch-Site": "cross-site"}
    )
    assert cross_read.status_code == 200
    same = env.client.post(
        "/v1/entries",
        json=body,
        headers={
            **survivor.headers,
            "Sec-Fetch-Site": "same-origin",
            "Origin": "https://testserver",
        },
    )
    assert same.status_code == 201
