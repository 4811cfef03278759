"""`notalone survivor …`: register, keep a private record, and make escrow entries.

The survivor's credentials (username, bearer token, key bundle, data key) live in a
profile file, `<profile-dir>/survivor.json` (mode 0600), sealed with XChaCha20-Poly1305
under a key derived from the passphrase with Argon2id (its own salt, the account's
parameters). The passphrase comes from a hidden prompt or `NOTALONE_PASSPHRASE`.

Output is for people by default and JSON with `--json`; progress (Argon2id, key servers)
goes to stderr. Errors print one line, `error: …`, that never holds an identifier, a
contact, a passphrase, a token or a key. An entry is listed as sealed or withdrawn only.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import httpx
import typer
from rich.console import Console

from notalone.client import membership as membership_client
from notalone.client import survivor
from notalone.client.escrow import EscrowClient
from notalone.client.keyservers import ServerEvent
from notalone.crypto import aead
from notalone.crypto.kdf import ARGON2_SALT_BYTES, Argon2Params, argon2id
from notalone.errors import (
    DecryptionError,
    EncodingError,
    InputError,
    NotAloneError,
    VerificationError,
)
from notalone.protocol import membership
from notalone.protocol.accounts import ARGON2_DEFAULT, AccountKeyBundle, DataKey
from notalone.protocol.records import RecordContent, canonical_json, parse_json

DEFAULT_SERVER = "http://127.0.0.1:8100"
PASSPHRASE_ENV = "NOTALONE_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
PROFILE_FILE = "survivor.json"
#: Membership tokens of one organization (docs/protocol.md §15), next to the profile.
TOKENS_FILE = "membership-tokens-{organization}.json"
PROFILE_KIND = "notalone/survivor-profile"
PROFILE_VERSION = 1
PROFILE_AD = b"notalone/v1/cli-profile"
HTTP_TIMEOUT_S = 30.0

T = TypeVar("T")

survivor_app = typer.Typer(
    help="A survivor's private record and escrow entries.", no_args_is_help=True
)
record_app = typer.Typer(help="Your private record: add, list, verify.", no_args_is_help=True)
entry_app = typer.Typer(
    help="Escrow entries: name a person; only a match reveals it.", no_args_is_help=True
)
survivor_app.add_typer(record_app, name="record")
survivor_app.add_typer(entry_app, name="entry")

err_console = Console(stderr=True)

ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        help=f"The escrow's URL (default: the profile's, else {DEFAULT_SERVER}).",
    ),
]
ProfileOption = Annotated[
    Path | None,
    typer.Option(
        "--profile-dir",
        help="Where your encrypted credentials live (default: under your config directory).",
        file_okay=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


# --------------------------------------------------------------------------- shared helpers


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one error line to stderr and exit."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn NotAlone's errors (whose messages hold no secret) into one line and exit 1."""
    try:
        yield
    except NotAloneError as e:
        fail(str(e), 2 if isinstance(e, InputError) else 1)
    except OSError as e:
        fail(f"{type(e).__name__}: {e.strerror or 'input/output error'}")


@contextmanager
def http_client() -> Iterator[httpx.Client]:
    """The one HTTP client of a command, with a timeout."""
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as http:
        yield http


def emit(as_json: bool, value: Any, text: str) -> None:
    """Print `value` as JSON or `text` for people."""
    if as_json:
        typer.echo(json.dumps(value, indent=2, sort_keys=True))
    else:
        typer.echo(text)


def with_status(message: str, work: Callable[[], T]) -> T:
    """Run `work` under a Rich spinner on stderr."""
    with err_console.status(message):
        return work()


def read_passphrase(*, confirm: bool = False) -> str:
    """The passphrase from NOTALONE_PASSPHRASE, else a hidden prompt."""
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env:
        return from_env
    text: str = typer.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm)
    return text


def default_profile_dir() -> Path:
    """The profile directory under the user's config directory."""
    return Path(typer.get_app_dir("notalone")) / "survivor"


def write_private(path: Path, data: bytes, *, replace: bool) -> None:
    """Write a 0600 file atomically; without `replace`, FileExistsError if it exists."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if the target exists: nothing is clobbered
            os.unlink(temporary)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


# --------------------------------------------------------------------------- the profile


@dataclass(eq=False)
class Profile:
    """The survivor's stored credentials, decrypted; repr shows the username only."""

    server: str
    username: str
    account_id: bytes
    token: str
    key_bundle: bytes
    data_key: DataKey

    def __repr__(self) -> str:
        return f"Profile(username={self.username!r})"


def _profile_key(passphrase: str, salt: bytes, params: Argon2Params) -> bytes:
    return argon2id(passphrase.encode("utf-8"), salt, params, aead.KEY_BYTES)


def save_profile(directory: Path, profile: Profile, passphrase: str) -> Path:
    """Seal the profile under the passphrase and write it (0600)."""
    params = AccountKeyBundle.from_bytes(profile.key_bundle).params
    salt = secrets.token_bytes(ARGON2_SALT_BYTES)
    key = with_status(
        "Protecting your profile (Argon2id)…", lambda: _profile_key(passphrase, salt, params)
    )
    body = canonical_json(
        {
            "server": profile.server,
            "username": profile.username,
            "account_id": profile.account_id.hex(),
            "token": profile.token,
            "key_bundle": profile.key_bundle.hex(),
            "data_key": profile.data_key.key.hex(),
        }
    )
    document = {
        "v": PROFILE_VERSION,
        "kind": PROFILE_KIND,
        "salt": salt.hex(),
        "time_cost": params.time_cost,
        "memory_kib": params.memory_kib,
        "box": aead.seal(key, body, PROFILE_AD).hex(),
    }
    path = directory / PROFILE_FILE
    write_private(path, json.dumps(document, indent=2).encode() + b"\n", replace=True)
    return path


def load_profile(directory: Path, passphrase: str) -> Profile:
    """Open the profile; DecryptionError for a wrong passphrase."""
    path = directory / PROFILE_FILE
    if not path.exists():
        raise InputError(
            f"no survivor profile in {directory}: run `notalone survivor register` "
            "(or `notalone survivor login`) first"
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("v") != PROFILE_VERSION or document.get("kind") != PROFILE_KIND:
            raise EncodingError(f"{path} is not a version-1 survivor profile")
        salt = bytes.fromhex(document["salt"])
        params = Argon2Params(int(document["time_cost"]), int(document["memory_kib"]))
        box = bytes.fromhex(document["box"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise EncodingError(f"{path} is not a survivor profile") from None
    key = with_status(
        "Unlocking your profile (Argon2id)…", lambda: _profile_key(passphrase, salt, params)
    )
    try:
        plain = aead.open_(key, box, PROFILE_AD)
    except DecryptionError:
        raise DecryptionError("wrong passphrase for this profile") from None
    body = parse_json(plain)
    try:
        assert isinstance(body, dict)  # noqa: S101 - parse_json of our own canonical_json
        return Profile(
            server=str(body["server"]),
            username=str(body["username"]),
            account_id=bytes.fromhex(str(body["account_id"])),
            token=str(body["token"]),
            key_bundle=bytes.fromhex(str(body["key_bundle"])),
            data_key=DataKey(bytes.fromhex(str(body["data_key"]))),
        )
    except (KeyError, ValueError):
        raise EncodingError(f"{path} lacks some of its fields") from None


def _profile_from_session(server: str, session: survivor.SurvivorSession) -> Profile:
    return Profile(
        server=server,
        username=session.username,
        account_id=session.account_id,
        token=session.token,
        key_bundle=session.key_bundle,
        data_key=session.data_key,
    )


def run_as_survivor(
    server: str | None,
    profile_dir: Path | None,
    action: Callable[[survivor.SurvivorSession], T],
) -> T:
    """Open the profile, run `action` with the session; on an expired session, log in again
    with the passphrase, save the new token and retry once."""
    directory = profile_dir or default_profile_dir()
    passphrase = read_passphrase()
    profile = load_profile(directory, passphrase)
    url = server or profile.server
    with http_client() as http:
        escrow = EscrowClient(url, http)
        session = survivor.unlock_session(
            escrow,
            username=profile.username,
            account_id=profile.account_id,
            token=profile.token,
            key_bundle=profile.key_bundle,
            data_key=profile.data_key,
        )
        try:
            return action(session)
        except VerificationError as e:
            if type(e) is not VerificationError:  # a failed signature or proof: no retry
                raise
        session = with_status(
            "Session expired; logging in again (Argon2id)…",
            lambda: survivor.login(escrow, profile.username, passphrase),
        )
        save_profile(directory, _profile_from_session(url, session), passphrase)
        return action(session)


# --------------------------------------------------------------------------- accounts


@survivor_app.command("join")
def join_command(
    organization: Annotated[
        str, typer.Option("--organization", help="Your organization's id (32 hex digits).")
    ],
    code: Annotated[
        str, typer.Option("--code", help="The member code emailed to your work address.")
    ],
    server: ServerOption = None,
    profile_dir: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Get registration tokens with the member code your organization had emailed to you.

    The tokens are saved in your profile directory; each registers one account, and says
    only that it belongs to a member of the organization, not which member.
    """
    directory = profile_dir or default_profile_dir()
    with reported_errors():
        url = server or DEFAULT_SERVER
        with http_client() as http:
            tokens, issuer = with_status(
                "Getting your tokens…",
                lambda: membership_client.get_tokens(EscrowClient(url, http), organization, code),
            )
        path = directory / TOKENS_FILE.format(organization=organization)
        kept = membership.parse_tokens(path.read_text("utf-8")) if path.exists() else []
        everything = kept + tokens
        write_private(
            path, membership.tokens_file(everything, issuer.public_key).encode(), replace=True
        )
    emit(
        as_json,
        {"tokens": len(tokens), "saved": len(everything), "file": str(path)},
        f"Got {len(tokens)} registration token(s); {len(everything)} saved in {path}.\n"
        "Register with: notalone survivor register --token " + str(path),
    )


@survivor_app.command("register")
def register_command(
    invite: Annotated[
        str | None, typer.Option("--invite", help="The invite code your organization gave you.")
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token",
            help="A membership tokens file from `join` (its first token is spent), "
            "instead of --invite.",
            dir_okay=False,
        ),
    ] = None,
    server: ServerOption = None,
    profile_dir: ProfileOption = None,
    as_json: JsonOption = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing profile in --profile-dir.")
    ] = False,
) -> None:
    """Create an account (a username is generated for you) and store it in your profile.

    Shows your recovery key once: write it down and keep it somewhere safe.
    """
    directory = profile_dir or default_profile_dir()
    with reported_errors():
        if (invite is None) == (token_file is None):
            raise InputError("give exactly one of --invite and --token")
        if (directory / PROFILE_FILE).exists() and not force:
            raise InputError(
                f"a profile already exists in {directory}; use another --profile-dir or --force"
            )
        tokens = []
        if token_file is not None:
            tokens = membership.parse_tokens(token_file.read_text("utf-8"))
        passphrase = read_passphrase(confirm=True)
        url = server or DEFAULT_SERVER
        with http_client() as http:
            escrow = EscrowClient(url, http)

            def create() -> survivor.Registration:
                if invite is not None:
                    return survivor.register(escrow, invite, passphrase, ARGON2_DEFAULT)
                return membership_client.register_with_token(
                    escrow, tokens[0], passphrase, ARGON2_DEFAULT
                )

            registration = with_status("Creating your account (Argon2id)…", create)
            if token_file is not None:
                _drop_spent_token(token_file, tokens)
            session = with_status(
                "Logging in (Argon2id)…",
                lambda: survivor.login(escrow, registration.username, passphrase),
            )
        path = save_profile(directory, _profile_from_session(url, session), passphrase)
    emit(
        as_json,
        {
            "username": registration.username,
            "account_id": registration.account_id.hex(),
            "recovery_key": registration.recovery_key,
            "profile": str(path),
        },
        f"Registered as {registration.username}.\n\n"
        f"Your recovery key (shown once; write it down, keep it safe):\n\n"
        f"    {registration.recovery_key}\n\n"
        f"Your profile is in {path}, protected by your passphrase.",
    )


def _drop_spent_token(path: Path, tokens: list[membership.Token]) -> None:
    # The spent token works no more: keep the others, or remove the file with the last.
    rest = tokens[1:]
    if not rest:
        path.unlink()
        return
    document = json.loads(path.read_text("utf-8"))
    issuer_key = bytes.fromhex(str(document.get("issuer_public_key", "")))
    write_private(path, membership.tokens_file(rest, issuer_key).encode(), replace=True)


@survivor_app.command("login")
def login_command(
    username: Annotated[str, typer.Option("--username", help="Your username.")],
    server: ServerOption = None,
    profile_dir: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Log in on this device and store the session in your profile."""
    directory = profile_dir or default_profile_dir()
    with reported_errors():
        passphrase = read_passphrase()
        url = server or DEFAULT_SERVER
        with http_client() as http:
            session = with_status(
                "Logging in (Argon2id)…",
                lambda: survivor.login(EscrowClient(url, http), username, passphrase),
            )
        path = save_profile(directory, _profile_from_session(url, session), passphrase)
    emit(
        as_json,
        {"username": session.username, "profile": str(path)},
        f"Logged in as {session.username}.",
    )


@survivor_app.command("counselors")
def counselors_command(server: ServerOption = None, as_json: JsonOption = False) -> None:
    """List the deployment's counselors (compare fingerprints with what they tell you)."""
    with reported_errors(), http_client() as http:
        counselors = EscrowClient(server or DEFAULT_SERVER, http).counselors()
    emit(
        as_json,
        [
            {"id": c.id, "display_name": c.display_name, "fingerprint": c.fingerprint}
            for c in counselors
        ],
        "\n".join(f"{c.id}  {c.display_name}  {c.fingerprint}" for c in counselors)
        or "no counselors yet",
    )


# --------------------------------------------------------------------------- records


@record_app.command("add")
def record_add_command(
    who: Annotated[str, typer.Option("--who", help="Who was involved.")] = "",
    what: Annotated[str, typer.Option("--what", help="What happened.")] = "",
    when: Annotated[str, typer.Option("--when", help="When, in your words.")] = "",
    where: Annotated[str, typer.Option("--where", help="Where.")] = "",
    witness: Annotated[
        list[str] | None, typer.Option("--witness", help="A witness (repeat for several).")
    ] = None,
    text: Annotated[str, typer.Option("--text", help="Anything else, in your words.")] = "",
    record: Annotated[
        str | None,
        typer.Option("--record", help="Add a new version of this record (its id) instead."),
    ] = None,
    server: ServerOption = None,
    profile_dir: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a record (or a new version of one): encrypted here, time-stamped by the log."""
    with reported_errors():
        content = RecordContent(
            who=who, what=what, when=when, where=where, witnesses=tuple(witness or ()), text=text
        )
        record_id = _id_argument(record, "record id") if record else None

        def add(session: survivor.SurvivorSession) -> tuple[bytes, survivor.RecordVersionView]:
            if record_id is None:
                return survivor.add_record(session, content)
            return record_id, survivor.add_version(session, record_id, content)

        added_id, view = run_as_survivor(server, profile_dir, add)
    emit(
        as_json,
        {"record_id": added_id.hex(), "version": view.version, "logged_at_ms": view.logged_at_ms},
        f"Stored record {added_id.hex()} version {view.version}; the log's receipt checks out.",
    )


@record_app.command("list")
def record_list_command(
    server: ServerOption = None, profile_dir: ProfileOption = None, as_json: JsonOption = False
) -> None:
    """Show your records, decrypted here; every receipt is verified."""
    with reported_errors():
        views = run_as_survivor(server, profile_dir, survivor.list_records)
    out = [
        {
            "record_id": view.record_id.hex(),
            "versions": [
                {
                    "version": v.version,
                    "logged_at_ms": v.logged_at_ms,
                    "who": v.content.who,
                    "what": v.content.what,
                    "when": v.content.when,
                    "where": v.content.where,
                    "witnesses": list(v.content.witnesses),
                    "text": v.content.text,
                }
                for v in view.versions
            ],
        }
        for view in views
    ]
    lines = []
    for view in views:
        lines.append(f"record {view.record_id.hex()}")
        for v in view.versions:
            lines.append(f"  version {v.version} (logged at {v.logged_at_ms} ms)")
            for name in ("who", "what", "when", "where", "text"):
                value = getattr(v.content, name)
                if value:
                    lines.append(f"    {name}: {value}")
            if v.content.witnesses:
                lines.append(f"    witnesses: {', '.join(v.content.witnesses)}")
    emit(as_json, out, "\n".join(lines) or "no records yet")


@record_app.command("verify")
def record_verify_command(
    server: ServerOption = None, profile_dir: ProfileOption = None, as_json: JsonOption = False
) -> None:
    """Check the log: its head is signed and extends every receipt you hold."""
    with reported_errors():
        check = run_as_survivor(server, profile_dir, survivor.verify_log)
    emit(
        as_json,
        {"ok": True, "tree_size": check.tree_size, "receipts": check.receipts},
        f"ok: {check.receipts} receipt(s) verified against the log's head "
        f"(tree size {check.tree_size}).",
    )


# --------------------------------------------------------------------------- entries


@entry_app.command("add")
def entry_add_command(
    counselor: Annotated[str, typer.Option("--counselor", help="The counselor's id.")],
    contact: Annotated[str, typer.Option("--contact", help="How your counselor can reach you.")],
    email: Annotated[list[str] | None, typer.Option("--email", help="An email address.")] = None,
    phone: Annotated[list[str] | None, typer.Option("--phone", help="A phone number.")] = None,
    profile: Annotated[
        list[str] | None, typer.Option("--profile", help="A social profile URL or handle.")
    ] = None,
    region: Annotated[
        str | None,
        typer.Option("--region", help="Country code (e.g. US) for phones without +country."),
    ] = None,
    message: Annotated[str, typer.Option("--message", help="A note for your counselor.")] = "",
    server: ServerOption = None,
    profile_dir: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Name a person. Nothing is revealed unless another survivor names them too."""
    with reported_errors():
        identifiers: list[tuple[str, str, str | None]] = [
            *(("email", value, None) for value in email or ()),
            *(("phone", value, region) for value in phone or ()),
            *(("profile", value, None) for value in profile or ()),
        ]
        if not identifiers:
            raise InputError("name the person by at least one --email, --phone or --profile")

        def add(session: survivor.SurvivorSession) -> bytes:
            with err_console.status("Asking the key servers…") as status:

                def progress(event: ServerEvent) -> None:
                    status.update(
                        f"Key servers: {event.valid}/{event.needed} answered ({event.outcome} "
                        f"{event.url})"
                    )

                return survivor.add_entry(
                    session,
                    identifiers,
                    counselor_id=counselor,
                    contact=contact,
                    message=message,
                    progress=progress,
                )

        entry_id = run_as_survivor(server, profile_dir, add)
    emit(
        as_json,
        {"entry_id": entry_id.hex(), "state": "sealed"},
        f"Entry {entry_id.hex()} is sealed in escrow.",
    )


@entry_app.command("list")
def entry_list_command(
    server: ServerOption = None, profile_dir: ProfileOption = None, as_json: JsonOption = False
) -> None:
    """Your entries, from your own encrypted copies: sealed or withdrawn (never 'matched')."""
    with reported_errors():
        views = run_as_survivor(server, profile_dir, survivor.list_entries)
    out = [
        {
            "entry_id": v.entry_id.hex(),
            "state": v.state,
            "created_at_ms": v.created_at_ms,
            "counselor_id": v.counselor_id,
            "contact": v.contact,
            "message": v.message,
            "identifiers": [
                {"kind": kind, "entered": entered, "region": region}
                for kind, entered, region in v.identifiers
            ],
        }
        for v in views
    ]
    lines = []
    for v in views:
        lines.append(f"entry {v.entry_id.hex()}  {v.state}  counselor {v.counselor_id}")
        for kind, entered, region in v.identifiers:
            lines.append(f"  {kind}: {entered}" + (f" ({region})" if region else ""))
        lines.append(f"  contact: {v.contact}")
    emit(as_json, out, "\n".join(lines) or "no entries yet")


@entry_app.command("withdraw")
def entry_withdraw_command(
    entry_id: Annotated[str, typer.Argument(help="The entry's id (from `entry list`).")],
    server: ServerOption = None,
    profile_dir: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Withdraw an entry: it can no longer match."""
    with reported_errors():
        raw = _id_argument(entry_id, "entry id")
        run_as_survivor(server, profile_dir, lambda s: survivor.withdraw_entry(s, raw))
    emit(as_json, {"entry_id": raw.hex(), "state": "withdrawn"}, f"Entry {raw.hex()} withdrawn.")


def _id_argument(value: str, what: str) -> bytes:
    try:
        raw = bytes.fromhex(value.strip())
    except ValueError:
        raw = b""
    if len(raw) != 16:
        raise InputError(f"a {what} is 32 hex digits")
    return raw
