"""Key-share files: what `notalone deal-keys` writes and what a key server loads.

Dealing draws a fresh OPRF key k, splits it τ-of-n (`threshold.deal`) and writes, into one
directory:

- `keyserver-<i>.json` for each key server i (mode 0600): its share k_i, with the public
  data it needs to answer and to check tickets;
- `federation.json` (public): τ, pk, every (i, pk_i), the deployment id, the escrow's
  ticket public key and period, for clients and the escrow;
- `escrow-ticket-key.json` (mode 0600), only when no ticket public key was given: a fresh
  Ed25519 ticket-signing key and the escrow's pseudonym secret, for the escrow.

k itself is never written: only its shares exist afterwards.

Share file, version 1 (bytes as lower-case hex):

    {"v": 1, "kind": "notalone/keyserver-share",
     "suite": "ristretto255-SHA512", "mode": 1,
     "index": i, "secret_key": k_i (32, little-endian scalar), "public_key": pk_i (32),
     "federation": {"threshold": τ, "public_key": pk (32),
                    "shares": [{"index": j, "public_key": pk_j}, …]},
     "deployment_id": (16), "ticket_public_key": Ed25519 (32), "ticket_period_ms": int}

`federation.json` holds the same without "index", "secret_key" and "public_key", and with
"kind": "notalone/federation". Loading checks everything (version, kind, lengths, the
federation's consistency, that the secret matches its public key) and raises errors that
name the file but never contain key material.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from notalone.crypto import group, oprf, threshold
from notalone.crypto.ct import bytes_eq
from notalone.crypto.threshold import Federation, KeyShare
from notalone.errors import EncodingError, InvalidElementError, ThresholdError, VersionError
from notalone.protocol import tickets
from notalone.protocol.federation import federation_from_json, federation_to_json

logger = logging.getLogger("notalone.keyserver")

FORMAT_VERSION = 1
SHARE_KIND = "notalone/keyserver-share"
FEDERATION_KIND = "notalone/federation"
TICKET_KEY_KIND = "notalone/escrow-ticket-key"
SUITE = oprf.SUITE_ID.decode()
MODE = int(threshold.MODE)

FEDERATION_FILE = "federation.json"
TICKET_KEY_FILE = "escrow-ticket-key.json"

#: A quota period longer than a year would let one ticket pseudonym be followed for a year.
MAX_PERIOD_MS = 366 * 86_400_000

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644


def share_file_name(index: int) -> str:
    """The file name of key server `index`'s share: keyserver-<index>.json."""
    return f"keyserver-{index}.json"


@dataclass(frozen=True)
class Deployment:
    """The deployment's public settings every key server and client must agree on."""

    deployment_id: bytes
    ticket_public_key: bytes
    ticket_period_ms: int = tickets.DEFAULT_PERIOD_MS

    def __post_init__(self) -> None:
        if len(self.deployment_id) != tickets.DEPLOYMENT_ID_BYTES:
            raise EncodingError(f"a deployment id is {tickets.DEPLOYMENT_ID_BYTES} bytes")
        if len(self.ticket_public_key) != tickets.PUBLIC_KEY_BYTES:
            raise EncodingError(f"a ticket public key is {tickets.PUBLIC_KEY_BYTES} bytes")
        if not tickets.MIN_PERIOD_MS <= self.ticket_period_ms <= MAX_PERIOD_MS:
            raise EncodingError(
                f"the ticket period is from {tickets.MIN_PERIOD_MS} to {MAX_PERIOD_MS} ms"
            )


@dataclass(frozen=True)
class KeyServerKey:
    """What one key server loads: its share, the federation and the deployment settings."""

    share: KeyShare
    federation: Federation
    deployment: Deployment


@dataclass(frozen=True)
class FederationInfo:
    """The public content of federation.json."""

    federation: Federation
    deployment: Deployment


@dataclass(frozen=True)
class DealtKeys:
    """The result of a dealing, before it is written to files."""

    federation: Federation
    shares: tuple[KeyShare, ...]
    deployment: Deployment
    # Present only if the dealer generated the escrow's ticket key itself.
    ticket_signing_key: Ed25519PrivateKey | None = field(default=None, repr=False)
    ticket_secret: bytes | None = field(default=None, repr=False)


def deal_keys(
    threshold_: int,
    servers: int,
    *,
    deployment_id: bytes | None = None,
    ticket_public_key: bytes | None = None,
    ticket_period_ms: int = tickets.DEFAULT_PERIOD_MS,
) -> DealtKeys:
    """Draw a fresh OPRF key and split it τ-of-n.

    A random deployment id is drawn if none is given. Without a ticket public key, a fresh
    Ed25519 ticket key and pseudonym secret are generated for the escrow.
    """
    federation, shares = threshold.deal(group.random_scalar(), threshold_, servers)
    signing_key = None
    ticket_secret = None
    if ticket_public_key is None:
        signing_key = Ed25519PrivateKey.generate()
        ticket_secret = secrets.token_bytes(tickets.SECRET_BYTES)
        ticket_public_key = signing_key.public_key().public_bytes_raw()
    else:
        _check_ed25519(ticket_public_key)
    deployment = Deployment(
        deployment_id=deployment_id or secrets.token_bytes(tickets.DEPLOYMENT_ID_BYTES),
        ticket_public_key=ticket_public_key,
        ticket_period_ms=ticket_period_ms,
    )
    return DealtKeys(federation, tuple(shares), deployment, signing_key, ticket_secret)


def target_files(dealt: DealtKeys, out_dir: Path) -> list[Path]:
    """Every file `write_dealt_keys` writes, in order."""
    paths = [out_dir / share_file_name(s.index) for s in dealt.shares]
    paths.append(out_dir / FEDERATION_FILE)
    if dealt.ticket_signing_key is not None:
        paths.append(out_dir / TICKET_KEY_FILE)
    return paths


def write_dealt_keys(dealt: DealtKeys, out_dir: Path, *, force: bool = False) -> list[Path]:
    """Write the share files, federation.json and (if generated) the escrow's ticket key.

    Each file is written to a temporary file in `out_dir`, synced, then renamed into
    place, so a reader never sees half a key. Without `force`, an existing file is never
    replaced: FileExistsError is raised before anything is written.
    """
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths = target_files(dealt, out_dir)
    existing = [p.name for p in paths if p.exists()]
    if existing and not force:
        raise FileExistsError(
            f"{out_dir} already holds {', '.join(existing)}; "
            "pass --force to replace them (the old shares stop working)"
        )
    contents: list[tuple[dict[str, Any], int]] = [
        (share_document(share, dealt.federation, dealt.deployment), PRIVATE_MODE)
        for share in dealt.shares
    ]
    contents.append((federation_document(dealt.federation, dealt.deployment), PUBLIC_MODE))
    if dealt.ticket_signing_key is not None and dealt.ticket_secret is not None:
        contents.append(
            (
                ticket_key_document(
                    dealt.ticket_signing_key, dealt.ticket_secret, dealt.deployment
                ),
                PRIVATE_MODE,
            )
        )
    for path, (document, mode) in zip(paths, contents, strict=True):
        _write_atomic(path, _render(document), mode, replace=force)
    return paths


def _deployment_json(deployment: Deployment) -> dict[str, Any]:
    return {
        "deployment_id": deployment.deployment_id.hex(),
        "ticket_public_key": deployment.ticket_public_key.hex(),
        "ticket_period_ms": deployment.ticket_period_ms,
    }


def federation_document(federation: Federation, deployment: Deployment) -> dict[str, Any]:
    """The public federation.json content."""
    return {
        "v": FORMAT_VERSION,
        "kind": FEDERATION_KIND,
        "suite": SUITE,
        "mode": MODE,
        "federation": federation_to_json(federation),
        **_deployment_json(deployment),
    }


def share_document(
    share: KeyShare, federation: Federation, deployment: Deployment
) -> dict[str, Any]:
    """The content of keyserver-<i>.json. It holds the share's secret."""
    return {
        "v": FORMAT_VERSION,
        "kind": SHARE_KIND,
        "suite": SUITE,
        "mode": MODE,
        "index": share.index,
        "secret_key": share.secret_key.hex(),
        "public_key": share.public_key.hex(),
        "federation": federation_to_json(federation),
        **_deployment_json(deployment),
    }


def ticket_key_document(
    signing_key: Ed25519PrivateKey, ticket_secret: bytes, deployment: Deployment
) -> dict[str, Any]:
    """The content of escrow-ticket-key.json: everything the escrow needs to issue tickets."""
    return {
        "v": FORMAT_VERSION,
        "kind": TICKET_KEY_KIND,
        "private_key": signing_key.private_bytes_raw().hex(),
        "ticket_secret": ticket_secret.hex(),
        **_deployment_json(deployment),
    }


def load_key_file(path: Path) -> KeyServerKey:
    """Load and check a key server's share file.

    Raises VersionError, EncodingError or ThresholdError naming the file; no message
    contains key material. Logs a warning if the file is readable by others.
    """
    document = _read(path, SHARE_KIND)
    with _naming(path):
        federation = federation_from_json(document.get("federation"))
        deployment = _parse_deployment(document)
        index = _int(document, "index", 1, threshold.MAX_SERVERS)
        secret_key = _hex(document, "secret_key", group.SCALAR_BYTES)
        public_key = _hex(document, "public_key", group.ELEMENT_BYTES)
        group.decode_scalar(secret_key, "the share's secret key")
        if group.scalar_is_zero(secret_key):
            raise EncodingError("the share's secret key is zero")
        if not bytes_eq(group.mult_base(secret_key), public_key):
            raise ThresholdError("the share's secret key does not match its public key")
        if not bytes_eq(federation.share_public_key(index), public_key):
            raise ThresholdError(
                f"share {index}'s public key differs from the federation's entry for {index}"
            )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning(
            "key file %s is readable by other users (mode %04o); run chmod 600 on it",
            path,
            mode,
        )
    share = KeyShare(index=index, secret_key=secret_key, public_key=public_key)
    return KeyServerKey(share=share, federation=federation, deployment=deployment)


def load_federation_file(path: Path) -> FederationInfo:
    """Load and check federation.json (public data only)."""
    document = _read(path, FEDERATION_KIND)
    with _naming(path):
        return FederationInfo(
            federation=federation_from_json(document.get("federation")),
            deployment=_parse_deployment(document),
        )


def load_ticket_issuer(path: Path) -> tickets.TicketIssuer:
    """Load escrow-ticket-key.json as the escrow's ticket issuer."""
    document = _read(path, TICKET_KEY_KIND, oprf_key=False)
    with _naming(path):
        deployment = _parse_deployment(document)
        signing_key = Ed25519PrivateKey.from_private_bytes(
            _hex(document, "private_key", tickets.SECRET_BYTES)
        )
        if not bytes_eq(signing_key.public_key().public_bytes_raw(), deployment.ticket_public_key):
            raise EncodingError("the ticket private key does not match ticket_public_key")
        return tickets.TicketIssuer(
            signing_key=signing_key,
            ticket_secret=_hex(document, "ticket_secret", tickets.SECRET_BYTES),
            deployment_id=deployment.deployment_id,
            period_ms=deployment.ticket_period_ms,
        )


# --------------------------------------------------------------------------- parsing


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """Prefix every key-file error raised inside the block with the file's path."""
    try:
        yield
    except (EncodingError, InvalidElementError, ThresholdError, VersionError) as e:
        raise type(e)(f"{path}: {e}") from e


def _read(path: Path, kind: str, *, oprf_key: bool = True) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise EncodingError(f"{path}: no such file") from e
    except (OSError, UnicodeDecodeError) as e:
        raise EncodingError(f"{path}: cannot be read ({type(e).__name__})") from e
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        # The decoder's message quotes no content, only a position.
        raise EncodingError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from e
    if not isinstance(document, dict):
        raise EncodingError(f"{path}: expected a JSON object")
    version = document.get("v")
    if version != FORMAT_VERSION:
        raise VersionError(f"{path}: unknown key file version {version!r}; this version reads 1")
    if document.get("kind") != kind:
        raise EncodingError(f"{path}: expected a {kind!r} file, found {document.get('kind')!r}")
    if oprf_key and (document.get("suite") != SUITE or document.get("mode") != MODE):
        raise EncodingError(f"{path}: the key is for another OPRF suite or mode")
    return document


def _parse_deployment(document: Mapping[str, Any]) -> Deployment:
    ticket_public_key = _hex(document, "ticket_public_key", tickets.PUBLIC_KEY_BYTES)
    _check_ed25519(ticket_public_key)
    return Deployment(
        deployment_id=_hex(document, "deployment_id", tickets.DEPLOYMENT_ID_BYTES),
        ticket_public_key=ticket_public_key,
        ticket_period_ms=_int(document, "ticket_period_ms", tickets.MIN_PERIOD_MS, MAX_PERIOD_MS),
    )


def _hex(document: Mapping[str, Any], name: str, length: int) -> bytes:
    value = document.get(name)
    # The value is never repeated in a message: it may be a secret key.
    if not isinstance(value, str) or len(value) != 2 * length or value != value.lower():
        raise EncodingError(f"'{name}' must be {length} bytes as lower-case hex")
    try:
        return bytes.fromhex(value)
    except ValueError as e:
        raise EncodingError(f"'{name}' must be {length} bytes as lower-case hex") from e


def _int(document: Mapping[str, Any], name: str, low: int, high: int) -> int:
    value = document.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise EncodingError(f"'{name}' must be an integer from {low} to {high}")
    return value


def _check_ed25519(public_key: bytes) -> None:
    if len(public_key) != tickets.PUBLIC_KEY_BYTES:
        raise EncodingError(f"a ticket public key is {tickets.PUBLIC_KEY_BYTES} bytes")
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as e:  # pragma: no cover - cryptography accepts any 32 bytes today.
        raise EncodingError("the ticket public key is not an Ed25519 key") from e


# --------------------------------------------------------------------------- writing


def _render(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=1) + "\n").encode()


def _write_atomic(path: Path, data: bytes, mode: int, *, replace: bool) -> None:
    # mkstemp creates the file with mode 0600 whatever the umask, so a share is never
    # readable by others, not even for an instant.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            # link() fails if the target exists, unlike rename(): no race can clobber a key.
            os.link(temporary, path)
            os.unlink(temporary)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself must survive a crash
    finally:
        os.close(directory)
