"""Counselor notifications end to end: a real SMTP server (aiosmtpd) on a free port, the
escrow app with its notifier thread, and survivors matching through the API.

The notifier polls every 20 ms; the escrow's clock is the tests' settable clock, so the
backoff between retries passes when a test moves the clock, not by sleeping. Waits are
bounded loops that fail after a few seconds.
"""

from __future__ import annotations

import email
import email.policy
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from notalone.errors import InputError
from notalone.services.notifications import (
    NEW_MATCH_BODY,
    NEW_MATCH_SUBJECT,
    DeliveryError,
    Email,
    InMemoryOutbox,
    Notification,
    NotificationService,
    RecordingMailer,
)
from notalone.storage.outbox import OutboxView, SqlOutbox
from notalone.web.notifier import Notifier, SmtpMailer
from notalone.web.settings import EscrowSettings
from tests.services.conftest import Clock
from tests.web.conftest import Env, make_settings, running_env

SENDER = "notalone@escrow.example"
POLL_S = 0.02
WAIT_S = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


@dataclass(frozen=True)
class Received:
    """One message as the SMTP server got it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    def parsed(self) -> email.message.EmailMessage:
        message = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        return message


class Sink:
    """An aiosmtpd handler that keeps every message."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[Received] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name.
        content = envelope.content
        assert isinstance(content, bytes)
        with self._lock:
            self._messages.append(
                Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), content)
            )
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)


@contextmanager
def smtp_server(port: int) -> Iterator[Sink]:
    """A local SMTP server on `port`, stopped at the end."""
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port, ready_timeout=5)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@contextmanager
def notifying_env(database_url: str, smtp_port: int) -> Iterator[Env]:
    """The escrow app with SMTP settings (its notifier runs while the client is open)."""
    clock = Clock()
    settings = make_settings(
        database_url,
        clock,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_sender=SENDER,
        smtp_starttls=False,
        smtp_timeout_s=2,
        notify_poll_s=POLL_S,
        entry_response_floor_ms=0,
    )
    with running_env(settings, clock) as env:
        assert env.services.notifications is not None
        yield env


def _rows(env: Env) -> list[OutboxView]:
    return SqlOutbox(env.database).rows()


# -- a match, two emails --------------------------------------------------------------------


@pytest.mark.parametrize("web_backend", ["sqlite", "postgresql"], indirect=True)
def test_a_match_sends_each_counselor_one_email_that_says_nothing_else(
    database_url: str,
) -> None:
    port = _free_port()
    with smtp_server(port) as sink, notifying_env(database_url, port) as env:
        ana = env.counselor("c-ana", notify_email="ana.worker@counsel.example")
        ben = env.counselor("c-ben", notify_email="ben.worker@counsel.example")
        cy = env.counselor("c-cy")  # no address: no email
        y = secrets.token_bytes(64)
        survivors = [env.survivor() for _ in range(3)]
        slots = [
            env.slot(y, survivors[0].account_id, ana, contact="signal:+15550001111"),
            env.slot(y, survivors[1].account_id, ben, contact="signal:+15550002222"),
            env.slot(secrets.token_bytes(64), survivors[2].account_id, cy, contact="tel:+1555"),
        ]
        for survivor, slot in zip(survivors, slots, strict=True):
            assert env.post_entry(survivor, [slot]).status_code == 201

        _wait_until(lambda: len(sink.messages) >= 2, "two emails")
        _wait_until(
            lambda: all(r.delivered_at_ms is not None for r in _rows(env)), "rows delivered"
        )
        # More rounds pass: nothing is sent twice.
        time.sleep(10 * POLL_S)
        received = sink.messages
        assert sorted(r.rcpt_tos for r in received) == [
            ("ana.worker@counsel.example",),
            ("ben.worker@counsel.example",),
        ]
        rows = _rows(env)
        assert sorted(r.counselor_id for r in rows) == ["c-ana", "c-ben"]
        assert all(r.attempts == 1 and r.last_error_kind is None for r in rows)

        # What the email must not carry: anything about the match, the slots, the
        # counselors' ids and names, the survivors or their packages.
        inbox = env.client.get("/v1/counselor/inbox", headers=ana.headers()).json()["items"]
        forbidden = [
            inbox[0]["match_id"],
            inbox[0]["inner"][:64],
            *(s.slot_id.hex() for s in slots),
            *(s.tag.hex() for s in slots),
            *(s.outer.hex()[:64] for s in slots),
            *(s.account_id.hex() for s in survivors),
            *(s.username for s in survivors),
            "c-ana",
            "c-ben",
            "c-cy",
            "Counselor c-",
            "signal:",
            "+1555",
            "perp@example.org",
        ]
        for message in received:
            assert message.mail_from == SENDER
            text = message.raw.decode("utf-8").lower()
            for value in forbidden:
                assert value.lower() not in text, value
            parsed = message.parsed()
            assert parsed["Subject"] == NEW_MATCH_SUBJECT
            assert parsed["From"] == SENDER
            assert parsed.get_content().replace("\r\n", "\n") == NEW_MATCH_BODY
            assert set(parsed.keys()) == {
                "From",
                "To",
                "Subject",
                "Date",
                "Message-ID",
                "Content-Type",
                "Content-Transfer-Encoding",
                "MIME-Version",
            }


# -- the SMTP server down, then up ----------------------------------------------------------


def test_an_unreachable_server_delays_the_email_but_never_loses_it(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = _free_port()  # nothing listens here yet: connections are refused
    caplog.set_level("DEBUG", logger="notalone")
    with notifying_env(database_url, port) as env:
        ana = env.counselor("c-ana", notify_email="ana.worker@counsel.example")
        ben = env.counselor("c-ben")
        y = secrets.token_bytes(64)
        first, second = env.survivor(), env.survivor()
        assert env.post_entry(first, [env.slot(y, first.account_id, ana)]).status_code == 201
        assert env.post_entry(second, [env.slot(y, second.account_id, ben)]).status_code == 201

        # Each failure is recorded and pushes the next attempt out: 10 s, 20 s, 40 s.
        for failures, delay_ms in [(1, 10_000), (2, 20_000), (3, 40_000)]:
            _wait_until(lambda n=failures: _rows(env)[0].attempts >= n, f"{failures} failures")
            (row,) = _rows(env)
            assert (row.attempts, row.delivered_at_ms) == (failures, None)
            assert row.last_error_kind == "refused"
            assert row.next_attempt_at_ms == env.clock.now_ms + delay_ms
            # Not yet due: the notifier leaves it alone while the clock stands still.
            time.sleep(5 * POLL_S)
            assert _rows(env)[0].attempts == failures
            if failures < 3:
                env.clock.now_ms += delay_ms

        # The server comes up; once the row is due again, the email goes out.
        with smtp_server(port) as sink:
            env.clock.now_ms += 40_000
            _wait_until(lambda: _rows(env)[0].delivered_at_ms is not None, "delivery")
            (row,) = _rows(env)
            assert (row.attempts, row.delivered_at_ms) == (4, env.clock.now_ms)
            assert row.last_error_kind == "refused"  # why it was late, kept for operators
            time.sleep(5 * POLL_S)
            (message,) = sink.messages
            assert message.rcpt_tos == ("ana.worker@counsel.example",)

    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("notalone"))
    assert "failed" in logged
    assert "ana.worker" not in logged
    assert "counsel.example" not in logged
    assert "c-ana" not in logged


# -- no SMTP host: no notifier ---------------------------------------------------------------


def test_without_an_smtp_host_rows_wait_and_nothing_runs(env: Env) -> None:
    assert env.settings.smtp_host is None
    assert env.services.notifications is None
    ana = env.counselor("c-ana", notify_email="ana.worker@counsel.example")
    ben = env.counselor("c-ben", notify_email="ben.worker@counsel.example")
    y = secrets.token_bytes(64)
    first, second = env.survivor(), env.survivor()
    env.post_entry(first, [env.slot(y, first.account_id, ana)])
    env.post_entry(second, [env.slot(y, second.account_id, ben)])
    rows = _rows(env)
    assert [(r.attempts, r.delivered_at_ms) for r in rows] == [(0, None), (0, None)]
    assert not any(t.name == "notalone-notifier" for t in threading.enumerate())


# -- the mailer and the settings -------------------------------------------------------------


def test_the_mailer_reports_failures_as_fixed_words_without_the_address(
    database_url: str,
) -> None:
    port = _free_port()
    settings = make_settings(
        database_url,
        Clock(),
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_sender=SENDER,
        smtp_starttls=False,
    )
    mailer = SmtpMailer(settings)
    note = Email(to="ana.worker@counsel.example", subject="s", body="b")
    with pytest.raises(DeliveryError) as refused:
        mailer.send(note)
    assert refused.value.kind == "refused"
    assert refused.value.__cause__ is None
    assert "ana" not in str(refused.value)
    assert "ana" not in repr(mailer) + repr(note)
    # A server without STARTTLS, when the settings require it: refused as "tls", no
    # message sent in the clear.
    secure = make_settings(
        database_url, Clock(), smtp_host="127.0.0.1", smtp_port=port, smtp_sender=SENDER
    )
    with smtp_server(port) as sink:
        with pytest.raises(DeliveryError) as tls:
            SmtpMailer(secure).send(note)
        assert tls.value.kind == "tls"
        assert sink.messages == []


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"smtp_host": "127.0.0.1"}, "smtp_sender is required"),
        ({"smtp_host": "127.0.0.1", "smtp_sender": "not an address"}, "smtp_sender must be"),
        ({"smtp_port": 0}, "smtp_port"),
        ({"smtp_port": True}, "smtp_port"),
        ({"smtp_starttls": "yes"}, "smtp_starttls"),
        ({"smtp_username": "u"}, "come together"),
        (
            {
                "smtp_host": "127.0.0.1",
                "smtp_sender": SENDER,
                "smtp_starttls": False,
                "smtp_username": "u",
                "smtp_password": "secret-password",
            },
            "need smtp_starttls",
        ),
        ({"smtp_host": ""}, "smtp_host must be"),
        ({"notify_poll_s": 0}, "notify_poll_s"),
        ({"notify_poll_s": "5"}, "notify_poll_s"),
        ({"smtp_timeout_s": 600}, "smtp_timeout_s"),
    ],
)
def test_smtp_settings_are_checked(overrides: dict[str, object], says: str) -> None:
    with pytest.raises(InputError, match=says) as refused:
        make_settings("sqlite:///unused.db", Clock(), **overrides)
    assert "secret-password" not in str(refused.value)


def test_the_smtp_password_is_not_in_the_settings_repr() -> None:
    settings = make_settings(
        "sqlite:///unused.db",
        Clock(),
        smtp_host="mail.example",
        smtp_sender=SENDER,
        smtp_username="escrow",
        smtp_password="secret-password",
    )
    assert settings.notifications_configured
    assert "secret-password" not in repr(settings)
    assert "mail-user-7" not in repr(settings)


def test_the_notifier_survives_a_failing_round_and_logs_no_detail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class FlakyOutbox(InMemoryOutbox):
        """Fails its first two claims, as a database restarting would."""

        failures = 2

        def claim_due(self, now_ms: int, limit: int, lease_ms: int) -> list[Notification]:
            if self.failures:
                self.failures -= 1
                raise RuntimeError("row for ana.worker@counsel.example")
            return super().claim_due(now_ms, limit, lease_ms)

    caplog.set_level("INFO", logger="notalone")
    clock, outbox, mailer = Clock(), FlakyOutbox(), RecordingMailer()
    outbox.add("c-ana", "ana.worker@counsel.example", clock.now_ms)
    notifier = Notifier(NotificationService(outbox, mailer, clock), POLL_S)
    notifier.start()
    try:
        _wait_until(lambda: len(mailer.sent) == 1, "delivery after two failed rounds")
    finally:
        notifier.stop()
    # Stopped, it starts again (an app's lifespan may run twice); running, it refuses.
    notifier.start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            notifier.start()
    finally:
        notifier.stop()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("notalone"))
    assert logged.count("RuntimeError") == 2
    assert "ana.worker" not in logged
    assert "c-ana" not in logged


def test_smtp_settings_come_from_a_config_mapping() -> None:
    base = make_settings("sqlite:///unused.db", Clock())
    values = {
        "database_url": base.database_url,
        "server_secret": base.server_secret.hex(),
        "operator_token": base.operator_token,
        "smtp_host": "mail.example.org",
        "smtp_port": 2525,
        "smtp_sender": SENDER,
        "smtp_starttls": True,
        "smtp_username": "mail-user-7",
        "smtp_password": "secret-password",
        "smtp_timeout_s": 5,
        "notify_poll_s": 1.5,
    }
    settings = EscrowSettings.from_mapping(values)
    assert (settings.smtp_host, settings.smtp_port, settings.notify_poll_s) == (
        "mail.example.org",
        2525,
        1.5,
    )
    # Accounts only (no deployment keys): the notifier has nothing to serve.
    assert not settings.notifications_configured
