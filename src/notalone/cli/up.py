"""`notalone up`: a whole NotAlone deployment on one machine, for trying it out.

First run, in `--data DIR` (default `./notalone-data`, created 0700):

1. deal a 2-of-3 OPRF key federation into `DIR/keys/` (`notalone deal-keys`' files);
2. write the escrow's config `DIR/escrow.json` (0600): SQLite in DIR, fresh server
   secret, operator token, log and vouching keys;
3. start three key servers and the escrow (uvicorn servers in threads of this process,
   on sockets bound before they start: the key servers on free ports, the escrow on
   `--port`);
4. through the operator API: a demo organization with invite codes, two counselors
   whose key files and inbox tokens are written to `DIR/counselors/` (0600), and two
   one-time enrollment codes for the browser consoles: a third counselor
   (/counselor/enroll) and the demo organization's admin (/org/enroll).

Every run writes `DIR/up.json` (URLs, invite codes, counselor ids, key and token paths)
for scripts, prints what to do next, and runs until SIGINT or SIGTERM, then stops every
server and closes every store. A second run reuses everything in DIR (the key servers
get fresh free ports, written into the escrow's config).
"""

from __future__ import annotations

import json
import logging
import logging.config
import secrets
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import httpx
import typer
import uvicorn
from fastapi import FastAPI

from notalone.cli.counselor import write_key_file
from notalone.cli.keyserver import _log_config, bind_listening_socket
from notalone.cli.survivor import DEFAULT_SERVER, write_private
from notalone.client import counselor
from notalone.client.escrow import EscrowClient
from notalone.errors import NotAloneError
from notalone.keyserver import KeyServerSettings, keyfile
from notalone.keyserver import create_app as create_keyserver_app
from notalone.storage.engine import Database
from notalone.storage.quota import SqlQuotaStore
from notalone.web.app import build_services, create_app
from notalone.web.settings import load_settings

HOST = "127.0.0.1"
CONFIG_FILE = "escrow.json"
DEMO_FILE = "demo.json"
UP_FILE = "up.json"
KEYS_DIR = "keys"
COUNSELORS_DIR = "counselors"
DEMO_COUNSELORS = (("counselor-a", "Counselor A"), ("counselor-b", "Counselor B"))
DEMO_INVITES = 10
#: The counselor who enrolls in the browser with a one-time code (docs/counselor-guide.md).
DEMO_BROWSER_COUNSELOR = ("counselor-c", "Counselor C")
DEMO_ENROLLMENT_TTL_S = 30 * 86_400
START_TIMEOUT_S = 30.0

logger = logging.getLogger("notalone.up")


@dataclass
class Running:
    """The servers of this run, their threads and what must be closed after them."""

    servers: list[uvicorn.Server] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    sockets: list[socket.socket] = field(default_factory=list)
    closers: list[Any] = field(default_factory=list)

    def start(self, name: str, app: FastAPI, sock: socket.socket) -> None:
        # log_config=None: logging is configured once, by the command, never by a server
        # (a library call, as in tests, keeps its caller's logging).
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            server_header=False,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True
        )
        self.servers.append(server)
        self.threads.append(thread)
        self.sockets.append(sock)
        thread.start()

    def wait_started(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not all(s.started for s in self.servers):
            if time.monotonic() > deadline or not all(t.is_alive() for t in self.threads):
                raise RuntimeError("a server did not start")
            time.sleep(0.05)

    def alive(self) -> bool:
        return all(t.is_alive() for t in self.threads)

    def stop(self) -> None:
        for server in self.servers:
            server.should_exit = True
        for thread in self.threads:
            thread.join(timeout=15)
        for sock in self.sockets:
            sock.close()
        for closer in reversed(self.closers):
            closer()


def _first_run(data: Path) -> None:
    """Deal the keys and write the escrow's config (no server runs yet)."""
    keys_dir = data / KEYS_DIR
    dealt = keyfile.deal_keys(2, 3)
    keyfile.write_dealt_keys(dealt, keys_dir)
    config = {
        "database_url": f"sqlite:///{(data / 'escrow.sqlite3').resolve()}",
        "server_secret": secrets.token_hex(32),
        "operator_token": secrets.token_hex(32),
        "federation_file": f"{KEYS_DIR}/{keyfile.FEDERATION_FILE}",
        "ticket_key_file": f"{KEYS_DIR}/{keyfile.TICKET_KEY_FILE}",
        "key_servers": [],
        "log_signing_key": secrets.token_hex(32),
        "vouching_key": secrets.token_hex(32),
        "match_threshold": 2,
    }
    write_private(data / CONFIG_FILE, _render(config), replace=False)


def _render(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=2).encode() + b"\n"


def _set_up_demo(data: Path, escrow: EscrowClient) -> dict[str, Any]:
    """The demo organization, its invite codes and two counselors (first run only)."""
    organization = escrow.create_organization("Demo organization")
    invites = escrow.create_invites(organization, count=DEMO_INVITES, max_uses=1, ttl_seconds=None)
    counselors_dir = data / COUNSELORS_DIR
    counselors_dir.mkdir(mode=0o700, exist_ok=True)
    counselors = []
    for counselor_id, name in DEMO_COUNSELORS:
        keys = counselor.keygen()
        key_path = counselors_dir / f"{counselor_id}.key"
        token_path = counselors_dir / f"{counselor_id}.token"
        write_key_file(key_path, keys, force=True)
        token = escrow.register_counselor(counselor_id, name, keys.public_key)
        write_private(token_path, token.encode() + b"\n", replace=True)
        counselors.append(
            {
                "id": counselor_id,
                "display_name": name,
                "key_file": str(key_path.resolve()),
                "token_file": str(token_path.resolve()),
                "fingerprint": counselor.fingerprint(keys.public_key),
            }
        )
    # Enrollment codes for trying the browser consoles: a third counselor whose key is
    # made in the browser, and the demo organization's admin.
    counselor_code = escrow.create_counselor_enrollment(
        *DEMO_BROWSER_COUNSELOR, ttl_seconds=DEMO_ENROLLMENT_TTL_S
    )
    admin_code = escrow.create_admin_enrollment(
        organization, "Demo admin", ttl_seconds=DEMO_ENROLLMENT_TTL_S
    )
    demo = {
        "organization_id": organization,
        "invite_codes": [i.code for i in invites],
        "counselors": counselors,
        "counselor_enrollment": {
            "counselor_id": DEMO_BROWSER_COUNSELOR[0],
            "code": counselor_code.code,
            "expires_at_ms": counselor_code.expires_at_ms,
        },
        "admin_enrollment": {"code": admin_code.code, "expires_at_ms": admin_code.expires_at_ms},
    }
    write_private(data / DEMO_FILE, _render(demo), replace=False)
    return demo


def up_command(
    data: Annotated[
        Path,
        typer.Option(
            "--data", help="Where the deployment's keys and databases live.", file_okay=False
        ),
    ] = Path("notalone-data"),
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="The escrow's port.")
    ] = 8100,
) -> None:
    """Start NotAlone on one machine: three key servers, the escrow, a demo organization."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    logging.config.dictConfig(_log_config("WARNING"))
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    running = Running()
    try:
        _run(data, port, running, stop)
    except NotAloneError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    except OSError as e:
        typer.echo(f"error: {type(e).__name__}: {e.strerror or e}", err=True)
        raise typer.Exit(1) from e
    finally:
        running.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    typer.echo("NotAlone stopped.")


def _run(data: Path, port: int, running: Running, stop: threading.Event) -> None:
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    config_path = data / CONFIG_FILE
    first = not config_path.exists()
    if first:
        typer.echo(f"First run: dealing keys and writing the escrow's config in {data}/ …")
        _first_run(data)

    escrow_sock = bind_listening_socket(HOST, port)
    running.sockets.append(escrow_sock)
    keyserver_socks = [bind_listening_socket(HOST, 0) for _ in range(3)]
    running.sockets.extend(keyserver_socks)
    key_servers = [f"http://{HOST}:{s.getsockname()[1]}" for s in keyserver_socks]

    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["key_servers"] = key_servers
    write_private(config_path, _render(config), replace=True)
    settings = load_settings(config_path)

    for index, sock in enumerate(keyserver_socks, start=1):
        key_path = data / KEYS_DIR / keyfile.share_file_name(index)
        loaded = keyfile.load_key_file(key_path)
        store = SqlQuotaStore(f"sqlite:///{key_path.with_suffix('.quota.sqlite3').resolve()}")
        running.closers.append(store.close)
        app = create_keyserver_app(KeyServerSettings(key=loaded), store)
        running.start(f"keyserver-{index}", app, sock)

    database = Database(settings.database_url)
    running.closers.append(database.dispose)
    database.upgrade()
    running.start("escrow", create_app(settings, build_services(settings, database)), escrow_sock)
    running.wait_started()

    escrow_url = f"http://{HOST}:{escrow_sock.getsockname()[1]}"
    demo_path = data / DEMO_FILE
    if demo_path.exists():
        demo = json.loads(demo_path.read_text(encoding="utf-8"))
    else:
        with httpx.Client(timeout=30) as http:
            demo = _set_up_demo(data, EscrowClient(escrow_url, http, settings.operator_token))

    up = {
        "escrow_url": escrow_url,
        "key_servers": key_servers,
        "config": str(config_path.resolve()),
        "data": str(data.resolve()),
        **demo,
    }
    write_private(data / UP_FILE, _render(up), replace=True)
    _print_next_steps(up)
    while not stop.wait(0.2):
        if not running.alive():
            typer.echo("error: a server stopped unexpectedly; shutting down", err=True)
            break


def _consoles(up: dict[str, Any]) -> str:
    # A data directory made before the consoles existed has no enrollment codes.
    if "counselor_enrollment" not in up or "admin_enrollment" not in up:
        return ""
    return (
        f"  counselor console:  {up['escrow_url']}/counselor/enroll with the one-time code "
        f"{up['counselor_enrollment']['code']}\n"
        f"  organization admin: {up['escrow_url']}/org/enroll with the one-time code "
        f"{up['admin_enrollment']['code']}\n"
        f"  (each code works once, for {DEMO_ENROLLMENT_TTL_S // 86_400} days after the first "
        f"run)\n"
    )


def _print_next_steps(up: dict[str, Any]) -> None:
    first_counselor = up["counselors"][0]
    # The CLI's default server is the default port of `up`; on any other, say where it is.
    server = "" if up["escrow_url"] == DEFAULT_SERVER else f" --server {up['escrow_url']}"
    typer.echo(
        f"\nNotAlone is up.\n"
        f"  escrow       {up['escrow_url']}\n"
        f"  key servers  {', '.join(up['key_servers'])}\n"
        f"  counselors   {', '.join(c['id'] for c in up['counselors'])}\n"
        f"  invite codes and counselor files: {Path(up['data']) / UP_FILE}\n\n"
        f"In a browser: {up['escrow_url']}/register with an invite code.\n"
        f"{_consoles(up)}"
        f"Or, in another terminal:\n"
        f"  notalone survivor register{server} --invite {up['invite_codes'][0]}\n"
        f"  notalone survivor entry add{server} --email someone@example.org "
        f"--counselor {first_counselor['id']} --contact 'how to reach me'\n"
        f"  notalone counselor inbox{server} --key {first_counselor['key_file']} "
        f"--token-file {first_counselor['token_file']}\n\n"
        f"Press Ctrl-C to stop."
    )
