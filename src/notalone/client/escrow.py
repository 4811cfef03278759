"""The escrow's HTTP API as the SDK calls it (docs/escrow-api.md).

    EscrowClient(base_url, http, token=None)

One method per route. Bytes travel as lower-case hex; answers are parsed into small
frozen dataclasses whose reprs show no secret. A token (a survivor's bearer session, a
counselor's inbox token or the operator token) is sent as `Authorization: Bearer`;
`with_token` returns a client for another token over the same `httpx.Client`.

Errors map from the escrow's RFC 9457 problems:

    401                 VerificationError  (login failed, session or token missing/expired)
    409                 ConflictError      (taken username, reused Idempotency-Key, version)
    429                 LimitError         (retry_after_seconds from Retry-After)
    other 4xx           InputError
    5xx, network error  UnavailableError
    malformed answer    EncodingError

No message holds a request body, a token or anything the escrow echoes beyond its problem
title and detail (printable ASCII, at most 200 characters).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from notalone.client._problems import problem_text, retry_after
from notalone.crypto.kdf import Argon2Params
from notalone.crypto.threshold import Federation
from notalone.errors import (
    ConflictError,
    EncodingError,
    InputError,
    LimitError,
    NotAloneError,
    UnavailableError,
    VerificationError,
)
from notalone.protocol.federation import federation_from_json
from notalone.protocol.receipts import Receipt, SignedTreeHead
from notalone.protocol.slots import Slot

__all__ = [
    "Counselor",
    "DeploymentInfo",
    "EntryInfo",
    "EscrowClient",
    "InboxItem",
    "Invite",
    "LoginParams",
    "RecordSummary",
    "RecordVersionBlob",
    "Registered",
    "Session",
]

_HEX = re.compile(r"(?:[0-9a-f]{2})*")
T = TypeVar("T")


@dataclass(frozen=True)
class Registered:
    """The answer to POST /v1/accounts."""

    account_id: bytes
    username: str
    organization_id: str


@dataclass(frozen=True)
class LoginParams:
    """The salt and Argon2id parameters login step 1 gives for a username."""

    salt: bytes
    params: Argon2Params


@dataclass(frozen=True, eq=False)
class Session:
    """A bearer session from login step 2: the token (hidden in repr) and the key bundle."""

    token: str = field(repr=False)
    account_id: bytes
    key_bundle: bytes = field(repr=False)
    expires_at_ms: int


@dataclass(frozen=True)
class Enrollment:
    """A one-time enrollment code for a counselor or an organization admin (shown once)."""

    code: str = field(repr=False)
    expires_at_ms: int


@dataclass(frozen=True)
class Invite:
    """One invite code the operator made (shown once)."""

    code: str = field(repr=False)
    max_uses: int
    expires_at_ms: int | None


@dataclass(frozen=True)
class DeploymentInfo:
    """GET /v1/deployment: everything public a client needs about the deployment."""

    deployment_id: bytes
    match_threshold: int
    federation: Federation
    key_servers: tuple[str, ...]
    ticket_public_key: bytes
    log_public_key: bytes


@dataclass(frozen=True)
class Counselor:
    """A counselor in the registry, vouched for by the operator."""

    id: str
    display_name: str
    public_key: bytes
    fingerprint: str
    vouching_signature: bytes


@dataclass(frozen=True)
class EntryInfo:
    """One of the caller's entries as the escrow lists it: never whether it matched."""

    entry_id: bytes
    entry_copy: bytes = field(repr=False)
    created_at_ms: int
    withdrawn_at_ms: int | None
    slot_states: tuple[tuple[bytes, str], ...]


@dataclass(frozen=True)
class RecordSummary:
    """GET /v1/records: a record id and how many versions it has."""

    record_id: bytes
    versions: int


@dataclass(frozen=True)
class RecordVersionBlob:
    """One stored version of a record: ciphertext and the log's receipt for it."""

    version: int
    ciphertext: bytes = field(repr=False)
    receipt: Receipt = field(repr=False)
    created_at_ms: int


@dataclass(frozen=True)
class InboxItem:
    """One matched slot for the counselor: `inner` opens with the counselor's key only."""

    match_id: str
    slot_id: bytes
    inner: bytes = field(repr=False)
    created_at_ms: int
    other_counselors: tuple[str, ...]


class EscrowClient:
    """The escrow's HTTP API over a caller-owned `httpx.Client`."""

    def __init__(self, base_url: str, http: httpx.Client, token: str | None = None) -> None:
        try:
            url = httpx.URL(base_url)
        except httpx.InvalidURL:
            raise InputError("the escrow URL must be an http:// or https:// URL") from None
        if url.scheme not in {"http", "https"} or not url.host:
            raise InputError("the escrow URL must be an http:// or https:// URL")
        self._base = str(url.copy_with(query=None, fragment=None)).rstrip("/")
        shown = url.copy_with(username=None, password=None, query=None, fragment=None)
        self.url = str(shown).rstrip("/")
        self.http = http
        self._token = token

    def __repr__(self) -> str:
        authorized = ", with a token" if self._token else ""
        return f"EscrowClient({self.url!r}{authorized})"

    def with_token(self, token: str | None) -> EscrowClient:
        """A client of the same escrow, over the same connection pool, sending `token`."""
        return EscrowClient(self._base, self.http, token)

    @property
    def has_token(self) -> bool:
        """Whether this client sends a bearer token."""
        return self._token is not None

    # ------------------------------------------------------------------ operator

    def create_organization(self, name: str) -> str:
        """POST /v1/organizations (operator token): the new organization's id."""
        body = self._request("POST", "/v1/organizations", {"name": name})
        return _str(body, "organization_id")

    def create_invites(
        self,
        organization_id: str,
        *,
        count: int = 1,
        max_uses: int = 1,
        ttl_seconds: int | None = 30 * 86_400,
    ) -> list[Invite]:
        """POST /v1/organizations/{id}/invites (operator token): the codes, shown once."""
        body = self._request(
            "POST",
            f"/v1/organizations/{_path(organization_id)}/invites",
            {"count": count, "max_uses": max_uses, "ttl_seconds": ttl_seconds},
        )
        return self._parse(
            lambda: [
                Invite(
                    code=_str(i, "code"),
                    max_uses=_int(i, "max_uses"),
                    expires_at_ms=_opt_int(i, "expires_at_ms"),
                )
                for i in _list(body, "invites")
            ],
            "invites",
        )

    def register_counselor(
        self,
        counselor_id: str,
        display_name: str,
        public_key: bytes,
        *,
        notify_email: str | None = None,
    ) -> str:
        """POST /v1/counselors (operator token): the counselor's inbox token, shown once.

        `notify_email`, if given, is the counselor's work address for "you have a new
        match" emails (docs/escrow-api.md, "Notifications")."""
        payload: dict[str, object] = {
            "id": counselor_id,
            "display_name": display_name,
            "public_key": public_key.hex(),
        }
        if notify_email is not None:
            payload["notify_email"] = notify_email
        body = self._request("POST", "/v1/counselors", payload)
        return _str(body, "token")

    def create_counselor_enrollment(
        self, counselor_id: str, display_name: str, *, ttl_seconds: int | None = None
    ) -> Enrollment:
        """POST /v1/counselor-enrollments (operator token): a one-time code with which the
        counselor enrolls the key made in their browser (/counselor/enroll)."""
        body = self._request(
            "POST",
            "/v1/counselor-enrollments",
            {
                "counselor_id": counselor_id,
                "display_name": display_name,
                "ttl_seconds": ttl_seconds,
            },
        )
        return self._parse(
            lambda: Enrollment(_str(body, "code"), _int(body, "expires_at_ms")), "enrollment"
        )

    def create_admin_enrollment(
        self, organization_id: str, display_name: str, *, ttl_seconds: int | None = None
    ) -> Enrollment:
        """POST /v1/organizations/{id}/admin-enrollments (operator token): a one-time code
        with which the organization's admin enrolls in their browser (/org/enroll)."""
        body = self._request(
            "POST",
            f"/v1/organizations/{_path(organization_id)}/admin-enrollments",
            {"display_name": display_name, "ttl_seconds": ttl_seconds},
        )
        return self._parse(
            lambda: Enrollment(_str(body, "code"), _int(body, "expires_at_ms")), "enrollment"
        )

    # ------------------------------------------------------------------ accounts

    def register(
        self,
        *,
        username: str,
        invite_code: str,
        key_bundle: bytes,
        auth_key: bytes,
        recovery_auth_key: bytes,
        idempotency_key: str | None = None,
    ) -> Registered:
        """POST /v1/accounts. ConflictError if the username is taken."""
        body = self._request(
            "POST",
            "/v1/accounts",
            {
                "username": username,
                "invite_code": invite_code,
                "key_bundle": key_bundle.hex(),
                "auth_key": auth_key.hex(),
                "recovery_auth_key": recovery_auth_key.hex(),
            },
            idempotency_key=idempotency_key or secrets.token_hex(16),
        )
        return self._parse(
            lambda: Registered(
                account_id=_hex(body, "account_id", 16),
                username=_str(body, "username"),
                organization_id=_str(body, "organization_id"),
            ),
            "registration",
        )

    def login_start(self, username: str) -> LoginParams:
        """POST /v1/login/start: the salt and Argon2id parameters to derive keys with."""
        body = self._request("POST", "/v1/login/start", {"username": username})
        return self._parse(
            lambda: LoginParams(
                salt=_hex(body, "salt", 16),
                params=Argon2Params(_int(body, "time_cost"), _int(body, "memory_kib")),
            ),
            "login parameters",
        )

    def login_finish(self, username: str, auth_key: bytes) -> Session:
        """POST /v1/login/finish for a bearer session. VerificationError if refused."""
        body = self._request(
            "POST",
            "/v1/login/finish",
            {"username": username, "auth_key": auth_key.hex(), "kind": "bearer"},
        )
        return self._parse(
            lambda: Session(
                token=_str(body, "token"),
                account_id=_hex(body, "account_id", 16),
                key_bundle=_hex(body, "key_bundle"),
                expires_at_ms=_int(body, "expires_at_ms"),
            ),
            "session",
        )

    def logout(self) -> None:
        """POST /v1/logout: end this client's session."""
        self._request("POST", "/v1/logout", None)

    def account(self) -> dict[str, Any]:
        """GET /v1/account (session)."""
        return self._request("GET", "/v1/account", None)

    # ------------------------------------------------------------------ public

    def deployment(self) -> DeploymentInfo:
        """GET /v1/deployment."""
        body = self._request("GET", "/v1/deployment", None)

        def parse() -> DeploymentInfo:
            return DeploymentInfo(
                deployment_id=_hex(body, "deployment_id", 16),
                match_threshold=_int(body, "match_threshold"),
                federation=federation_from_json(body.get("federation")),
                key_servers=tuple(_text(u) for u in _list(body, "key_servers")),
                ticket_public_key=_hex(body, "ticket_public_key", 32),
                log_public_key=_hex(body, "log_public_key", 32),
            )

        return self._parse(parse, "deployment")

    def counselors(self) -> list[Counselor]:
        """GET /v1/counselors: the registry."""
        body = self._request("GET", "/v1/counselors", None)
        return self._parse(
            lambda: [
                Counselor(
                    id=_str(c, "id"),
                    display_name=_str(c, "display_name"),
                    public_key=_hex(c, "public_key", 32),
                    fingerprint=_str(c, "fingerprint"),
                    vouching_signature=_hex(c, "vouching_signature", 64),
                )
                for c in _list(body, "counselors")
            ],
            "counselor registry",
        )

    def log_head(self) -> SignedTreeHead:
        """GET /v1/log/head: the log's current signed tree head (not yet verified)."""
        body = self._request("GET", "/v1/log/head", None)
        return self._parse(lambda: SignedTreeHead.from_bytes(_hex(body, "tree_head")), "head")

    def log_consistency(self, old: int, new: int) -> list[bytes]:
        """GET /v1/log/consistency?old=&new=: the proof that tree `new` extends tree `old`."""
        body = self._request("GET", f"/v1/log/consistency?old={int(old)}&new={int(new)}", None)
        return self._parse(
            lambda: [_hex_value(node, 32) for node in _list(body, "proof")], "consistency proof"
        )

    # ------------------------------------------------------------------ survivor

    def ticket(self) -> bytes:
        """POST /v1/tickets: a fresh evaluation ticket for the key servers."""
        body = self._request("POST", "/v1/tickets", {})
        return self._parse(lambda: _hex(body, "ticket"), "ticket")

    def create_entry(
        self,
        entry_id: bytes,
        entry_copy: bytes,
        slots: Sequence[Slot],
        *,
        idempotency_key: str | None = None,
    ) -> bytes:
        """POST /v1/entries: the answer is the same whether or not anything matched."""
        body = self._request(
            "POST",
            "/v1/entries",
            {
                "entry_id": entry_id.hex(),
                "entry_copy": entry_copy.hex(),
                "slots": [
                    {
                        "slot_id": s.slot_id.hex(),
                        "tag": s.tag.hex(),
                        "x": s.x.hex(),
                        "share": s.share.hex(),
                        "outer": s.outer.hex(),
                        "counselor_id": s.counselor_id,
                    }
                    for s in slots
                ],
            },
            idempotency_key=idempotency_key or secrets.token_hex(16),
        )
        return self._parse(lambda: _hex(body, "entry_id", 16), "entry")

    def entries(self) -> list[EntryInfo]:
        """GET /v1/entries: the caller's entries, each slot sealed or withdrawn."""
        body = self._request("GET", "/v1/entries", None)
        return self._parse(
            lambda: [
                EntryInfo(
                    entry_id=_hex(e, "entry_id", 16),
                    entry_copy=_hex(e, "entry_copy"),
                    created_at_ms=_int(e, "created_at_ms"),
                    withdrawn_at_ms=_opt_int(e, "withdrawn_at_ms"),
                    slot_states=tuple(
                        (_hex(s, "slot_id", 16), _state(s)) for s in _list(e, "slots")
                    ),
                )
                for e in _list(body, "entries")
            ],
            "entry list",
        )

    def withdraw_entry(self, entry_id: bytes) -> None:
        """DELETE /v1/entries/{id}: idempotent."""
        self._request("DELETE", f"/v1/entries/{entry_id.hex()}", None)

    def create_record(self, record_id: bytes, ciphertext: bytes) -> Receipt:
        """POST /v1/records: version 1 of a new record; the log's receipt (not verified)."""
        body = self._request(
            "POST", "/v1/records", {"record_id": record_id.hex(), "ciphertext": ciphertext.hex()}
        )
        return self._parse(lambda: Receipt.from_bytes(_hex(body, "receipt")), "receipt")

    def add_record_version(self, record_id: bytes, version: int, ciphertext: bytes) -> Receipt:
        """POST /v1/records/{id}/versions; ConflictError if `version` is not the next one."""
        body = self._request(
            "POST",
            f"/v1/records/{record_id.hex()}/versions",
            {"version": version, "ciphertext": ciphertext.hex()},
        )
        return self._parse(lambda: Receipt.from_bytes(_hex(body, "receipt")), "receipt")

    def records(self) -> list[RecordSummary]:
        """GET /v1/records."""
        body = self._request("GET", "/v1/records", None)
        return self._parse(
            lambda: [
                RecordSummary(record_id=_hex(r, "record_id", 16), versions=_int(r, "versions"))
                for r in _list(body, "records")
            ],
            "record list",
        )

    def record(self, record_id: bytes) -> list[RecordVersionBlob]:
        """GET /v1/records/{id}: every version, oldest first."""
        body = self._request("GET", f"/v1/records/{record_id.hex()}", None)
        return self._parse(
            lambda: sorted(
                (
                    RecordVersionBlob(
                        version=_int(v, "version"),
                        ciphertext=_hex(v, "ciphertext"),
                        receipt=Receipt.from_bytes(_hex(v, "receipt")),
                        created_at_ms=_int(v, "created_at_ms"),
                    )
                    for v in _list(body, "versions")
                ),
                key=lambda v: v.version,
            ),
            "record",
        )

    # ------------------------------------------------------------------ counselor

    def inbox(self) -> list[InboxItem]:
        """GET /v1/counselor/inbox (counselor token): the matched slots for this counselor."""
        body = self._request("GET", "/v1/counselor/inbox", None)
        return self._parse(
            lambda: [
                InboxItem(
                    match_id=_str(i, "match_id"),
                    slot_id=_hex(i, "slot_id", 16),
                    inner=_hex(i, "inner"),
                    created_at_ms=_int(i, "created_at_ms"),
                    other_counselors=tuple(_text(c) for c in _list(i, "other_counselors")),
                )
                for i in _list(body, "items")
            ],
            "inbox",
        )

    # ------------------------------------------------------------------ plumbing

    def health(self) -> bool:
        """GET /healthz: whether the escrow answers."""
        try:
            self._request("GET", "/healthz", None)
        except NotAloneError:
            return False
        return True

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        try:
            response = self.http.request(method, self._base + path, json=body, headers=headers)
        except httpx.HTTPError as e:
            # `from None`: the cause's request holds the body and the token.
            raise UnavailableError(
                f"the escrow at {self.url} could not be reached ({type(e).__name__})"
            ) from None
        if response.status_code >= 300:
            raise self._refusal(response)
        if response.status_code == 204 or not response.content:
            return {}
        try:
            parsed = response.json()
        except ValueError:
            raise EncodingError(f"the escrow at {self.url} answered with invalid JSON") from None
        if not isinstance(parsed, dict):
            raise EncodingError(f"the escrow at {self.url} answered with something not an object")
        return parsed

    def _refusal(self, response: httpx.Response) -> NotAloneError:
        status = response.status_code
        title, detail = problem_text(response)
        said = f"the escrow answered {status} {title}" + (f": {detail}" if detail else "")
        if status >= 500:
            return UnavailableError(said)
        if status == 401:
            return VerificationError(said)
        if status == 409:
            return ConflictError(said)
        if status == 429:
            return LimitError(said, retry_after(response.headers.get("retry-after")))
        return InputError(said)

    def _parse(self, parse: Callable[[], T], what: str) -> T:
        try:
            return parse()
        except (KeyError, TypeError, ValueError, NotAloneError):
            raise EncodingError(f"the escrow at {self.url} sent a malformed {what}") from None


def _path(segment: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]+", segment):
        raise InputError("an id in a URL path holds letters, digits, '.', '_' or '-' only")
    return segment


def _list(body: Any, name: str) -> list[Any]:
    value = body[name]
    if not isinstance(value, list):
        raise TypeError(name)
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def _str(body: Any, name: str) -> str:
    return _text(body[name])


def _int(body: Any, name: str) -> int:
    value = body[name]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(name)
    return value


def _opt_int(body: Any, name: str) -> int | None:
    return None if body.get(name) is None else _int(body, name)


def _hex_value(value: object, length: int | None = None) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise ValueError("not lower-case hex")
    data = bytes.fromhex(value)
    if length is not None and len(data) != length:
        raise ValueError("wrong length")
    return data


def _hex(body: Any, name: str, length: int | None = None) -> bytes:
    return _hex_value(body[name], length)


def _state(slot: Any) -> str:
    state = _str(slot, "state")
    if state not in {"sealed", "withdrawn"}:
        raise ValueError("unknown slot state")
    return state
