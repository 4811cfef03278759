"""End to end: `notalone up` as a process, two survivors and two counselors through the CLI.

Starts `notalone up --data <tmp> --port <free>`, waits for up.json, registers two
survivors (NOTALONE_PASSPHRASE, --profile-dir in tmp) who name one phone number written
two ways, then each counselor's `inbox` and `open` show exactly their survivor's contact
and identifier. SIGINT then stops everything: the process exits and every port is free.
"""

from __future__ import annotations

from pathlib import Path

from tests.upstack import UpProcess, cli, free_port, port_is_free


def test_up_two_survivors_two_counselors_then_sigint(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    running = UpProcess.start(data, port)
    try:
        up = running.described
        server = ["--server", up["escrow_url"]]
        assert up["escrow_url"] == f"http://127.0.0.1:{port}"
        first, second = up["counselors"]
        survivors = [
            (first, ["--phone", "(415) 555-0134", "--region", "US"], "signal: survivor one"),
            (second, ["--phone", "+1 415 555 0134"], "survivor-two@example.org"),
        ]
        for number, (counselor, phone, contact) in enumerate(survivors):
            profile = tmp_path / f"survivor-{number}"
            cli("survivor", "register", "--invite", up["invite_codes"][number], *server,
                profile=profile)  # fmt: skip
            cli("survivor", "entry", "add", *phone, "--counselor", counselor["id"],
                "--contact", contact, profile=profile)  # fmt: skip
            (entry,) = cli("survivor", "entry", "list", profile=profile)
            assert entry["state"] == "sealed"

        for counselor, phone, contact in survivors:
            files = ["--key", counselor["key_file"], "--token-file", counselor["token_file"]]
            (item,) = cli("counselor", "inbox", *files, *server)
            (package,) = cli("counselor", "open", item["match_id"], *files, *server)
            assert package["contact"] == contact
            assert [i["entered"] for i in package["identifiers"]] == [phone[1]]
            assert package["identifiers"][0]["canonical"] == "+14155550134"
    finally:
        returncode, out, err = running.stop()
    assert returncode == 0, err
    assert "NotAlone stopped." in out
    for url in [up["escrow_url"], *up["key_servers"]]:
        assert port_is_free(int(url.rsplit(":", 1)[1])), url
