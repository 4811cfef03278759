"""Export the Python identifier test table (tests/protocol/test_identifiers.py) to JSON.

The protocol (§4.9) names that table as the one the browser module must also pass; the
shared vectors in vectors/identifiers.json are only a subset. Run from the repository
root with the project's virtualenv:

    .venv/bin/python js/scripts/export-identifier-table.py > js/test/fixtures/identifier-table.json

Every row carries the Python result (canonical form or error message), computed here, so
the JS test compares against what the Python implementation does today.
"""

import json
import sys

sys.path.insert(0, "tests/protocol")
sys.path.insert(0, "src")

import test_identifiers as t  # noqa: E402

from notalone.errors import IdentifierError  # noqa: E402
from notalone.protocol.identifiers import canonicalize  # noqa: E402


def outcome(kind: object, value: str, region: str | None) -> dict[str, str]:
    try:
        return {"canonical": canonicalize(kind, value, region=region).canonical}
    except IdentifierError as e:
        return {"error": str(e)}


def rows():
    for param in t.MEET:
        kind, value, region, _expected = getattr(param, "values", param)
        yield {"table": "MEET", "kind": kind.value if hasattr(kind, "value") else str(kind), "input": value, "region": region}
    for k1, v1, k2, v2 in t.NOT_MEET:
        yield {"table": "NOT_MEET", "kind": k1.value, "input": v1, "region": None}
        yield {"table": "NOT_MEET", "kind": k2.value, "input": v2, "region": None}
    for row in t.INVALID:
        kind, value, region = row[0], row[1], row[2]
        yield {"table": "INVALID", "kind": kind.value if hasattr(kind, "value") else str(kind), "input": value, "region": region}


out = []
for row in rows():
    row.update(outcome(row["kind"], row["input"], row["region"]))
    out.append(row)
json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
