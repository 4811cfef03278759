"""`notalone canon`: the canonical form on stdout, or exit 2 with the reason on stderr."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from notalone.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["email", "John.Doe+work@GMail.com"], "johndoe@gmail.com"),
        (["phone", "+1 415 555 0134"], "+14155550134"),
        (["phone", "(415) 555-0134", "--region", "US"], "+14155550134"),
        (["phone", "(415) 555-0134", "-r", "us"], "+14155550134"),
        (["profile", "https://www.linkedin.com/in/Jane-Doe/?trk=x"], "linkedin:jane-doe"),
        (["profile", "https://twitter.com/Jack"], "x:jack"),
        (["orgid", "Example.ORG:E-1042"], "example.org:E-1042"),
        (["PROFILE", "@Gargron@Mastodon.Social"], "mastodon:gargron@mastodon.social"),
    ],
)
def test_prints_the_canonical_form(arguments: list[str], expected: str) -> None:
    result = runner.invoke(app, ["canon", *arguments])
    assert result.exit_code == 0, result.output
    assert result.stdout == expected + "\n"
    assert result.stderr == ""


@pytest.mark.parametrize("marker", [None, "-"])
def test_reads_the_value_from_stdin(marker: str | None) -> None:
    arguments = ["canon", "email"] if marker is None else ["canon", "email", marker]
    result = runner.invoke(app, arguments, input="  Jane@ME.com\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "jane@icloud.com\n"


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["phone", "(415) 555-0134"], "add the country code"),
        (["phone", "(415) 555-0134", "--region", "Narnia"], "unknown region"),
        (["email", "jane.doe.example.org"], "needs an @"),
        (["email", "jane@example.org", "--region", "US"], "only to phone numbers"),
        (["profile", "https://github.com/janedoe/repository"], "github.com/<name>"),
        (["orgid", "E-1042-janedoe"], "domain:id"),
        # A user who swaps KIND and VALUE must not see the identifier quoted back.
        (["janedoe@example.org", "email"], "unknown identifier kind"),
    ],
)
def test_refuses_with_exit_2_and_a_message_without_the_value(
    arguments: list[str], fragment: str
) -> None:
    result = runner.invoke(app, ["canon", *arguments])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert fragment in result.stderr
    assert "janedoe" not in result.output.lower()
    assert "0134" not in result.output


def test_help_explains_kinds_and_shows_examples() -> None:
    result = runner.invoke(app, ["canon", "--help"])
    assert result.exit_code == 0
    for text in ("email", "phone", "profile", "orgid", "--region", "E.164", "notalone canon"):
        assert text in result.stdout
