"""Counselor notifications at the edge: the SMTP mailer and the background notifier.

`SmtpMailer` sends one plain-text email with smtplib (STARTTLS with certificate checks
unless turned off, then LOGIN if credentials are set) and turns every failure into a
`DeliveryError` with a fixed kind. The original exception is dropped (`from None`): an
SMTP error can quote the recipient's address, and nothing may carry it into a log.

`Notifier` is a daemon thread the app's lifespan starts and stops: every `poll_s` it runs
`NotificationService.deliver_due`. It logs counts and error kinds only, never an address,
counselor id or message.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
import ssl
import threading
from email.message import EmailMessage
from email.utils import formatdate

from notalone.services.notifications import DeliveryError, Email, NotificationService
from notalone.web.settings import EscrowSettings

logger = logging.getLogger(__name__)

# 4xx replies are transient by RFC 5321; 5xx permanent (retried all the same, slower).
_TRANSIENT_CODES = range(400, 500)


class SmtpMailer:
    """`Mailer` over SMTP, configured by the escrow's settings."""

    def __init__(self, settings: EscrowSettings) -> None:
        if settings.smtp_host is None or settings.smtp_sender is None:
            raise ValueError("SmtpMailer needs smtp_host and smtp_sender")
        self._host = settings.smtp_host
        self._port = settings.smtp_port
        self._sender = settings.smtp_sender
        self._starttls = settings.smtp_starttls
        self._username = settings.smtp_username
        self._password = settings.smtp_password
        self._timeout_s = float(settings.smtp_timeout_s)
        self._clock_ms = settings.clock_ms

    def __repr__(self) -> str:
        return "SmtpMailer()"

    def message(self, email: Email) -> EmailMessage:
        """The MIME message of `email`: From, To, Subject, Date, a random Message-ID."""
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = formatdate(self._clock_ms() / 1000, usegmt=True)
        # Random: no time, process id or host name, which make_msgid would add.
        domain = self._sender.rpartition("@")[2]
        message["Message-ID"] = f"<{secrets.token_hex(16)}@{domain}>"
        message.set_content(email.body)
        return message

    def send(self, email: Email) -> None:
        """See `Mailer.send`: DeliveryError(kind) on any failure."""
        message = self.message(email)
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout_s) as smtp:
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username is not None and self._password is not None:
                    smtp.login(self._username, self._password)
                smtp.send_message(message, from_addr=self._sender, to_addrs=[email.to])
        except Exception as e:  # noqa: BLE001 - every failure becomes a kind; see below.
            # `from None`: the cause may quote the address (SMTPRecipientsRefused does).
            raise DeliveryError(_error_kind(e)) from None


def _error_kind(error: Exception) -> str:
    """A fixed word for a failed SMTP exchange (the order matters: subclasses first)."""
    kinds: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
        (ConnectionRefusedError, "refused"),
        (TimeoutError, "timeout"),
        ((ssl.SSLError, smtplib.SMTPNotSupportedError), "tls"),
        (smtplib.SMTPAuthenticationError, "auth"),
        (smtplib.SMTPRecipientsRefused, "recipient-refused"),
    )
    for types, kind in kinds:
        if isinstance(error, types):
            return kind
    if isinstance(error, smtplib.SMTPResponseException):
        return "smtp-temporary" if error.smtp_code in _TRANSIENT_CODES else "smtp-permanent"
    if isinstance(error, smtplib.SMTPServerDisconnected) or (
        isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)
    ):
        return "network"
    return "other"


class Notifier:
    """Runs `deliver_due` every `poll_s` seconds in a daemon thread, between start and
    stop (the app's lifespan)."""

    def __init__(self, service: NotificationService, poll_s: float) -> None:
        self._service = service
        self._poll_s = poll_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            raise RuntimeError("the notifier is already started")
        # A fresh event per run: an app's lifespan may start it again after a stop.
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notalone-notifier", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 70.0) -> None:
        """Ask the thread to stop after the email in progress, and wait for it."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        stopping = self._stopping
        while True:
            try:
                done = self._service.deliver_due(lambda: not stopping.is_set())
            except Exception as e:  # noqa: BLE001 - a bad round must not end the thread.
                # The type only: a database error's text could quote a row.
                logger.warning("notification round failed (%s); next round", type(e).__name__)
            else:
                if done.delivered or done.failed:
                    logger.info(
                        "notifications: %d delivered, %d failed (kept for retry)",
                        done.delivered,
                        done.failed,
                    )
            if stopping.wait(self._poll_s):
                return
