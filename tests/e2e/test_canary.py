"""End to end: random canaries go in through the real client; none comes out at rest.

The escrow and three key servers run as real uvicorn servers (threads of this process, as
`notalone up` runs them) on loopback ports; the SDK (`notalone.client.survivor`) talks to
them over real HTTP. Survivors register, write records and make escrow entries holding
random canary identifiers (emails, phone numbers, LinkedIn profiles), contacts and record
texts; some identifiers are named twice, by two survivors and written differently, so
that matches happen and sealed packages reach the counselors' inboxes.

Then every canary, as entered, in canonical form and (emails) in lower and upper case, is
searched as UTF-8 bytes — and, in a `pg_dump`, also as the hex that bytea columns are
dumped as — in:

- the escrow's SQLite file and its `-wal` file, read raw while the servers run, and again
  after the servers stop and a TRUNCATE checkpoint; also the key servers' quota files;
- a `pg_dump` of the escrow's PostgreSQL database, and PostgreSQL's own files after a
  CHECKPOINT: the database's heap, index and TOAST files, and the WAL segments written
  during the test (read raw from the data directory, which needs root or postgres);
- everything logged while it ran: every logger at DEBUG (uvicorn with its access log,
  FastAPI, SQLAlchemy's engine with its statements, parameters and rows, notalone), but
  httpcore, the client's transport, at INFO (its socket traces are not server logs).

A positive control writes one fresh canary in plaintext into a scratch table (and a log
line) and asserts the same scanner finds it, so the test cannot pass vacuously.
SQLite and PostgreSQL each run 1,000 canaries of each kind (200 in `make test`, see
tests/sizes.py; the figures are printed, see `-s`). To keep the run near a minute per
backend, an entry carries 16 identifiers and 16 contacts (the body limit is raised to
fit 16 slots that each seal the whole package) and a record carries five canary texts.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import phonenumbers
import psycopg
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from notalone.client import counselor, survivor
from notalone.client.escrow import EscrowClient
from notalone.crypto.kdf import Argon2Params
from notalone.keyserver import KeyServerSettings
from notalone.keyserver import create_app as create_keyserver_app
from notalone.keyserver.keyfile import KeyServerKey, deal_keys
from notalone.protocol.identifiers import canonicalize
from notalone.protocol.records import RecordContent
from notalone.storage.engine import Database
from notalone.storage.quota import SqlQuotaStore
from notalone.web.app import build_services, create_app
from notalone.web.settings import EscrowSettings
from tests.sizes import size

# The session-scoped PostgreSQL fixtures of the storage tests, reused here.
from tests.storage.conftest import (  # noqa: F401 - imported to register them as fixtures.
    PG_HOST,
    PG_PORT,
    PG_USER,
    PostgresServer,
    pg_server,
    pg_template,
    pg_url,
)

# Quick in `make test`, at full size in `make test-slow` (tests/sizes.py).
pytestmark = pytest.mark.slow

HOST = "127.0.0.1"
PASSPHRASE = "correct horse battery staple"
OPERATOR_TOKEN = "operator-" + secrets.token_hex(24)
#: Cheap Argon2id on both sides: the settings and the client accept a lower floor.
CHEAP = Argon2Params(time_cost=1, memory_kib=8)
#: Canaries of each kind (identifiers, contacts, record texts) per backend.
CANARIES = size("NOTALONE_CANARIES", full=1000, quick=200)
COUNTS = {"sqlite": CANARIES, "postgresql": CANARIES}
IDENTIFIERS_PER_ENTRY = 16
RECORD_FIELDS = 5
SURVIVORS = 12
#: Identifiers that a second survivor names again, written differently (→ matches).
MATCHED = 24
COUNSELORS = ("c-anna", "c-bo")
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "BR", "JP", "AU", "CA", "NL", "ES", "IT")
START_TIMEOUT_S = 30.0
#: The marker every non-phone canary holds, in each form it can take in the scanned bytes.
ANCHOR = re.compile(rb"canary|CANARY|" + b"canary".hex().encode() + b"|" + b"CANARY".hex().encode())


# --------------------------------------------------------------------------- canaries


@dataclass(frozen=True)
class Canary:
    """One secret: how it is entered, and every form it must never be found in."""

    kind: str
    entered: str
    forms: tuple[str, ...]
    region: str | None = None


def _hex() -> str:
    return secrets.token_hex(8)


def make_email() -> Canary:
    entered = f"canary-{_hex()}@{_hex()}.example"
    canonical = canonicalize("email", entered).canonical
    return Canary("email", entered, (entered, canonical, entered.lower(), entered.upper()))


def make_profile() -> Canary:
    slug = f"canary-{_hex()}"
    entered = f"https://www.linkedin.com/in/{slug}/"
    canonical = canonicalize("profile", entered).canonical
    return Canary("profile", entered, (entered, canonical, slug))


def make_phone(used: set[str]) -> Canary:
    """A random valid number: a region's example number with random subscriber digits."""
    while True:
        region = secrets.choice(PHONE_REGIONS)
        kind = secrets.choice(
            (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
        )
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        national = str(example.national_number)
        keep = max(3, len(national) - 6)
        digits = national[:keep] + "".join(
            secrets.choice("0123456789") for _ in range(len(national) - keep)
        )
        number = phonenumbers.parse(f"+{example.country_code}{digits}")
        if not phonenumbers.is_valid_number(number):
            continue
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if e164 in used:
            continue
        entered = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        canonical = canonicalize("phone", entered).canonical
        assert canonical == e164, (entered, canonical)
        national_form = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        assert canonicalize("phone", national_form, region=region).canonical == e164
        used.add(e164)
        # The digits alone (country code and number) catch a leak without the '+'.
        return Canary("phone", entered, (entered, e164, e164[1:], national_form), region)


def make_identifiers(count: int) -> list[Canary]:
    used: set[str] = set()
    makers = (make_email, make_profile, lambda: make_phone(used))
    return [makers[i % 3]() for i in range(count)]


def rewritten(canary: Canary) -> tuple[str, str, str | None]:
    """The same identifier as another survivor would write it (same canonical form)."""
    if canary.kind == "email":
        return ("email", canary.entered.upper(), None)
    if canary.kind == "phone":
        return ("phone", canary.forms[3], canary.region)
    return ("profile", canary.entered.replace("https://www.", "http://").rstrip("/"), None)


# --------------------------------------------------------------------------- scanning


@dataclass
class Scanner:
    """Finds any form of any canary in bytes, fast: most forms hold the ANCHOR marker, so
    one regex pass finds every candidate; the rest (phone numbers) are searched directly."""

    canaries: Sequence[Canary]
    hex_too: bool = False
    bytes_scanned: int = 0
    _anchored: dict[bytes, Canary] = field(default_factory=dict)
    _windows: set[tuple[int, int]] = field(default_factory=set)
    _plain: dict[bytes, Canary] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for canary in self.canaries:
            for form in canary.forms:
                needles = [form.encode()]
                if self.hex_too:
                    needles.append(form.encode().hex().encode())
                for needle in needles:
                    anchor = ANCHOR.search(needle)
                    if anchor is None:
                        self._plain[needle] = canary
                    else:
                        self._anchored[needle] = canary
                        self._windows.add((anchor.start(), len(needle)))

    @property
    def needles(self) -> int:
        return len(self._anchored) + len(self._plain)

    def find(self, data: bytes) -> list[tuple[str, str, int]]:
        """(kind, form found, offset) of every canary form in `data`."""
        self.bytes_scanned += len(data)
        found: set[tuple[str, str, int]] = set()
        for hit in ANCHOR.finditer(data):
            for offset, length in self._windows:
                start = hit.start() - offset
                if start < 0:
                    continue
                window = data[start : start + length]
                canary = self._anchored.get(window)
                if canary is not None:
                    found.add((canary.kind, window.decode(errors="replace"), start))
        for needle, canary in self._plain.items():
            at = data.find(needle)
            if at >= 0:
                found.add((canary.kind, needle.decode(errors="replace"), at))
        return sorted(found)


#: Digits and the separators phone numbers are written with, all as "#".
SHAPE = bytes.maketrans(b"0123456789 ().-", b"#" * 15)
RUN_START = b"#" * 8
RUN = re.compile(rb"#+")
NOT_A_DIGIT = re.compile(rb"[^0-9]")


@dataclass
class BulkScanner:
    """`Scanner` for large raw images (a core dump, PostgreSQL's files). The canaries
    that hold the "canary" marker go to a `Scanner`; for phone numbers there is one pass
    over runs of digits and separators (space, brackets, dot, dash) at least eight long:
    a run is reduced to its digits, and any canary's national number inside them is a
    hit. Every phone form `Scanner` searches (as entered, E.164 with and without "+",
    national) is such a run holding those digits, so this finds them all, and more;
    searching each form directly would cost a pass over the image per form."""

    canaries: Sequence[Canary]
    anchored: Scanner = field(init=False)
    numbers: dict[bytes, Canary] = field(init=False)

    def __post_init__(self) -> None:
        self.anchored = Scanner([c for c in self.canaries if c.kind != "phone"])
        assert not self.anchored.needles or all(
            ANCHOR.search(form.encode()) for c in self.anchored.canaries for form in c.forms
        )
        self.numbers = {
            str(phonenumbers.parse(c.forms[1]).national_number).encode(): c
            for c in self.canaries
            if c.kind == "phone"
        }

    def find(self, data: bytes) -> list[tuple[str, str, int]]:
        found = self.anchored.find(data)
        if not self.numbers:
            return found
        lengths = {len(number) for number in self.numbers}
        # Digits and separators become "#": a written number is then a run of them, and
        # a literal search for eight finds every candidate at C speed.
        shaped = data.translate(SHAPE)
        at = shaped.find(RUN_START)
        while at >= 0:
            run = RUN.match(shaped, at)
            assert run is not None
            end = run.end()
            digits = NOT_A_DIGIT.sub(b"", data[at:end])
            for length in lengths:
                for i in range(len(digits) - length + 1):
                    canary = self.numbers.get(digits[i : i + length])
                    if canary is not None:
                        found.append((canary.kind, data[at:end].decode(), at))
            at = shaped.find(RUN_START, end)
        return found


# --------------------------------------------------------------------------- servers


def _bind() -> socket.socket:
    return socket.create_server((HOST, 0))


@dataclass
class Servers:
    """uvicorn servers in threads of this process, logging through the root logger."""

    servers: list[uvicorn.Server] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    sockets: list[socket.socket] = field(default_factory=list)

    def start(self, name: str, app: FastAPI, sock: socket.socket) -> None:
        # log_config=None: uvicorn adds no handler, so its records (access log included)
        # propagate to the root logger, where caplog captures them.
        config = uvicorn.Config(
            app, log_config=None, log_level="debug", access_log=True, server_header=False
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True
        )
        self.servers.append(server)
        self.threads.append(thread)
        self.sockets.append(sock)
        thread.start()

    def wait_started(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not all(s.started for s in self.servers):
            assert all(t.is_alive() for t in self.threads), "a server died while starting"
            assert time.monotonic() < deadline, "the servers did not start in time"
            time.sleep(0.02)

    def stop(self) -> None:
        for server in self.servers:
            server.should_exit = True
        for thread in self.threads:
            thread.join(timeout=15)
        for sock in self.sockets:
            sock.close()
        self.servers.clear()


@dataclass
class Stack:
    """A running deployment on one database, and the client side of it."""

    backend: str
    database_url: str
    sqlite_file: Path | None
    quota_files: list[Path]
    servers: Servers
    database: Database
    stores: list[SqlQuotaStore]
    http: httpx.Client
    escrow: EscrowClient
    operator: EscrowClient
    deployment_id: bytes
    counselor_keys: dict[str, counselor.CounselorKeys] = field(default_factory=dict)
    counselor_tokens: dict[str, str] = field(default_factory=dict)
    stopped: bool = False

    def invite(self) -> str:
        organization = self.operator.create_organization(f"Org {secrets.token_hex(4)}")
        return self.operator.create_invites(organization)[0].code

    def survivor(self) -> survivor.SurvivorSession:
        registration = survivor.register(self.escrow, self.invite(), PASSPHRASE, CHEAP, floor=CHEAP)
        return survivor.login(self.escrow, registration.username, PASSPHRASE, floor=CHEAP)

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.http.close()
        self.servers.stop()
        for store in self.stores:
            store.close()
        self.database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def stack(
    request: pytest.FixtureRequest, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> Iterator[Stack]:
    # Every logger at DEBUG before anything is built: SQLAlchemy decides per connection
    # whether to log its statements and parameters, uvicorn when its server is configured.
    caplog.set_level(logging.DEBUG)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "fastapi", "sqlalchemy"):
        caplog.set_level(logging.DEBUG, logger=name)
    # The client's HTTP transport traces every socket event; it is not a server log.
    caplog.set_level(logging.INFO, logger="httpcore")
    backend = str(request.param)
    pg_name: str | None = None
    server: PostgresServer | None = None
    sqlite_file: Path | None = None
    if backend == "sqlite":
        sqlite_file = tmp_path / "escrow.sqlite3"
        database_url = f"sqlite:///{sqlite_file}"
    else:
        server = request.getfixturevalue("pg_server")
        pg_name = server.create(request.getfixturevalue("pg_template"))
        database_url = pg_url(pg_name)

    dealt = deal_keys(2, 3)
    assert dealt.ticket_signing_key is not None
    assert dealt.ticket_secret is not None
    servers = Servers()
    key_socks = [_bind() for _ in dealt.shares]
    escrow_sock = _bind()
    stores: list[SqlQuotaStore] = []
    quota_files: list[Path] = []
    database: Database | None = None
    try:
        for share, sock in zip(dealt.shares, key_socks, strict=True):
            quota_file = tmp_path / f"keyserver-{share.index}.quota.sqlite3"
            quota_files.append(quota_file)
            store = SqlQuotaStore(f"sqlite:///{quota_file}")
            stores.append(store)
            key = KeyServerKey(
                share=share, federation=dealt.federation, deployment=dealt.deployment
            )
            app = create_keyserver_app(KeyServerSettings(key=key), store)
            servers.start(f"keyserver-{share.index}", app, sock)
        settings = EscrowSettings(
            database_url=database_url,
            server_secret=secrets.token_bytes(32),
            operator_token=OPERATOR_TOKEN,
            hash_time_cost=1,
            hash_memory_kib=8,
            client_floor_time_cost=CHEAP.time_cost,
            client_floor_memory_kib=CHEAP.memory_kib,
            max_failures_per_address=10_000,
            # Sixteen identifiers an entry: sixteen slots, each sealing the whole package.
            max_body_bytes=256 * 1024,
            deployment_id=dealt.deployment.deployment_id,
            match_threshold=2,
            federation=dealt.federation,
            key_servers=tuple(f"http://{HOST}:{s.getsockname()[1]}" for s in key_socks),
            ticket_signing_key=dealt.ticket_signing_key,
            ticket_secret=dealt.ticket_secret,
            ticket_quota=4096,
            log_signing_key=Ed25519PrivateKey.generate(),
            vouching_key=Ed25519PrivateKey.generate(),
        )
        database = Database(database_url)
        if backend == "sqlite":
            database.upgrade()
        servers.start(
            "escrow", create_app(settings, build_services(settings, database)), escrow_sock
        )
        servers.wait_started()
    except BaseException:
        servers.stop()
        for store in stores:
            store.close()
        if database is not None:
            database.dispose()
        raise

    http = httpx.Client(timeout=30)
    escrow = EscrowClient(f"http://{HOST}:{escrow_sock.getsockname()[1]}", http)
    made = Stack(
        backend=backend,
        database_url=database_url,
        sqlite_file=sqlite_file,
        quota_files=quota_files,
        servers=servers,
        database=database,
        stores=stores,
        http=http,
        escrow=escrow,
        operator=escrow.with_token(OPERATOR_TOKEN),
        deployment_id=dealt.deployment.deployment_id,
    )
    try:
        for counselor_id in COUNSELORS:
            keys = counselor.keygen()
            made.counselor_keys[counselor_id] = keys
            made.counselor_tokens[counselor_id] = made.operator.register_counselor(
                counselor_id, f"Counselor {counselor_id}", keys.public_key
            )
        yield made
    finally:
        made.stop()
        if server is not None and pg_name is not None:
            server.drop(pg_name)


# --------------------------------------------------------------------------- the run


@dataclass
class Submitted:
    identifiers: list[Canary]
    contacts: list[Canary]
    records: list[Canary]
    entries: int
    matched_pairs: int

    def all(self) -> list[Canary]:
        return [*self.identifiers, *self.contacts, *self.records]


def _chunks(items: Sequence[Canary], size: int) -> list[Sequence[Canary]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def submit(stack: Stack, count: int) -> Submitted:
    """Survivors enter `count` identifiers, contacts and record texts through the SDK."""
    identifiers = make_identifiers(count)
    contacts = [
        Canary("contact", text, (text, text.upper()))
        for text in (f"canary-contact-{_hex()}" for _ in range(count))
    ]
    records = [
        Canary("record", text, (text, text.upper()))
        for text in (f"canary-record-{_hex()}" for _ in range(count))
    ]
    sessions = [stack.survivor() for _ in range(SURVIVORS)]

    # Records: five canary texts per record, one in each free-text place (who, what, where,
    # the narrative, a witness), so a thousand texts cost two hundred uploads.
    for number, texts in enumerate(_chunks(records, RECORD_FIELDS)):
        session = sessions[number % SURVIVORS]
        values = [c.entered for c in texts] + [""] * (RECORD_FIELDS - len(texts))
        content = RecordContent(
            who=values[0], what=values[1], where=values[2], text=values[3], witnesses=(values[4],)
        )
        survivor.add_record(session, content)
    # Entries: batches of identifiers; each entry's contact field holds its share of the
    # contact canaries (one per identifier), as a survivor lists ways to reach them.
    batches = _chunks(identifiers, IDENTIFIERS_PER_ENTRY)
    contact_batches = _chunks(contacts, IDENTIFIERS_PER_ENTRY)
    assert len(batches) == len(contact_batches)
    entries = 0
    for number, (batch, reach) in enumerate(zip(batches, contact_batches, strict=True)):
        session = sessions[number % SURVIVORS]
        survivor.add_entry(
            session,
            [(c.kind, c.entered, c.region) for c in batch],
            counselor_id=COUNSELORS[0],
            contact="; ".join(c.entered for c in reach),
            message=f"entry {number}",
        )
        entries += 1

    # Matches: the first MATCHED identifiers named again, written differently, each by a
    # survivor other than the one who named it first, through the other counselor.
    seconds = identifiers[:MATCHED]
    for number, canary in enumerate(seconds):
        first_survivor = (number // IDENTIFIERS_PER_ENTRY) % SURVIVORS
        session = sessions[(first_survivor + 1) % SURVIVORS]
        survivor.add_entry(
            session,
            [rewritten(canary)],
            counselor_id=COUNSELORS[1],
            contact=contacts[number].entered,
        )
        entries += 1
    # The canaries did go through: the first survivor reads them back, decrypted here.
    record_texts = {c.entered for c in records}
    stored = [v.content.who for r in survivor.list_records(sessions[0]) for v in r.versions]
    assert stored
    assert set(stored) <= record_texts
    contact_texts = {c.entered for c in contacts}
    listed = [e.contact.split("; ")[0] for e in survivor.list_entries(sessions[0])]
    assert listed
    assert set(listed) <= contact_texts
    return Submitted(identifiers, contacts, records, entries, len(seconds))


def check_matches(stack: Stack, submitted: Submitted) -> int:
    """Every pair matched; each counselor opens their own survivor's package."""
    opened = 0
    for counselor_id in COUNSELORS:
        client = stack.escrow.with_token(stack.counselor_tokens[counselor_id])
        items = counselor.inbox(client)
        assert len({item.match_id for item in items}) == submitted.matched_pairs, counselor_id
        for item in items:
            package = counselor.open_item(
                stack.counselor_keys[counselor_id].private_key, stack.deployment_id, item
            )
            assert "canary-contact-" in package.contact
            opened += 1
    return opened


def _pg_dump(name: str) -> bytes:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.fail("pg_dump is needed (Debian: apt-get install postgresql-client)")
    run = subprocess.run(  # noqa: S603 - a fixed tool and our own database name
        [pg_dump, "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, name],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    return run.stdout


def _log_text(caplog: pytest.LogCaptureFixture) -> bytes:
    """Everything captured: the formatted text, each message, its arguments and traceback."""
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
    return "\n".join(parts).encode(errors="backslashreplace")


def _checkpoint(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "the checkpoint was blocked: a connection is still open"
    connection.close()


def _read(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


#: PostgreSQL's WAL page: 8 KiB, opening with a 24-byte header, or 40 bytes where the
#: XLP_LONG_HEADER flag is set (a segment's first page).
WAL_PAGE = 8192
XLP_LONG_HEADER = 0x0002


def _wal_records(segment: bytes) -> bytes:
    """A WAL segment without its page headers: a record that crosses a page boundary is
    cut there by the next page's header, which would split a value in two (seen: a
    planted canary missed), so the headers go and the records run on as written."""
    pages = []
    for at in range(0, len(segment), WAL_PAGE):
        info = int.from_bytes(segment[at + 2 : at + 4], "little")
        pages.append(segment[at + (40 if info & XLP_LONG_HEADER else 24) : at + WAL_PAGE])
    return b"".join(pages)


def _pg_files(name: str, since: float) -> tuple[bytes, bytes]:
    """PostgreSQL's own files after a CHECKPOINT: every file of database `name` (heap,
    indexes, TOAST, free-space and visibility maps), and the WAL segments written since
    `since` (seconds since the epoch; the cluster's WAL holds every database's changes),
    without their page headers.
    Values PostgreSQL compresses (pglz, in TOAST) would hide a leak from a byte search;
    the escrow stores ciphertexts, which do not compress, and short values."""
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=name, autocommit=True
    ) as connection:
        connection.execute("CHECKPOINT")
        setting = connection.execute("SHOW data_directory").fetchone()
        oid = connection.execute(
            "SELECT oid FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    assert setting is not None
    assert oid is not None
    data = Path(setting[0])
    try:
        tables = [p for p in sorted((data / "base" / str(oid[0])).iterdir()) if p.is_file()]
        wal = [
            p
            for p in sorted((data / "pg_wal").iterdir())
            if p.is_file() and p.stat().st_mtime >= since
        ]
        return b"".join(map(_read, tables)), b"".join(_wal_records(_read(p)) for p in wal)
    except PermissionError:
        pytest.fail(
            f"PostgreSQL's data directory {data} is not readable by this user: the scan of "
            "its raw files runs as root or as the postgres user"
        )


def test_no_canary_at_rest_or_in_logs(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    count = COUNTS[stack.backend]
    started, started_wall = time.monotonic(), time.time()
    submitted = submit(stack, count)
    opened = check_matches(stack, submitted)
    elapsed_submit = time.monotonic() - started
    canaries = submitted.all()
    assert len({c.entered for c in canaries}) == 3 * count

    scanner = Scanner(canaries, hex_too=stack.backend == "postgresql")
    findings: dict[str, list[tuple[str, str, int]]] = {}
    scanned: dict[str, int] = {}

    def scan(label: str, data: bytes, by: Scanner | BulkScanner = scanner) -> None:
        scanned[label] = len(data)
        findings[label] = by.find(data)

    if stack.sqlite_file is not None:
        # Raw bytes while the escrow still runs: the WAL holds the newest pages.
        wal = stack.sqlite_file.with_name(stack.sqlite_file.name + "-wal")
        assert wal.exists(), "the escrow's SQLite database is not in WAL mode"
        scan("sqlite file (running)", _read(stack.sqlite_file))
        scan("sqlite wal (running)", _read(wal))
        assert scanned["sqlite wal (running)"] > 0
    stack.stop()
    if stack.sqlite_file is not None:
        wal = stack.sqlite_file.with_name(stack.sqlite_file.name + "-wal")
        scan("sqlite wal (stopped)", _read(wal))
        _checkpoint(stack.sqlite_file)
        scan("sqlite file (checkpointed)", _read(stack.sqlite_file))
        scan("sqlite wal (checkpointed)", _read(wal))
    else:
        name = stack.database_url.rsplit("/", 1)[1]
        scan("pg_dump", _pg_dump(name))
        tables, wal = _pg_files(name, started_wall)
        # Raw files hold bytea as bytes, not hex, and are larger: the bulk scanner.
        bulk = BulkScanner(canaries)
        scan("postgresql data files (checkpointed)", tables, bulk)
        scan("postgresql wal (written during the test)", wal, bulk)
        assert scanned["postgresql wal (written during the test)"] > 0
    for quota_file in stack.quota_files:
        scan(f"key-server quota {quota_file.name}", _read(quota_file))
        scan(f"key-server quota {quota_file.name}-wal", _read(Path(f"{quota_file}-wal")))
    logs = _log_text(caplog)
    scan("logs", logs)
    loggers = sorted({record.name.split(".")[0] for record in caplog.records})

    print(
        f"\n[canary {stack.backend}] {count} identifiers "
        f"({sum(c.kind == 'email' for c in submitted.identifiers)} emails, "
        f"{sum(c.kind == 'phone' for c in submitted.identifiers)} phones, "
        f"{sum(c.kind == 'profile' for c in submitted.identifiers)} LinkedIn profiles), "
        f"{count} contacts, {count} record texts: {len(canaries)} canaries, "
        f"{scanner.needles} byte patterns; {submitted.entries} entries, "
        f"{submitted.matched_pairs} matches, {opened} packages opened by counselors; "
        f"submitted in {elapsed_submit:.1f} s"
    )
    for label, scanned_bytes in scanned.items():
        found = len(findings[label])
        print(f"[canary {stack.backend}]   {label}: {scanned_bytes:,} bytes, {found} found")
    print(
        f"[canary {stack.backend}]   {len(caplog.records):,} log records from {loggers}; "
        f"{sum(scanned.values()):,} bytes scanned in all"
    )

    # The logs did capture the servers: uvicorn, and SQLAlchemy's statements.
    assert "uvicorn" in loggers
    assert any(record.name == "uvicorn.access" for record in caplog.records)
    assert "sqlalchemy" in loggers
    assert b"INSERT INTO" in logs
    leaks = {label: found for label, found in findings.items() if found}
    assert leaks == {}, f"canaries found at rest or in logs: {leaks}"

    positive_control(stack, caplog)


def positive_control(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    """One fresh canary put in plaintext where the scan looks: the scanner must find it."""
    email = make_email()
    phone = make_phone(set())
    scanner = Scanner([email, phone], hex_too=stack.backend == "postgresql")
    logging.getLogger("notalone.canary_control").warning("control %s", email.entered)
    assert scanner.find(_log_text(caplog)), "the scanner missed a canary in the logs"
    if stack.sqlite_file is not None:
        with sqlite3.connect(stack.sqlite_file) as connection:
            connection.execute("CREATE TABLE canary_control (t TEXT, b BLOB)")
            connection.execute(
                "INSERT INTO canary_control VALUES (?, ?)",
                (email.entered, phone.entered.encode()),
            )
        wal = stack.sqlite_file.with_name(stack.sqlite_file.name + "-wal")
        kinds = {kind for kind, _, _ in scanner.find(_read(wal))}
        assert kinds == {"email", "phone"}, "the scanner missed a canary in the WAL"
        _checkpoint(stack.sqlite_file)
        kinds = {kind for kind, _, _ in scanner.find(_read(stack.sqlite_file))}
        assert kinds == {"email", "phone"}, "the scanner missed a canary in the SQLite file"
        return
    name = stack.database_url.rsplit("/", 1)[1]
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=name) as connection:
        connection.execute("CREATE TABLE canary_control (t text, b bytea)")
        connection.execute(
            "INSERT INTO canary_control VALUES (%s, %s)", (phone.entered, email.entered.encode())
        )
    kinds = {kind for kind, _, _ in scanner.find(_pg_dump(name))}
    assert kinds == {"email", "phone"}, "the scanner missed a canary in the pg_dump"
    tables, wal = _pg_files(name, since=0)
    bulk = BulkScanner([email, phone])
    kinds = {kind for kind, _, _ in bulk.find(tables)}
    assert kinds == {"email", "phone"}, "the scanner missed a canary in PostgreSQL's files"
    kinds = {kind for kind, _, _ in bulk.find(wal)}
    assert kinds == {"email", "phone"}, "the scanner missed a canary in PostgreSQL's WAL"
