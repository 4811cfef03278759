"""`notalone counselor …`: a counselor's key pair, inbox and packages.

    keygen --key FILE                      a fresh X25519 key pair (0600; --force replaces)
    inbox  --key FILE --token-file FILE    the matched slots addressed to you
    open   ID... --key FILE --token-file FILE
                                           open the packages of matches or slots by id

The key file holds the private key: it never leaves this machine. The token file holds
the inbox token the operator gave when registering you (`POST /v1/counselors`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from notalone.cli.survivor import (
    DEFAULT_SERVER,
    emit,
    http_client,
    reported_errors,
    write_private,
)
from notalone.client import counselor
from notalone.client.escrow import EscrowClient
from notalone.crypto import hpke
from notalone.errors import EncodingError, InputError

KEY_KIND = "notalone/counselor-key"
KEY_VERSION = 1

counselor_app = typer.Typer(
    help="A counselor's key pair, inbox and the packages of matches.", no_args_is_help=True
)

KeyOption = Annotated[
    Path, typer.Option("--key", help="Your counselor key file (from `counselor keygen`).")
]
TokenOption = Annotated[
    Path,
    typer.Option("--token-file", help="The file holding your inbox token from the operator."),
]
ServerOption = Annotated[str, typer.Option("--server", help="The escrow's URL.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def write_key_file(path: Path, keys: counselor.CounselorKeys, *, force: bool = False) -> None:
    """Write a counselor key file (0600); FileExistsError unless `force`."""
    document = {
        "v": KEY_VERSION,
        "kind": KEY_KIND,
        "private_key": keys.private_key.hex(),
        "public_key": keys.public_key.hex(),
    }
    write_private(path, json.dumps(document, indent=2).encode() + b"\n", replace=force)


def read_key_file(path: Path) -> counselor.CounselorKeys:
    """Read a counselor key file; EncodingError (naming the file only) if it is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("v") != KEY_VERSION or document.get("kind") != KEY_KIND:
            raise EncodingError(f"{path} is not a version-1 counselor key file")
        private_key = bytes.fromhex(document["private_key"])
        public_key = bytes.fromhex(document["public_key"])
    except FileNotFoundError:
        raise InputError(f"{path}: no such key file") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise EncodingError(f"{path} is not a counselor key file") from None
    if len(private_key) != hpke.KEY_BYTES or hpke.public_key_of(private_key) != public_key:
        raise EncodingError(f"{path}: the private and public keys do not belong together")
    return counselor.CounselorKeys(private_key=private_key, public_key=public_key)


def read_token_file(path: Path) -> str:
    """The inbox token from its file (surrounding whitespace ignored)."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise InputError(f"{path}: no such token file") from None
    if not token or not token.isascii() or not token.isprintable():
        raise EncodingError(f"{path} does not hold an inbox token")
    return token


@counselor_app.command("keygen")
def keygen_command(
    key: KeyOption,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing key file.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Make your key pair. Give the operator the public key; keep the file to yourself."""
    with reported_errors():
        if key.exists() and not force:
            raise InputError(f"{key} exists; keep it, or replace it with --force")
        keys = counselor.keygen()
        write_key_file(key, keys, force=force)
    emit(
        as_json,
        {
            "key_file": str(key),
            "public_key": keys.public_key.hex(),
            "fingerprint": counselor.fingerprint(keys.public_key),
        },
        f"Wrote {key} (mode 0600: keep it private).\n"
        f"Public key for the operator: {keys.public_key.hex()}\n"
        f"Fingerprint: {counselor.fingerprint(keys.public_key)}",
    )


@counselor_app.command("inbox")
def inbox_command(
    key: KeyOption,
    token_file: TokenOption,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """List the matched slots addressed to you (open them with `counselor open`)."""
    with reported_errors():
        read_key_file(key)  # a missing or broken key file is better found now
        token = read_token_file(token_file)
        with http_client() as http:
            items = counselor.inbox(EscrowClient(server, http, token))
    out = [
        {
            "match_id": item.match_id,
            "slot_id": item.slot_id.hex(),
            "created_at_ms": item.created_at_ms,
            "other_counselors": list(item.other_counselors),
        }
        for item in items
    ]
    emit(
        as_json,
        out,
        "\n".join(
            f"match {i.match_id}  slot {i.slot_id.hex()}  other counselors: "
            f"{', '.join(i.other_counselors) or '-'}"
            for i in items
        )
        or "your inbox is empty",
    )


@counselor_app.command("open")
def open_command(
    ids: Annotated[list[str], typer.Argument(help="Match ids or slot ids from your inbox.")],
    key: KeyOption,
    token_file: TokenOption,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Open the packages of the given matches or slots: contact, identifiers, message."""
    with reported_errors():
        keys = read_key_file(key)
        token = read_token_file(token_file)
        with http_client() as http:
            escrow = EscrowClient(server, http, token)
            items = counselor.inbox(escrow)
            deployment_id = escrow.deployment().deployment_id
        wanted = {i.strip().lower() for i in ids}
        chosen = [i for i in items if i.match_id.lower() in wanted or i.slot_id.hex() in wanted]
        found = {i.match_id.lower() for i in chosen} | {i.slot_id.hex() for i in chosen}
        missing = sorted(wanted - found)
        if missing:
            raise InputError(f"not in your inbox: {', '.join(missing)}")
        opened = [
            (item, counselor.open_item(keys.private_key, deployment_id, item)) for item in chosen
        ]
    out = [
        {
            "match_id": item.match_id,
            "slot_id": item.slot_id.hex(),
            "contact": package.contact,
            "message": package.message,
            "identifiers": [
                {"kind": kind, "entered": entered, "canonical": canonical}
                for kind, entered, canonical in package.identifiers
            ],
        }
        for item, package in opened
    ]
    lines = []
    for item, package in opened:
        lines.append(f"match {item.match_id}  slot {item.slot_id.hex()}")
        lines.append(f"  contact: {package.contact}")
        for kind, entered, canonical in package.identifiers:
            lines.append(f"  {kind}: {entered}  ({canonical})")
        if package.message:
            lines.append(f"  message: {package.message}")
    emit(as_json, out, "\n".join(lines))
