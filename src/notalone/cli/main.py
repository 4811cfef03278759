"""Entry point of the `notalone` console script."""

from __future__ import annotations

import typer

from notalone.cli.backup import backup_command, restore_command
from notalone.cli.canon import canon_command
from notalone.cli.counselor import counselor_app
from notalone.cli.escrow import escrow_command
from notalone.cli.keyserver import deal_keys_command, keyserver_command
from notalone.cli.survivor import survivor_app
from notalone.cli.up import up_command
from notalone.cli.vectors import vectors_command

app = typer.Typer(
    help=(
        "NotAlone keeps a survivor's record private and holds the names they give in escrow.\n\n"
        "Nothing is revealed until another survivor names the same person; then each is "
        "contacted by their own counselor."
    ),
    no_args_is_help=True,
    add_completion=False,
    # A crash must never print local variables: they may hold an identifier or a key.
    pretty_exceptions_show_locals=False,
)


@app.callback()
def root() -> None:
    """NotAlone's command line."""


app.command("canon")(canon_command)
app.command("vectors")(vectors_command)
app.command("deal-keys")(deal_keys_command)
app.command("keyserver")(keyserver_command)
app.command("escrow")(escrow_command)
app.command("up")(up_command)
# Backup and restore of a `notalone up` data directory.
app.command("backup")(backup_command)
app.command("restore")(restore_command)
app.add_typer(survivor_app, name="survivor")
app.add_typer(counselor_app, name="counselor")


def main() -> None:
    """Run the command line."""
    app()


if __name__ == "__main__":
    main()
