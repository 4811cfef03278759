"""The records use cases on the in-memory store: receipts, versions, refusals and proofs.

Every receipt is checked the way a survivor or an auditor would: `verify_receipt` with the
ciphertext and the log's public key, and `verify_consistency_between` for tree heads.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from notalone.crypto import aead, merkle
from notalone.errors import (
    EncodingError,
    InputError,
    MerkleProofError,
    ProtocolError,
    SignatureError,
    VersionError,
)
from notalone.protocol.receipts import (
    Receipt,
    verify_consistency_between,
    verify_receipt,
)
from notalone.services.records import (
    MAX_CIPHERTEXT_BYTES,
    MIN_CIPHERTEXT_BYTES,
    AppendState,
    InMemoryRecordStore,
    RecordService,
    RecordSummary,
)

NOW_MS = 1_795_000_000_000


def box(size: int = 200) -> bytes:
    """A real v1 AEAD box of `size` bytes, as a client would upload."""
    return aead.seal(secrets.token_bytes(32), secrets.token_bytes(size - aead.OVERHEAD), b"ad")


def new_id() -> bytes:
    return secrets.token_bytes(16)


@pytest.fixture
def store() -> InMemoryRecordStore:
    return InMemoryRecordStore()


@pytest.fixture
def service(store: InMemoryRecordStore) -> RecordService:
    return RecordService(store, Ed25519PrivateKey.generate())


def snapshot(store: InMemoryRecordStore) -> tuple[int, int, int]:
    return len(store.leaves), len(store.hashes), len(store.heads)


# -- receipts ---------------------------------------------------------------------------


def test_a_new_record_gets_a_receipt_that_verifies(service: RecordService) -> None:
    ciphertext = box()
    receipt = service.create_record(new_id(), new_id(), ciphertext, NOW_MS)
    assert verify_receipt(ciphertext, receipt, service.log_public_key) == NOW_MS
    assert receipt.leaf_index == 0
    assert receipt.tree_head.tree_size == 1
    assert receipt.tree_head.timestamp_ms == NOW_MS
    assert receipt.ciphertext_sha256 == hashlib.sha256(ciphertext).digest()
    # The wire form round-trips and still verifies.
    assert verify_receipt(
        ciphertext, Receipt.from_bytes(receipt.to_bytes()), service.log_public_key
    )
    assert service.latest_tree_head() == receipt.tree_head


def test_a_receipt_does_not_verify_for_another_ciphertext_or_key(service: RecordService) -> None:
    ciphertext = box()
    receipt = service.create_record(new_id(), new_id(), ciphertext, NOW_MS)
    with pytest.raises(MerkleProofError):
        verify_receipt(box(), receipt, service.log_public_key)
    other_key = RecordService(InMemoryRecordStore(), Ed25519PrivateKey.generate()).log_public_key
    with pytest.raises(SignatureError):
        verify_receipt(ciphertext, receipt, other_key)


def test_versions_one_to_n_each_have_their_own_receipt(service: RecordService) -> None:
    account, record = new_id(), new_id()
    boxes = [box(100 + i) for i in range(6)]
    receipts = [service.create_record(account, record, boxes[0], NOW_MS)]
    receipts += [
        service.add_version(account, record, v, boxes[v - 1], NOW_MS + v - 1) for v in range(2, 7)
    ]
    for i, (ciphertext, receipt) in enumerate(zip(boxes, receipts, strict=True)):
        assert verify_receipt(ciphertext, receipt, service.log_public_key) == NOW_MS + i
        assert receipt.leaf_index == i
        assert receipt.tree_head.tree_size == i + 1
    stored = service.get_versions(account, record)
    assert [v.version for v in stored] == [1, 2, 3, 4, 5, 6]
    assert [v.ciphertext for v in stored] == boxes
    # The receipts handed back later are the ones issued at upload, byte for byte.
    assert [v.receipt for v in stored] == receipts
    assert [v.receipt.to_bytes() for v in stored] == [r.to_bytes() for r in receipts]
    assert service.list_records(account) == [RecordSummary(record, NOW_MS, 6)]


def test_records_of_several_accounts_share_one_log(
    service: RecordService, store: InMemoryRecordStore
) -> None:
    ana, ben = new_id(), new_id()
    ana_records = [new_id(), new_id()]
    service.create_record(ana, ana_records[0], box(), NOW_MS)
    service.create_record(ben, new_id(), box(), NOW_MS + 1)
    service.create_record(ana, ana_records[1], box(), NOW_MS + 2)
    service.add_version(ana, ana_records[0], 2, box(), NOW_MS + 3)
    assert [(r.record_id, r.latest_version) for r in service.list_records(ana)] == [
        (ana_records[0], 2),
        (ana_records[1], 1),
    ]
    assert len(service.list_records(ben)) == 1
    assert service.list_records(new_id()) == []
    head = service.latest_tree_head()
    assert head is not None
    assert head.tree_size == 4
    assert head.root == merkle.root(store.hashes)
    for version in service.get_versions(ana, ana_records[0]):
        verify_receipt(version.ciphertext, version.receipt, service.log_public_key)


# -- refusals: nothing is written -------------------------------------------------------


def test_only_the_exact_next_version_is_accepted(
    service: RecordService, store: InMemoryRecordStore
) -> None:
    account, record = new_id(), new_id()
    service.create_record(account, record, box(), NOW_MS)
    service.add_version(account, record, 2, box(), NOW_MS)
    before = snapshot(store)
    for wrong in (1, 2, 4, 99):
        with pytest.raises(InputError, match="latest version is 2, so the next must be 3"):
            service.add_version(account, record, wrong, box(), NOW_MS)
    assert snapshot(store) == before
    assert service.list_records(account) == [RecordSummary(record, NOW_MS, 2)]


def test_a_retried_write_gets_the_first_attempts_receipt_and_stores_nothing_twice(
    service: RecordService, store: InMemoryRecordStore
) -> None:
    # The server was killed after the commit and before its answer (or its Idempotency-
    # Key record): the client sends the very same request again.
    account, record = new_id(), new_id()
    first, second = box(), box()
    created = service.create_record(account, record, first, NOW_MS)
    added = service.add_version(account, record, 2, second, NOW_MS)
    before = snapshot(store)
    assert service.create_record(account, record, first, NOW_MS + 5) == created
    assert service.add_version(account, record, 2, second, NOW_MS + 5) == added
    assert snapshot(store) == before
    # Only the same bytes are a retry: another box under the same id or version is not.
    with pytest.raises(InputError, match="already in use"):
        service.create_record(account, record, box(), NOW_MS)
    with pytest.raises(InputError, match="next must be 3"):
        service.add_version(account, record, 2, box(), NOW_MS)
    # Nor is another account's copy of the bytes (ids are not probed that way either).
    with pytest.raises(InputError, match="already in use"):
        service.create_record(new_id(), record, first, NOW_MS)
    assert snapshot(store) == before


def test_another_accounts_record_is_refused_like_a_missing_one(
    service: RecordService, store: InMemoryRecordStore
) -> None:
    owner, intruder, record = new_id(), new_id(), new_id()
    service.create_record(owner, record, box(), NOW_MS)
    before = snapshot(store)
    with pytest.raises(InputError) as theirs:
        service.add_version(intruder, record, 2, box(), NOW_MS)
    with pytest.raises(InputError) as missing:
        service.add_version(intruder, new_id(), 2, box(), NOW_MS)
    assert str(theirs.value) == str(missing.value) == "this account has no such record"
    with pytest.raises(InputError, match="no such record"):
        service.get_versions(intruder, record)
    with pytest.raises(InputError, match="already in use"):
        service.create_record(intruder, record, box(), NOW_MS)
    assert snapshot(store) == before
    assert service.list_records(intruder) == []


@pytest.mark.parametrize(
    ("ciphertext", "error", "message"),
    [
        (b"\x01" * (MAX_CIPHERTEXT_BYTES + 1), InputError, "shorten the record"),
        (b"\x02" + bytes(100), VersionError, "unknown record box version 0x02"),
        (b"\x00" + bytes(100), VersionError, "unknown record box version 0x00"),
        (b"\x01" * (MIN_CIPHERTEXT_BYTES - 1), EncodingError, "at least 41 bytes"),
        (b"", EncodingError, "at least 41 bytes"),
        (bytearray(b"\x01" * 64), EncodingError, "must be bytes"),
    ],
    ids=["oversized", "version-2", "version-0", "short", "empty", "not-bytes"],
)
def test_what_cannot_be_a_v1_box_is_refused(
    service: RecordService,
    store: InMemoryRecordStore,
    ciphertext: bytes,
    error: type[Exception],
    message: str,
) -> None:
    account, record = new_id(), new_id()
    service.create_record(account, record, box(), NOW_MS)
    before = snapshot(store)
    with pytest.raises(error, match=message):
        service.create_record(account, new_id(), ciphertext, NOW_MS)
    with pytest.raises(error, match=message):
        service.add_version(account, record, 2, ciphertext, NOW_MS)
    assert snapshot(store) == before


def test_the_largest_box_is_accepted(service: RecordService) -> None:
    ciphertext = box(MAX_CIPHERTEXT_BYTES)
    assert len(ciphertext) == MAX_CIPHERTEXT_BYTES
    receipt = service.create_record(new_id(), new_id(), ciphertext, NOW_MS)
    verify_receipt(ciphertext, receipt, service.log_public_key)


@pytest.mark.parametrize(
    ("account", "record", "version", "now_ms", "message"),
    [
        (bytes(15), bytes(16), 2, NOW_MS, "an account id is 16 bytes"),
        (bytes(16), bytes(17), 2, NOW_MS, "a record id is 16 bytes"),
        (bytes(16), "r" * 16, 2, NOW_MS, "a record id is 16 bytes"),
        (bytes(16), bytes(16), 0, NOW_MS, "from 1 to 4294967295"),
        (bytes(16), bytes(16), 2**32, NOW_MS, "from 1 to 4294967295"),
        (bytes(16), bytes(16), True, NOW_MS, "from 1 to 4294967295"),
        (bytes(16), bytes(16), 2, -1, "milliseconds since the Unix epoch"),
        (bytes(16), bytes(16), 2, 2**64, "milliseconds since the Unix epoch"),
    ],
)
def test_malformed_arguments_are_refused(
    service: RecordService,
    store: InMemoryRecordStore,
    account: bytes,
    record: bytes,
    version: int,
    now_ms: int,
    message: str,
) -> None:
    with pytest.raises(InputError, match=message):
        service.add_version(account, record, version, box(), now_ms)
    assert snapshot(store) == (0, 0, 0)


def test_reads_check_their_arguments(service: RecordService) -> None:
    with pytest.raises(EncodingError):
        service.list_records(bytes(8))
    with pytest.raises(EncodingError):
        service.get_versions(bytes(16), bytes(8))
    with pytest.raises(InputError):
        service.tree_head(-1)
    with pytest.raises(InputError):
        service.consistency_proof(True)


# -- the log: tree heads and consistency ------------------------------------------------


def test_consistency_proofs_between_every_pair_of_tree_heads_verify(
    service: RecordService, store: InMemoryRecordStore
) -> None:
    account = new_id()
    records = [new_id() for _ in range(3)]
    for i in range(11):
        record = records[i % 3]
        if i < 3:
            service.create_record(account, record, box(), NOW_MS + i)
        else:
            service.add_version(account, record, i // 3 + 1, box(), NOW_MS + i)
    heads = [service.tree_head(size) for size in range(1, 12)]
    assert heads == store.heads
    for old, new in itertools.combinations_with_replacement(heads, 2):
        proof = service.consistency_proof(old.tree_size, new.tree_size)
        assert proof.tree_head == new
        assert proof.old_size == old.tree_size
        verify_consistency_between(old, new, proof.proof, service.log_public_key)
    latest = service.consistency_proof(4)
    assert latest.tree_head == heads[-1]
    verify_consistency_between(heads[3], heads[-1], latest.proof, service.log_public_key)
    assert service.consistency_proof(0).proof == ()
    assert heads[-1].root == merkle.root(store.hashes)


def test_a_forged_proof_or_a_swapped_head_fails(service: RecordService) -> None:
    account, record = new_id(), new_id()
    service.create_record(account, record, box(), NOW_MS)
    for version in range(2, 6):
        service.add_version(account, record, version, box(), NOW_MS)
    old, new = service.tree_head(3), service.tree_head(5)
    proof = service.consistency_proof(3, 5).proof
    with pytest.raises(MerkleProofError):
        verify_consistency_between(
            old, new, (secrets.token_bytes(32), *proof[1:]), service.log_public_key
        )
    with pytest.raises(MerkleProofError):
        verify_consistency_between(service.tree_head(2), new, proof, service.log_public_key)


def test_the_log_refuses_proofs_it_cannot_give(service: RecordService) -> None:
    assert service.latest_tree_head() is None
    with pytest.raises(InputError, match="the log is empty"):
        service.consistency_proof(0)
    service.create_record(new_id(), new_id(), box(), NOW_MS)
    with pytest.raises(InputError, match="a log only grows"):
        service.consistency_proof(2)
    with pytest.raises(InputError, match="no tree head of this size"):
        service.tree_head(2)
    with pytest.raises(InputError, match="no tree head of this size"):
        service.consistency_proof(0, 7)


def test_a_clock_that_steps_back_never_backdates_a_larger_tree(
    service: RecordService,
) -> None:
    # Two escrow processes whose clocks differ append in turn: the log keeps its times
    # non-decreasing, so every pair of heads still passes verify_consistency_between.
    account = new_id()
    records = [new_id() for _ in range(4)]
    receipts = [
        service.create_record(account, record, box(), now)
        for record, now in zip(
            records, (NOW_MS, NOW_MS + 50, NOW_MS + 10, NOW_MS + 60), strict=True
        )
    ]
    assert [r.time_ms for r in receipts] == [NOW_MS, NOW_MS + 50, NOW_MS + 50, NOW_MS + 60]
    assert [r.tree_head.timestamp_ms for r in receipts] == [r.time_ms for r in receipts]
    heads = [r.tree_head for r in receipts]
    for old, new in itertools.combinations(heads, 2):
        proof = service.consistency_proof(old.tree_size, new.tree_size).proof
        verify_consistency_between(old, new, proof, service.log_public_key)


def test_a_tampered_log_is_not_signed_again(
    service: RecordService, store: InMemoryRecordStore
) -> None:
    account, record = new_id(), new_id()
    service.create_record(account, record, box(), NOW_MS)
    service.add_version(account, record, 2, box(), NOW_MS)
    store.hashes[0] = secrets.token_bytes(32)
    before = snapshot(store)
    with pytest.raises(ProtocolError, match="no longer matches its last signed tree head"):
        service.add_version(account, record, 3, box(), NOW_MS)
    del store.hashes[1]
    with pytest.raises(ProtocolError, match="does not cover the whole log"):
        service.add_version(account, record, 3, box(), NOW_MS)
    assert snapshot(store)[0] == before[0]


def test_a_log_with_leaves_but_no_head_is_refused(store: InMemoryRecordStore) -> None:
    service = RecordService(store, Ed25519PrivateKey.generate())
    store.hashes.append(secrets.token_bytes(32))
    with pytest.raises(ProtocolError, match="no signed tree head"):
        service.create_record(new_id(), new_id(), box(), NOW_MS)


def test_the_store_refuses_a_receipt_that_does_not_extend_the_log(
    service: RecordService, store: InMemoryRecordStore
) -> None:
    first = service.create_record(new_id(), new_id(), box(), NOW_MS)

    def stale(_state: AppendState) -> Receipt:
        return first

    with pytest.raises(ProtocolError, match="exactly one leaf"):
        store.append(new_id(), new_id(), 1, box(), stale)
    assert snapshot(store) == (1, 1, 1)
    with pytest.raises(ProtocolError):
        store.leaf_hashes(2)


def test_receipts_are_rebuilt_from_the_first_head_of_their_size(
    service: RecordService, store: InMemoryRecordStore
) -> None:
    account, record = new_id(), new_id()
    issued = service.create_record(account, record, box(), NOW_MS)
    # A later re-signing of the same size (a future "heartbeat" head) must not change
    # the receipt handed back for the version.
    store.heads.append(replace(issued.tree_head, timestamp_ms=NOW_MS + 1))
    (stored,) = service.get_versions(account, record)
    assert stored.receipt == issued
    store.heads.clear()
    with pytest.raises(ProtocolError, match="lost the tree head"):
        service.get_versions(account, record)
