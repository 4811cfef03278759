"""Survivor accounts on the escrow: organizations, invites, registration, login, sessions.

docs/protocol.md §9 ("Flows") puts these requirements on the server, and this module is
where they live:

- Only Argon2id hashes (argon2-cffi PHC strings) of the two authentication keys are
  stored; a key is checked with `PasswordHasher.verify`, whose comparison is constant-time.
- Login is two steps. `login_start` returns only `(salt, time_cost, memory_kib)`; for an
  unknown username it returns a fake salt, `HMAC-SHA-256(server secret, label ‖ username)`
  cut to 16 bytes, with the default parameters, so the answer has the same shape and is
  stable: it does not reveal which usernames exist. The bundle (with the wrapped keys) is
  returned only by `login_finish`, after the auth key verified.
- Failed logins are limited per username and per client address (`FailureLimiter`), and
  server-side Argon2id runs at most `max_concurrent_hashes` at a time (a semaphore), so a
  burst of logins cannot exhaust memory. An unknown username still costs one Argon2id
  verification against a dummy hash, so timing does not tell it apart either.
- Session tokens are 32 random bytes; only their SHA-256 is stored. A token is of one
  kind, `cookie` (browsers) or `bearer` (the SDK), and is accepted only in that form.
- Idempotency keys: `Idempotency` hashes a request with an HMAC under the server secret
  (a database dump alone cannot test guesses of a request's content against it), replays
  the stored response of the same request and refuses a different one (`ConflictError`).

Ports (implemented on SQL by `notalone.storage.accounts`, in memory here for tests):
`AccountStore` and `IdempotencyStore`. Time is passed in as milliseconds since the epoch.
Nothing here logs or puts in an error message a username, a key, a token or a code.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from argon2 import PasswordHasher
from argon2 import exceptions as argon2_errors

from notalone.crypto.ct import bytes_eq
from notalone.crypto.kdf import ARGON2_SALT_BYTES, Argon2Params
from notalone.errors import ConflictError, InputError, LimitError, VerificationError
from notalone.protocol.accounts import (
    ARGON2_DEFAULT,
    ARGON2_FLOOR,
    AUTH_KEY_BYTES,
    AccountKeyBundle,
    check_username,
    normalize_username,
)

ACCOUNT_ID_BYTES = 16
ORGANIZATION_ID_BYTES = 16
SESSION_TOKEN_BYTES = 32
MAX_ORGANIZATION_NAME_CHARS = 200
MAX_IDEMPOTENCY_KEY_CHARS = 128
MAX_INVITE_USES = 100_000

SessionKind = Literal["cookie", "bearer"]
SESSION_KINDS: tuple[SessionKind, ...] = ("cookie", "bearer")

# Domain separation for every hash and HMAC this module makes.
_FAKE_SALT_LABEL = b"notalone/v1/escrow/fake-salt|"
_INVITE_LABEL = b"notalone/v1/escrow/invite-code|"
_SESSION_LABEL = b"notalone/v1/escrow/session-token|"
_REQUEST_LABEL = b"notalone/v1/escrow/idempotent-request|"
_LIMIT_LABEL = b"notalone/v1/escrow/rate-limit|"

#: Invite codes: 20 Crockford base32 characters (100 bits), shown in groups of four.
_INVITE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_INVITE_CHARS = 20
_INVITE_FOLD = str.maketrans({"O": "0", "I": "1", "L": "1"})

Clock = Callable[[], int]


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class AccountRecord:
    """An account as stored: the bundle and the Argon2id hashes of its two auth keys."""

    id: bytes
    username: str
    organization_id: bytes
    auth_key_hash: str = field(repr=False)
    recovery_auth_key_hash: str = field(repr=False)
    key_bundle: bytes = field(repr=False)
    created_at_ms: int


@dataclass(frozen=True)
class SessionRecord:
    """A session as stored: the SHA-256 of its token, never the token."""

    token_hash: bytes = field(repr=False)
    account_id: bytes
    kind: SessionKind
    created_at_ms: int
    expires_at_ms: int


@dataclass(frozen=True)
class StoredResponse:
    """The response to an idempotent write, kept to be replayed."""

    request_hash: bytes = field(repr=False)
    status: int
    body: bytes


@dataclass(frozen=True)
class Invite:
    """A newly created invite code; `code` is shown once to the operator, only its hash kept."""

    code: str = field(repr=False)
    organization_id: bytes
    max_uses: int
    expires_at_ms: int | None


@dataclass(frozen=True)
class LoginParameters:
    """What login step 1 returns: the salt and Argon2id parameters, nothing else."""

    salt: bytes
    time_cost: int
    memory_kib: int


@dataclass(frozen=True)
class NewSession:
    """A session just issued; `token` is given to the client once and never stored."""

    token: str = field(repr=False)
    kind: SessionKind
    expires_at_ms: int
    account_id: bytes
    key_bundle: bytes = field(repr=False)


@dataclass(frozen=True)
class Principal:
    """Who a valid session token belongs to."""

    account_id: bytes
    username: str
    organization_id: bytes
    token_hash: bytes = field(repr=False)
    kind: SessionKind
    session_created_at_ms: int


# --------------------------------------------------------------------------- ports


class AccountStore(Protocol):
    """Persistence of organizations, invites, accounts and sessions."""

    def create_organization(self, organization_id: bytes, name: str, now_ms: int) -> None:
        """Store a new organization; ConflictError if the name is taken."""

    def add_invite(
        self,
        code_hash: bytes,
        organization_id: bytes,
        max_uses: int,
        expires_at_ms: int | None,
        now_ms: int,
    ) -> None:
        """Store an invite code's hash; InputError if the organization does not exist."""

    def register(self, account: AccountRecord, invite_code_hash: bytes, now_ms: int) -> None:
        """In one transaction: use the invite once (it must exist, be unexpired and have a
        use left, else InputError), refuse a taken username (ConflictError), and store the
        account in the invite's organization (`account.organization_id` is ignored)."""

    def account_by_username(self, username: str) -> AccountRecord | None:
        """The account with this canonical username, if any."""

    def account_by_id(self, account_id: bytes) -> AccountRecord | None:
        """The account with this id, if any."""

    def replace_credentials(
        self, account_id: bytes, key_bundle: bytes, auth_key_hash: str, keep_token_hash: bytes
    ) -> None:
        """In one transaction: store a new bundle and auth-key hash, and delete every
        session of the account except `keep_token_hash`."""

    def add_session(self, session: SessionRecord) -> None:
        """Store a new session."""

    def session(self, token_hash: bytes, now_ms: int) -> SessionRecord | None:
        """The unexpired session with this token hash, if any."""

    def session_principal(
        self, token_hash: bytes, now_ms: int
    ) -> tuple[SessionRecord, str, bytes] | None:
        """The unexpired session with this token hash and its account's username and
        organization id, in one read (every authenticated request asks this)."""

    def delete_session(self, token_hash: bytes) -> None:
        """Delete a session (nothing happens if it does not exist)."""

    def delete_expired_sessions(self, now_ms: int) -> int:
        """Delete the sessions expired at `now_ms`; return how many."""


class IdempotencyStore(Protocol):
    """Persistence of the responses to idempotent writes, per account and key."""

    def response(self, account_id: bytes, key: str) -> StoredResponse | None:
        """The stored response for this account and key, if any."""

    def save_response(
        self, account_id: bytes, key: str, response: StoredResponse, now_ms: int
    ) -> StoredResponse:
        """Store the response unless one is already stored; return the one that is."""


# --------------------------------------------------------------------------- in memory


class InMemoryAccountStore:
    """`AccountStore` in a dict, for service tests; one lock makes each call atomic."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.organizations: dict[bytes, str] = {}
        # code hash → [organization id, max uses, uses, expires at]
        self.invites: dict[bytes, list[object]] = {}
        self.accounts: dict[bytes, AccountRecord] = {}
        self.sessions: dict[bytes, SessionRecord] = {}

    def create_organization(self, organization_id: bytes, name: str, now_ms: int) -> None:
        with self._lock:
            if name in self.organizations.values():
                raise ConflictError("an organization with this name exists")
            self.organizations[organization_id] = name

    def add_invite(
        self,
        code_hash: bytes,
        organization_id: bytes,
        max_uses: int,
        expires_at_ms: int | None,
        now_ms: int,
    ) -> None:
        with self._lock:
            if organization_id not in self.organizations:
                raise InputError("there is no organization with this id")
            self.invites[code_hash] = [organization_id, max_uses, 0, expires_at_ms]

    def register(self, account: AccountRecord, invite_code_hash: bytes, now_ms: int) -> None:
        with self._lock:
            invite = self.invites.get(invite_code_hash)
            if invite is None:
                raise InputError(INVITE_UNKNOWN)
            organization_id, max_uses, uses, expires_at_ms = invite
            assert isinstance(organization_id, bytes)  # noqa: S101 - written above only.
            assert isinstance(uses, int)  # noqa: S101 - the same.
            assert isinstance(max_uses, int)  # noqa: S101 - the same.
            if isinstance(expires_at_ms, int) and expires_at_ms <= now_ms:
                raise InputError(INVITE_EXPIRED)
            if uses >= max_uses:
                raise InputError(INVITE_USED_UP)
            if any(a.username == account.username for a in self.accounts.values()):
                raise ConflictError(USERNAME_TAKEN)
            invite[2] = uses + 1
            self.accounts[account.id] = replace(account, organization_id=organization_id)

    def invite_uses(self, code_hash: bytes) -> int:
        """How often an invite was used (for tests)."""
        uses = self.invites[code_hash][2]
        assert isinstance(uses, int)  # noqa: S101 - written by this class only.
        return uses

    def account_by_username(self, username: str) -> AccountRecord | None:
        with self._lock:
            return next((a for a in self.accounts.values() if a.username == username), None)

    def account_by_id(self, account_id: bytes) -> AccountRecord | None:
        with self._lock:
            return self.accounts.get(account_id)

    def replace_credentials(
        self, account_id: bytes, key_bundle: bytes, auth_key_hash: str, keep_token_hash: bytes
    ) -> None:
        with self._lock:
            account = self.accounts[account_id]
            self.accounts[account_id] = replace(
                account, key_bundle=key_bundle, auth_key_hash=auth_key_hash
            )
            for token_hash, session in list(self.sessions.items()):
                if session.account_id == account_id and token_hash != keep_token_hash:
                    del self.sessions[token_hash]

    def add_session(self, session: SessionRecord) -> None:
        with self._lock:
            self.sessions[session.token_hash] = session

    def session(self, token_hash: bytes, now_ms: int) -> SessionRecord | None:
        with self._lock:
            found = self.sessions.get(token_hash)
            return found if found is not None and found.expires_at_ms > now_ms else None

    def session_principal(
        self, token_hash: bytes, now_ms: int
    ) -> tuple[SessionRecord, str, bytes] | None:
        found = self.session(token_hash, now_ms)
        with self._lock:
            account = None if found is None else self.accounts.get(found.account_id)
            if found is None or account is None:
                return None
            return found, account.username, account.organization_id

    def delete_session(self, token_hash: bytes) -> None:
        with self._lock:
            self.sessions.pop(token_hash, None)

    def delete_expired_sessions(self, now_ms: int) -> int:
        with self._lock:
            expired = [t for t, s in self.sessions.items() if s.expires_at_ms <= now_ms]
            for token_hash in expired:
                del self.sessions[token_hash]
            return len(expired)


class InMemoryIdempotencyStore:
    """`IdempotencyStore` in a dict, for service tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.responses: dict[tuple[bytes, str], StoredResponse] = {}

    def response(self, account_id: bytes, key: str) -> StoredResponse | None:
        with self._lock:
            return self.responses.get((account_id, key))

    def save_response(
        self, account_id: bytes, key: str, response: StoredResponse, now_ms: int
    ) -> StoredResponse:
        with self._lock:
            return self.responses.setdefault((account_id, key), response)


# --------------------------------------------------------------------------- messages

# The same text for the in-memory and the SQL store, so tests of both can compare.
INVITE_UNKNOWN = "this invite code is not valid; check it with the organization that gave it"
INVITE_EXPIRED = "this invite code has expired; ask the organization for a new one"
INVITE_USED_UP = "this invite code has been used up; ask the organization for a new one"
USERNAME_TAKEN = "this username is taken; generate another one and register again"
# One message for every failed login, so a refusal does not say which part was wrong.
_LOGIN_FAILED = "the username or passphrase is wrong"
_RECOVERY_FAILED = "the username or recovery key is wrong"
_SESSION_INVALID = "the session is missing, expired or revoked; log in again"


# --------------------------------------------------------------------------- limits


class FailureLimiter:
    """Counts failures per key in a sliding window; refuses a key with too many.

    Keys are HMACs of what they count (a username, an address), so the limiter never holds
    either in memory in the clear. At most `max_keys` keys are tracked (the oldest are
    forgotten first), which bounds the memory an attacker can make it use.
    """

    def __init__(
        self, max_failures: int, window_ms: int, *, secret: bytes, max_keys: int = 100_000
    ) -> None:
        if max_failures < 1 or window_ms < 1 or max_keys < 1:
            raise InputError("rate limits must be positive")
        self._max_failures = max_failures
        self._window_ms = window_ms
        self._secret = secret
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._failures: OrderedDict[bytes, deque[int]] = OrderedDict()

    def _key(self, scope: str, value: str) -> bytes:
        message = _LIMIT_LABEL + scope.encode() + b"|" + value.encode("utf-8", "replace")
        return hmac.digest(self._secret, message, "sha256")

    def _live(self, key: bytes, now_ms: int) -> deque[int] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now_ms - self._window_ms:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def check(self, scope: str, value: str, now_ms: int) -> None:
        """Raise LimitError (with the seconds to wait) if `value` has too many failures."""
        with self._lock:
            times = self._live(self._key(scope, value), now_ms)
            if times is None or len(times) < self._max_failures:
                return
            wait_ms = times[len(times) - self._max_failures] + self._window_ms - now_ms
        retry_after = max(1, math.ceil(wait_ms / 1000))
        raise LimitError(
            f"too many failed attempts; wait {retry_after} s before trying again",
            retry_after_seconds=retry_after,
        )

    def fail(self, scope: str, value: str, now_ms: int) -> None:
        """Count one failure."""
        key = self._key(scope, value)
        with self._lock:
            times = self._live(key, now_ms)
            if times is None:
                times = self._failures[key] = deque()
            self._failures.move_to_end(key)
            times.append(now_ms)
            # Only the last max_failures times decide a refusal.
            while len(times) > self._max_failures:
                times.popleft()
            while len(self._failures) > self._max_keys:
                self._failures.popitem(last=False)

    def clear(self, scope: str, value: str) -> None:
        """Forget the failures of `value` (after a successful login)."""
        with self._lock:
            self._failures.pop(self._key(scope, value), None)


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class AccountPolicy:
    """The account rules a deployment chooses; built from the web settings."""

    #: Argon2id parameters of the server-side hash of each auth key. The auth keys are
    #: already outputs of the client's Argon2id, so these need not be as heavy as the
    #: client's; they only make a stolen hash costlier to test.
    hash_params: Argon2Params = ARGON2_FLOOR
    #: The weakest Argon2id parameters a registering client's bundle may carry.
    client_floor: Argon2Params = ARGON2_FLOOR
    #: What login step 1 reports for an unknown username.
    default_client_params: Argon2Params = ARGON2_DEFAULT
    cookie_session_ms: int = 12 * 3_600_000
    bearer_session_ms: int = 30 * 24 * 3_600_000
    #: A passphrase change needs a session at most this old (a stolen old session cannot).
    recent_login_ms: int = 15 * 60_000
    max_failures_per_username: int = 5
    max_failures_per_address: int = 50
    failure_window_ms: int = 15 * 60_000
    max_concurrent_hashes: int = 4
    hash_wait_s: float = 10.0


# --------------------------------------------------------------------------- the service


class AccountService:
    """The account use cases, on an `AccountStore`."""

    def __init__(
        self, store: AccountStore, server_secret: bytes, policy: AccountPolicy, clock: Clock
    ) -> None:
        if len(server_secret) < 32:
            raise InputError("the server secret must be at least 32 bytes")
        self._store = store
        self._secret = server_secret
        self._policy = policy
        self._clock = clock
        self._hasher = PasswordHasher(
            time_cost=policy.hash_params.time_cost,
            memory_cost=policy.hash_params.memory_kib,
            parallelism=1,
            hash_len=32,
            salt_len=16,
        )
        # Each Argon2id run holds memory_kib of RAM: the semaphore bounds the total.
        self._hash_slots = threading.BoundedSemaphore(policy.max_concurrent_hashes)
        # Verified when the username is unknown, so that case costs the same Argon2id run.
        self._dummy_hash = self._hasher.hash(secrets.token_bytes(AUTH_KEY_BYTES))
        self._limiter_user = FailureLimiter(
            policy.max_failures_per_username, policy.failure_window_ms, secret=server_secret
        )
        self._limiter_address = FailureLimiter(
            policy.max_failures_per_address, policy.failure_window_ms, secret=server_secret
        )

    @property
    def policy(self) -> AccountPolicy:
        """The rules this service applies."""
        return self._policy

    # -- operator ----------------------------------------------------------------------

    def create_organization(self, name: str) -> bytes:
        """Create an organization; return its id. ConflictError if the name is taken."""
        if not isinstance(name, str) or not name.strip():
            raise InputError("an organization needs a name")
        name = name.strip()
        if len(name) > MAX_ORGANIZATION_NAME_CHARS:
            raise InputError(
                f"an organization name has at most {MAX_ORGANIZATION_NAME_CHARS} chars"
            )
        organization_id = secrets.token_bytes(ORGANIZATION_ID_BYTES)
        self._store.create_organization(organization_id, name, self._clock())
        return organization_id

    def create_invites(
        self, organization_id: bytes, count: int, max_uses: int, ttl_ms: int | None
    ) -> list[Invite]:
        """Create `count` invite codes of the organization, each good for `max_uses`
        registrations until `ttl_ms` from now (None: no expiry). Only hashes are stored."""
        if not 1 <= count <= 100:
            raise InputError("create between 1 and 100 invite codes at a time")
        if not 1 <= max_uses <= MAX_INVITE_USES:
            raise InputError(f"an invite code allows between 1 and {MAX_INVITE_USES} uses")
        if ttl_ms is not None and ttl_ms < 1:
            raise InputError("an invite code's lifetime must be positive")
        now_ms = self._clock()
        expires_at_ms = None if ttl_ms is None else now_ms + ttl_ms
        invites = []
        for _ in range(count):
            code = _new_invite_code()
            self._store.add_invite(
                invite_code_hash(code), organization_id, max_uses, expires_at_ms, now_ms
            )
            invites.append(Invite(code, organization_id, max_uses, expires_at_ms))
        return invites

    # -- registration ------------------------------------------------------------------

    def register(
        self,
        username: str,
        invite_code: str,
        key_bundle: bytes,
        auth_key: bytes,
        recovery_auth_key: bytes,
    ) -> AccountRecord:
        """Register an account with an invite code; return it (with its organization).

        InputError for a malformed username, bundle or key, or an unusable invite;
        ConflictError for a taken username (the client draws another and retries).
        """
        self._check_registration(username, key_bundle, auth_key, recovery_auth_key)
        code_hash = invite_code_hash(invite_code)
        account = self._new_account(username, key_bundle, auth_key, recovery_auth_key)
        self._store.register(account, code_hash, account.created_at_ms)
        return self._stored(account.id)

    def register_with_token(
        self,
        username: str,
        key_bundle: bytes,
        auth_key: bytes,
        recovery_auth_key: bytes,
        redeem: Callable[[AccountRecord], None],
    ) -> AccountRecord:
        """Register an account with a membership token (docs/protocol.md §15).

        `redeem(account)` checks the token and stores the account in the token's
        organization in the transaction that spends it
        (`services.membership.MembershipService.redeem`); its errors pass through.
        """
        self._check_registration(username, key_bundle, auth_key, recovery_auth_key)
        account = self._new_account(username, key_bundle, auth_key, recovery_auth_key)
        redeem(account)
        return self._stored(account.id)

    def _check_registration(
        self, username: str, key_bundle: bytes, auth_key: bytes, recovery_auth_key: bytes
    ) -> None:
        check_username(username)
        self._parse_bundle(key_bundle, username)
        _check_auth_key(auth_key, "auth key")
        _check_auth_key(recovery_auth_key, "recovery auth key")
        if bytes_eq(auth_key, recovery_auth_key):
            raise InputError("the auth key and the recovery auth key must differ")

    def _new_account(
        self, username: str, key_bundle: bytes, auth_key: bytes, recovery_auth_key: bytes
    ) -> AccountRecord:
        bundle = self._parse_bundle(key_bundle, username)
        with self._hash_slot():
            auth_key_hash = self._hasher.hash(auth_key)
            recovery_auth_key_hash = self._hasher.hash(recovery_auth_key)
        return AccountRecord(
            id=secrets.token_bytes(ACCOUNT_ID_BYTES),
            username=username,
            organization_id=b"",
            auth_key_hash=auth_key_hash,
            recovery_auth_key_hash=recovery_auth_key_hash,
            key_bundle=bundle.to_bytes(),
            created_at_ms=self._clock(),
        )

    def _stored(self, account_id: bytes) -> AccountRecord:
        stored = self._store.account_by_id(account_id)
        if stored is None:  # pragma: no cover - the store just wrote it.
            raise VerificationError("the account was not stored")
        return stored

    def _parse_bundle(self, key_bundle: bytes, username: str) -> AccountKeyBundle:
        bundle = AccountKeyBundle.from_bytes(key_bundle)
        if bundle.username != username:
            raise InputError("the key bundle was made for another username")
        floor = self._policy.client_floor
        if bundle.params.time_cost < floor.time_cost or bundle.params.memory_kib < floor.memory_kib:
            raise InputError(
                f"the bundle's Argon2id parameters are below this server's minimum "
                f"t={floor.time_cost}, m={floor.memory_kib} KiB"
            )
        return bundle

    def account_id_for(self, username: str) -> bytes | None:
        """The id of the account with this canonical username (the scope under which a
        registration's Idempotency-Key is stored), or None."""
        account = self._store.account_by_username(username)
        return None if account is None else account.id

    # -- login -------------------------------------------------------------------------

    def login_start(self, username_text: str) -> LoginParameters:
        """Step 1: the salt and Argon2id parameters of this username.

        An unknown username gets a fake salt derived from the server secret and the
        default parameters: the same shape, stable across calls, unrelated to real data.
        """
        username = normalize_username(username_text)
        account = self._store.account_by_username(username)
        fake = hmac.digest(self._secret, _FAKE_SALT_LABEL + username.encode(), "sha256")
        if account is None:
            params = self._policy.default_client_params
            return LoginParameters(fake[:ARGON2_SALT_BYTES], params.time_cost, params.memory_kib)
        bundle = AccountKeyBundle.from_bytes(account.key_bundle)
        return LoginParameters(bundle.salt, bundle.params.time_cost, bundle.params.memory_kib)

    def login_finish(
        self, username_text: str, auth_key: bytes, kind: SessionKind, address: str
    ) -> NewSession:
        """Step 2: verify the auth key, then issue a session and return the bundle.

        LimitError when the username or the address had too many failures recently;
        VerificationError (one message for every cause) when the key is wrong.
        """
        return self._login(username_text, auth_key, kind, address, recovery=False)

    def login_recovery(
        self, username_text: str, recovery_auth_key: bytes, kind: SessionKind, address: str
    ) -> NewSession:
        """Log in with the recovery auth key (the passphrase is forgotten). The client must
        then set a new passphrase; the same limits apply as to a passphrase login."""
        return self._login(username_text, recovery_auth_key, kind, address, recovery=True)

    def _login(
        self, username_text: str, key: bytes, kind: SessionKind, address: str, *, recovery: bool
    ) -> NewSession:
        _check_kind(kind)
        failure = _RECOVERY_FAILED if recovery else _LOGIN_FAILED
        try:
            username = normalize_username(username_text)
            _check_auth_key(key, "key")
        except InputError as e:
            raise VerificationError(failure) from e
        now_ms = self._clock()
        self._limiter_address.check("address", address, now_ms)
        self._limiter_user.check("username", username, now_ms)
        account = self._store.account_by_username(username)
        if account is None:
            stored_hash = self._dummy_hash
        else:
            stored_hash = account.recovery_auth_key_hash if recovery else account.auth_key_hash
        ok = self._verify(stored_hash, key) and account is not None
        now_ms = self._clock()
        if not ok or account is None:
            self._limiter_address.fail("address", address, now_ms)
            self._limiter_user.fail("username", username, now_ms)
            raise VerificationError(failure)
        self._limiter_user.clear("username", username)
        return self._issue(account, kind, now_ms)

    def _verify(self, stored_hash: str, key: bytes) -> bool:
        with self._hash_slot():
            try:
                # argon2-cffi compares the computed and stored hashes in constant time.
                return self._hasher.verify(stored_hash, key)
            except (argon2_errors.VerificationError, argon2_errors.InvalidHashError):
                return False

    def _issue(self, account: AccountRecord, kind: SessionKind, now_ms: int) -> NewSession:
        token = secrets.token_bytes(SESSION_TOKEN_BYTES)
        lifetime = (
            self._policy.cookie_session_ms if kind == "cookie" else self._policy.bearer_session_ms
        )
        session = SessionRecord(
            token_hash=session_token_hash(token.hex()),
            account_id=account.id,
            kind=kind,
            created_at_ms=now_ms,
            expires_at_ms=now_ms + lifetime,
        )
        self._store.add_session(session)
        return NewSession(token.hex(), kind, session.expires_at_ms, account.id, account.key_bundle)

    @contextmanager
    def _hash_slot(self) -> Iterator[None]:
        if not self._hash_slots.acquire(timeout=self._policy.hash_wait_s):
            raise LimitError("the server is busy; retry in a moment", retry_after_seconds=1)
        try:
            yield
        finally:
            self._hash_slots.release()

    # -- sessions ----------------------------------------------------------------------

    def authenticate(self, token: str, kind: SessionKind) -> Principal:
        """The principal of a session token presented as `kind`, or VerificationError.

        A cookie token is refused as a bearer token and vice versa: each is accepted only
        where it was meant to travel.
        """
        if not isinstance(token, str) or len(token) != 2 * SESSION_TOKEN_BYTES:
            raise VerificationError(_SESSION_INVALID)
        token_hash = session_token_hash(token)
        found = self._store.session_principal(token_hash, self._clock())
        if found is None or found[0].kind != kind:
            raise VerificationError(_SESSION_INVALID)
        session, username, organization_id = found
        return Principal(
            account_id=session.account_id,
            username=username,
            organization_id=organization_id,
            token_hash=token_hash,
            kind=session.kind,
            session_created_at_ms=session.created_at_ms,
        )

    def logout(self, principal: Principal) -> None:
        """Revoke the principal's session."""
        self._store.delete_session(principal.token_hash)

    def account(self, principal: Principal) -> AccountRecord:
        """The principal's account."""
        account = self._store.account_by_id(principal.account_id)
        if account is None:  # pragma: no cover - a session's account cannot disappear.
            raise VerificationError(_SESSION_INVALID)
        return account

    def prune_sessions(self) -> int:
        """Delete expired sessions; return how many."""
        return self._store.delete_expired_sessions(self._clock())

    # -- passphrase change ---------------------------------------------------------------

    def change_passphrase(self, principal: Principal, key_bundle: bytes, auth_key: bytes) -> None:
        """Store a bundle rewrapped under a new passphrase and its auth key; revoke every
        other session of the account. The old passphrase stops working at once.

        The session must be recent (a fresh login, or a recovery login), so an old stolen
        session cannot take the account over. The new bundle must keep the key check and
        the recovery wrapping (docs/protocol.md §9: only the passphrase wrapping changes).
        """
        if self._clock() - principal.session_created_at_ms > self._policy.recent_login_ms:
            raise VerificationError("log in again before changing the passphrase")
        account = self.account(principal)
        bundle = self._parse_bundle(key_bundle, account.username)
        current = AccountKeyBundle.from_bytes(account.key_bundle)
        if not bytes_eq(bundle.key_check, current.key_check) or not bytes_eq(
            bundle.wrapped_by_recovery, current.wrapped_by_recovery
        ):
            raise InputError(
                "the new bundle must keep the account's key check and recovery wrapping"
            )
        _check_auth_key(auth_key, "auth key")
        with self._hash_slot():
            new_hash = self._hasher.hash(auth_key)
        self._store.replace_credentials(
            account.id, bundle.to_bytes(), new_hash, keep_token_hash=principal.token_hash
        )


# --------------------------------------------------------------------------- idempotency


class Idempotency:
    """Replays the stored response of a repeated write; refuses a key reused differently."""

    def __init__(self, store: IdempotencyStore, server_secret: bytes, clock: Clock) -> None:
        self._store = store
        self._secret = server_secret
        self._clock = clock

    def request_hash(self, method: str, route: str, body: bytes) -> bytes:
        """An HMAC of the request, so a stored hash cannot be tested against guesses."""
        parts = (method.upper().encode(), route.encode(), hashlib.sha256(body).digest())
        return hmac.digest(self._secret, _REQUEST_LABEL + b"|".join(parts), "sha256")

    def replay(self, account_id: bytes, key: str, request_hash: bytes) -> StoredResponse | None:
        """The stored response of this request, None if there is none, or ConflictError if
        the key was used for another request."""
        check_idempotency_key(key)
        stored = self._store.response(account_id, key)
        if stored is None:
            return None
        if not bytes_eq(stored.request_hash, request_hash):
            raise ConflictError(
                "this Idempotency-Key was already used for a different request; "
                "use a new key for a new request"
            )
        return stored

    def remember(
        self, account_id: bytes, key: str, request_hash: bytes, status: int, body: bytes
    ) -> StoredResponse:
        """Store the response (the first one stored wins, if two raced) and return it."""
        check_idempotency_key(key)
        return self._store.save_response(
            account_id, key, StoredResponse(request_hash, status, body), self._clock()
        )


# --------------------------------------------------------------------------- helpers


def check_idempotency_key(key: str) -> None:
    """InputError unless `key` is 1 to 128 printable ASCII characters."""
    if (
        not isinstance(key, str)
        or not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_CHARS
        or not key.isascii()
        or not key.isprintable()
    ):
        raise InputError(
            f"an Idempotency-Key is 1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters"
        )


def session_token_hash(token: str) -> bytes:
    """The SHA-256 under which a session token is stored."""
    return hashlib.sha256(_SESSION_LABEL + token.encode("ascii", "replace")).digest()


def normalize_invite_code(code: str) -> str:
    """The canonical invite code: upper case, without spaces or dashes, O/I/L read as 0/1."""
    if not isinstance(code, str):
        raise InputError(INVITE_UNKNOWN)
    folded = "".join(c for c in code.upper() if c not in " -\t").translate(_INVITE_FOLD)
    if len(folded) != _INVITE_CHARS or any(c not in _INVITE_ALPHABET for c in folded):
        raise InputError(INVITE_UNKNOWN)
    return folded


def invite_code_hash(code: str) -> bytes:
    """The SHA-256 under which an invite code is stored (codes have 100 random bits)."""
    return hashlib.sha256(_INVITE_LABEL + normalize_invite_code(code).encode()).digest()


def _new_invite_code() -> str:
    chars = "".join(secrets.choice(_INVITE_ALPHABET) for _ in range(_INVITE_CHARS))
    return "-".join(chars[i : i + 4] for i in range(0, _INVITE_CHARS, 4))


def _check_auth_key(key: bytes, what: str) -> None:
    if not isinstance(key, bytes) or len(key) != AUTH_KEY_BYTES:
        raise InputError(f"the {what} must be {AUTH_KEY_BYTES} bytes")


def _check_kind(kind: str) -> None:
    if kind not in SESSION_KINDS:
        raise InputError("a session kind is cookie or bearer")
