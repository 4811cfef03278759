"""`notalone vectors`: write (or check) the cross-language test vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from notalone.protocol import vectors as vector_recipes


def _render(content: dict[str, Any]) -> str:
    return json.dumps(content, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _read_previous(directory: Path, names: list[str]) -> dict[str, Any]:
    previous = {}
    for name in names:
        path = directory / name
        if path.exists():
            try:
                previous[name] = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                typer.echo(f"warning: {path} is not valid JSON; it will be rewritten", err=True)
    return previous


def vectors_command(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for the JSON files (created if missing).")
    ] = Path("vectors"),
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if any file is missing or stale."),
    ] = False,
) -> None:
    """Write deterministic JSON vectors for every protocol derivation.

    The browser implementation is tested against them. HPKE ciphertexts are random, so
    sealed packages already in DIR are kept whenever they still open to the same
    package; everything else is recomputed from a fixed seed.
    """
    previous = _read_previous(out, vector_recipes.FILE_NAMES)
    sealer = vector_recipes.replay_sealer_from(previous)
    files = vector_recipes.build_all(sealer=sealer)
    stale = [
        name
        for name, content in files.items()
        if not (out / name).exists() or (out / name).read_text(encoding="utf-8") != _render(content)
    ]
    if check:
        if stale:
            typer.echo(f"stale vectors in {out}: {', '.join(stale)}; run `make vectors`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{len(files)} vector files in {out} are up to date")
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (out / name).write_text(_render(content), encoding="utf-8")
    typer.echo(
        f"wrote {len(files)} files to {out} ({len(stale)} changed; "
        f"{sealer.replayed} sealed packages kept, {sealer.resealed} sealed anew)"
    )
