"""`notalone deal-keys` and `notalone keyserver`: deal a key federation, run one key server."""

from __future__ import annotations

import logging
import logging.config
import socket
from copy import deepcopy
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from sqlalchemy.exc import SQLAlchemyError
from uvicorn.config import LOGGING_CONFIG

from notalone.errors import NotAloneError
from notalone.keyserver import KeyServerSettings, create_app, keyfile
from notalone.protocol import tickets
from notalone.storage.quota import SqlQuotaStore

logger = logging.getLogger("notalone.keyserver")


def _hex_option(value: str | None, length: int, name: str) -> bytes | None:
    if value is None:
        return None
    try:
        data = bytes.fromhex(value)
    except ValueError:
        data = b""
    if len(data) != length:
        raise typer.BadParameter(f"{name} must be {length} bytes as hex ({2 * length} digits)")
    return data


def deal_keys_command(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Directory for the files (created with mode 0700 if missing).",
            file_okay=False,
        ),
    ],
    threshold: Annotated[
        int,
        # τ = 1 would give every key server the whole key k: one operator could then
        # recompute the tag of any identifier it guesses, alone.
        typer.Option(
            "--threshold",
            min=2,
            max=255,
            help="How many key servers must answer (τ); at least 2, so no one holds k.",
        ),
    ] = 2,
    servers: Annotated[
        int, typer.Option("--servers", min=1, max=255, help="How many key servers (n).")
    ] = 3,
    deployment_id: Annotated[
        str | None,
        typer.Option(
            "--deployment-id",
            help="The deployment's 16-byte id as hex; a random one is drawn if omitted.",
        ),
    ] = None,
    ticket_public_key: Annotated[
        str | None,
        typer.Option(
            "--ticket-public-key",
            help=(
                "The escrow's Ed25519 ticket public key (32 bytes as hex). If omitted, a "
                f"fresh ticket key is generated and written to {keyfile.TICKET_KEY_FILE} "
                "for the escrow."
            ),
        ),
    ] = None,
    ticket_period_ms: Annotated[
        int,
        typer.Option(
            "--ticket-period-ms",
            min=tickets.MIN_PERIOD_MS,
            max=keyfile.MAX_PERIOD_MS,
            help="Length of a quota period; ticket pseudonyms change every period.",
        ),
    ] = tickets.DEFAULT_PERIOD_MS,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace existing files (their old shares stop working)."),
    ] = False,
) -> None:
    """Draw a fresh OPRF key and split it τ-of-n among key servers.

    Writes keyserver-<i>.json for each key server (mode 0600: give each file to its
    operator only, then delete it here), and federation.json (public) for clients and
    the escrow. The whole key is never written anywhere.
    """
    if threshold > servers:
        raise typer.BadParameter("the threshold cannot exceed the number of servers")
    try:
        dealt = keyfile.deal_keys(
            threshold,
            servers,
            deployment_id=_hex_option(deployment_id, 16, "--deployment-id"),
            ticket_public_key=_hex_option(ticket_public_key, 32, "--ticket-public-key"),
            ticket_period_ms=ticket_period_ms,
        )
        paths = keyfile.write_dealt_keys(dealt, out, force=force)
    except FileExistsError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    except OSError as e:
        typer.echo(f"error: cannot write the key files to {out}: {e.strerror}", err=True)
        raise typer.Exit(1) from e
    except NotAloneError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(
        f"dealt a {threshold}-of-{servers} key federation for deployment "
        f"{dealt.deployment.deployment_id.hex()}:"
    )
    for path in paths:
        if path.name == keyfile.FEDERATION_FILE:
            note = "public: for clients and the escrow"
        elif path.name == keyfile.TICKET_KEY_FILE:
            note = "secret: the escrow's ticket-signing key, for the escrow only"
        else:
            note = "secret: for this key server's operator only"
        typer.echo(f"  {path}  ({note})")


def _default_quota_db(key: Path) -> str:
    return f"sqlite:///{key.resolve().parent / (key.stem + '.quota.sqlite3')}"


def _log_config(level: str) -> dict[str, Any]:
    config = deepcopy(LOGGING_CONFIG)
    config["loggers"]["notalone"] = {"handlers": ["default"], "level": level, "propagate": False}
    return config


def bind_listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket for uvicorn, with Nagle's algorithm off.

    asyncio sets TCP_NODELAY only on sockets it creates itself; on one handed to uvicorn
    it stays off, and every response on a kept-alive connection then waits about 40 ms
    for the client's delayed ACK. Accepted connections inherit the option on Linux.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.create_server((host, port), family=family)
    listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return listening


def keyserver_command(
    key: Annotated[
        Path,
        typer.Option(
            "--key",
            help="This server's keyserver-<i>.json from `notalone deal-keys`.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    port: Annotated[
        int,
        typer.Option("--port", min=0, max=65535, help="TCP port to listen on (0: any free port)."),
    ],
    host: Annotated[
        str,
        typer.Option(
            "--host", help="Address to listen on. Put TLS in front of it (a reverse proxy)."
        ),
    ] = "127.0.0.1",
    quota_db: Annotated[
        str | None,
        typer.Option(
            "--quota-db",
            help=(
                "Quota store URL: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB. "
                "Default: a SQLite file next to the key file."
            ),
        ),
    ] = None,
    log_level: Annotated[
        str,
        typer.Option("--log-level", help="debug, info, warning or error."),
    ] = "info",
) -> None:
    """Run one key server: evaluate blinded elements for holders of escrow tickets.

    It logs its startup (index, address, quota store) and each evaluation or refusal by
    count and reason; never a ticket pseudonym, an element, a key or a client address.
    """
    level = log_level.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise typer.BadParameter("choose debug, info, warning or error", param_hint="--log-level")
    try:
        loaded = keyfile.load_key_file(key)
    except NotAloneError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    try:
        store = SqlQuotaStore(quota_db or _default_quota_db(key))
    except ValueError as e:
        typer.echo(f"error: --quota-db: {e}", err=True)
        raise typer.Exit(2) from e
    except (OSError, SQLAlchemyError) as e:
        # The class only: a driver's message may repeat the URL, password included.
        typer.echo(f"error: cannot open the quota store ({type(e).__name__})", err=True)
        raise typer.Exit(1) from e
    try:
        sock = bind_listening_socket(host, port)
    except OSError as e:
        store.close()
        typer.echo(f"error: cannot listen on {host}:{port}: {e.strerror}", err=True)
        raise typer.Exit(1) from e
    # Logging is configured only once the server will run, so that a refused start
    # leaves the calling process's logging as it was.
    logging.config.dictConfig(_log_config(level))
    app = create_app(KeyServerSettings(key=loaded), store)
    bound_port = sock.getsockname()[1]
    federation = loaded.federation
    logger.info(
        "key server %d of a %d-of-%d federation, deployment %s, listening on http://%s:%d; "
        "quota store %s",
        loaded.share.index,
        federation.threshold,
        len(federation.share_public_keys),
        loaded.deployment.deployment_id.hex(),
        host,
        bound_port,
        store.url,
    )
    # Client addresses are not logged: with ticket pseudonyms they would tie a period's
    # evaluations to a network location.
    config = uvicorn.Config(
        app,
        log_config=_log_config(level),
        log_level=level.lower(),
        access_log=False,
        server_header=False,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        store.close()
