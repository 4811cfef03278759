"""`notalone up` as a process for tests: free ports, the CLI with --json, start and stop.

Shared by the end-to-end tests (tests/e2e/test_up.py) and the browser tests
(tests/browser), which both run the main job exactly as `make up` starts it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PASSPHRASE = "correct horse battery staple"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cli(*args: str, profile: Path | None = None) -> Any:
    """Run `notalone … --json` and return its JSON; the passphrase comes from the
    environment, as a script would pass it."""
    command = [sys.executable, "-m", "notalone.cli.main", *args, "--json"]
    if profile is not None:
        command += ["--profile-dir", str(profile)]
    env = {**os.environ, "NOTALONE_PASSPHRASE": PASSPHRASE}
    run = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        command, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@dataclass
class UpProcess:
    """A running `notalone up` and what its up.json says."""

    process: subprocess.Popen[str]
    data: Path
    described: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.described["escrow_url"])

    @classmethod
    def start(cls, data: Path, port: int) -> UpProcess:
        """Start it and wait (up to 60 s) for up.json."""
        # Its output goes to files beside the data directory, not to pipes: a pipe that
        # nobody reads fills up during a long test and then blocks the servers.
        data.parent.mkdir(parents=True, exist_ok=True)
        with (
            (data.parent / "up.stdout").open("w") as out,
            (data.parent / "up.stderr").open("w") as err,
        ):
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [sys.executable, "-m", "notalone.cli.main", "up", "--data", str(data),
                 "--port", str(port)],
                stdout=out,
                stderr=err,
                text=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while not (data / "up.json").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                cls(process, data, {}).stop()
                raise RuntimeError("notalone up did not start within 60 s")
            time.sleep(0.1)
        return cls(process, data, json.loads((data / "up.json").read_text()))

    def stop(self) -> tuple[int, str, str]:
        """SIGINT, as Ctrl-C; its exit code, stdout and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        out = (self.data.parent / "up.stdout").read_text()
        err = (self.data.parent / "up.stderr").read_text()
        return self.process.returncode, out, err
