"""Records and the transparency log on SQLite and PostgreSQL (`RecordRepository`).

The service's rules run on the real store here: receipts verify, refused uploads leave
every table as it was, consistency proofs hold between every pair of stored heads, and
concurrent appends (threads; on PostgreSQL also two spawned processes) give dense,
unique leaf indices with receipts that all verify.
"""

from __future__ import annotations

import itertools
import multiprocessing
import random
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import delete, func, select, update

from notalone.crypto import aead, merkle
from notalone.errors import InputError, ProtocolError, VersionError
from notalone.protocol.receipts import Receipt, verify_consistency_between, verify_receipt
from notalone.services.records import MAX_CIPHERTEXT_BYTES, RecordService, RecordSummary
from notalone.storage.engine import Database
from notalone.storage.models import (
    Account,
    LogLeaf,
    Organization,
    Record,
    RecordVersion,
    TreeHead,
)
from notalone.storage.records import RecordRepository
from tests.storage.conftest import NOW_MS, DatabaseFactory

TABLES = (Record, RecordVersion, LogLeaf, TreeHead)
THREADS = 8
VERSIONS_PER_RECORD = 5  # 8 threads x 5 = 40 appends.


def box(size: int = 120) -> bytes:
    """A real v1 AEAD box, as a client would upload."""
    return aead.seal(secrets.token_bytes(32), secrets.token_bytes(size - aead.OVERHEAD), b"ad")


def add_accounts(database: Database, count: int) -> list[bytes]:
    """An organization and `count` accounts; return the account ids."""
    organization = secrets.token_bytes(16)
    ids = [secrets.token_bytes(16) for _ in range(count)]
    with database.transaction() as session:
        session.add(
            Organization(id=organization, name=f"Org {organization.hex()}", created_at_ms=0)
        )
        session.flush()
        for account_id in ids:
            session.add(
                Account(
                    id=account_id,
                    username=f"quiet-heron-{account_id.hex()[:12]}",
                    organization_id=organization,
                    auth_key_hash="$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA",
                    recovery_auth_key_hash="$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA",
                    key_bundle=b"\x01" + secrets.token_bytes(203),
                    created_at_ms=0,
                )
            )
    return ids


def counts(database: Database) -> dict[str, int]:
    with database.read() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in TABLES
        }


def raw_key(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


@pytest.fixture
def log_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def service(database: Database, log_key: Ed25519PrivateKey) -> RecordService:
    return RecordService(RecordRepository(database), log_key)


@pytest.fixture
def accounts(database: Database) -> list[bytes]:
    return add_accounts(database, 3)


# -- receipts and versions --------------------------------------------------------------


def test_versions_are_stored_with_receipts_that_verify(
    service: RecordService, accounts: list[bytes]
) -> None:
    account, record = accounts[0], secrets.token_bytes(16)
    boxes = [box(100 + i) for i in range(4)]
    receipts = [service.create_record(account, record, boxes[0], NOW_MS)]
    receipts += [
        service.add_version(account, record, v, boxes[v - 1], NOW_MS + v) for v in range(2, 5)
    ]
    for i, (ciphertext, receipt) in enumerate(zip(boxes, receipts, strict=True)):
        verify_receipt(ciphertext, receipt, service.log_public_key)
        assert (receipt.leaf_index, receipt.tree_head.tree_size) == (i, i + 1)
    stored = service.get_versions(account, record)
    assert [v.version for v in stored] == [1, 2, 3, 4]
    assert [v.ciphertext for v in stored] == boxes
    assert [v.receipt for v in stored] == receipts
    assert service.list_records(account) == [RecordSummary(record, NOW_MS, 4)]
    assert service.list_records(accounts[1]) == []
    assert service.latest_tree_head() == receipts[-1].tree_head


def test_the_largest_box_round_trips(service: RecordService, accounts: list[bytes]) -> None:
    ciphertext = box(MAX_CIPHERTEXT_BYTES)
    record = secrets.token_bytes(16)
    receipt = service.create_record(accounts[0], record, ciphertext, NOW_MS)
    (stored,) = service.get_versions(accounts[0], record)
    assert stored.ciphertext == ciphertext
    verify_receipt(stored.ciphertext, receipt, service.log_public_key)


def test_list_records_shows_each_records_latest_version(
    service: RecordService, accounts: list[bytes]
) -> None:
    ana, ben = accounts[0], accounts[1]
    first, second = secrets.token_bytes(16), secrets.token_bytes(16)
    service.create_record(ana, first, box(), NOW_MS)
    service.create_record(ben, secrets.token_bytes(16), box(), NOW_MS + 1)
    service.create_record(ana, second, box(), NOW_MS + 2)
    service.add_version(ana, first, 2, box(), NOW_MS + 3)
    service.add_version(ana, first, 3, box(), NOW_MS + 4)
    assert service.list_records(ana) == [
        RecordSummary(first, NOW_MS, 3),
        RecordSummary(second, NOW_MS + 2, 1),
    ]


# -- refusals leave every table as it was ------------------------------------------------


def test_refused_uploads_write_nothing(
    service: RecordService, database: Database, accounts: list[bytes]
) -> None:
    owner, intruder = accounts[0], accounts[1]
    record = secrets.token_bytes(16)
    service.create_record(owner, record, box(), NOW_MS)
    service.add_version(owner, record, 2, box(), NOW_MS)
    before = counts(database)
    for wrong in (1, 2, 4):
        with pytest.raises(InputError, match="the next must be 3"):
            service.add_version(owner, record, wrong, box(), NOW_MS)
    with pytest.raises(InputError, match="no such record"):
        service.add_version(intruder, record, 3, box(), NOW_MS)
    with pytest.raises(InputError, match="no such record"):
        service.get_versions(intruder, record)
    with pytest.raises(InputError, match="already in use"):
        service.create_record(intruder, record, box(), NOW_MS)
    with pytest.raises(InputError, match="shorten the record"):
        service.add_version(owner, record, 3, b"\x01" * (MAX_CIPHERTEXT_BYTES + 1), NOW_MS)
    with pytest.raises(VersionError):
        service.add_version(owner, record, 3, b"\x02" + box()[1:], NOW_MS)
    with pytest.raises(InputError, match="unknown account"):
        service.create_record(secrets.token_bytes(16), secrets.token_bytes(16), box(), NOW_MS)
    assert counts(database) == before
    assert [v.version for v in service.get_versions(owner, record)] == [1, 2]
    # The next good upload gets the next index, as if nothing had been tried.
    receipt = service.add_version(owner, record, 3, box(), NOW_MS)
    assert receipt.leaf_index == 2


def test_a_tampered_leaf_hash_stops_the_log(
    service: RecordService, database: Database, accounts: list[bytes]
) -> None:
    record = secrets.token_bytes(16)
    service.create_record(accounts[0], record, box(), NOW_MS)
    service.add_version(accounts[0], record, 2, box(), NOW_MS)
    with database.transaction() as session:
        session.execute(update(LogLeaf).where(LogLeaf.leaf_index == 0).values(leaf_hash=bytes(32)))
    before = counts(database)
    with pytest.raises(ProtocolError, match="no longer matches"):
        service.add_version(accounts[0], record, 3, box(), NOW_MS)
    assert counts(database) == before


def test_a_gap_in_the_log_stops_it(
    service: RecordService, database: Database, accounts: list[bytes]
) -> None:
    record = secrets.token_bytes(16)
    service.create_record(accounts[0], record, box(), NOW_MS)
    with database.transaction() as session:
        session.add(LogLeaf(leaf_index=5, leaf=bytes(59), leaf_hash=bytes(32)))
    before = counts(database)
    with pytest.raises(ProtocolError, match="gap in its leaf indices"):
        service.add_version(accounts[0], record, 2, box(), NOW_MS)
    assert counts(database) == before
    with pytest.raises(ProtocolError, match="fewer leaves"):
        RecordRepository(database).leaf_hashes(3)


def test_a_lost_tree_head_is_reported(
    service: RecordService, database: Database, accounts: list[bytes]
) -> None:
    record = secrets.token_bytes(16)
    service.create_record(accounts[0], record, box(), NOW_MS)
    with database.transaction() as session:
        session.execute(delete(TreeHead))
    with pytest.raises(ProtocolError, match="lost the tree head"):
        service.get_versions(accounts[0], record)


def test_the_store_refuses_a_receipt_that_does_not_extend_the_log(
    service: RecordService, database: Database, accounts: list[bytes]
) -> None:
    first = service.create_record(accounts[0], secrets.token_bytes(16), box(), NOW_MS)
    before = counts(database)
    with pytest.raises(ProtocolError, match="exactly one leaf"):
        RecordRepository(database).append(
            accounts[0], secrets.token_bytes(16), 1, box(), lambda _state: first
        )
    assert counts(database) == before


# -- tree heads and consistency ----------------------------------------------------------


def test_consistency_between_every_pair_of_stored_tree_heads(
    service: RecordService, database: Database, accounts: list[bytes]
) -> None:
    records = [(accounts[i % 2], secrets.token_bytes(16)) for i in range(3)]
    # Clocks that disagree: the log must still never sign a larger tree with an earlier time.
    times = [NOW_MS + t for t in (5, 0, 9, 3, 12, 12, 1, 20, 15)]
    for i, now in enumerate(times):
        account, record = records[i % 3]
        if i < 3:
            service.create_record(account, record, box(), now)
        else:
            service.add_version(account, record, i // 3 + 1, box(), now)
    with database.read() as session:
        stored = session.execute(
            select(TreeHead.tree_size, TreeHead.timestamp_ms).order_by(TreeHead.id)
        ).all()
    assert [size for size, _ in stored] == list(range(1, len(times) + 1))
    assert [t for _, t in stored] == sorted(t for _, t in stored)
    heads = [service.tree_head(size) for size, _ in stored]
    for old, new in itertools.combinations_with_replacement(heads, 2):
        proof = service.consistency_proof(old.tree_size, new.tree_size)
        assert proof.tree_head == new
        verify_consistency_between(old, new, proof.proof, service.log_public_key)
    assert service.consistency_proof(1).tree_head == heads[-1]
    assert heads[-1].root == merkle.root(service_leaf_hashes(database))


def service_leaf_hashes(database: Database) -> list[bytes]:
    with database.read() as session:
        return list(session.scalars(select(LogLeaf.leaf_hash).order_by(LogLeaf.leaf_index)))


def test_an_empty_log_has_no_head(service: RecordService) -> None:
    assert service.latest_tree_head() is None
    with pytest.raises(InputError, match="the log is empty"):
        service.consistency_proof(0)
    with pytest.raises(InputError, match="no tree head of this size"):
        service.tree_head(1)


# -- concurrency -------------------------------------------------------------------------

Upload = tuple[bytes, Receipt]


def append_concurrently(
    service: RecordService, accounts: list[bytes], barrier_parties: int | None = None
) -> tuple[list[Upload], list[str]]:
    """One thread per account: create a record, then add versions 2..5, all at once."""
    barrier = threading.Barrier(barrier_parties or len(accounts))
    uploads: list[Upload] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run(account: bytes) -> None:
        record = secrets.token_bytes(16)
        rng = random.Random(account)
        barrier.wait(timeout=30)
        for version in range(1, VERSIONS_PER_RECORD + 1):
            ciphertext = box(60 + rng.randrange(200))
            # Each thread's clock is a little off from the others'.
            now = NOW_MS + version * 10 + rng.randrange(-20, 20)
            try:
                if version == 1:
                    receipt = service.create_record(account, record, ciphertext, now)
                else:
                    receipt = service.add_version(account, record, version, ciphertext, now)
            except Exception as e:  # noqa: BLE001 - every failure is reported to the test
                with lock:
                    errors.append(f"{type(e).__name__}: {e}")
                return
            with lock:
                uploads.append((ciphertext, receipt))

    with ThreadPoolExecutor(max_workers=len(accounts)) as pool:
        list(pool.map(run, accounts))
    return uploads, errors


def check_log(database: Database, service: RecordService, uploads: list[Upload]) -> None:
    """Dense unique indices 0..n-1, every receipt verifies, the last head is the root."""
    total = len(uploads)
    with database.read() as session:
        leaf_indices = list(
            session.scalars(select(LogLeaf.leaf_index).order_by(LogLeaf.leaf_index))
        )
        version_indices = sorted(session.scalars(select(RecordVersion.leaf_index)))
        head_sizes = sorted(session.scalars(select(TreeHead.tree_size)))
    assert leaf_indices == version_indices == list(range(total))
    assert head_sizes == list(range(1, total + 1))
    assert sorted(receipt.leaf_index for _, receipt in uploads) == list(range(total))
    for ciphertext, receipt in uploads:
        verify_receipt(ciphertext, receipt, service.log_public_key)
    head = service.latest_tree_head()
    assert head is not None
    assert head.tree_size == total
    assert head.root == merkle.root(service_leaf_hashes(database))
    # Each head extends the one before it, and no larger tree is signed earlier.
    heads = [service.tree_head(size) for size in range(1, total + 1)]
    for old, new in itertools.pairwise(heads):
        proof = service.consistency_proof(old.tree_size, new.tree_size).proof
        verify_consistency_between(old, new, proof, service.log_public_key)


def test_forty_appends_from_eight_threads_make_a_dense_log(
    service: RecordService, database: Database
) -> None:
    accounts = add_accounts(database, THREADS)
    uploads, errors = append_concurrently(service, accounts)
    assert errors == []
    assert len(uploads) == THREADS * VERSIONS_PER_RECORD
    check_log(database, service, uploads)
    for account in accounts:
        (summary,) = service.list_records(account)
        assert summary.latest_version == VERSIONS_PER_RECORD


def test_racing_for_the_same_next_version_lets_exactly_one_win(
    service: RecordService, database: Database, accounts: list[bytes]
) -> None:
    account, record = accounts[0], secrets.token_bytes(16)
    service.create_record(account, record, box(), NOW_MS)
    barrier = threading.Barrier(THREADS)

    def add(_: int) -> str:
        barrier.wait(timeout=30)
        try:
            service.add_version(account, record, 2, box(), NOW_MS)
        except InputError as e:
            return str(e)
        return "stored"

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(add, range(THREADS)))
    assert outcomes.count("stored") == 1
    assert {o for o in outcomes if o != "stored"} == {
        "version 2 cannot be added: the record's latest version is 2, so the next must be 3; "
        "fetch the record and try again"
    }
    assert counts(database) == {
        "records": 1,
        "record_versions": 2,
        "log_leaves": 2,
        "tree_heads": 2,
    }


def _process_main(url: str, key: bytes, accounts: list[bytes], start: Any, results: Any) -> None:
    """A second escrow process: its own Database and service, waiting for the start signal."""
    database = Database(url)
    try:
        service = RecordService(
            RecordRepository(database), Ed25519PrivateKey.from_private_bytes(key)
        )
        start.wait(60)
        results.put(append_concurrently(service, accounts))
    finally:
        database.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_postgresql_processes_append_forty_leaves_without_a_gap(
    make_database: DatabaseFactory, log_key: Ed25519PrivateKey
) -> None:
    database = make_database()
    service = RecordService(RecordRepository(database), log_key)
    accounts = add_accounts(database, THREADS)
    url = database.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    halves = [accounts[: THREADS // 2], accounts[THREADS // 2 :]]
    processes = [
        context.Process(target=_process_main, args=(url, raw_key(log_key), half, start, results))
        for half in halves
    ]
    for process in processes:
        process.start()
    try:
        start.set()
        outcomes = [results.get(timeout=60) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
    assert [process.exitcode for process in processes] == [0, 0]
    assert [errors for _, errors in outcomes] == [[], []]
    uploads = [upload for process_uploads, _ in outcomes for upload in process_uploads]
    assert len(uploads) == THREADS * VERSIONS_PER_RECORD
    check_log(database, service, uploads)
