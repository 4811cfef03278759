"""`notalone survivor join` and `register --token` against an escrow served by uvicorn."""

from __future__ import annotations

import json
import secrets
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from typer.testing import CliRunner, Result

from notalone.cli.main import app
from notalone.crypto import hpke
from notalone.protocol import membership
from notalone.storage.engine import Database
from notalone.storage.models import MemberMail
from notalone.web.app import build_services, create_app
from tests.services.conftest import Clock
from tests.upstack import free_port
from tests.web.conftest import OPERATOR_TOKEN, make_settings

PASSPHRASE = "correct horse battery staple"
runner = CliRunner()


def cli(*args: str) -> Result:
    return runner.invoke(app, list(args), env={"NOTALONE_PASSPHRASE": PASSPHRASE})


@pytest.fixture
def escrow(tmp_path: Path) -> Iterator[tuple[str, Database]]:
    url = f"sqlite:///{tmp_path / 'escrow.db'}"
    database = Database(url)
    database.upgrade()
    settings = make_settings(url, Clock())
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, build_services(settings, database)),
            host="127.0.0.1",
            port=free_port(),
            log_config=None,
            log_level="critical",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.config.port}", database
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        database.dispose()


def member_code(base: str, database: Database) -> str:
    """An organization with an admin, and a member code mailed (read from the outbox)."""
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    with httpx.Client(base_url=base, timeout=30) as http:
        org = http.post(
            "/v1/organizations", json={"name": f"Org {secrets.token_hex(3)}"}, headers=operator
        ).json()["organization_id"]
        code = http.post(
            f"/v1/organizations/{org}/admin-enrollments",
            json={"display_name": "A"},
            headers=operator,
        ).json()["code"]
        admin = http.post(
            "/v1/organization/enroll",
            json={"code": code, "intake_public_key": hpke.generate_key_pair()[1].hex()},
        ).json()["token"]
        sent = http.post(
            "/v1/organization/member-codes",
            json={"email": "ana@example.org"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert sent.status_code == 202
    with database.read() as session:
        secret = session.scalars(select(MemberMail.secret)).one()
    assert secret is not None
    return f"{org}:{secret}"


def test_join_saves_tokens_and_register_spends_one(
    escrow: tuple[str, Database], tmp_path: Path
) -> None:
    base, database = escrow
    org, code = member_code(base, database).split(":")
    profile = tmp_path / "profile"
    joined = cli(
        "survivor", "join", "--organization", org, "--code", code, "--server", base,
        "--profile-dir", str(profile), "--json",
    )  # fmt: skip
    assert joined.exit_code == 0, joined.output
    result = json.loads(joined.stdout)
    assert (result["tokens"], result["saved"]) == (3, 3)
    path = Path(result["file"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    original = path.read_text()
    assert len(membership.parse_tokens(original)) == 3
    again = cli("survivor", "join", "--organization", org, "--code", code, "--server", base,
                "--profile-dir", str(profile))  # fmt: skip
    assert again.exit_code == 2
    assert code not in again.output

    registered = cli(
        "survivor", "register", "--token", str(path), "--server", base,
        "--profile-dir", str(tmp_path / "one"), "--json",
    )  # fmt: skip
    assert registered.exit_code == 0, registered.output
    assert json.loads(registered.stdout)["username"]
    assert len(membership.parse_tokens(path.read_text())) == 2
    # The spent token, from a copy made before, is refused.
    copy = tmp_path / "copy.json"
    copy.write_text(original)
    spent = cli("survivor", "register", "--token", str(copy), "--server", base,
                "--profile-dir", str(tmp_path / "two"))  # fmt: skip
    assert spent.exit_code == 2
    assert "already been used" in spent.output
    assert len(membership.parse_tokens(copy.read_text())) == 3
    both = cli("survivor", "register", "--token", str(path), "--invite", "X", "--server", base,
               "--profile-dir", str(tmp_path / "three"))  # fmt: skip
    assert both.exit_code == 2
    assert "exactly one" in both.output
