"""The escrow logs no client address, not even at DEBUG, and no address a proxy forwards.

`notalone escrow` (the production command, as its own OS process, `--log-level debug`)
is called from a distinctive loopback source address, 127.0.0.77, with the headers a
proxy adds (X-Forwarded-For, X-Real-IP, Forwarded) naming two more addresses. Its log,
read whole after it stops, must hold none of the three. The control serves the same app
with uvicorn's access log on, from the same source address: that log does name
127.0.0.77, so the requests carried the address and the search would find it.
"""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from notalone.storage.engine import Database
from notalone.web.app import build_services, create_app
from notalone.web.settings import load_settings
from tests.e2e.test_two_escrows import NOTALONE, EscrowProcess, deal_keys
from tests.upstack import free_port

SOURCE = "127.0.0.77"
FORWARDED = ("203.0.113.77", "198.51.100.77")
PROXY_HEADERS = {
    "X-Forwarded-For": f"{FORWARDED[0]}, {FORWARDED[1]}",
    "X-Real-IP": FORWARDED[0],
    "Forwarded": f"for={FORWARDED[1]};proto=https",
}


def _config(tmp_path: Path) -> Path:
    deal_keys(tmp_path / "keys")
    config = {
        "database_url": f"sqlite:///{tmp_path / 'escrow.sqlite3'}",
        "server_secret": secrets.token_hex(32),
        "operator_token": secrets.token_hex(32),
        "federation_file": "keys/federation.json",
        "ticket_key_file": "keys/escrow-ticket-key.json",
        "key_servers": [f"http://127.0.0.1:{port}" for port in (1, 2, 3)],
        "log_signing_key": secrets.token_hex(32),
        "vouching_key": secrets.token_hex(32),
    }
    path = tmp_path / "escrow.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def escrow(tmp_path: Path) -> Iterator[EscrowProcess]:
    log = tmp_path / "escrow.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own command and arguments.
            [
                str(NOTALONE),
                "escrow",
                "--config",
                str(_config(tmp_path)),
                "--port",
                "0",
                "--log-level",
                "debug",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    running = EscrowProcess(process, log)
    try:
        running.wait_listening()
        yield running
    finally:
        running.stop()


def _requests(url: str) -> int:
    """Requests of several kinds from SOURCE, with a proxy's headers; how many."""
    transport = httpx.HTTPTransport(local_address=SOURCE)
    sent = 0
    with httpx.Client(transport=transport, base_url=url, headers=PROXY_HEADERS) as http:
        for method, path, body in (
            ("GET", "/healthz", None),
            ("GET", "/v1/deployment", None),
            ("POST", "/v1/login/start", {"username": "mossy-walrus-7731"}),
            ("POST", "/v1/login/finish", {"username": "mossy-walrus-7731", "auth_key": "00"}),
            ("GET", "/v1/entries", None),
            ("GET", "/no/such/page", None),
            ("GET", "/", None),
        ):
            response = http.request(method, path, json=body)
            assert response.status_code < 500, (path, response.status_code)
            sent += 1
    return sent


def test_the_escrow_logs_no_client_address(escrow: EscrowProcess) -> None:
    sent = _requests(escrow.url)
    escrow.stop()
    log = escrow.log.read_text(errors="replace")
    # The log is the server's, whole, from start to exit: not an empty file that would
    # pass anyway.
    assert "escrow listening on" in log
    assert "Finished server process" in log
    named = [address for address in (SOURCE, *FORWARDED) if address in log]
    print(
        f"\n[access log] {sent} requests from {SOURCE} with proxy headers; escrow log "
        f"{len(log.splitlines())} lines (--log-level debug); addresses found: {len(named)}"
    )
    assert named == []


def test_control_an_access_log_would_name_the_source(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(_config(tmp_path))
    database = Database(settings.database_url)
    database.upgrade()
    app = create_app(settings, build_services(settings, database))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=True)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        thread.start()
        try:
            while not server.started:
                thread.join(0.05)
                assert thread.is_alive(), "uvicorn did not start"
            _requests(f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            thread.join(10)
            database.dispose()
    assert SOURCE in caplog.text
