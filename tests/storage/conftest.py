"""Storage fixtures: every repository test runs on SQLite (a temp file) and on PostgreSQL.

PostgreSQL is the local server at 127.0.0.1:5432 (user postgres, trust auth). The session
creates a migrated template database with a unique name, copies it for each test (CREATE
DATABASE … TEMPLATE is a file copy, much faster than migrating again), and drops every
database it created at the end, terminating stray connections first. The PostgreSQL
tests are never skipped: CI has the server, and a missing one is a failure.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from notalone.crypto import hpke
from notalone.protocol import slots as slot_recipes
from notalone.protocol.slots import Package, Slot
from notalone.storage.engine import Database
from notalone.storage.models import Account, Counselor, Organization
from notalone.storage.slots import SlotRepository

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
# Databases to connect to for CREATE/DROP DATABASE, in order of preference.
PG_ADMIN_DATABASES = ("postgres", "test")
BACKENDS = ("sqlite", "postgresql")
DEPLOYMENT = bytes(range(16))
NOW_MS = 1_795_000_000_000


def pg_url(name: str) -> str:
    """The SQLAlchemy URL of database `name` on the test server."""
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


class PostgresServer:
    """Creates uniquely named databases on the test server and drops them all at the end."""

    def __init__(self) -> None:
        self.prefix = f"notalone_test_{os.getpid()}_{secrets.token_hex(4)}"
        self._counter = itertools.count()
        self._created: list[str] = []
        self._admin_database = self._find_admin_database()

    @staticmethod
    def _find_admin_database() -> str:
        errors = []
        for name in PG_ADMIN_DATABASES:
            try:
                with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=name):
                    return name
            except psycopg.OperationalError as e:
                errors.append(str(e))
        pytest.fail(f"PostgreSQL at {PG_HOST}:{PG_PORT} is needed for the storage tests: {errors}")

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=self._admin_database, autocommit=True
        )

    def create(self, template: str | None = None) -> str:
        """Create an empty (or template-copied) database; return its name."""
        name = f"{self.prefix}_{next(self._counter)}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        with self._admin() as connection:
            connection.execute(statement)
        self._created.append(name)
        return name

    def drop(self, name: str) -> None:
        """Drop a database, first terminating whatever is still connected to it."""
        with self._admin() as connection:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if name in self._created:
            self._created.remove(name)

    def drop_all(self) -> None:
        for name in reversed(list(self._created)):
            self.drop(name)

    def leftovers(self) -> list[str]:
        """Databases of this session still on the server (for the clean-up test)."""
        with self._admin() as connection:
            rows = connection.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (self.prefix + "%",)
            ).fetchall()
        return [str(row[0]) for row in rows]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> str:
    """A database migrated to head, copied by each test that needs a fresh one."""
    name = pg_server.create()
    with Database(pg_url(name)) as database:
        database.upgrade()
    return name


DatabaseFactory = Callable[..., Database]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[DatabaseFactory]:
    """Build `Database` objects on this test's own database (at head, or empty).

    Every call returns a new `Database` on the SAME database, as a second escrow process
    would open it; all are disposed, and a PostgreSQL database dropped, at the end.
    """
    opened: list[Database] = []
    urls: dict[bool, str] = {}
    created: list[tuple[PostgresServer, str]] = []

    def make(*, migrated: bool = True, **options: Any) -> Database:
        first = migrated not in urls
        if first and backend == "sqlite":
            urls[migrated] = f"sqlite:///{tmp_path / ('head.db' if migrated else 'empty.db')}"
        elif first:
            server: PostgresServer = request.getfixturevalue("pg_server")
            template = request.getfixturevalue("pg_template") if migrated else None
            name = server.create(template)
            created.append((server, name))
            urls[migrated] = pg_url(name)
        database = Database(urls[migrated], **options)
        opened.append(database)
        if first and migrated and backend == "sqlite":
            database.upgrade()
        return database

    yield make
    for database in opened:
        database.dispose()
    for server, name in created:
        server.drop(name)


@pytest.fixture
def database(make_database: DatabaseFactory) -> Database:
    """A database at head, on the backend of this parametrization."""
    return make_database()


@pytest.fixture
def repository(database: Database) -> SlotRepository:
    return SlotRepository(database)


# -- a small world of organizations, counselors, accounts and entries ------------------


@dataclass
class World:
    """Rows the slot tests need, and a way to build real slots for them."""

    database: Database
    repository: SlotRepository
    counselor_keys: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)
    organization_id: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    _accounts: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        with self.database.transaction() as session:
            session.add(Organization(id=self.organization_id, name="Org", created_at_ms=NOW_MS))

    def counselor(self, counselor_id: str) -> tuple[bytes, bytes]:
        """Register a counselor with a fresh X25519 key pair; return (private, public)."""
        private_key, public_key = hpke.generate_key_pair()
        with self.database.transaction() as session:
            session.add(
                Counselor(
                    id=counselor_id,
                    public_key=public_key,
                    display_name=f"Counselor {counselor_id}",
                    vouching_signature=secrets.token_bytes(64),
                    created_at_ms=NOW_MS,
                )
            )
        self.counselor_keys[counselor_id] = (private_key, public_key)
        return private_key, public_key

    def account(self) -> bytes:
        """Register an account; return its id."""
        account_id = secrets.token_bytes(16)
        with self.database.transaction() as session:
            session.add(
                Account(
                    id=account_id,
                    username=f"calm-otter-{next(self._accounts):04d}",
                    organization_id=self.organization_id,
                    auth_key_hash="$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA",
                    recovery_auth_key_hash="$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA",
                    key_bundle=b"\x01" + secrets.token_bytes(203),
                    created_at_ms=NOW_MS,
                )
            )
        return account_id

    def entry(self, account_id: bytes) -> bytes:
        """Create an entry for the account; return its id."""
        entry_id = secrets.token_bytes(16)
        self.repository.create_entry(
            entry_id, account_id, b"\x01" + secrets.token_bytes(60), NOW_MS
        )
        return entry_id

    def slot(
        self,
        y: bytes,
        account_id: bytes,
        counselor_id: str,
        *,
        threshold: int = 2,
        contact: str | None = None,
    ) -> Slot:
        """A real slot for OPRF output `y`, sealed to the counselor's public key."""
        return slot_recipes.build_slot(
            y,
            Package(
                contact=contact or f"signal:{counselor_id}",
                identifiers=(("email", "Perp@Example.org", "perp@example.org"),),
            ),
            threshold=threshold,
            account_id=account_id,
            slot_id=secrets.token_bytes(16),
            deployment_id=DEPLOYMENT,
            counselor_id=counselor_id,
            counselor_public_key=self.counselor_keys[counselor_id][1],
        )

    def submit(
        self, y: bytes, counselor_id: str, *, threshold: int = 2, account_id: bytes | None = None
    ) -> Slot:
        """A new (or given) account names `y` through `counselor_id`; return the slot."""
        account_id = account_id or self.account()
        made = self.slot(y, account_id, counselor_id, threshold=threshold)
        self.repository.insert_and_match(made, self.entry(account_id), threshold, NOW_MS)
        return made


@pytest.fixture
def world(database: Database, repository: SlotRepository) -> World:
    made = World(database, repository)
    made.counselor("c-ana")
    made.counselor("c-ben")
    return made
