"""`notalone canon`: print the canonical form of an identifier, as it is matched."""

from __future__ import annotations

from typing import Annotated

import typer

from notalone.errors import IdentifierError
from notalone.protocol.identifiers import canonicalize

#: Exit status for an identifier that cannot be canonicalized (the usage-error status).
EXIT_BAD_IDENTIFIER = 2


def canon_command(
    # KIND is a plain string checked by canonicalize(), not a Choice: Click would quote a
    # wrong value back, and a user who swapped KIND and VALUE would see their secret echoed.
    kind: Annotated[
        str,
        typer.Argument(help="email, phone, profile or orgid.", metavar="KIND", show_default=False),
    ],
    value: Annotated[
        str | None,
        typer.Argument(
            help="The identifier. Leave it out (or give -) to read it from standard input, "
            "which keeps it out of the shell history and the process list.",
            metavar="VALUE",
            show_default=False,
        ),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            "-r",
            help="Country of a phone number written without its country code "
            "(ISO 3166 two-letter code, such as US, DE or IN).",
            metavar="CC",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print the canonical form of an identifier: what is matched, byte for byte.

    Two spellings of the same identifier print the same line.

    An identifier that cannot be used exits with status 2 and the reason on stderr.

    Kinds and their canonical forms:

      email    name@domain, lower-cased; Gmail dots and +tags removed

      phone    E.164, such as +14155550134 (;ext=N for an extension)

      profile  platform:name for LinkedIn, X (Twitter), Instagram, Facebook,
               TikTok, GitHub, and mastodon:name@server

      orgid    domain:id, an organization's own id for a person

    Examples:

      notalone canon email John.Doe+work@GMail.com

      notalone canon phone "(415) 555-0134" --region US

      notalone canon profile https://www.linkedin.com/in/Jane-Doe/

      notalone canon orgid example.org:E12345

      notalone canon email < address.txt
    """
    if value is None or value == "-":
        value = typer.get_text_stream("stdin").readline()
    try:
        result = canonicalize(kind, value, region=region)
    except IdentifierError as error:
        # The message never contains the identifier (notalone.errors), so it can be shown.
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_BAD_IDENTIFIER) from None
    typer.echo(result.canonical)
