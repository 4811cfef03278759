"""End to end: `notalone up` as a process, two survivors and two counselors through the CLI.

Starts `notalone up --data <tmp> --port <free>`, waits for up.json, registers two
survivors (NOTALONE_PASSPHRASE, --profile-dir in tmp) who name one phone number written
two ways, then each counselor's `inbox` and `open` show exactly their survivor's contact
and identifier. SIGINT then stops everything: the process exits and every port is free.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PASSPHRASE = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cli(*args: str, profile: Path | None = None) -> Any:
    command = [sys.executable, "-m", "notalone.cli.main", *args, "--json"]
    if profile is not None:
        command += ["--profile-dir", str(profile)]
    env = {**os.environ, "NOTALONE_PASSPHRASE": PASSPHRASE}
    run = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        command, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_up_two_survivors_two_counselors_then_sigint(tmp_path: Path) -> None:
    data, port = tmp_path / "data", _free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "notalone.cli.main", "up", "--data", str(data), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (data / "up.json").exists():
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "notalone up did not start in time"
            time.sleep(0.1)
        up = json.loads((data / "up.json").read_text())
        server = ["--server", up["escrow_url"]]
        assert up["escrow_url"] == f"http://127.0.0.1:{port}"
        first, second = up["counselors"]
        survivors = [
            (first, ["--phone", "(415) 555-0134", "--region", "US"], "signal: survivor one"),
            (second, ["--phone", "+1 415 555 0134"], "survivor-two@example.org"),
        ]
        for number, (counselor, phone, contact) in enumerate(survivors):
            profile = tmp_path / f"survivor-{number}"
            _cli("survivor", "register", "--invite", up["invite_codes"][number], *server,
                 profile=profile)  # fmt: skip
            _cli("survivor", "entry", "add", *phone, "--counselor", counselor["id"],
                 "--contact", contact, profile=profile)  # fmt: skip
            (entry,) = _cli("survivor", "entry", "list", profile=profile)
            assert entry["state"] == "sealed"

        for counselor, phone, contact in survivors:
            files = ["--key", counselor["key_file"], "--token-file", counselor["token_file"]]
            (item,) = _cli("counselor", "inbox", *files, *server)
            (package,) = _cli("counselor", "open", item["match_id"], *files, *server)
            assert package["contact"] == contact
            assert [i["entered"] for i in package["identifiers"]] == [phone[1]]
            assert package["identifiers"][0]["canonical"] == "+14155550134"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
    assert process.returncode == 0, err
    assert "NotAlone stopped." in out
    for url in [up["escrow_url"], *up["key_servers"]]:
        assert _port_is_free(int(url.rsplit(":", 1)[1])), url
