"""Quota stores: atomic consume, per pseudonym and period, never above the limit.

Every test runs on the in-memory store, on SQLite (a temporary file) and on PostgreSQL (a
database created for this module on 127.0.0.1:5432 and dropped afterwards). PostgreSQL
is part of CI, so these tests fail rather than skip when it is missing.
"""

from __future__ import annotations

import secrets
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from notalone.storage.quota import InMemoryQuotaStore, QuotaStore, SqlQuotaStore

PG_ADMIN_DATABASES = ("postgres", "test")
PG_CONNINFO = "host=127.0.0.1 port=5432 user=postgres"

P1 = bytes(range(32))
P2 = bytes(range(1, 33))


def _admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    errors = []
    for name in PG_ADMIN_DATABASES:
        try:
            return psycopg.connect(f"{PG_CONNINFO} dbname={name}", autocommit=True)
        except psycopg.OperationalError as e:
            errors.append(e)
    pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is needed for the quota tests: {errors[-1]}")


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    name = f"notalone_quota_test_{secrets.token_hex(6)}"
    with _admin_connection() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with _admin_connection() as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


StoreFactory = Callable[[], QuotaStore]


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Builds stores that share one backing database (several 'processes' on one file)."""
    created: list[QuotaStore] = []
    memory = InMemoryQuotaStore()
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'quota.sqlite3'}"

    def make() -> QuotaStore:
        if request.param == "memory":
            return memory
        store = SqlQuotaStore(url)
        created.append(store)
        return store

    yield make
    if request.param == "postgresql" and created:
        created[0].prune(2**62)  # the module shares one database: leave it empty
    for store in created:
        store.close()


def test_consume_up_to_the_limit(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.used(P1, 7) == 0
    assert store.consume(P1, 7, 3, 10)
    assert store.consume(P1, 7, 7, 10)
    assert store.used(P1, 7) == 10
    assert not store.consume(P1, 7, 1, 10)
    assert store.used(P1, 7) == 10


def test_a_refused_batch_consumes_nothing(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.consume(P1, 7, 6, 10)
    assert not store.consume(P1, 7, 5, 10)
    assert store.used(P1, 7) == 6
    assert store.consume(P1, 7, 4, 10)
    # A first batch larger than the limit is refused too, and leaves no row behind.
    assert not store.consume(P2, 7, 11, 10)
    assert store.used(P2, 7) == 0
    assert not store.consume(P2, 7, 1, 0)


def test_counts_are_per_pseudonym_and_period(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.consume(P1, 7, 10, 10)
    assert store.consume(P2, 7, 10, 10)
    assert store.consume(P1, 8, 10, 10)
    assert not store.consume(P1, 7, 1, 10)
    assert (store.used(P1, 7), store.used(P2, 7), store.used(P1, 8)) == (10, 10, 10)


def test_the_limit_is_the_ticket_s(make_store: StoreFactory) -> None:
    # A later ticket of the same pseudonym and period may carry another quota; the
    # count carries over, and each call is checked against the limit it is given.
    store = make_store()
    assert store.consume(P1, 7, 5, 5)
    assert not store.consume(P1, 7, 1, 5)
    assert store.consume(P1, 7, 1, 6)


def test_prune_forgets_old_periods(make_store: StoreFactory) -> None:
    store = make_store()
    for period in (5, 6, 7):
        assert store.consume(P1, period, 1, 1)
    assert store.prune(7) == 2
    assert store.used(P1, 6) == 0
    assert store.used(P1, 7) == 1
    assert store.prune(7) == 0


def test_arguments_are_checked(make_store: StoreFactory) -> None:
    store = make_store()
    for args in [(P1[:31], 1, 1, 1), (P1, -1, 1, 1), (P1, 1, 0, 1), (P1, 1, 1, -1)]:
        with pytest.raises(ValueError, match=r"pseudonym|period"):
            store.consume(*args)


def test_the_store_survives_a_restart(make_store: StoreFactory) -> None:
    first = make_store()
    assert first.consume(P1, 7, 4, 4)
    second = make_store()
    assert not second.consume(P1, 7, 1, 4)
    assert second.used(P1, 7) == 4


@pytest.mark.parametrize("batch", [1, 3])
def test_concurrent_consumers_never_exceed_the_limit(make_store: StoreFactory, batch: int) -> None:
    # 20 threads, spread over two store instances (two key-server processes on one
    # database), race for one pseudonym's quota.
    stores = [make_store(), make_store()]
    limit, threads, attempts = 37, 20, 5
    barrier = threading.Barrier(threads)
    granted: list[int] = []
    failures: list[BaseException] = []

    def worker(store: QuotaStore) -> None:
        try:
            barrier.wait()
            mine = sum(store.consume(P1, 9, batch, limit) for _ in range(attempts))
            granted.append(mine)
        except BaseException as e:  # noqa: BLE001 - a thread's error must fail the test.
            failures.append(e)

    pool = [threading.Thread(target=worker, args=(stores[i % 2],)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert failures == []
    # Every attempt that fits is granted (attempts far exceed the limit), none beyond it.
    assert sum(granted) == limit // batch
    assert stores[0].used(P1, 9) == (limit // batch) * batch


def test_sqlite_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "quota.sqlite3"
    store = SqlQuotaStore(f"sqlite:///{path}")
    try:
        assert store.consume(P1, 1, 1, 1)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert (tmp_path / "quota.sqlite3-wal").exists()
        assert repr(store) == f"SqlQuotaStore(sqlite:///{path})"
    finally:
        store.close()


def test_in_memory_sqlite_shares_one_database() -> None:
    store = SqlQuotaStore("sqlite://")
    try:
        assert store.consume(P1, 1, 2, 2)
        results: list[bool] = []
        thread = threading.Thread(target=lambda: results.append(store.consume(P1, 1, 1, 2)))
        thread.start()
        thread.join()
        assert results == [False]
    finally:
        store.close()


def test_plain_postgresql_urls_use_psycopg(postgres_url: str) -> None:
    url = postgres_url.replace("+psycopg", "").replace("postgres@", "postgres:hunter2@")
    store = SqlQuotaStore(url)
    try:
        assert store.url.startswith("postgresql+psycopg://postgres:***@127.0.0.1")
        assert "hunter2" not in repr(store)
        assert store.used(P1, 1) == 0
    finally:
        store.close()


def test_unsupported_and_malformed_urls() -> None:
    with pytest.raises(ValueError, match="SQLite or PostgreSQL"):
        SqlQuotaStore("mysql://root:pw@localhost/db")
    with pytest.raises(ValueError, match="cannot be parsed") as raised:
        SqlQuotaStore("not a url:secret")
    assert "secret" not in str(raised.value)
    assert raised.value.__cause__ is None


def test_in_memory_repr_hides_pseudonyms() -> None:
    store = InMemoryQuotaStore()
    store.consume(P1, 1, 1, 1)
    assert repr(store) == "InMemoryQuotaStore(1 counts)"
    store.close()
