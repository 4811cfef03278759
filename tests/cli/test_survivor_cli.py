"""`notalone survivor …` against a real deployment (`notalone up`'s servers in threads).

The module's deployment runs three key servers and the escrow on free ports; each test
drives the CLI with CliRunner, a profile directory in tmp and NOTALONE_PASSPHRASE.
"""

from __future__ import annotations

import json
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from notalone.cli import up
from notalone.cli.main import app

PASSPHRASE = "correct horse battery staple"
runner = CliRunner()


@dataclass
class Deployment:
    data: Path
    info: dict[str, Any]
    invites: Iterator[str]

    @property
    def url(self) -> str:
        return str(self.info["escrow_url"])

    def counselor(self, index: int) -> dict[str, str]:
        return dict(self.info["counselors"][index])


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    data = tmp_path_factory.mktemp("up")
    stop = threading.Event()
    running = up.Running()
    thread = threading.Thread(target=up._run, args=(data, 0, running, stop), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not (data / up.UP_FILE).exists():
        assert thread.is_alive(), "notalone up stopped"
        assert time.monotonic() < deadline, "notalone up did not start"
        time.sleep(0.05)
    info = json.loads((data / up.UP_FILE).read_text())
    yield Deployment(data, info, iter(info["invite_codes"]))
    stop.set()
    thread.join(timeout=30)
    running.stop()
    assert not thread.is_alive()


def cli(*args: str, passphrase: str = PASSPHRASE) -> Result:
    return runner.invoke(app, list(args), env={"NOTALONE_PASSPHRASE": passphrase})


def registered(deployment: Deployment, profile: Path) -> dict[str, Any]:
    result = cli(
        "survivor",
        "register",
        "--invite",
        next(deployment.invites),
        "--server",
        deployment.url,
        "--profile-dir",
        str(profile),
        "--json",
    )
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_register_writes_a_private_sealed_profile(deployment: Deployment, tmp_path: Path) -> None:
    answer = registered(deployment, tmp_path)
    assert answer["recovery_key"]
    path = tmp_path / "survivor.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert answer["username"] not in text
    assert PASSPHRASE not in text
    again = cli(
        "survivor", "register", "--invite", "X", "--server", deployment.url,
        "--profile-dir", str(tmp_path),
    )  # fmt: skip
    assert again.exit_code == 2
    assert "already exists" in again.output


def test_a_wrong_passphrase_is_refused_plainly(deployment: Deployment, tmp_path: Path) -> None:
    registered(deployment, tmp_path)
    result = cli(
        "survivor", "entry", "list", "--profile-dir", str(tmp_path), passphrase="not my passphrase"
    )
    assert result.exit_code == 1
    assert "wrong passphrase" in result.output
    assert "Traceback" not in result.output


def test_records_add_list_verify(deployment: Deployment, tmp_path: Path) -> None:
    registered(deployment, tmp_path)
    profile = ["--profile-dir", str(tmp_path)]
    added = cli(
        "survivor", "record", "add", "--what", "it happened", "--witness", "W", *profile, "--json"
    )
    assert added.exit_code == 0, added.output
    record_id = json.loads(added.stdout)["record_id"]
    again = cli(
        "survivor", "record", "add", "--record", record_id, "--what", "more", *profile, "--json"
    )
    assert json.loads(again.stdout)["version"] == 2
    listed = cli("survivor", "record", "list", *profile, "--json")
    (record,) = json.loads(listed.stdout)
    assert [v["what"] for v in record["versions"]] == ["it happened", "more"]
    assert record["versions"][0]["witnesses"] == ["W"]
    verified = cli("survivor", "record", "verify", *profile, "--json")
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["receipts"] == 2


def test_entries_add_list_withdraw_never_say_matched(
    deployment: Deployment, tmp_path: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    registered(deployment, one)
    registered(deployment, two)
    counselor = deployment.counselor(0)["id"]
    for profile, email in ((one, "Someone@Example.org"), (two, "someone@example.org")):
        added = cli(
            "survivor", "entry", "add", "--email", email, "--counselor", counselor,
            "--contact", "reach me", "--profile-dir", str(profile), "--json",
        )  # fmt: skip
        assert added.exit_code == 0, added.output
    listed = cli("survivor", "entry", "list", "--profile-dir", str(one), "--json")
    (entry,) = json.loads(listed.stdout)
    assert entry["state"] == "sealed"
    assert entry["identifiers"] == [
        {"kind": "email", "entered": "Someone@Example.org", "region": None}
    ]
    assert "match" not in listed.stdout.lower()
    human = cli("survivor", "entry", "list", "--profile-dir", str(one))
    assert "match" not in human.stdout.lower()
    withdrawn = cli("survivor", "entry", "withdraw", entry["entry_id"], "--profile-dir", str(one))
    assert withdrawn.exit_code == 0, withdrawn.output
    relisted = cli("survivor", "entry", "list", "--profile-dir", str(one), "--json")
    assert json.loads(relisted.stdout)[0]["state"] == "withdrawn"


def test_a_bad_identifier_is_reported_without_echoing_it(
    deployment: Deployment, tmp_path: Path
) -> None:
    registered(deployment, tmp_path)
    secret = "secret-typo-at-nowhere"
    result = cli(
        "survivor", "entry", "add", "--email", secret, "--counselor",
        deployment.counselor(0)["id"], "--contact", "c", "--profile-dir", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.output.startswith("error:")
    assert secret not in result.output


def test_without_a_profile_the_cli_says_what_to_do(tmp_path: Path) -> None:
    result = cli("survivor", "entry", "list", "--profile-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "notalone survivor register" in result.output


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    result = cli(
        "survivor", "register", "--invite", "CODE", "--server", "http://127.0.0.1:9",
        "--profile-dir", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "could not be reached" in result.output
    assert not (tmp_path / "survivor.json").exists()
