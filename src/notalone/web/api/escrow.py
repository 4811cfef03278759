"""The deployment, evaluation tickets and escrow entries.

    GET    /v1/deployment           public: deployment id, match threshold, federation,
                                    key servers, ticket / log / vouching public keys
    POST   /v1/tickets              survivor: → {ticket, expires_ms} (docs/protocol.md §5.1)
    POST   /v1/entries              survivor: {entry_id, entry_copy, slots: [{slot_id, tag,
                                    x, share, outer, counselor_id}]} → 201 {entry_id}
    GET    /v1/entries              survivor: → {entries: [{entry_id, entry_copy,
                                    created_at_ms, withdrawn_at_ms, slots: [{slot_id,
                                    state}]}]}, state "sealed" or "withdrawn" only
    DELETE /v1/entries/{entry_id}   survivor, owner: → 204 (again: 204; not theirs: 404)

The escrow is not an oracle: the answer to POST /v1/entries is built from the request
alone (the entry id it names), so it is the same bytes whether a slot matched, joined a
match or waits. Idempotency-Key is honoured on it, scoped to the account.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StringConstraints

from notalone.protocol.slots import MAX_PACKAGE_BYTES, Slot
from notalone.services.accounts import Principal
from notalone.services.escrow import MAX_SLOTS_PER_ENTRY
from notalone.services.records import MAX_CIPHERTEXT_BYTES
from notalone.web.api.common import (
    AUTH_PROBLEMS,
    Hex16,
    Hex32,
    IdempotencyKeyHeader,
    Strict,
    idempotent,
    json_body,
    json_response,
)
from notalone.web.auth import current_account, escrow_of, services_of, settings_of
from notalone.web.problems import problem_doc

# §6: an outer box is at most 64 KiB + 1 KiB; an entry copy at most a record's size.
HexOuter = Annotated[
    str, StringConstraints(pattern=r"^(?:[0-9a-f]{2})+$", max_length=2 * (MAX_PACKAGE_BYTES + 1024))
]
HexCopy = Annotated[
    str, StringConstraints(pattern=r"^(?:[0-9a-f]{2})+$", max_length=2 * MAX_CIPHERTEXT_BYTES)
]
EntryId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
Survivor = Annotated[Principal, Depends(current_account)]


class ShareModel(BaseModel):
    """One key server of the federation."""

    index: int
    public_key: str


class FederationModel(BaseModel):
    """The key servers' public keys (§5)."""

    threshold: int
    public_key: str
    shares: list[ShareModel]


class DeploymentResponse(BaseModel):
    """What a client needs to know about this deployment before making an entry."""

    deployment_id: str
    match_threshold: int
    federation: FederationModel
    key_servers: list[str]
    ticket_public_key: str
    ticket_period_ms: int
    log_public_key: str
    vouching_public_key: str


class TicketResponse(BaseModel):
    """An evaluation ticket (wire form, hex) and when it expires."""

    ticket: str
    expires_ms: int


class SlotModel(Strict):
    """One slot (§6) as the client uploads it."""

    slot_id: Hex16
    tag: Hex32
    x: Hex32
    share: Hex32
    outer: HexOuter
    counselor_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class EntryRequest(Strict):
    """A new entry: the survivor's encrypted copy and one slot per identifier."""

    entry_id: Hex16
    entry_copy: HexCopy
    slots: list[SlotModel] = Field(min_length=1, max_length=MAX_SLOTS_PER_ENTRY)


class EntryCreated(BaseModel):
    """The entry stored; the same whatever happened to its slots."""

    entry_id: str


class SlotState(BaseModel):
    """A slot as its survivor sees it."""

    slot_id: str
    state: str


class EntryModel(BaseModel):
    """One of the caller's entries."""

    entry_id: str
    entry_copy: str
    created_at_ms: int
    withdrawn_at_ms: int | None
    slots: list[SlotState]


class EntriesResponse(BaseModel):
    """The caller's entries, oldest first."""

    entries: list[EntryModel]


def escrow_router() -> APIRouter:
    """The deployment, ticket and entry routes (built per app: no module-level router)."""
    router = APIRouter(tags=["escrow"])
    _deployment_routes(router)
    _entry_routes(router)
    return router


def _deployment_routes(router: APIRouter) -> None:
    @router.get("/v1/deployment", response_model=DeploymentResponse)
    def deployment(request: Request) -> DeploymentResponse:
        """The deployment's public data: federation, key servers and public keys."""
        settings = settings_of(request)
        escrow = escrow_of(request)
        records = services_of(request).records
        federation = settings.federation
        # create_app mounts this router only for settings with the deployment's keys.
        assert federation is not None  # noqa: S101
        assert settings.deployment_id is not None  # noqa: S101
        assert records is not None  # noqa: S101
        issuer = settings.ticket_issuer()
        return DeploymentResponse(
            deployment_id=settings.deployment_id.hex(),
            match_threshold=escrow.policy.match_threshold,
            federation=FederationModel(
                threshold=federation.threshold,
                public_key=federation.public_key.hex(),
                shares=[
                    ShareModel(index=i, public_key=pk.hex())
                    for i, pk in federation.share_public_keys
                ],
            ),
            key_servers=list(settings.key_servers),
            ticket_public_key=issuer.public_key.hex(),
            ticket_period_ms=issuer.period_ms,
            log_public_key=records.log_public_key.hex(),
            vouching_public_key=escrow.vouching_public_key.hex(),
        )

    @router.post("/v1/tickets", response_model=TicketResponse, responses=AUTH_PROBLEMS)
    def ticket(request: Request, principal: Survivor) -> TicketResponse:
        """An evaluation ticket for the caller's account (its pseudonym, this period)."""
        issued = escrow_of(request).issue_ticket(principal.account_id)
        return TicketResponse(ticket=issued.to_bytes().hex(), expires_ms=issued.expires_ms)


_ENTRY_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **AUTH_PROBLEMS,
    409: problem_doc("The Idempotency-Key was reused for another request."),
    422: problem_doc("A slot is refused (size, abscissa, counselor, duplicate); nothing stored."),
}


def _entry_routes(router: APIRouter) -> None:
    @router.post(
        "/v1/entries", status_code=201, response_model=EntryCreated, responses=_ENTRY_PROBLEMS
    )
    def create_entry(
        body: EntryRequest,
        request: Request,
        principal: Survivor,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response:
        """Store an entry and its slots; the answer never says whether anything matched.

        The answer leaves no sooner than `entry_response_floor_ms` after the request
        arrived (notalone.web.timing), matched or not.
        """
        return _store_entry(body, request, principal, idempotency_key)

    @router.get("/v1/entries", response_model=EntriesResponse, responses=AUTH_PROBLEMS)
    def list_entries(request: Request, principal: Survivor) -> Response:
        """The caller's entries; each slot "sealed" or "withdrawn", never "matched"."""
        entries = escrow_of(request).list_entries(principal.account_id)
        return json_response(
            {
                "entries": [
                    {
                        "entry_id": e.entry_id.hex(),
                        "entry_copy": e.entry_copy.hex(),
                        "created_at_ms": e.created_at_ms,
                        "withdrawn_at_ms": e.withdrawn_at_ms,
                        "slots": [
                            {"slot_id": slot_id.hex(), "state": state} for slot_id, state in e.slots
                        ],
                    }
                    for e in entries
                ]
            }
        )

    @router.delete(
        "/v1/entries/{entry_id}",
        status_code=204,
        responses={**AUTH_PROBLEMS, 404: problem_doc("The caller has no such entry.")},
    )
    def withdraw_entry(entry_id: EntryId, request: Request, principal: Survivor) -> Response:
        """Withdraw the caller's entry: its slots are never matched afterwards."""
        escrow_of(request).withdraw_entry(principal.account_id, bytes.fromhex(entry_id))
        return Response(status_code=204)


def _store_entry(
    body: EntryRequest,
    request: Request,
    principal: Principal,
    idempotency_key: str | None,
) -> Response:
    """POST /v1/entries: build the slots (the caller's account in each) and submit."""
    escrow = escrow_of(request)
    account_id = principal.account_id

    def run() -> tuple[bytes, int, bytes]:
        slots = [
            Slot(
                slot_id=bytes.fromhex(s.slot_id),
                # The caller's account, never one named by the request: x must be
                # bound to it, so nobody can upload a share at another's abscissa.
                account_id=account_id,
                tag=bytes.fromhex(s.tag),
                x=bytes.fromhex(s.x),
                share=bytes.fromhex(s.share),
                outer=bytes.fromhex(s.outer),
                counselor_id=s.counselor_id,
            )
            for s in body.slots
        ]
        escrow.submit_entry(
            account_id, bytes.fromhex(body.entry_id), bytes.fromhex(body.entry_copy), slots
        )
        return account_id, 201, json_body({"entry_id": body.entry_id})

    return idempotent(request, idempotency_key, lambda: account_id, body, run)
