"""Membership tokens from Python (docs/protocol.md §15): get tokens with a member code, and
register with one.

`get_tokens` blinds random inputs, sends only the blinded elements with the code, and
checks the escrow's batch proof against the organization's published issuer key before
unblinding (a proof under any other key is refused: it could mark this member).
`register_with_token` creates an account exactly like `client.survivor.register`, with the
token in place of an invite code. Errors never quote a code or a token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from notalone.client._problems import problem_text, retry_after
from notalone.client.escrow import EscrowClient
from notalone.client.survivor import REGISTER_ATTEMPTS, Registration
from notalone.crypto.kdf import Argon2Params
from notalone.errors import (
    ConflictError,
    EncodingError,
    InputError,
    LimitError,
    ProtocolError,
    UnavailableError,
    VerificationError,
)
from notalone.protocol import membership
from notalone.protocol.accounts import (
    ARGON2_DEFAULT,
    ARGON2_FLOOR,
    create_account,
    generate_username,
)
from notalone.protocol.membership import Token

#: The words of the escrow's answer to a spent token (storage.membership.TOKEN_SPENT).
_SPENT = "already been used"


@dataclass(frozen=True)
class Issuer:
    """An organization's issuer key and the issuance rules, as the escrow publishes them."""

    public_key: bytes
    tokens_per_period: int
    period: str


def _call(escrow: EscrowClient, method: str, path: str, body: dict[str, Any] | None) -> Any:
    try:
        response = escrow.http.request(
            method, escrow.url + path, json=body, headers={"Accept": "application/json"}
        )
    except httpx.HTTPError as e:
        # `from None`: the request in the cause holds the code.
        raise UnavailableError(
            f"the escrow at {escrow.url} could not be reached ({type(e).__name__})"
        ) from None
    if response.status_code >= 300:
        title, detail = problem_text(response)
        said = f"the escrow answered {response.status_code} {title}" + (
            f": {detail}" if detail else ""
        )
        status = response.status_code
        if status >= 500:
            raise UnavailableError(said)
        if status == 401:
            raise VerificationError(said)
        if status == 409:
            raise ConflictError(said)
        if status == 429:
            raise LimitError(said, retry_after(response.headers.get("retry-after")))
        raise InputError(said)
    try:
        return response.json()
    except ValueError:
        raise EncodingError(f"the escrow at {escrow.url} answered with invalid JSON") from None


def _organization(organization_id: str) -> bytes:
    try:
        raw = bytes.fromhex(organization_id)
    except ValueError:
        raw = b""
    if len(raw) != membership.ORGANIZATION_ID_BYTES or raw.hex() != organization_id:
        raise InputError("an organization id is 32 lower-case hex digits")
    return raw


def issuer(escrow: EscrowClient, organization_id: str) -> Issuer:
    """GET /v1/organizations/{id}/issuer."""
    _organization(organization_id)
    body = _call(escrow, "GET", f"/v1/organizations/{organization_id}/issuer", None)
    try:
        public_key = bytes.fromhex(body["public_key"])
        found = Issuer(public_key, int(body["tokens_per_period"]), str(body["period"]))
    except (KeyError, TypeError, ValueError):
        raise EncodingError("the escrow sent a malformed issuer key") from None
    if len(found.public_key) != 32:
        raise EncodingError("the escrow sent a malformed issuer key")
    return found


def get_tokens(
    escrow: EscrowClient, organization_id: str, code: str, count: int | None = None
) -> tuple[list[Token], Issuer]:
    """Spend `code` for `count` tokens (default: the period's quota); verified, unblinded."""
    o = _organization(organization_id)
    key = issuer(escrow, organization_id)
    pending = membership.blind_tokens(o, key.tokens_per_period if count is None else count)
    body = _call(
        escrow,
        "POST",
        "/v1/membership/tokens",
        {
            "organization_id": organization_id,
            "code": code,
            "blinded": [b.hex() for b in pending.blinded],
        },
    )
    try:
        evaluated = [bytes.fromhex(e) for e in body["evaluated"]]
        proof = bytes.fromhex(body["proof"])
    except (KeyError, TypeError, ValueError):
        raise EncodingError("the escrow sent a malformed token answer") from None
    return membership.finalize_tokens(pending, key.public_key, evaluated, proof), key


def register_with_token(
    escrow: EscrowClient,
    token: Token,
    passphrase: str,
    params: Argon2Params = ARGON2_DEFAULT,
    *,
    floor: Argon2Params = ARGON2_FLOOR,
    username_source: Callable[[], str] = generate_username,
) -> Registration:
    """Create an account with a membership token; ConflictError if the token was spent."""
    for attempt in range(REGISTER_ATTEMPTS):
        username = username_source()
        account = create_account(username, passphrase, params, floor=floor)
        payload = {
            "username": username,
            "membership_token": {
                "organization_id": token.organization_id.hex(),
                "input": token.input.hex(),
                "output": token.output.hex(),
            },
            "key_bundle": account.bundle.to_bytes().hex(),
            "auth_key": account.auth_key.hex(),
            "recovery_auth_key": account.recovery_auth_key.hex(),
        }
        try:
            body = _call(escrow, "POST", "/v1/accounts", payload)
        except ConflictError as e:
            # A spent token is final; a taken username is retried under another.
            if _SPENT in str(e) or attempt == REGISTER_ATTEMPTS - 1:
                raise
            continue
        try:
            return Registration(
                username=str(body["username"]),
                account_id=bytes.fromhex(body["account_id"]),
                organization_id=str(body["organization_id"]),
                recovery_key=account.recovery_key,
            )
        except (KeyError, TypeError, ValueError):
            raise EncodingError("the escrow sent a malformed registration") from None
    raise ProtocolError("registration did not finish")  # pragma: no cover - loop returns
