"""Shared fixtures: where the official vectors live, and Hypothesis profiles."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent
SHARED_VECTORS = REPO.parent / "shared" / "vectors"

# Developers get fresh random examples on every run; CI (where CI=true) derandomizes, so
# a red CI run can be reproduced and the coverage gate does not depend on luck.
# `HYPOTHESIS_PROFILE=thorough` digs deeper locally.
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=2000)
_default_profile = "ci" if os.environ.get("CI") == "true" else "default"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default_profile))


def load_shared_vectors(name: str) -> Any:
    """Load one of the official vector files that CI places at ../shared/vectors."""
    path = SHARED_VECTORS / name
    if not path.exists():
        pytest.fail(f"official vectors missing: {path} (../shared must sit beside the repo)")
    return json.loads(path.read_text())
