"""Entry point of the `notalone` console script."""

from __future__ import annotations

import typer

from notalone.cli.canon import canon_command
from notalone.cli.keyserver import deal_keys_command, keyserver_command
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


@app.command()
def up() -> None:
    """Start NotAlone on embedded defaults (for now: say what exists)."""
    typer.echo(
        "The escrow server is not built yet: this release holds the protocol core, the key\n"
        "server and the escrow's storage layer. What exists now:\n"
        "  notalone canon KIND VALUE   canonicalize an identifier (email, phone, profile, orgid)\n"
        "  notalone vectors --out DIR  write the cross-language test vectors\n"
        "  notalone deal-keys ...      split a fresh OPRF key among key servers\n"
        "  notalone keyserver ...      run one key server (see docs/keyserver.md)\n"
        "  make test / make bench      run the test suite / the OPRF benchmark"
    )


app.command("canon")(canon_command)
app.command("vectors")(vectors_command)
app.command("deal-keys")(deal_keys_command)
app.command("keyserver")(keyserver_command)


def main() -> None:
    """Run the command line."""
    app()


if __name__ == "__main__":
    main()
