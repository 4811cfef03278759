"""A survivor's use cases, composed from the pure protocol and the escrow's API.

    register(escrow, invite_code, passphrase)       → Registration (recovery key shown once)
    login(escrow, username, passphrase)             → SurvivorSession (unlocked)
    add_record / add_version / list_records         records, decrypted and receipt-checked
    verify_log(session)                              the log's head and each receipt's head
    add_entry / list_entries / withdraw_entry        escrow entries

Everything secret stays on the device: the passphrase only feeds Argon2id here, the data
key never leaves the session, records and entry copies are encrypted before upload and
decrypted after download, and every receipt is verified against the deployment's log
key. An entry is listed as "sealed" or "withdrawn", never as matched: the escrow does not
say, and a client must not guess.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from notalone.client.entries import IdentifierSpec, prepare_entry
from notalone.client.escrow import DeploymentInfo, EscrowClient
from notalone.client.keyservers import FederationClient, KeyServerClient, ServerEvent
from notalone.crypto.kdf import Argon2Params
from notalone.errors import ConflictError, EncodingError, InputError, ProtocolError
from notalone.protocol import records
from notalone.protocol.accounts import (
    ARGON2_DEFAULT,
    ARGON2_FLOOR,
    AccountKeyBundle,
    DataKey,
    create_account,
    derive_passphrase_keys,
    generate_username,
    normalize_username,
    unlock_with_passphrase,
)
from notalone.protocol.receipts import verify_consistency_between, verify_receipt, verify_tree_head
from notalone.protocol.records import RecordContent

__all__ = [
    "EntryView",
    "LogCheck",
    "RecordVersionView",
    "RecordView",
    "Registration",
    "SurvivorSession",
    "add_entry",
    "add_record",
    "add_version",
    "list_entries",
    "list_records",
    "login",
    "register",
    "unlock_session",
    "verify_log",
    "withdraw_entry",
]

#: How many fresh usernames `register` tries when the escrow says one is taken.
REGISTER_ATTEMPTS = 3


@dataclass(frozen=True, eq=False)
class Registration:
    """A new account. `recovery_key` must be shown to the survivor once, then forgotten."""

    username: str
    account_id: bytes
    organization_id: str
    recovery_key: str = field(repr=False)


@dataclass(eq=False)
class SurvivorSession:
    """An unlocked account: a client carrying the bearer token, and the data key.

    repr shows the username only; the token and the key never appear in one.
    """

    escrow: EscrowClient = field(repr=False)
    username: str
    account_id: bytes = field(repr=False)
    data_key: DataKey = field(repr=False)
    token: str = field(repr=False)
    key_bundle: bytes = field(repr=False)
    _deployment: DeploymentInfo | None = field(default=None, repr=False)

    def deployment(self) -> DeploymentInfo:
        """The deployment's public facts, fetched once per session."""
        if self._deployment is None:
            self._deployment = self.escrow.deployment()
        return self._deployment


@dataclass(frozen=True)
class RecordVersionView:
    """One decrypted version of a record, with the time the log recorded it."""

    version: int
    content: RecordContent = field(repr=False)
    logged_at_ms: int


@dataclass(frozen=True)
class RecordView:
    """A decrypted record: every version, oldest first, each receipt verified."""

    record_id: bytes
    versions: tuple[RecordVersionView, ...]


@dataclass(frozen=True)
class EntryView:
    """One of the survivor's entries, decrypted from their own copy.

    `state` is "sealed" or "withdrawn": whether it matched is not known here, by design.
    """

    entry_id: bytes
    state: str
    created_at_ms: int
    counselor_id: str
    contact: str = field(repr=False)
    message: str = field(repr=False)
    identifiers: tuple[tuple[str, str, str | None], ...] = field(repr=False)


@dataclass(frozen=True)
class LogCheck:
    """What `verify_log` checked: the head's size and how many receipts it extends."""

    tree_size: int
    receipts: int


# --------------------------------------------------------------------------- accounts


def register(
    escrow: EscrowClient,
    invite_code: str,
    passphrase: str,
    params: Argon2Params = ARGON2_DEFAULT,
    *,
    floor: Argon2Params = ARGON2_FLOOR,
    username_source: Callable[[], str] = generate_username,
) -> Registration:
    """Create an account under a generated username; a taken one is replaced and retried."""
    for attempt in range(REGISTER_ATTEMPTS):
        username = username_source()
        account = create_account(username, passphrase, params, floor=floor)
        try:
            registered = escrow.register(
                username=username,
                invite_code=invite_code,
                key_bundle=account.bundle.to_bytes(),
                auth_key=account.auth_key,
                recovery_auth_key=account.recovery_auth_key,
            )
        except ConflictError:
            if attempt == REGISTER_ATTEMPTS - 1:
                raise
            continue
        return Registration(
            username=registered.username,
            account_id=registered.account_id,
            organization_id=registered.organization_id,
            recovery_key=account.recovery_key,
        )
    raise ProtocolError("registration did not finish")  # pragma: no cover - loop returns


def login(
    escrow: EscrowClient,
    username: str,
    passphrase: str,
    *,
    floor: Argon2Params = ARGON2_FLOOR,
) -> SurvivorSession:
    """Log in with a bearer session and unlock the data key (one Argon2id run)."""
    name = normalize_username(username)
    start = escrow.login_start(name)
    keys = derive_passphrase_keys(name, passphrase, start.salt, start.params, floor=floor)
    session = escrow.login_finish(name, keys.auth_key)
    bundle = AccountKeyBundle.from_bytes(session.key_bundle)
    if bundle.username != name:
        raise ProtocolError("the escrow returned the key bundle of another account")
    data_key = unlock_with_passphrase(bundle, passphrase, floor=floor)
    return SurvivorSession(
        escrow=escrow.with_token(session.token),
        username=name,
        account_id=session.account_id,
        data_key=data_key,
        token=session.token,
        key_bundle=session.key_bundle,
    )


def unlock_session(
    escrow: EscrowClient,
    *,
    username: str,
    account_id: bytes,
    token: str,
    key_bundle: bytes,
    data_key: DataKey,
) -> SurvivorSession:
    """A session from stored credentials (the CLI's profile), without logging in again."""
    bundle = AccountKeyBundle.from_bytes(key_bundle)
    if bundle.username != username:
        raise EncodingError("the stored key bundle is not this account's")
    return SurvivorSession(
        escrow=escrow.with_token(token),
        username=username,
        account_id=account_id,
        data_key=data_key,
        token=token,
        key_bundle=key_bundle,
    )


# --------------------------------------------------------------------------- records


def add_record(session: SurvivorSession, content: RecordContent) -> tuple[bytes, RecordVersionView]:
    """Encrypt and store a new record's first version; its id, and the verified version."""
    record_id = records.new_record_id()
    blob = records.encrypt_record_version(session.data_key, record_id, 1, content)
    receipt = session.escrow.create_record(record_id, blob)
    logged = verify_receipt(blob, receipt, session.deployment().log_public_key)
    return record_id, RecordVersionView(version=1, content=content, logged_at_ms=logged)


def add_version(
    session: SurvivorSession, record_id: bytes, content: RecordContent
) -> RecordVersionView:
    """Encrypt and store the next version of a record; its receipt is verified."""
    version = len(session.escrow.record(record_id)) + 1
    blob = records.encrypt_record_version(session.data_key, record_id, version, content)
    receipt = session.escrow.add_record_version(record_id, version, blob)
    logged = verify_receipt(blob, receipt, session.deployment().log_public_key)
    return RecordVersionView(version=version, content=content, logged_at_ms=logged)


def list_records(session: SurvivorSession) -> list[RecordView]:
    """Every record, decrypted here, each version's receipt verified with the log key.

    A version that does not open or whose receipt fails raises (DecryptionError,
    SignatureError, MerkleProofError): a record altered on the server is never shown.
    """
    log_key = session.deployment().log_public_key
    views = []
    for summary in session.escrow.records():
        versions = []
        for stored in session.escrow.record(summary.record_id):
            content = records.decrypt_record_version(
                session.data_key, summary.record_id, stored.version, stored.ciphertext
            )
            logged = verify_receipt(stored.ciphertext, stored.receipt, log_key)
            versions.append(RecordVersionView(stored.version, content, logged))
        numbers = [v.version for v in versions]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ProtocolError("the escrow returned a record with missing or repeated versions")
        views.append(RecordView(summary.record_id, tuple(versions)))
    return views


def verify_log(session: SurvivorSession) -> LogCheck:
    """Check the log's current head, and that it extends every receipt's tree head.

    Raises SignatureError or MerkleProofError if the log rewrote history.
    """
    log_key = session.deployment().log_public_key
    head = session.escrow.log_head()
    verify_tree_head(log_key, head)
    checked = 0
    for summary in session.escrow.records():
        for stored in session.escrow.record(summary.record_id):
            old = stored.receipt.tree_head
            verify_receipt(stored.ciphertext, stored.receipt, log_key)
            if old.tree_size > head.tree_size:
                raise ProtocolError("a receipt's tree is larger than the log's current head")
            proof = (
                session.escrow.log_consistency(old.tree_size, head.tree_size)
                if old.tree_size < head.tree_size
                else []
            )
            verify_consistency_between(old, head, proof, log_key)
            checked += 1
    return LogCheck(tree_size=head.tree_size, receipts=checked)


# --------------------------------------------------------------------------- entries


def add_entry(
    session: SurvivorSession,
    identifiers: Sequence[IdentifierSpec],
    *,
    counselor_id: str,
    contact: str,
    message: str = "",
    progress: Callable[[ServerEvent], None] | None = None,
) -> bytes:
    """Prepare an entry through the deployment's key servers and upload it; its id.

    Identifiers are checked before any request (an IdentifierError says what to fix).
    The escrow answers the same whether or not the entry matched.
    """
    deployment = session.deployment()
    counselor = next((c for c in session.escrow.counselors() if c.id == counselor_id), None)
    if counselor is None:
        raise InputError("no counselor with this id; `notalone survivor counselors` lists them")
    federation = FederationClient(
        deployment.federation,
        [KeyServerClient(url, session.escrow.http) for url in deployment.key_servers],
        deployment_id=deployment.deployment_id,
        progress=progress,
    )

    def oprf(inputs: list[bytes]) -> list[bytes]:
        # The ticket is asked for only once every identifier has been checked.
        return federation.evaluate(inputs, session.escrow.ticket())

    prepared = prepare_entry(
        identifiers,
        contact=contact,
        message=message,
        counselor_id=counselor.id,
        counselor_public_key=counselor.public_key,
        account_id=session.account_id,
        deployment_id=deployment.deployment_id,
        threshold=deployment.match_threshold,
        oprf=oprf,
    )
    copy = records.encrypt_entry_copy(session.data_key, prepared.entry_id, prepared.copy)
    session.escrow.create_entry(
        prepared.entry_id, copy, prepared.slots, idempotency_key=secrets.token_hex(16)
    )
    return prepared.entry_id


def list_entries(session: SurvivorSession) -> list[EntryView]:
    """The survivor's entries from their encrypted copies: sealed or withdrawn only."""
    views = []
    for entry in session.escrow.entries():
        copy = records.decrypt_entry_copy(session.data_key, entry.entry_id, entry.entry_copy)
        views.append(_entry_view(entry.entry_id, entry.created_at_ms, entry.withdrawn_at_ms, copy))
    return views


def withdraw_entry(session: SurvivorSession, entry_id: bytes) -> None:
    """Withdraw an entry: none of its slots can match from now on (idempotent)."""
    session.escrow.withdraw_entry(entry_id)


def _entry_view(
    entry_id: bytes, created_at_ms: int, withdrawn_at_ms: int | None, copy: dict[str, Any]
) -> EntryView:
    try:
        identifiers = tuple(
            (str(i["kind"]), str(i["entered"]), None if i["region"] is None else str(i["region"]))
            for i in copy["identifiers"]
        )
        if copy["entry_id"] != entry_id.hex():
            raise EncodingError("an entry copy names another entry")
        return EntryView(
            entry_id=entry_id,
            state="sealed" if withdrawn_at_ms is None else "withdrawn",
            created_at_ms=created_at_ms,
            counselor_id=str(copy["counselor_id"]),
            contact=str(copy["contact"]),
            message=str(copy.get("message", "")),
            identifiers=identifiers,
        )
    except (KeyError, TypeError) as e:
        raise EncodingError("an entry copy lacks its fields") from e
