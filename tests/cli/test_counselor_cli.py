"""`notalone counselor …`: key files, and inbox/open against a real deployment."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from notalone.cli.main import app
from tests.cli.test_survivor_cli import (  # noqa: F401 - the fixture is used by name
    Deployment,
    cli,
    deployment,
    registered,
)

runner = CliRunner()


def test_keygen_writes_a_private_key_and_never_overwrites(tmp_path: Path) -> None:
    key = tmp_path / "me.key"
    made = runner.invoke(app, ["counselor", "keygen", "--key", str(key), "--json"])
    assert made.exit_code == 0, made.output
    answer = json.loads(made.stdout)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    document = json.loads(key.read_text())
    assert document["public_key"] == answer["public_key"]
    assert document["private_key"] not in made.stdout
    refused = runner.invoke(app, ["counselor", "keygen", "--key", str(key)])
    assert refused.exit_code == 2
    assert json.loads(key.read_text()) == document
    forced = runner.invoke(app, ["counselor", "keygen", "--key", str(key), "--force"])
    assert forced.exit_code == 0
    assert json.loads(key.read_text()) != document


def test_a_broken_key_file_is_named_not_quoted(tmp_path: Path) -> None:
    key = tmp_path / "bad.key"
    key.write_text('{"v": 1, "kind": "notalone/counselor-key", "private_key": "zz-secret"}')
    token = tmp_path / "token"
    token.write_text("t" * 64)
    result = runner.invoke(
        app, ["counselor", "inbox", "--key", str(key), "--token-file", str(token)]
    )
    assert result.exit_code == 2
    assert "zz-secret" not in result.output
    assert "bad.key" in result.output


def test_inbox_and_open_show_each_counselor_their_own_survivor(
    deployment: Deployment,  # noqa: F811 - the imported fixture, by name
    tmp_path: Path,
) -> None:
    first, second = deployment.counselor(0), deployment.counselor(1)
    for name, counselor, contact in (("a", first, "signal:a"), ("b", second, "mail:b")):
        profile = tmp_path / name
        registered(deployment, profile)
        added = cli(
            "survivor", "entry", "add", "--profile", f"https://social.example/@perp{name}",
            "--profile", "https://social.example/@shared-cli-perp",
            "--counselor", counselor["id"], "--contact", contact, "--profile-dir", str(profile),
        )  # fmt: skip
        assert added.exit_code == 0, added.output
    for counselor, contact, other in ((first, "signal:a", second), (second, "mail:b", first)):
        files = ["--key", counselor["key_file"], "--token-file", counselor["token_file"]]
        server = ["--server", deployment.url]
        inbox = runner.invoke(app, ["counselor", "inbox", *files, *server, "--json"])
        assert inbox.exit_code == 0, inbox.output
        items = [i for i in json.loads(inbox.stdout) if other["id"] in i["other_counselors"]]
        assert items
        opened = runner.invoke(
            app, ["counselor", "open", items[-1]["slot_id"], *files, *server, "--json"]
        )
        assert opened.exit_code == 0, opened.output
        (package,) = json.loads(opened.stdout)
        assert package["contact"] == contact
        entered = {i["entered"] for i in package["identifiers"]}
        assert "https://social.example/@shared-cli-perp" in entered
    wrong = runner.invoke(
        app,
        [
            "counselor", "open", "00" * 16, "--key", first["key_file"],
            "--token-file", first["token_file"], "--server", deployment.url,
        ],
    )  # fmt: skip
    assert wrong.exit_code == 2
    assert "not in your inbox" in wrong.output
