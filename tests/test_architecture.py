"""The layering of docs/decisions/0001-layout.md, enforced.

Imports point one way: cli → (web, keyserver, client) → (services, storage) → protocol →
crypto → errors. The core (crypto, protocol, errors) does no I/O: it imports no module that
touches files, sockets, processes or the clock, and never calls open() or print().
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "src" / "notalone"

#: What each layer may import from inside notalone (besides itself).
ALLOWED = {
    "__init__": set(),
    "errors": set(),
    # What every HTTP service shares (headers, problem+json, body limits): no domain code.
    "serving": {"errors", "__init__"},
    "crypto": {"errors"},
    "protocol": {"errors", "crypto", "__init__"},
    "services": {"errors", "crypto", "protocol", "__init__"},
    # storage implements the ports that services define.
    "storage": {"errors", "crypto", "protocol", "services", "__init__"},
    # The key server depends on the core and its quota store only.
    "keyserver": {"errors", "crypto", "protocol", "storage", "serving", "__init__"},
    "web": {"errors", "crypto", "protocol", "services", "storage", "serving", "__init__"},
    # The Python SDK talks HTTP to the servers; it shares only the core with them.
    "client": {"errors", "crypto", "protocol", "__init__"},
    "cli": {
        "errors",
        "crypto",
        "protocol",
        "services",
        "storage",
        "web",
        "keyserver",
        "client",
        "serving",
        "__init__",
    },
}
CORE = ("__init__", "errors", "crypto", "protocol")
IO_MODULES = {
    "os", "sys", "io", "socket", "pathlib", "shutil", "subprocess", "time", "datetime",
    "logging", "sqlite3", "urllib", "http", "asyncio", "threading", "multiprocessing", "random",
    "tempfile", "glob",
}  # fmt: skip
IO_CALLS = {"open", "print", "input"}


def _layer(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py") if len(relative.parts) > 1 else relative.stem


def _imports(tree: ast.Module) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_one_way(path: Path) -> None:
    layer = _layer(path)
    assert layer in ALLOWED, f"the new layer {layer} needs a rule in ALLOWED"
    allowed = ALLOWED[layer]
    for name in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        if name == "notalone":
            target = "__init__"
        elif name.startswith("notalone."):
            target = name.split(".")[1]
        else:
            continue
        assert target == layer or target in allowed, f"{layer} must not import {name}"


@pytest.mark.parametrize(
    "path",
    [p for p in _modules() if _layer(p) in CORE],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_core_does_no_io(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for name in _imports(tree):
        assert name.split(".")[0] not in IO_MODULES, f"core module imports {name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in IO_CALLS, f"core module calls {node.func.id}()"


def test_every_layer_has_a_rule() -> None:
    layers = {_layer(p) for p in _modules()}
    assert layers <= set(ALLOWED), f"add a rule for {layers - set(ALLOWED)}"


# Secrets are compared with notalone.crypto.ct.bytes_eq, never with == or !=, whose time
# depends on where the first difference is. Names are the only handle a static check has,
# so this flags comparisons whose operand is named like a secret.
SECRET_NAME = re.compile(
    r"secret|private|passphrase|share|entry_key|data_key|wrap_key|auth_key|recovery|master"
    r"|blind|mac|^sk$|^k$|^s$|key$",
    re.IGNORECASE,
)
PUBLIC_NAME = re.compile(r"public|^pk|kind|version|count|size|index|name", re.IGNORECASE)


def _operand_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        return _operand_name(node.value)
    return None  # calls such as len(x), literals, arithmetic


def secret_comparisons(source: str) -> list[str]:
    """Every == or != in `source` with an operand named like a secret."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
            continue
        for operand in [node.left, *node.comparators]:
            name = _operand_name(operand)
            if name is None or name.isupper():  # constants are not secrets
                continue
            if SECRET_NAME.search(name) and not PUBLIC_NAME.search(name):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_the_secret_comparison_check_catches_an_offender() -> None:
    offender = "if entry_key == other:\n    pass\nif len(share) != SHARE_BYTES:\n    pass\n"
    assert secret_comparisons(offender) == ["line 1: entry_key == other"]


@pytest.mark.parametrize(
    "path",
    [p for p in _modules() if _layer(p) in CORE],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_no_secret_is_compared_with_eq(path: Path) -> None:
    assert secret_comparisons(path.read_text(encoding="utf-8")) == []
