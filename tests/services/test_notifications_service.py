"""The notification use case with in-memory ports: delivery, retries with a capped
exponential backoff, leases, and an email that says nothing but "something is new"."""

from __future__ import annotations

import pytest

from notalone.errors import InputError, UnavailableError
from notalone.services.notifications import (
    DEFAULT_LEASE_MS,
    ERROR_KINDS,
    NEW_MATCH_BODY,
    NEW_MATCH_SUBJECT,
    DeliveryError,
    InMemoryOutbox,
    NotificationService,
    RecordingMailer,
    new_match_email,
    retry_delay_ms,
)
from tests.services.conftest import Clock


def _service(
    outbox: InMemoryOutbox, mailer: RecordingMailer, clock: Clock, **options: int
) -> NotificationService:
    return NotificationService(outbox, mailer, clock, **options)


def test_due_rows_are_sent_once_each() -> None:
    clock, outbox, mailer = Clock(), InMemoryOutbox(), RecordingMailer()
    ana = outbox.add("c-ana", "ana@counsel.example", clock.now_ms)
    outbox.add("c-ben", "ben@counsel.example", clock.now_ms + 1)  # not due yet
    service = _service(outbox, mailer, clock)
    assert service.deliver_due().delivered == 1
    assert [m.to for m in mailer.sent] == ["ana@counsel.example"]
    assert outbox.rows[ana].delivered_at_ms == clock.now_ms
    assert outbox.rows[ana].attempts == 1
    assert service.deliver_due().delivered == 0
    clock.now_ms += 1
    assert service.deliver_due().delivered == 1
    assert service.deliver_due().delivered == 0
    assert len(mailer.sent) == 2


def test_failures_back_off_exponentially_up_to_the_cap_and_keep_the_row() -> None:
    clock, outbox, mailer = Clock(), InMemoryOutbox(), RecordingMailer()
    row = outbox.add("c-ana", "ana@counsel.example", clock.now_ms)
    service = _service(outbox, mailer, clock)
    mailer.failing = "timeout"
    waits = []
    for _ in range(10):
        start = clock.now_ms
        assert service.deliver_due().failed == 1
        waits.append(outbox.rows[row].next_attempt_at_ms - start)
        assert service.deliver_due().failed == 0  # not due again before the wait
        clock.now_ms = outbox.rows[row].next_attempt_at_ms
    assert waits == [10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 640_000] + [900_000] * 3
    assert (outbox.rows[row].attempts, outbox.rows[row].last_error_kind) == (10, "timeout")
    mailer.failing = None
    assert service.deliver_due().delivered == 1
    assert outbox.rows[row].attempts == 11


def test_a_row_without_an_address_waits_as_no_address() -> None:
    clock, outbox, mailer = Clock(), InMemoryOutbox(), RecordingMailer()
    row = outbox.add("c-ana", None, clock.now_ms)
    assert _service(outbox, mailer, clock).deliver_due().failed == 1
    assert outbox.rows[row].last_error_kind == "no-address"
    assert outbox.rows[row].delivered_at_ms is None
    assert mailer.sent == []


def test_a_round_stops_at_its_limit_or_when_asked() -> None:
    clock, outbox, mailer = Clock(), InMemoryOutbox(), RecordingMailer()
    for _ in range(5):
        outbox.add("c-ana", "ana@counsel.example", clock.now_ms)
    service = _service(outbox, mailer, clock, round_limit=2)
    assert service.deliver_due().delivered == 2
    assert service.deliver_due(lambda: False).delivered == 0
    assert service.deliver_due().delivered == 2
    assert service.deliver_due().delivered == 1


def test_a_claimed_row_is_leased() -> None:
    clock, outbox = Clock(), InMemoryOutbox()
    outbox.add("c-ana", "ana@counsel.example", clock.now_ms)
    assert len(outbox.claim_due(clock.now_ms, 10, DEFAULT_LEASE_MS)) == 1
    assert outbox.claim_due(clock.now_ms + DEFAULT_LEASE_MS - 1, 10, DEFAULT_LEASE_MS) == []
    assert len(outbox.claim_due(clock.now_ms + DEFAULT_LEASE_MS, 10, DEFAULT_LEASE_MS)) == 1


def test_the_email_carries_no_detail() -> None:
    email = new_match_email("ana@counsel.example")
    assert (email.subject, email.body) == (NEW_MATCH_SUBJECT, NEW_MATCH_BODY)
    assert "ana@" not in repr(email)
    assert "ana" not in NEW_MATCH_BODY.lower()
    assert all(len(line) <= 76 for line in NEW_MATCH_BODY.splitlines())


def test_delivery_errors_carry_a_known_word_only() -> None:
    assert DeliveryError("timeout").kind == "timeout"
    assert DeliveryError("550 <ana@counsel.example>").kind == "other"
    assert "ana" not in str(DeliveryError("550 <ana@counsel.example>"))
    assert isinstance(DeliveryError("refused"), UnavailableError)
    assert "other" in ERROR_KINDS


def test_bad_retry_settings_are_refused() -> None:
    with pytest.raises(InputError):
        retry_delay_ms(0)
    assert retry_delay_ms(10_000) == 900_000  # a huge count does not build a huge number
    clock, outbox, mailer = Clock(), InMemoryOutbox(), RecordingMailer()
    with pytest.raises(InputError):
        _service(outbox, mailer, clock, retry_min_ms=10, retry_max_ms=5)
    with pytest.raises(InputError):
        _service(outbox, mailer, clock, lease_ms=0)
