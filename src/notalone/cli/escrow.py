"""`notalone escrow --config FILE`: run the escrow's web app with uvicorn.

The config file is JSON (`notalone.web.settings.load_settings`, docs/escrow-api.md). The
database is migrated to the newest schema before the app starts. No request body, client
address or identifier is logged (uvicorn's access log is off).
"""

from __future__ import annotations

import logging
import logging.config
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from notalone.cli.keyserver import _log_config, bind_listening_socket
from notalone.errors import NotAloneError
from notalone.storage.engine import Database
from notalone.web.app import build_services, create_app
from notalone.web.settings import load_settings

logger = logging.getLogger("notalone.escrow")


def escrow_command(
    config: Annotated[
        Path,
        typer.Option(
            "--config", help="The escrow's JSON config file.", exists=True, dir_okay=False
        ),
    ],
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free port).")
    ] = 8100,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; put TLS in front of it.")
    ] = "127.0.0.1",
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "info",
) -> None:
    """Run the escrow: accounts, records, tickets, entries and counselors' inboxes."""
    level = log_level.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise typer.BadParameter("choose debug, info, warning or error", param_hint="--log-level")
    try:
        settings = load_settings(config)
    except NotAloneError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    try:
        database = Database(settings.database_url)
        database.upgrade()
    except NotAloneError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    except (OSError, SQLAlchemyError) as e:
        # The class only: a driver's message may repeat the URL, password included.
        typer.echo(f"error: cannot open the database ({type(e).__name__})", err=True)
        raise typer.Exit(1) from e
    try:
        sock = bind_listening_socket(host, port)
    except OSError as e:
        database.dispose()
        typer.echo(f"error: cannot listen on {host}:{port}: {e.strerror}", err=True)
        raise typer.Exit(1) from e
    logging.config.dictConfig(_log_config(level))
    app = create_app(settings, build_services(settings, database))
    logger.info("escrow listening on http://%s:%d", host, sock.getsockname()[1])
    server_config = uvicorn.Config(
        app,
        log_config=_log_config(level),
        log_level=level.lower(),
        access_log=False,
        server_header=False,
    )
    try:
        uvicorn.Server(server_config).run(sockets=[sock])
    finally:
        sock.close()
        database.dispose()
