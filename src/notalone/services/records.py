"""Records: storing a survivor's encrypted record versions with transparency-log receipts.

docs/protocol.md §10 in use cases. A survivor's client uploads AEAD ciphertexts it made
under its own data key; the service never sees plaintext, checks only what it can check
on a box (its size and version byte), and for every version appends one leaf to the
append-only RFC 9162 log, signs a tree head over the whole log and returns the receipt.

    create_record(account, record, ciphertext, now)        -> Receipt   (version 1)
    add_version(account, record, version, ciphertext, now) -> Receipt   (exactly the next)
    list_records(account)                                  -> [RecordSummary]
    get_versions(account, record)                          -> [StoredVersion]
    latest_tree_head()                                     -> SignedTreeHead | None
    tree_head(size)                                        -> SignedTreeHead
    consistency_proof(old_size[, new_size])                -> ConsistencyProof

Ports. `RecordStore` is what storage implements (`notalone.storage.records`), and
`InMemoryRecordStore` below is the same contract in memory for unit tests. The rules live
here, not in the stores: a store gathers what it knows *under the log's lock*
(`AppendState`) and hands it to a `Seal` callback from this module, which checks the
owner and the next version, builds the leaf, signs the tree head and returns the receipt;
the store then persists the version, its leaf and the signed head in the same
transaction, or nothing if the callback raised.

Time. The clock is passed in (`now_ms`). The leaf time and the tree head's timestamp are
`max(now_ms, timestamp of the last signed head)`: two processes whose clocks differ, or a
clock stepped back, must never make the log sign a larger tree with an earlier time,
which `verify_consistency_between` rightly rejects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from notalone.crypto import aead, merkle
from notalone.crypto.ct import bytes_eq
from notalone.errors import EncodingError, InputError, ProtocolError, VersionError
from notalone.protocol.receipts import (
    MAX_U64,
    Receipt,
    SignedTreeHead,
    issue_receipt,
    receipt_leaf,
)
from notalone.protocol.records import MAX_BLOB_BYTES, MAX_RECORD_VERSION, RECORD_ID_BYTES

ACCOUNT_ID_BYTES = 16
#: The smallest AEAD box: version byte, nonce and tag around an empty plaintext.
MIN_CIPHERTEXT_BYTES = aead.OVERHEAD
#: The largest box the server stores: one holding the largest allowed plaintext (§10.1).
MAX_CIPHERTEXT_BYTES = MAX_BLOB_BYTES


@dataclass(frozen=True)
class RecordSummary:
    """One of an account's records: when it was created and its newest version."""

    record_id: bytes
    created_at_ms: int
    latest_version: int


@dataclass(frozen=True)
class StoredVersion:
    """One version of a record as the client gets it back: its box and its receipt."""

    version: int
    ciphertext: bytes = field(repr=False)
    receipt: Receipt


@dataclass(frozen=True)
class LoggedVersion:
    """A version as a store returns it: the box, its leaf, and the head signed with it."""

    version: int
    ciphertext: bytes = field(repr=False)
    leaf_index: int
    leaf: bytes
    tree_head: SignedTreeHead


@dataclass(frozen=True)
class ConsistencyProof:
    """An RFC 9162 proof that `tree_head` extends the log's tree of `old_size` leaves."""

    old_size: int
    tree_head: SignedTreeHead
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class AppendState:
    """What a store knows, under the log's lock, when a version is about to be appended.

    `record_owner` is None when no record has this id (`latest_version` is then 0);
    `leaf_hashes` is the whole log in order; `latest_tree_head` the last head signed.
    """

    record_owner: bytes | None
    latest_version: int
    leaf_hashes: Sequence[bytes]
    latest_tree_head: SignedTreeHead | None


#: Checks an `AppendState` and returns the receipt for the new leaf, or raises.
Seal = Callable[[AppendState], Receipt]


class RecordStore(Protocol):
    """Where records, their versions and the transparency log are kept."""

    def append(
        self,
        account_id: bytes,
        record_id: bytes,
        version: int,
        ciphertext: bytes,
        seal: Seal,
    ) -> Receipt:
        """Append one version, all or nothing, while no other append runs on the log.

        Reads the `AppendState` of `record_id` under the log's lock and calls `seal` with
        it. If `seal` returns, stores in the same transaction: the record (owned by
        `account_id`) if it did not exist, the receipt's leaf at its index, the version
        with its ciphertext, and the receipt's signed tree head; the record's and the
        version's creation time is the receipt's time (the log's clock). If
        `seal` (or anything else) raises, nothing is stored. Returns the receipt.
        """
        ...

    def list_records(self, account_id: bytes) -> list[RecordSummary]:
        """The account's records, oldest first."""
        ...

    def versions(self, account_id: bytes, record_id: bytes) -> list[LoggedVersion] | None:
        """The record's versions in order, or None if the account has no such record."""
        ...

    def leaf_hashes(self, tree_size: int) -> list[bytes]:
        """The hashes of the log's first `tree_size` leaves, in order (all of them exist)."""
        ...

    def tree_head(self, tree_size: int) -> SignedTreeHead | None:
        """The first head signed for a tree of `tree_size` leaves, if there is one."""
        ...

    def latest_tree_head(self) -> SignedTreeHead | None:
        """The head of the largest tree signed so far, or None before the first append."""
        ...


class RecordService:
    """The records use cases on a `RecordStore`, signing with the log's Ed25519 key."""

    def __init__(self, store: RecordStore, log_key: Ed25519PrivateKey) -> None:
        self._store = store
        self._log_key = log_key
        self.log_public_key = log_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    # -- writes ------------------------------------------------------------------------

    def create_record(
        self, account_id: bytes, record_id: bytes, ciphertext: bytes, now_ms: int
    ) -> Receipt:
        """Store version 1 of a new record; raise InputError (nothing stored) if refused."""
        return self._append(account_id, record_id, 1, ciphertext, now_ms, creating=True)

    def add_version(
        self, account_id: bytes, record_id: bytes, version: int, ciphertext: bytes, now_ms: int
    ) -> Receipt:
        """Store the next version of the account's record; it must be exactly latest + 1.

        A version that is not the next one (another device got there first, or a replay)
        is refused with an InputError that names the expected version; nothing is stored.
        """
        _check_version_number(version)
        return self._append(account_id, record_id, version, ciphertext, now_ms, creating=False)

    def _append(
        self,
        account_id: bytes,
        record_id: bytes,
        version: int,
        ciphertext: bytes,
        now_ms: int,
        *,
        creating: bool,
    ) -> Receipt:
        _check_id(account_id, ACCOUNT_ID_BYTES, "an account id")
        _check_id(record_id, RECORD_ID_BYTES, "a record id")
        check_ciphertext(ciphertext)
        _check_time(now_ms)
        # Hashed before the lock is taken: the store's critical section stays short.
        digest = hashlib.sha256(ciphertext).digest()

        def seal(state: AppendState) -> Receipt:
            _check_append(state, account_id, version, creating=creating)
            return self._seal(state, digest, now_ms)

        try:
            return self._store.append(account_id, record_id, version, ciphertext, seal)
        except InputError:
            replayed = self._stored_receipt(account_id, record_id, version, ciphertext)
            if replayed is None:
                raise
            return replayed

    def _stored_receipt(
        self, account_id: bytes, record_id: bytes, version: int, ciphertext: bytes
    ) -> Receipt | None:
        """The receipt of this very version if it is already stored, byte for byte.

        A client retrying a write whose answer it never got (the server was killed after
        the commit) sends the same ciphertext again: a fresh random nonce makes it unique,
        so finding it stored means the first attempt succeeded, and that attempt's receipt
        is the answer. Anything else stays refused.
        """
        try:
            stored = self.get_versions(account_id, record_id)
        except InputError:
            return None
        for candidate in stored:
            if candidate.version == version and bytes_eq(candidate.ciphertext, ciphertext):
                return candidate.receipt
        return None

    def _seal(self, state: AppendState, digest: bytes, now_ms: int) -> Receipt:
        """Append the leaf to the log as the store read it, and sign the new tree head."""
        hashes = state.leaf_hashes
        head = state.latest_tree_head
        _check_extends(hashes, head)
        time_ms = now_ms if head is None else max(now_ms, head.timestamp_ms)
        leaf = receipt_leaf(digest, time_ms)
        return issue_receipt(
            leaf, len(hashes), [*hashes, merkle.leaf_hash(leaf)], self._log_key, time_ms
        )

    # -- reads -------------------------------------------------------------------------

    def list_records(self, account_id: bytes) -> list[RecordSummary]:
        """The account's records, oldest first."""
        _check_id(account_id, ACCOUNT_ID_BYTES, "an account id")
        return self._store.list_records(account_id)

    def get_versions(self, account_id: bytes, record_id: bytes) -> list[StoredVersion]:
        """Every version of the account's record with the receipt issued when it was stored.

        The receipts are rebuilt from the log (the leaf, the head signed with it and an
        inclusion proof in that head's tree), so they equal the ones `add_version` returned.
        """
        _check_id(account_id, ACCOUNT_ID_BYTES, "an account id")
        _check_id(record_id, RECORD_ID_BYTES, "a record id")
        logged = self._store.versions(account_id, record_id)
        if logged is None:
            raise InputError("this account has no such record")
        # The log only grows, so one read of the largest prefix serves every receipt.
        hashes = self._store.leaf_hashes(max((v.tree_head.tree_size for v in logged), default=0))
        return [
            StoredVersion(
                v.version,
                v.ciphertext,
                Receipt(
                    v.leaf,
                    v.leaf_index,
                    tuple(merkle.inclusion_proof(hashes[: v.tree_head.tree_size], v.leaf_index)),
                    v.tree_head,
                ),
            )
            for v in logged
        ]

    def latest_tree_head(self) -> SignedTreeHead | None:
        """The head of the largest tree signed so far, or None while the log is empty."""
        return self._store.latest_tree_head()

    def tree_head(self, tree_size: int) -> SignedTreeHead:
        """The head signed for a tree of `tree_size` leaves (for monitors and auditors)."""
        _check_size(tree_size, "a tree size")
        head = self._store.tree_head(tree_size)
        if head is None:
            raise InputError("the log has signed no tree head of this size")
        return head

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Prove that the head of `new_size` (by default the latest) extends `old_size`."""
        _check_size(old_size, "the old tree size")
        if new_size is None:
            head = self._store.latest_tree_head()
            if head is None:
                raise InputError("the log is empty; there is no tree head to prove against")
        else:
            head = self.tree_head(new_size)
        if old_size > head.tree_size:
            raise InputError(
                f"the old tree size {old_size} is larger than the tree head's "
                f"{head.tree_size}; a log only grows"
            )
        hashes = self._store.leaf_hashes(head.tree_size)
        return ConsistencyProof(old_size, head, tuple(merkle.consistency_proof(hashes, old_size)))


def check_ciphertext(ciphertext: bytes) -> None:
    """Refuse what cannot be a v1 record box: wrong type, size or version byte.

    The server cannot open the box; these checks keep its storage bounded (§10.1) and
    keep unversioned blobs out (style rule 3).
    """
    if not isinstance(ciphertext, bytes):
        raise EncodingError("a record version must be bytes: the client's AEAD box")
    if len(ciphertext) > MAX_CIPHERTEXT_BYTES:
        raise InputError(
            f"a record version is at most {MAX_CIPHERTEXT_BYTES} bytes (1 MiB of text once "
            "encrypted); shorten the record or split it into several"
        )
    if len(ciphertext) < MIN_CIPHERTEXT_BYTES:
        raise EncodingError(
            f"a record version is an AEAD box of at least {MIN_CIPHERTEXT_BYTES} bytes"
        )
    if ciphertext[:1] != aead.VERSION:
        raise VersionError(
            f"unknown record box version {ciphertext[0]:#04x}; this server stores 0x01 boxes"
        )


class InMemoryRecordStore:
    """`RecordStore` in memory, for unit tests: the same contract, one thread at a time.

    Not thread-safe by design (the service layer stays free of threading); the SQL store
    is the one that serializes concurrent appends.
    """

    def __init__(self) -> None:
        self._records: dict[bytes, tuple[bytes, int]] = {}
        self._versions: dict[bytes, list[tuple[int, bytes, int]]] = {}
        self.leaves: list[bytes] = []
        self.hashes: list[bytes] = []
        self.heads: list[SignedTreeHead] = []

    def append(
        self,
        account_id: bytes,
        record_id: bytes,
        version: int,
        ciphertext: bytes,
        seal: Seal,
    ) -> Receipt:
        """See `RecordStore.append`."""
        owner = self._records.get(record_id)
        state = AppendState(
            record_owner=None if owner is None else owner[0],
            latest_version=len(self._versions.get(record_id, [])),
            leaf_hashes=tuple(self.hashes),
            latest_tree_head=self.latest_tree_head(),
        )
        receipt = seal(state)  # May raise: nothing has been changed yet.
        _check_receipt_fits(receipt, len(self.hashes))
        if owner is None:
            self._records[record_id] = (account_id, receipt.time_ms)
        self._versions.setdefault(record_id, []).append((version, ciphertext, receipt.leaf_index))
        self.leaves.append(receipt.leaf)
        self.hashes.append(merkle.leaf_hash(receipt.leaf))
        self.heads.append(receipt.tree_head)
        return receipt

    def list_records(self, account_id: bytes) -> list[RecordSummary]:
        """See `RecordStore.list_records`."""
        return [
            RecordSummary(record_id, created, len(self._versions[record_id]))
            for record_id, (owner, created) in self._records.items()
            if owner == account_id
        ]

    def versions(self, account_id: bytes, record_id: bytes) -> list[LoggedVersion] | None:
        """See `RecordStore.versions`."""
        owner = self._records.get(record_id)
        if owner is None or owner[0] != account_id:
            return None
        return [
            LoggedVersion(
                version,
                ciphertext,
                index,
                self.leaves[index],
                _first_head(self.heads, index + 1),
            )
            for version, ciphertext, index in self._versions[record_id]
        ]

    def leaf_hashes(self, tree_size: int) -> list[bytes]:
        """See `RecordStore.leaf_hashes`."""
        if tree_size > len(self.hashes):
            raise ProtocolError("the log holds fewer leaves than the tree size asked for")
        return self.hashes[:tree_size]

    def tree_head(self, tree_size: int) -> SignedTreeHead | None:
        """See `RecordStore.tree_head`."""
        return next((h for h in self.heads if h.tree_size == tree_size), None)

    def latest_tree_head(self) -> SignedTreeHead | None:
        """See `RecordStore.latest_tree_head`."""
        return self.heads[-1] if self.heads else None


def _check_append(state: AppendState, account_id: bytes, version: int, *, creating: bool) -> None:
    """The rules of an append, run by the store under the log's lock."""
    if creating:
        if state.record_owner is not None:
            raise InputError("this record id is already in use; choose a new random one")
        return
    # One message whether the record is missing or another account's: the answer must
    # not tell anyone that a record id exists.
    if state.record_owner is None or not bytes_eq(state.record_owner, account_id):
        raise InputError("this account has no such record")
    if version != state.latest_version + 1:
        raise InputError(
            f"version {version} cannot be added: the record's latest version is "
            f"{state.latest_version}, so the next must be {state.latest_version + 1}; "
            "fetch the record and try again"
        )


def _first_head(heads: Sequence[SignedTreeHead], tree_size: int) -> SignedTreeHead:
    for head in heads:
        if head.tree_size == tree_size:
            return head
    raise ProtocolError("the log lost the tree head signed with a stored version")


def _check_receipt_fits(receipt: Receipt, log_size: int) -> None:
    """A store's guard: the receipt is for the next index and signs the log plus it."""
    if receipt.leaf_index != log_size or receipt.tree_head.tree_size != log_size + 1:
        raise ProtocolError("the receipt does not extend the log by exactly one leaf")


def _check_extends(hashes: Sequence[bytes], head: SignedTreeHead | None) -> None:
    """Refuse to sign over a log that no longer holds the tree its last head signed.

    A stored leaf hash that changed, or a lost leaf, would otherwise be signed into a new
    head: the log would sign two histories (a split view) itself.
    """
    if head is None:
        if hashes:
            raise ProtocolError("the log has leaves but no signed tree head")
        return
    if head.tree_size != len(hashes):
        raise ProtocolError("the last signed tree head does not cover the whole log")
    if not bytes_eq(merkle.root(hashes), head.root):
        raise ProtocolError("the stored log no longer matches its last signed tree head")


def _check_id(value: bytes, size: int, name: str) -> None:
    if not isinstance(value, bytes) or len(value) != size:
        raise EncodingError(f"{name} is {size} bytes")


def _check_version_number(version: int) -> None:
    if (
        not isinstance(version, int)
        or isinstance(version, bool)
        or not 1 <= version <= MAX_RECORD_VERSION
    ):
        raise InputError(f"a record version is an integer from 1 to {MAX_RECORD_VERSION}")


def _check_time(now_ms: int) -> None:
    if not isinstance(now_ms, int) or isinstance(now_ms, bool) or not 0 <= now_ms <= MAX_U64:
        raise InputError("the time is milliseconds since the Unix epoch, from 0 to 2**64 - 1")


def _check_size(size: int, name: str) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_U64:
        raise InputError(f"{name} is an integer from 0 to 2**64 - 1")
