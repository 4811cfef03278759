"""Records and the transparency log in SQL: `RecordStore` of `notalone.services.records`.

What is stored (docs/protocol.md §10): `records` (id, owner, creation time),
`record_versions` (the client's AEAD box, which the server cannot open, and the index of
its leaf), `log_leaves` (the 59-byte receipt leaf and its RFC 9162 hash: a digest and a
time, nothing that names anyone) and `tree_heads` (every signed head).

One append is one write transaction, exclusive for the whole log:

1. take the log's lock: `Database.serialize(session, LOG_LOCK_SCOPE)`, a
   transaction-level advisory lock on PostgreSQL (READ COMMITTED, so the next statement
   sees what the previous holder committed); on SQLite the single writer connection and
   BEGIN IMMEDIATE already make every write transaction exclusive;
2. read the record's owner and latest version, every leaf hash (checking that the
   indices are exactly 0..n-1) and the last signed head;
3. hand them to the service's `seal`, which checks the rules and signs the new head;
4. insert the record (if new), the leaf at index n, the version and the head.

Any exception rolls all of it back, so a refused or failed upload leaves no row, and the
leaf indices stay dense and unique however many processes append: the index is read and
written under the lock, and `log_leaves.leaf_index` (primary key) and
`record_versions.leaf_index` (unique) would turn a broken lock into an error rather than
a fork of the log.

Proofs read the leaf hashes of the tree they cover: O(n) per append and per proof. The
log only grows, so a head read first and the hashes below its size read after it agree
even without one snapshot.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notalone.crypto import merkle
from notalone.errors import InputError, ProtocolError
from notalone.protocol.receipts import Receipt, SignedTreeHead
from notalone.services.records import (
    AppendState,
    LoggedVersion,
    RecordSummary,
    Seal,
)
from notalone.storage.engine import Database
from notalone.storage.models import Account, LogLeaf, Record, RecordVersion, TreeHead

#: The scope of the lock every log append takes (PostgreSQL advisory lock).
LOG_LOCK_SCOPE = b"transparency-log"


class RecordRepository:
    """Records, their versions and the transparency log in one `Database`."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def append(
        self,
        account_id: bytes,
        record_id: bytes,
        version: int,
        ciphertext: bytes,
        seal: Seal,
    ) -> Receipt:
        """See `RecordStore.append`: one transaction, under the log's lock."""
        with self._db.transaction() as session:
            # Everything below, reads included, runs while no other append can: the
            # owner and latest version cannot change under the rules, nor the log under
            # the new head.
            self._db.serialize(session, LOG_LOCK_SCOPE)
            record = session.get(Record, record_id)
            if record is None and session.get(Account, account_id) is None:
                # Checked here rather than left to the foreign key, whose error would
                # quote the id.
                raise InputError("unknown account; sign in again")
            latest = 0
            if record is not None:
                latest = (
                    session.scalar(
                        select(func.max(RecordVersion.version)).where(
                            RecordVersion.record_id == record_id
                        )
                    )
                    or 0
                )
            hashes = _leaf_hashes(session, None)
            receipt = seal(
                AppendState(
                    record_owner=None if record is None else record.account_id,
                    latest_version=latest,
                    leaf_hashes=hashes,
                    latest_tree_head=_latest_head(session),
                )
            )
            if receipt.leaf_index != len(hashes) or receipt.tree_head.tree_size != len(hashes) + 1:
                raise ProtocolError("the receipt does not extend the log by exactly one leaf")
            if record is None:
                session.add(
                    Record(id=record_id, account_id=account_id, created_at_ms=receipt.time_ms)
                )
            session.add(
                LogLeaf(
                    leaf_index=receipt.leaf_index,
                    leaf=receipt.leaf,
                    leaf_hash=merkle.leaf_hash(receipt.leaf),
                )
            )
            # SQLite checks foreign keys at each statement: parents are flushed first.
            session.flush()
            session.add(
                RecordVersion(
                    record_id=record_id,
                    version=version,
                    ciphertext=ciphertext,
                    leaf_index=receipt.leaf_index,
                    created_at_ms=receipt.time_ms,
                )
            )
            head = receipt.tree_head
            session.add(
                TreeHead(
                    tree_size=head.tree_size,
                    timestamp_ms=head.timestamp_ms,
                    root=head.root,
                    signature=head.signature,
                )
            )
        return receipt

    def list_records(self, account_id: bytes) -> list[RecordSummary]:
        """See `RecordStore.list_records`."""
        with self._db.read() as session:
            rows = session.execute(
                select(Record.id, Record.created_at_ms, func.max(RecordVersion.version))
                .join(RecordVersion, RecordVersion.record_id == Record.id)
                .where(Record.account_id == account_id)
                .group_by(Record.id, Record.created_at_ms)
                .order_by(Record.created_at_ms, Record.id)
            ).all()
        return [RecordSummary(row[0], row[1], row[2]) for row in rows]

    def versions(self, account_id: bytes, record_id: bytes) -> list[LoggedVersion] | None:
        """See `RecordStore.versions`."""
        with self._db.read() as session:
            record = session.get(Record, record_id)
            if record is None or record.account_id != account_id:
                return None
            rows = session.execute(
                select(
                    RecordVersion.version,
                    RecordVersion.ciphertext,
                    LogLeaf.leaf_index,
                    LogLeaf.leaf,
                )
                .join(LogLeaf, LogLeaf.leaf_index == RecordVersion.leaf_index)
                .where(RecordVersion.record_id == record_id)
                .order_by(RecordVersion.version)
            ).all()
            # The head signed in the same transaction as a leaf covers exactly the log up
            # to it: it is the head of the receipt that upload returned.
            heads = _first_heads(session, {row[2] + 1 for row in rows})
            logged = []
            for version, ciphertext, leaf_index, leaf in rows:
                head = heads.get(leaf_index + 1)
                if head is None:
                    raise ProtocolError("the log lost the tree head signed with a stored version")
                logged.append(LoggedVersion(version, ciphertext, leaf_index, leaf, head))
        return logged

    def leaf_hashes(self, tree_size: int) -> list[bytes]:
        """See `RecordStore.leaf_hashes`."""
        with self._db.read() as session:
            return _leaf_hashes(session, tree_size)

    def tree_head(self, tree_size: int) -> SignedTreeHead | None:
        """See `RecordStore.tree_head`."""
        with self._db.read() as session:
            return _head_of_size(session, tree_size)

    def latest_tree_head(self) -> SignedTreeHead | None:
        """See `RecordStore.latest_tree_head`."""
        with self._db.read() as session:
            return _latest_head(session)


def _leaf_hashes(session: Session, tree_size: int | None) -> list[bytes]:
    """The first `tree_size` leaf hashes (all of them if None), checked to be dense."""
    query = select(LogLeaf.leaf_index, LogLeaf.leaf_hash).order_by(LogLeaf.leaf_index)
    if tree_size is not None:
        query = query.where(LogLeaf.leaf_index < tree_size)
    rows = session.execute(query).all()
    # A gap would shift every later leaf's position in the tree: refuse rather than sign
    # or prove over a log that is not what earlier heads covered.
    if any(index != position for position, (index, _) in enumerate(rows)):
        raise ProtocolError("the transparency log has a gap in its leaf indices")
    if tree_size is not None and len(rows) != tree_size:
        raise ProtocolError("the log holds fewer leaves than the tree size asked for")
    return [leaf_hash for _, leaf_hash in rows]


def _to_head(row: TreeHead) -> SignedTreeHead:
    return SignedTreeHead(row.tree_size, row.timestamp_ms, row.root, row.signature)


def _head_of_size(session: Session, tree_size: int) -> SignedTreeHead | None:
    row = session.scalars(
        select(TreeHead)
        .where(TreeHead.tree_size == tree_size)
        .order_by(TreeHead.timestamp_ms, TreeHead.id)
        .limit(1)
    ).first()
    return None if row is None else _to_head(row)


def _first_heads(session: Session, sizes: set[int]) -> dict[int, SignedTreeHead]:
    """The first head signed for each of these tree sizes, by size."""
    heads: dict[int, SignedTreeHead] = {}
    rows = session.scalars(
        select(TreeHead)
        .where(TreeHead.tree_size.in_(sorted(sizes)))
        .order_by(TreeHead.tree_size, TreeHead.timestamp_ms, TreeHead.id)
    )
    for row in rows:
        heads.setdefault(row.tree_size, _to_head(row))
    return heads


def _latest_head(session: Session) -> SignedTreeHead | None:
    row = session.scalars(
        select(TreeHead)
        .order_by(TreeHead.tree_size.desc(), TreeHead.timestamp_ms.desc(), TreeHead.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _to_head(row)
