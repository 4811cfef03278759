"""Records (encrypted versions with receipts) and the transparency log (docs/protocol.md §10).

    POST /v1/records                          survivor: {record_id, ciphertext} → 201 {receipt}
    POST /v1/records/{record_id}/versions     survivor, owner: {version, ciphertext}
                                              → 201 {receipt}; 409 unless version = latest + 1
    GET  /v1/records                          survivor: {records: [{record_id, versions,
                                              created_at_ms}]}
    GET  /v1/records/{record_id}              survivor, owner: {versions: [{version,
                                              ciphertext, receipt, created_at_ms}]}
    GET  /v1/log/head                         public: {tree_head}; 404 while the log is empty
    GET  /v1/log/consistency?old=N[&new=M]    public: {proof: [hex…], tree_head} (the head of
                                              size M, by default the latest)

A record of another account and a missing one get the same 404: nobody learns that a
record id exists. Idempotency-Key is honoured on both writes, scoped to the account.
Receipts and tree heads travel as the hex of their `to_bytes()`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StringConstraints

from notalone.errors import ConflictError, InputError
from notalone.protocol.records import MAX_RECORD_VERSION
from notalone.services.accounts import Principal
from notalone.services.escrow import NotFoundError
from notalone.services.records import MAX_CIPHERTEXT_BYTES, check_ciphertext
from notalone.web.api.common import (
    AUTH_PROBLEMS,
    Hex16,
    IdempotencyKeyHeader,
    Strict,
    idempotent,
    json_body,
    json_response,
)
from notalone.web.auth import current_account, records_of
from notalone.web.problems import problem_doc

HexBox = Annotated[
    str, StringConstraints(pattern=r"^(?:[0-9a-f]{2})+$", max_length=2 * MAX_CIPHERTEXT_BYTES)
]
RecordId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
Survivor = Annotated[Principal, Depends(current_account)]
_NO_RECORD = "this account has no such record"

#: Tree sizes are u64 in receipts, but the log counts in SQL integers (signed 64-bit):
#: no log can hold more leaves, so larger sizes are refused before any query.
MAX_TREE_SIZE = 2**63 - 1


class NewRecordRequest(Strict):
    """Version 1 of a new record: its client-chosen id and the AEAD box."""

    record_id: Hex16
    ciphertext: HexBox


class VersionRequest(Strict):
    """The next version of a record."""

    version: int = Field(ge=1, le=MAX_RECORD_VERSION)
    ciphertext: HexBox


class ReceiptResponse(BaseModel):
    """The receipt of the stored version (Receipt.to_bytes() as hex)."""

    receipt: str


class RecordModel(BaseModel):
    """One of the caller's records and its newest version."""

    record_id: str
    versions: int
    created_at_ms: int


class RecordsResponse(BaseModel):
    """The caller's records, oldest first."""

    records: list[RecordModel]


class VersionModel(BaseModel):
    """One stored version with the receipt issued when it was stored."""

    version: int
    ciphertext: str
    receipt: str
    created_at_ms: int


class VersionsResponse(BaseModel):
    """Every version of the record, oldest first."""

    versions: list[VersionModel]


class TreeHeadResponse(BaseModel):
    """The latest signed tree head (SignedTreeHead.to_bytes() as hex)."""

    tree_head: str


class ConsistencyResponse(BaseModel):
    """An RFC 9162 consistency proof and the head it leads to."""

    proof: list[str]
    tree_head: str


_WRITE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **AUTH_PROBLEMS,
    409: problem_doc("The version is not the next one, or the Idempotency-Key was reused."),
    422: problem_doc("The ciphertext or record id is refused."),
}


def records_router() -> APIRouter:
    """The record and log routes (built per app: no module-level router)."""
    router = APIRouter(tags=["records"])
    _write_routes(router)
    _read_routes(router)
    _log_routes(router)
    return router


def _write_routes(router: APIRouter) -> None:
    @router.post(
        "/v1/records", status_code=201, response_model=ReceiptResponse, responses=_WRITE_PROBLEMS
    )
    def create_record(
        body: NewRecordRequest,
        request: Request,
        principal: Survivor,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response:
        """Store version 1 of a new record; answers with its receipt."""
        records = records_of(request)
        account_id = principal.account_id

        def run() -> tuple[bytes, int, bytes]:
            receipt = records.create_record(
                account_id,
                bytes.fromhex(body.record_id),
                bytes.fromhex(body.ciphertext),
                request.app.state.settings.clock_ms(),
            )
            return account_id, 201, json_body({"receipt": receipt.to_bytes().hex()})

        return idempotent(request, idempotency_key, lambda: account_id, body, run)

    @router.post(
        "/v1/records/{record_id}/versions",
        status_code=201,
        response_model=ReceiptResponse,
        responses={**_WRITE_PROBLEMS, 404: problem_doc("The caller has no such record.")},
    )
    def add_version(
        record_id: RecordId,
        body: VersionRequest,
        request: Request,
        principal: Survivor,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response:
        """Store the next version of the caller's record; answers with its receipt."""
        records = records_of(request)
        account_id = principal.account_id
        record = bytes.fromhex(record_id)
        ciphertext = bytes.fromhex(body.ciphertext)

        def run() -> tuple[bytes, int, bytes]:
            owned = {r.record_id: r for r in records.list_records(account_id)}
            if record not in owned:
                raise NotFoundError(_NO_RECORD)
            check_ciphertext(ciphertext)
            try:
                receipt = records.add_version(
                    account_id,
                    record,
                    body.version,
                    ciphertext,
                    request.app.state.settings.clock_ms(),
                )
            except InputError as e:
                # Ownership and the box were checked above: what is left is the version
                # not being the next one (another device came first, or a replay).
                raise ConflictError(str(e)) from e
            return account_id, 201, json_body({"receipt": receipt.to_bytes().hex()})

        return idempotent(request, idempotency_key, lambda: account_id, body, run)


def _read_routes(router: APIRouter) -> None:
    @router.get("/v1/records", response_model=RecordsResponse, responses=AUTH_PROBLEMS)
    def list_records(request: Request, principal: Survivor) -> Response:
        """The caller's records and the number of versions of each."""
        return json_response(
            {
                "records": [
                    {
                        "record_id": r.record_id.hex(),
                        "versions": r.latest_version,
                        "created_at_ms": r.created_at_ms,
                    }
                    for r in records_of(request).list_records(principal.account_id)
                ]
            }
        )

    @router.get(
        "/v1/records/{record_id}",
        response_model=VersionsResponse,
        responses={**AUTH_PROBLEMS, 404: problem_doc("The caller has no such record.")},
    )
    def get_record(record_id: RecordId, request: Request, principal: Survivor) -> Response:
        """Every version of the caller's record with its receipt."""
        try:
            versions = records_of(request).get_versions(
                principal.account_id, bytes.fromhex(record_id)
            )
        except InputError as e:
            raise NotFoundError(_NO_RECORD) from e
        return json_response(
            {
                "versions": [
                    {
                        "version": v.version,
                        "ciphertext": v.ciphertext.hex(),
                        "receipt": v.receipt.to_bytes().hex(),
                        "created_at_ms": v.receipt.time_ms,
                    }
                    for v in versions
                ]
            }
        )


def _log_routes(router: APIRouter) -> None:
    @router.get(
        "/v1/log/head",
        response_model=TreeHeadResponse,
        tags=["log"],
        responses={404: problem_doc("The log is empty: no tree head is signed yet.")},
    )
    def log_head(request: Request) -> TreeHeadResponse:
        """The latest signed tree head of the transparency log."""
        head = records_of(request).latest_tree_head()
        if head is None:
            raise NotFoundError("the log is empty; no tree head has been signed yet")
        return TreeHeadResponse(tree_head=head.to_bytes().hex())

    @router.get(
        "/v1/log/consistency",
        response_model=ConsistencyResponse,
        tags=["log"],
        responses={
            400: problem_doc("old or new is not an integer."),
            422: problem_doc("No head of that size, or old is larger than new."),
        },
    )
    def log_consistency(
        request: Request,
        old: Annotated[int, Query(ge=0, le=MAX_TREE_SIZE)],
        new: Annotated[int | None, Query(ge=0, le=MAX_TREE_SIZE)] = None,
    ) -> ConsistencyResponse:
        """A proof that the head of size `new` (default: the latest) extends size `old`."""
        proof = records_of(request).consistency_proof(old, new)
        return ConsistencyResponse(
            proof=[node.hex() for node in proof.proof], tree_head=proof.tree_head.to_bytes().hex()
        )
