"""Supply chain: every package the project installs is pinned to one version and hash.

`make install` installs requirements.lock with `pip --require-hashes --no-deps` and
js/package-lock.json with `npm ci`, so a package whose file differs from the one locked
is refused. These tests keep the lock files in that shape: a dependency added by hand
without its hash, or a range instead of a pin, fails here rather than installing
whatever the index serves that day. Known vulnerabilities are `make audit`'s job
(SECURITY.md, "Supply chain"); it needs advisory services that CI cannot reach.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")
SHA256 = re.compile(r"--hash=sha256:[0-9a-f]{64}\b")
SHA512_INTEGRITY = re.compile(r"^sha512-[A-Za-z0-9+/]{86}==$")


def _lock_entries(text: str) -> dict[str, list[str]]:
    """Each requirement of a pip lock file (name → its continued lines), comments dropped."""
    entries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not line[0].isspace():
            match = PIN.match(stripped)
            assert match, f"requirements.lock: not pinned with ==: {stripped}"
            current = entries.setdefault(canonicalize_name(match["name"]), [])
        assert current is not None, f"requirements.lock: a continuation before any pin: {line}"
        current.append(stripped)
    return entries


def test_every_python_package_is_pinned_with_a_hash() -> None:
    entries = _lock_entries((REPO / "requirements.lock").read_text())
    for name, lines in entries.items():
        assert SHA256.search(" ".join(lines)), f"requirements.lock: {name} has no sha256 hash"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    missing = [r for r in wanted if canonicalize_name(Requirement(r).name) not in entries]
    assert missing == [], f"in pyproject.toml but not locked: {missing}"
    print(f"\nrequirements.lock: {len(entries)} packages, each pinned with a sha256 hash")


def test_the_lock_check_refuses_an_unhashed_or_ranged_requirement() -> None:
    hashed = "alembic==1.20.1 \\\n    --hash=sha256:" + "ab" * 32 + "\n"
    assert list(_lock_entries(hashed)) == ["alembic"]
    for broken in ("alembic>=1.20\n", "alembic\n"):
        with pytest.raises(AssertionError, match="not pinned"):
            _lock_entries(broken)
    assert not SHA256.search("alembic==1.20.1 --hash=sha256:abc")


def test_every_npm_package_is_pinned_with_an_integrity_hash() -> None:
    lock = json.loads((REPO / "js" / "package-lock.json").read_text())
    manifest = json.loads((REPO / "js" / "package.json").read_text())
    assert lock["lockfileVersion"] >= 2
    packages = {path: meta for path, meta in lock["packages"].items() if path}
    for path, meta in packages.items():
        assert not meta.get("link"), f"package-lock.json: {path} is a link, not a download"
        assert re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", meta["version"]), path
        assert SHA512_INTEGRITY.match(meta.get("integrity", "")), f"{path}: no sha512 integrity"
    # The manifest pins exact versions too, so `npm install` cannot drift from the lock.
    declared = {**manifest["dependencies"], **manifest["devDependencies"]}
    for name, version in declared.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"package.json: {name} is {version!r}"
        assert packages[f"node_modules/{name}"]["version"] == version, name
    print(f"\npackage-lock.json: {len(packages)} packages, each with a sha512 integrity hash")


def test_installs_enforce_the_hashes() -> None:
    """The lock files only protect if the install refuses what does not match them."""
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"pip install .*--require-hashes -r requirements\.lock", makefile)
    assert re.search(r"npm ci\b", makefile)
    assert not re.search(r"npm install\b", makefile)
