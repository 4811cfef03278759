"""Mail from the outbox: counselors' "you have a new match", and member codes.

When matching puts packages in counselors' inboxes, the same transaction owes each of
those counselors who gave a `notify_email` one outbox row (`notalone.storage.slots`).
`NotificationService.deliver_due` claims due rows one at a time, sends each as a short
email and records the outcome: delivered, or failed with a fixed word for why and the
next attempt after an exponential backoff (10 s, 20 s, 40 s … at most 15 min). A row is
never dropped: it is retried until it is delivered.

Ports:

- `OutboxStore`: claiming and settling rows (`notalone.storage.outbox.SqlOutbox`,
  `InMemoryOutbox` below). A claim leases the row (`lease_ms`) so that two escrow
  processes never send it twice; a process that dies mid-send leaves it to be retried
  when the lease ends.
- `Mailer`: sends one email or raises `DeliveryError` (`notalone.web.notifier.SmtpMailer`,
  `RecordingMailer` below).

The email says only that something new is in the inbox: no match id, slot id, counselor
id, tag, package or survivor data (`new_match_email`). Nothing here logs; no error
message holds an address.

Member codes (docs/protocol.md §15) travel the same way from the `member_mail` table: an
organization admin asks for a code to be sent to a work address; the row holds the
address and the code only until delivery, when the store erases both
(`OutboxStore.member_mail_delivered`). The email (`member_code_email`) carries the code
and how to use it, nothing else. `deliver_due` sends both kinds in one round.

    NotAloneError
    └── UnavailableError
        └── DeliveryError      one email could not be handed over; `kind` says why
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from notalone.errors import InputError, UnavailableError

Clock = Callable[[], int]

NEW_MATCH = "new-match"
NEW_MATCH_SUBJECT = "NotAlone: you have a new match"
NEW_MATCH_BODY = (
    "Hello,\n"
    "\n"
    "There is something new in your NotAlone inbox.\n"
    "\n"
    "Open your NotAlone counselor console, or run `notalone counselor inbox`,\n"
    "to read it. This email says nothing more on purpose: what arrived is only\n"
    "in your inbox.\n"
    "\n"
    "-- NotAlone (an automated message; replies are not read)\n"
)

#: Why a delivery failed: `notalone.storage.models.OUTBOX_ERROR_KINDS` is this list, and
#: the schema enforces it (migration 0003 keeps a frozen copy; a test checks they agree).
ERROR_KINDS = (
    "refused",
    "timeout",
    "network",
    "tls",
    "auth",
    "recipient-refused",
    "smtp-temporary",
    "smtp-permanent",
    "no-address",
    "other",
)

DEFAULT_RETRY_MIN_MS = 10_000
DEFAULT_RETRY_MAX_MS = 15 * 60_000
#: How long a claimed row is reserved for the process sending it: far longer than one
#: SMTP exchange can take (seven steps at the longest SMTP timeout, 60 s).
DEFAULT_LEASE_MS = 15 * 60_000
#: Rows one round sends at most; the rest wait for the next round.
DEFAULT_ROUND_LIMIT = 50


class DeliveryError(UnavailableError):
    """One email could not be handed to the mail server; `kind` is one of ERROR_KINDS."""

    def __init__(self, kind: str) -> None:
        # Only a known word is kept or shown: a caller's text could quote an address.
        self.kind = kind if kind in ERROR_KINDS else "other"
        super().__init__(
            f"the notification could not be delivered ({self.kind}); it will be retried"
        )


# --------------------------------------------------------------------------- ports


@dataclass(frozen=True)
class Notification:
    """A claimed outbox row: whom to tell, and the address to tell them at (or None)."""

    id: int
    counselor_id: str
    kind: str
    #: Attempts made before this one.
    attempts: int
    address: str | None = field(repr=False)


@dataclass(frozen=True)
class MemberMailItem:
    """A claimed member-code mail: the address and the code, until delivered."""

    id: int
    #: Attempts made before this one.
    attempts: int
    address: str = field(repr=False)
    code: str = field(repr=False)


@dataclass(frozen=True)
class Email:
    """One plain-text email to one recipient."""

    to: str = field(repr=False)
    subject: str
    body: str


class OutboxStore(Protocol):
    """The outbox (`notalone.storage.outbox.SqlOutbox`)."""

    def claim_due(self, now_ms: int, limit: int, lease_ms: int) -> list[Notification]:
        """Up to `limit` undelivered rows due at `now_ms`, each reserved for `lease_ms`:
        no other claim returns them before then."""
        ...

    def mark_delivered(self, notification_id: int, now_ms: int) -> None:
        """Record a successful attempt: the row is never claimed again."""
        ...

    def mark_failed(self, notification_id: int, error_kind: str, next_attempt_at_ms: int) -> None:
        """Record a failed attempt and when to try again; the row is kept."""
        ...

    def claim_member_mail(self, now_ms: int, limit: int, lease_ms: int) -> list[MemberMailItem]:
        """Like `claim_due`, for member-code mail."""
        ...

    def member_mail_delivered(self, mail_id: int, now_ms: int) -> None:
        """Record the delivery and erase the address and the code."""
        ...

    def member_mail_failed(self, mail_id: int, error_kind: str, next_attempt_at_ms: int) -> None:
        """Record a failed attempt and when to try again; the row is kept."""
        ...


class Mailer(Protocol):
    """Sends email (`notalone.web.notifier.SmtpMailer`)."""

    def send(self, email: Email) -> None:
        """Hand `email` to the mail server, or raise DeliveryError."""
        ...


# --------------------------------------------------------------------------- recipes


def new_match_email(address: str) -> Email:
    """The email telling a counselor that their inbox has something new, and nothing else."""
    return Email(to=address, subject=NEW_MATCH_SUBJECT, body=NEW_MATCH_BODY)


MEMBER_CODE_SUBJECT = "NotAlone: your member code"


def member_code_email(address: str, code: str) -> Email:
    """The email carrying a member code: the code and what to do with it, nothing else."""
    body = (
        "Hello,\n"
        "\n"
        "Your organization asked NotAlone to send you a one-time member code:\n"
        "\n"
        f"    {code}\n"
        "\n"
        'Enter it on the NotAlone "Join" page (or run `notalone survivor join`) to get\n'
        "registration tokens. The tokens say only that you are a member: NotAlone cannot\n"
        "tell which member registered with them. The code works once and expires.\n"
        "\n"
        "If you did not expect this email, you can ignore it.\n"
        "\n"
        "-- NotAlone (an automated message; replies are not read)\n"
    )
    return Email(to=address, subject=MEMBER_CODE_SUBJECT, body=body)


def retry_delay_ms(
    attempts: int,
    *,
    min_ms: int = DEFAULT_RETRY_MIN_MS,
    max_ms: int = DEFAULT_RETRY_MAX_MS,
) -> int:
    """The wait after the `attempts`-th failed attempt: min_ms * 2^(attempts - 1), capped."""
    if attempts < 1:
        raise InputError("the retry delay is for 1 or more failed attempts")
    # The exponent is capped first: a row retried for months must not build a huge integer.
    return min(min_ms << min(attempts - 1, 32), max_ms)


# --------------------------------------------------------------------------- service


@dataclass(frozen=True)
class DeliveryRound:
    """What one `deliver_due` call did: rows delivered and rows that failed (and wait)."""

    delivered: int = 0
    failed: int = 0


class NotificationService:
    """Sends the outbox's due notifications."""

    def __init__(
        self,
        outbox: OutboxStore,
        mailer: Mailer,
        clock: Clock,
        *,
        lease_ms: int = DEFAULT_LEASE_MS,
        retry_min_ms: int = DEFAULT_RETRY_MIN_MS,
        retry_max_ms: int = DEFAULT_RETRY_MAX_MS,
        round_limit: int = DEFAULT_ROUND_LIMIT,
    ) -> None:
        if not 1 <= retry_min_ms <= retry_max_ms:
            raise InputError("retry delays need 1 <= retry_min_ms <= retry_max_ms")
        if lease_ms < 1 or round_limit < 1:
            raise InputError("lease_ms and round_limit must be positive")
        self._outbox = outbox
        self._mailer = mailer
        self._clock = clock
        self._lease_ms = lease_ms
        self._retry_min_ms = retry_min_ms
        self._retry_max_ms = retry_max_ms
        self._round_limit = round_limit

    def deliver_due(self, keep_going: Callable[[], bool] = lambda: True) -> DeliveryRound:
        """Send due notifications, one claim at a time, until none is due, `round_limit`
        were tried, or `keep_going()` turns false (the app is stopping)."""
        delivered = failed = 0
        while delivered + failed < self._round_limit and keep_going():
            claimed = self._outbox.claim_due(self._clock(), 1, self._lease_ms)
            if not claimed:
                break
            for notification in claimed:
                if self._deliver(notification):
                    delivered += 1
                else:
                    failed += 1
        while delivered + failed < self._round_limit and keep_going():
            mails = self._outbox.claim_member_mail(self._clock(), 1, self._lease_ms)
            if not mails:
                break
            for mail in mails:
                if self._deliver_member_mail(mail):
                    delivered += 1
                else:
                    failed += 1
        return DeliveryRound(delivered, failed)

    def _deliver_member_mail(self, mail: MemberMailItem) -> bool:
        try:
            self._mailer.send(member_code_email(mail.address, mail.code))
        except DeliveryError as e:
            delay = retry_delay_ms(
                mail.attempts + 1, min_ms=self._retry_min_ms, max_ms=self._retry_max_ms
            )
            self._outbox.member_mail_failed(mail.id, e.kind, self._clock() + delay)
            return False
        self._outbox.member_mail_delivered(mail.id, self._clock())
        return True

    def _deliver(self, notification: Notification) -> bool:
        if notification.address is None:
            # The address was removed after the row was written: keep the row.
            self._retry_later(notification, "no-address")
            return False
        try:
            self._mailer.send(new_match_email(notification.address))
        except DeliveryError as e:
            self._retry_later(notification, e.kind)
            return False
        self._outbox.mark_delivered(notification.id, self._clock())
        return True

    def _retry_later(self, notification: Notification, kind: str) -> None:
        delay = retry_delay_ms(
            notification.attempts + 1, min_ms=self._retry_min_ms, max_ms=self._retry_max_ms
        )
        self._outbox.mark_failed(notification.id, kind, self._clock() + delay)


# --------------------------------------------------------------------------- in memory


@dataclass
class OutboxEntry:
    """One row of `InMemoryOutbox`."""

    id: int
    counselor_id: str
    address: str | None = field(repr=False)
    next_attempt_at_ms: int
    attempts: int = 0
    delivered_at_ms: int | None = None
    last_error_kind: str | None = None


@dataclass
class MemberMailEntry:
    """One member-code mail of `InMemoryOutbox`; address and code are None once delivered."""

    id: int
    address: str | None = field(repr=False)
    code: str | None = field(repr=False)
    next_attempt_at_ms: int
    attempts: int = 0
    delivered_at_ms: int | None = None
    last_error_kind: str | None = None


class InMemoryOutbox:
    """`OutboxStore` in memory, for unit tests."""

    def __init__(self) -> None:
        self.rows: dict[int, OutboxEntry] = {}
        self.member_mail: dict[int, MemberMailEntry] = {}

    def add_member_mail(self, address: str, code: str, now_ms: int) -> int:
        """Owe `address` the mail of `code` from `now_ms`; return the row's id."""
        mail_id = len(self.member_mail) + 1
        self.member_mail[mail_id] = MemberMailEntry(mail_id, address, code, now_ms)
        return mail_id

    def claim_member_mail(self, now_ms: int, limit: int, lease_ms: int) -> list[MemberMailItem]:
        """See `OutboxStore.claim_member_mail`."""
        due = sorted(
            (
                m
                for m in self.member_mail.values()
                if m.delivered_at_ms is None and m.next_attempt_at_ms <= now_ms
            ),
            key=lambda m: (m.next_attempt_at_ms, m.id),
        )[:limit]
        claimed = []
        for mail in due:
            mail.next_attempt_at_ms = now_ms + lease_ms
            # Undelivered rows always hold both (the SQL schema enforces it too).
            assert mail.address is not None  # noqa: S101
            assert mail.code is not None  # noqa: S101
            claimed.append(MemberMailItem(mail.id, mail.attempts, mail.address, mail.code))
        return claimed

    def member_mail_delivered(self, mail_id: int, now_ms: int) -> None:
        """See `OutboxStore.member_mail_delivered`."""
        mail = self.member_mail[mail_id]
        if mail.delivered_at_ms is None:
            mail.attempts += 1
            mail.delivered_at_ms = now_ms
            mail.address = mail.code = None

    def member_mail_failed(self, mail_id: int, error_kind: str, next_attempt_at_ms: int) -> None:
        """See `OutboxStore.member_mail_failed`."""
        mail = self.member_mail[mail_id]
        if mail.delivered_at_ms is None:
            mail.attempts += 1
            mail.last_error_kind = error_kind
            mail.next_attempt_at_ms = next_attempt_at_ms

    def add(self, counselor_id: str, address: str | None, now_ms: int) -> int:
        """Owe `counselor_id` a notification from `now_ms`; return the row's id."""
        row_id = len(self.rows) + 1
        self.rows[row_id] = OutboxEntry(row_id, counselor_id, address, now_ms)
        return row_id

    def claim_due(self, now_ms: int, limit: int, lease_ms: int) -> list[Notification]:
        """See `OutboxStore.claim_due`."""
        due = sorted(
            (
                r
                for r in self.rows.values()
                if r.delivered_at_ms is None and r.next_attempt_at_ms <= now_ms
            ),
            key=lambda r: (r.next_attempt_at_ms, r.id),
        )[:limit]
        for row in due:
            row.next_attempt_at_ms = now_ms + lease_ms
        return [Notification(r.id, r.counselor_id, NEW_MATCH, r.attempts, r.address) for r in due]

    def mark_delivered(self, notification_id: int, now_ms: int) -> None:
        """See `OutboxStore.mark_delivered`."""
        row = self.rows[notification_id]
        if row.delivered_at_ms is None:
            row.attempts += 1
            row.delivered_at_ms = now_ms

    def mark_failed(self, notification_id: int, error_kind: str, next_attempt_at_ms: int) -> None:
        """See `OutboxStore.mark_failed`."""
        row = self.rows[notification_id]
        if row.delivered_at_ms is None:
            row.attempts += 1
            row.last_error_kind = error_kind
            row.next_attempt_at_ms = next_attempt_at_ms


class RecordingMailer:
    """`Mailer` that keeps what it is given, or fails with `failing` while that is set."""

    def __init__(self) -> None:
        self.sent: list[Email] = []
        self.failing: str | None = None

    def send(self, email: Email) -> None:
        """See `Mailer.send`."""
        if self.failing is not None:
            raise DeliveryError(self.failing)
        self.sent.append(email)
