"""End to end: no canary in a core dump of the running `notalone up` process.

`notalone up` runs as a separate process (tests/upstack.py: the escrow and its three key
servers, uvicorn servers in threads of that one process) on a data directory in tmp_path.
Its config is the one `up` writes on a first run, with cheap Argon2id (server hash and
client floor) and a body limit that fits an entry of sixteen slots, as in
tests/e2e/test_canary.py; nothing else differs from `make up`.

The canaries go in exactly as tests/e2e/test_canary.py drives them, by reusing its
`submit` and `check_matches`: survivors register through the Python SDK, write records
whose five free-text fields hold record canaries, and make entries naming identifier
canaries (emails, phone numbers, LinkedIn profiles) with contact canaries; some
identifiers are named twice, so matches happen and counselors open their packages.

Then, while the servers still run, `gcore` dumps every mapping of the process (all its
threads) and the dump is scanned with test_canary's `Scanner` for every form of every
canary (as entered, canonical, lower and upper case for emails, the digits of phones),
in the dump's bytes and in its every-2nd and every-4th byte: a string held as UTF-16 /
UCS-2 or UCS-4 (Python keeps a str with a character above U+00FF in 2 or 4 bytes per
character) shows there as its ASCII form. Every canary is ASCII (checked), so in UTF-8
and in Python's one-byte strings its bytes are the same.

Positive control, so the scan cannot pass vacuously: an organization named by a fresh
canary (an operator-chosen name is plaintext by design) is created just before the dump;
SQLite's page cache in the process holds the row, and the scan must find it.
"""

from __future__ import annotations

import json
import mmap
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import phonenumbers
import pytest

from notalone.cli.up import _first_run
from notalone.client import counselor
from notalone.client.escrow import EscrowClient
from notalone.storage.engine import Database
from tests.e2e.test_canary import (
    COUNSELORS,
    BulkScanner,
    Canary,
    Servers,
    Stack,
    check_matches,
    make_email,
    make_phone,
    submit,
)
from tests.sizes import size
from tests.upstack import UpProcess, free_port

# Quick in `make test`, at full size in `make test-slow` (tests/sizes.py).
pytestmark = pytest.mark.slow

#: Canaries of each kind (identifiers, contacts, record texts).
COUNT = size("NOTALONE_CORE_CANARIES", full=1000, quick=200)
#: The settings `up` writes, made cheap and roomy as tests/e2e/test_canary.py's are.
CONFIG_OVERRIDES = {
    "hash_time_cost": 1,
    "hash_memory_kib": 8,
    "client_floor_time_cost": 1,
    "client_floor_memory_kib": 8,
    "max_body_bytes": 256 * 1024,
    "ticket_quota": 4096,
}
GCORE_TIMEOUT_S = 120
PAGE = 4096
ZERO_PAGE = bytes(PAGE)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[UpProcess]:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    # What `up` does on its first run (deal the keys, write escrow.json), done here so
    # that the config can be made cheap before the one and only start.
    _first_run(data)
    config_path = data / "escrow.json"
    config = json.loads(config_path.read_text())
    config.update(CONFIG_OVERRIDES)
    config_path.write_text(json.dumps(config))
    running = UpProcess.start(data, free_port())
    try:
        yield running
    finally:
        returncode, _out, err = running.stop()
        assert returncode == 0, err


def _stack(up: UpProcess, http: httpx.Client) -> Stack:
    """test_canary's Stack for a deployment that runs in another process: only the client
    side (the SDK, the operator, the counselors) is filled in."""
    config = json.loads(Path(up.described["config"]).read_text())
    escrow = EscrowClient(up.url, http)
    operator = escrow.with_token(config["operator_token"])
    url = config["database_url"]
    stack = Stack(
        backend="sqlite",
        database_url=url,
        sqlite_file=Path(url.removeprefix("sqlite:///")),
        quota_files=[],
        servers=Servers(),
        database=Database(url),
        stores=[],
        http=http,
        escrow=escrow,
        operator=operator,
        deployment_id=escrow.deployment().deployment_id,
    )
    for counselor_id in COUNSELORS:
        keys = counselor.keygen()
        stack.counselor_keys[counselor_id] = keys
        stack.counselor_tokens[counselor_id] = operator.register_counselor(
            counselor_id, f"Counselor {counselor_id}", keys.public_key
        )
    return stack


def _gcore(pid: int, prefix: Path) -> Path:
    gcore = shutil.which("gcore")
    if gcore is None:
        pytest.fail("gcore is needed (Debian: apt-get install gdb)")
    run = subprocess.run(  # noqa: S603 - a fixed tool, our own child's pid and tmp_path
        [gcore, "-o", str(prefix), str(pid)],
        capture_output=True,
        text=True,
        timeout=GCORE_TIMEOUT_S,
        check=False,
    )
    core = Path(f"{prefix}.{pid}")
    assert run.returncode == 0, f"gcore failed ({run.returncode}): {run.stderr[-2000:]}"
    assert core.exists(), f"gcore wrote no {core.name}: {run.stdout[-2000:]}"
    return core


def _segments(dump: mmap.mmap) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of pages that are not all zeros. Most of a dump is zero
    pages (untouched stacks and arenas); no canary form crosses into one, as none
    holds a run of zero bytes as long as a page."""
    start = None
    for page in range(0, len(dump), PAGE):
        zero = dump[page : page + PAGE] == ZERO_PAGE
        if start is None and not zero:
            start = page
        elif start is not None and zero:
            yield start, page
            start = None
    if start is not None:
        yield start, len(dump)


def _scan(core: Path, scanner: BulkScanner) -> tuple[dict[str, list[tuple[str, str, int]]], int]:
    """Every canary found in the dump: in its bytes ("bytes"), and in its every-2nd and
    every-4th byte from each start ("utf-16 +k", "ucs-4 +k"); and how many bytes were
    not zero pages. Offsets are the dump file's."""
    found: dict[str, set[tuple[str, str, int]]] = {}
    views = [("bytes", 1, 0)] + [(f"utf-16 +{k}", 2, k) for k in range(2)]
    views += [(f"ucs-4 +{k}", 4, k) for k in range(4)]
    nonzero = 0
    with core.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as dump:
        for start, end in _segments(dump):
            segment = dump[start:end]
            nonzero += len(segment)
            # Segments start on page boundaries: the parity of a view is the file's.
            for label, step, offset in views:
                for kind, form, at in scanner.find(segment[offset::step]):
                    found.setdefault(label, set()).add((kind, form, start + offset + at * step))
    return {label: sorted(hits) for label, hits in found.items()}, nonzero


def _of(
    found: dict[str, list[tuple[str, str, int]]], canaries: Sequence[Canary]
) -> dict[str, list[tuple[str, str, int]]]:
    """The hits that are forms of these canaries (a phone hit: a run holding its digits)."""
    forms = {form for c in canaries for form in c.forms}
    numbers = [str(phonenumbers.parse(c.forms[1]).national_number) for c in canaries
               if c.kind == "phone"]  # fmt: skip

    def ours(form: str) -> bool:
        digits = "".join(ch for ch in form if ch.isdigit())
        return form in forms or any(number in digits for number in numbers)

    hits = {label: [hit for hit in hits if ours(hit[1])] for label, hits in found.items()}
    return {label: found for label, found in hits.items() if found}


def test_no_canary_in_a_core_dump_of_the_servers(up: UpProcess, tmp_path: Path) -> None:
    started = time.monotonic()
    with httpx.Client(timeout=30) as http:
        stack = _stack(up, http)
        submitted = submit(stack, COUNT)
        opened = check_matches(stack, submitted)
        canaries = submitted.all()
        assert len({c.entered for c in canaries}) == 3 * COUNT
        assert all(form.isascii() for c in canaries for form in c.forms)
        # The positive control: a name the operator chooses is plaintext by design.
        controls_made = [make_email(), make_phone(set())]
        stack.operator.create_organization(" ".join(c.entered for c in controls_made))
        elapsed_submit = time.monotonic() - started

        dumped = time.monotonic()
        core = _gcore(up.process.pid, tmp_path / "core")
        try:
            size = core.stat().st_size
            elapsed_dump = time.monotonic() - dumped
            assert up.process.poll() is None, "the servers stopped while being dumped"
            scanned, cpu = time.monotonic(), time.process_time()
            # One pass for both: the dump is large, and a hit names the form it matched.
            found, nonzero = _scan(core, BulkScanner([*canaries, *controls_made]))
            controls = _of(found, controls_made)
            leaks = {label: [hit for hit in hits if hit not in controls.get(label, [])]
                     for label, hits in found.items()}  # fmt: skip
            leaks = {label: hits for label, hits in leaks.items() if hits}
            elapsed_scan, cpu_scan = time.monotonic() - scanned, time.process_time() - cpu
        finally:
            core.unlink(missing_ok=True)
        stack.database.dispose()

    print(
        f"\n[core dump] {COUNT} identifiers, {COUNT} contacts, {COUNT} record texts "
        f"({len(canaries)} canaries, {submitted.entries} entries, {submitted.matched_pairs} "
        f"matches, {opened} packages opened) in {elapsed_submit:.1f} s; gcore of pid "
        f"{up.process.pid}: {size:,} bytes ({nonzero:,} not in zero pages) in "
        f"{elapsed_dump:.1f} s, scanned 7 ways in "
        f"{elapsed_scan:.1f} s ({cpu_scan:.1f} s of CPU); "
        f"canaries found: {sum(len(v) for v in leaks.values())}; "
        f"control found: {sum(len(v) for v in controls.values())} "
        f"({', '.join(sorted(controls)) or 'nowhere'})"
    )
    kinds = {kind for kind, _, _ in controls.get("bytes", [])}
    assert kinds == {"email", "phone"}, "the scanner missed a control canary in the dump"
    assert leaks == {}, f"canaries found in the core dump: {leaks}"
    assert not core.exists()


def test_the_scan_reads_utf16_and_ucs4_views(tmp_path: Path) -> None:
    """The strided views find a canary held as UTF-16-LE or UCS-4 at any alignment, a
    phone number in any of its written forms, and report where each starts."""
    text = f"canary-contact-{secrets.token_hex(8)}"
    contact = Canary("contact", text, (text,))
    phone = make_phone(set())
    utf16 = text.encode("utf-16-le")
    ucs4 = text.encode("utf-32-le")
    national = phone.forms[3].encode()
    filler = b"\xff" * 1001
    at_utf16 = len(filler)
    at_ucs4 = at_utf16 + len(utf16) + 3
    head = filler + utf16 + b"\xff" * 3 + ucs4 + filler
    # A zero page between, as a dump has many: skipped, and the offsets still the file's.
    head += b"\xff" * (-len(head) % PAGE) + ZERO_PAGE
    at_phone = len(head) + len(filler)
    dump = tmp_path / "core.test"
    dump.write_bytes(head + filler + national + filler)
    found, nonzero = _scan(dump, BulkScanner([contact, phone]))
    assert nonzero == dump.stat().st_size - PAGE
    assert found == {
        f"utf-16 +{at_utf16 % 2}": [("contact", text, at_utf16)],
        f"ucs-4 +{at_ucs4 % 4}": [("contact", text, at_ucs4)],
        "bytes": [("phone", phone.forms[3], at_phone)],
    }
