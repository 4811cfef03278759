"""Membership tokens (docs/protocol.md §15): member codes, blind issuance, redemption.

- `send_code`: an organization admin asks for a one-time code to be mailed to a work
  address. Only the code's hash and a member pseudonym (HMAC of the normalized address
  under a key derived from the server secret) are kept in `member_codes`; the address and
  the code wait in `member_mail` until the notifier delivers them, then are erased.
- `issue`: a member spends the code for 1..N tokens (N = `tokens_per_period`, per
  member, organization and calendar quarter): the escrow evaluates the blinded elements
  under the organization's issuer key and proves it (batched VOPRF, one DLEQ proof).
  Every element is checked before the code is spent; over quota nothing is spent.
- `redeem`: at registration, the token's output is recomputed (Evaluate(sk_O, input)) and
  compared in constant time; the store spends it and creates the account together.

Issuer keys are derived, never stored (`protocol.membership.issuer_key_pair`). Nothing
here logs, and no error message holds an address, a code or a token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from notalone.crypto import group
from notalone.errors import InputError, VerificationError
from notalone.protocol import membership as recipes
from notalone.protocol.membership import TOKEN_REFUSED, Token
from notalone.services.accounts import AccountRecord
from notalone.services.escrow import NotFoundError, normalize_notify_email

Clock = Callable[[], int]
NO_ORGANIZATION = "there is no organization with this id"


@dataclass(frozen=True)
class MembershipPolicy:
    """What a deployment allows: tokens per member and quarter, and a code's lifetime."""

    tokens_per_period: int = 3
    code_ttl_ms: int = 72 * 3_600_000

    def __post_init__(self) -> None:
        if not 1 <= self.tokens_per_period <= recipes.MAX_BATCH:
            raise InputError(f"tokens_per_period must be 1 to {recipes.MAX_BATCH}")
        if self.code_ttl_ms < 60_000:
            raise InputError("a member code lives at least a minute")


class MembershipStore(Protocol):
    """Persistence of member codes, issuance counts and spent tokens
    (`notalone.storage.membership.SqlMembershipStore`)."""

    def organization_exists(self, organization_id: bytes) -> bool:
        """Whether the organization exists."""
        ...

    def add_code(
        self,
        code_hash: bytes,
        organization_id: bytes,
        pseudonym: bytes,
        recipient: str,
        code: str,
        now_ms: int,
        expires_at_ms: int,
    ) -> None:
        """Store the code's hash and owe its mail, in one transaction."""
        ...

    def spend_code(
        self,
        code_hash: bytes,
        organization_id: bytes,
        period: str,
        count: int,
        quota: int,
        now_ms: int,
    ) -> int:
        """Use the code and count the tokens (InputError / LimitError; see the SQL store)."""
        ...

    def register(
        self, account: AccountRecord, organization_id: bytes, token_input: bytes, now_ms: int
    ) -> None:
        """Spend the token and create the account in one transaction (ConflictError)."""
        ...


class MembershipService:
    """The membership-token use cases."""

    def __init__(
        self,
        store: MembershipStore,
        server_secret: bytes,
        policy: MembershipPolicy,
        clock: Clock,
    ) -> None:
        self._store = store
        self._seed = recipes.issuer_seed(server_secret)
        self._pseudonym_key = recipes.pseudonym_key(server_secret)
        self._policy = policy
        self._clock = clock

    @property
    def policy(self) -> MembershipPolicy:
        """The rules this service applies."""
        return self._policy

    def _keys(self, organization_id: bytes) -> tuple[bytes, bytes]:
        return recipes.issuer_key_pair(self._seed, organization_id)

    def issuer_public_key(self, organization_id: bytes) -> bytes:
        """pk_O; NotFoundError for an unknown organization."""
        if not self._store.organization_exists(organization_id):
            raise NotFoundError(NO_ORGANIZATION)
        return self._keys(organization_id)[1]

    def send_code(self, organization_id: bytes, address: str) -> None:
        """Owe `address` a fresh member code of the organization (the admin never sees it)."""
        try:
            normalized = normalize_notify_email(address).lower()
        except InputError as e:
            raise InputError("email is not a valid work email address") from e
        code = recipes.new_code()
        now_ms = self._clock()
        self._store.add_code(
            recipes.code_hash(code),
            organization_id,
            recipes.member_pseudonym(self._pseudonym_key, organization_id, normalized),
            normalized,
            code,
            now_ms,
            now_ms + self._policy.code_ttl_ms,
        )

    def issue(
        self, organization_id: bytes, code: str, blinded: Sequence[bytes]
    ) -> tuple[list[bytes], bytes]:
        """Spend the code for len(blinded) tokens: (evaluated elements, proof)."""
        quota = self._policy.tokens_per_period
        if not 1 <= len(blinded) <= quota:
            raise InputError(f"ask for 1 to {quota} tokens at a time")
        for element in blinded:
            group.decode_element(element, "a blinded element")
        code_hash = recipes.code_hash(code)
        # Evaluated before the code is spent: nothing after the spend can fail.
        secret_key, public_key = self._keys(organization_id)
        evaluated, proof = recipes.issue(secret_key, public_key, blinded)
        now_ms = self._clock()
        self._store.spend_code(
            code_hash, organization_id, recipes.period_of(now_ms), len(blinded), quota, now_ms
        )
        return evaluated, proof

    def check(self, token: Token) -> None:
        """InputError unless the token is one the escrow issued for its organization."""
        try:
            recipes.verify_token(self._keys(token.organization_id)[0], token)
        except VerificationError as e:
            raise InputError(TOKEN_REFUSED) from e
        if not self._store.organization_exists(token.organization_id):
            raise InputError(TOKEN_REFUSED)

    def redeem(self, token: Token, account: AccountRecord) -> None:
        """Check the token, then spend it and store `account` in its organization, at once."""
        self.check(token)
        self._store.register(account, token.organization_id, token.input, self._clock())
