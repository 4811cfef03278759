"""End to end: `notalone up` as a process, two survivors and two counselors through the CLI.

Starts `notalone up --data <tmp> --port <free>`, waits for up.json, registers two
survivors (NOTALONE_PASSPHRASE, --profile-dir in tmp) who name one phone number written
two ways, then each counselor's `inbox` and `open` show exactly their survivor's contact
and identifier. The one-time codes printed for the browser consoles enroll a counselor
and the demo organization's admin. SIGINT then stops everything: the process exits and
every port is free.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

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

        # The printed one-time codes enroll a counselor and the demo organization's admin
        # (keys made here stand in for the ones a browser makes).
        enrollment, admin = up["counselor_enrollment"], up["admin_enrollment"]
        with httpx.Client(base_url=up["escrow_url"], timeout=10) as http:
            public_key = X25519PrivateKey.generate().public_key().public_bytes_raw().hex()
            made = http.post(
                "/v1/counselor/enroll", json={"code": enrollment["code"], "public_key": public_key}
            )
            assert made.status_code == 201, made.text
            assert made.json()["id"] == enrollment["counselor_id"] == "counselor-c"
            intake_key = X25519PrivateKey.generate().public_key().public_bytes_raw().hex()
            made = http.post(
                "/v1/organization/enroll",
                json={"code": admin["code"], "intake_public_key": intake_key},
            )
            assert made.status_code == 201, made.text
            assert made.json()["organization_id"] == up["organization_id"]
    finally:
        returncode, out, err = running.stop()
    assert returncode == 0, err
    assert "NotAlone stopped." in out
    assert f"/counselor/enroll with the one-time code {enrollment['code']}" in out
    assert f"/org/enroll with the one-time code {admin['code']}" in out
    for url in [up["escrow_url"], *up["key_servers"]]:
        assert port_is_free(int(url.rsplit(":", 1)[1])), url
