"""Side channels the threat model promises are closed (docs/threat-model.md §3.2, §3.5, §5).

- `/metrics` never says whether an entry completed a match: two fresh apps driven
  through the same requests, one of whose inserts completes a match, render the same
  metrics, line for line, and no metric is named or labelled after matches, tags or
  inboxes.
- The operator token is compared with `hmac.compare_digest`, whatever the token's
  length, and the answer follows that comparison alone.
- `notalone deal-keys` writes the shares of the OPRF key k, never k itself, in any of
  the encodings a careless dealer might use.
- No route takes a tag but the entry insert, and no route a survivor can call answers
  with a field about matches or tags.

Each test can fail: the metrics test checks that the matched app's inbox really did
receive the packages, the key scan finds each share in its own file, and the route scan
is checked against routes the test knows are credentialed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute
from typer.testing import CliRunner

from notalone.cli.main import app as cli_app
from notalone.crypto import aead, group, oprf, shamir
from notalone.storage.engine import Database
from notalone.web.auth import (
    current_account,
    current_counselor,
    current_org_admin,
    require_operator,
)
from tests.services.conftest import Clock
from tests.web.conftest import OPERATOR_TOKEN, Env, make_settings, running_env

# --------------------------------------------------------------------------- /metrics

#: Words no metric may be named or labelled after: the match outcome and its traces.
MATCH_WORDS = re.compile(r"match|(?<![a-z])tags?(?![a-z])|inbox", re.IGNORECASE)
SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
LABEL = re.compile(r'(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?P<value>(?:[^"\\]|\\.)*)"')


@contextmanager
def _fresh_env(tmp_path: Path, name: str) -> Iterator[Env]:
    """A new app on its own migrated SQLite file, built as tests/web/conftest.py does."""
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    with Database(url) as database:
        database.upgrade()
    clock = Clock()
    with running_env(make_settings(url, clock), clock) as env:
        yield env


@pytest.fixture
def escrow(tmp_path: Path) -> Iterator[Env]:
    """The escrow app with every service, as the `env` fixture of tests/web builds it."""
    with _fresh_env(tmp_path, "escrow") as env:
        yield env


def _metrics(env: Env) -> str:
    response = env.client.get("/metrics")
    assert response.status_code == 200
    return response.text


def _samples(text: str) -> dict[str, float]:
    """Each sample line of the exposition text: its series (name and labels) -> value."""
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            matched = SAMPLE.match(line)
            assert matched is not None, line
            series = f"{matched['name']}{{{matched['labels'] or ''}}}"
            samples[series] = float(matched["value"])
    return samples


def _words_about_matches(text: str) -> list[str]:
    """Metric names, label names, label values and help texts that speak of matches."""
    found = []
    for line in text.splitlines():
        if line.startswith("#"):
            if MATCH_WORDS.search(line):
                found.append(line)
            continue
        matched = SAMPLE.match(line)
        assert matched is not None, line
        parts = [matched["name"]]
        for label in LABEL.finditer(matched["labels"] or ""):
            parts += [label["key"], label["value"]]
        found += [part for part in parts if MATCH_WORDS.search(part)]
    return found


def _drive(env: Env, *, match: bool) -> tuple[list[str], int]:
    """The same requests in both apps: a counselor, three survivors, then one entry each
    naming the person. With `match`, the second entry completes a match and the third
    joins it; without, every entry names someone else. Returns the metrics rendered
    before the first insert and after each insert, then the counselor's inbox size."""
    ana = env.counselor("c-ana")
    survivors = [env.survivor() for _ in range(3)]
    y = secrets.token_bytes(64)
    snapshots = [_metrics(env)]
    for survivor in survivors:
        named = y if match else secrets.token_bytes(64)
        made = env.post_entry(survivor, [env.slot(named, survivor.account_id, ana)])
        assert made.status_code == 201, made.text
        snapshots.append(_metrics(env))
    inbox = env.client.get("/v1/counselor/inbox", headers=ana.headers())
    assert inbox.status_code == 200
    snapshots.append(_metrics(env))
    return snapshots, len(inbox.json()["items"])


def test_metrics_never_say_whether_an_entry_matched(tmp_path: Path) -> None:
    with _fresh_env(tmp_path, "matched") as matched_env:
        matched, matched_inbox = _drive(matched_env, match=True)
    with _fresh_env(tmp_path, "waiting") as waiting_env:
        waiting, waiting_inbox = _drive(waiting_env, match=False)
    # Not vacuous: the second insert completed a match (a package for each of the two
    # survivors) and the third joined it (a third package); the other app matched nothing.
    assert matched_inbox == 3
    assert waiting_inbox == 0

    series = sorted({s for snapshot in matched + waiting for s in _samples(snapshot)})
    differing = set()
    for text_m, text_w in zip(matched, waiting, strict=True):
        m, w = _samples(text_m), _samples(text_w)
        differing |= {s for s in series if m.get(s) != w.get(s)}
    # The delta of every series around each insert, in case a counter moved elsewhere.
    deltas = 0
    for i in range(1, len(matched) - 1):
        before_m, after_m = _samples(matched[i - 1]), _samples(matched[i])
        before_w, after_w = _samples(waiting[i - 1]), _samples(waiting[i])
        for s in series:
            deltas += 1
            delta_m = after_m.get(s, 0) - before_m.get(s, 0)
            delta_w = after_w.get(s, 0) - before_w.get(s, 0)
            if delta_m != delta_w:
                differing.add(s)
    # Up to the last insert nothing has touched the inbox route, so every word is checked,
    # route labels included; the inbox read afterwards is counted alike in both apps.
    about_matches = [w for text in matched[:-1] + waiting[:-1] for w in _words_about_matches(text)]
    print(
        f"\nmetrics lines compared: {len(series)} series x {len(matched)} snapshots "
        f"(+ {deltas} deltas around the 3 inserts), differing: {len(differing)}; "
        f"inbox items matched {matched_inbox}, waiting {waiting_inbox}; "
        f"names or labels about matches: {len(about_matches)}"
    )
    assert len(series) >= 10
    assert sorted(differing) == []
    assert matched == waiting  # the full rendered text, HELP and TYPE lines included
    assert about_matches == []


# --------------------------------------------------------------------------- operator token


def _forms(token: str) -> set[object]:
    """What a constant-time check may be handed for `token`: the token, its UTF-8 bytes, or
    its SHA-256 digest (auth.require_operator hashes both sides first, so lengths match)."""
    raw = token.encode("utf-8")
    digest = hashlib.sha256(raw)
    return {token, raw, digest.digest(), digest.hexdigest()}


def test_the_operator_token_is_compared_in_constant_time(
    escrow: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = escrow
    calls: list[tuple[object, object]] = []
    real_compare = hmac.compare_digest
    # When set, what the patched compare answers instead of comparing.
    forced: list[bool] = []

    def recording(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return forced[-1] if forced else real_compare(a, b)

    # secrets.compare_digest is hmac's, imported under its own name: patch both.
    monkeypatch.setattr(hmac, "compare_digest", recording)
    monkeypatch.setattr(secrets, "compare_digest", recording)
    last = OPERATOR_TOKEN[-1]
    tokens = {
        "right": OPERATOR_TOKEN,
        "wrong, same length": OPERATOR_TOKEN[:-1] + ("u" if last != "u" else "v"),
        "wrong, a prefix of it": OPERATOR_TOKEN[:10],
        "wrong, longer": OPERATOR_TOKEN + "x",
    }
    expected = _forms(OPERATOR_TOKEN)
    refusals = set()
    for what, token in tokens.items():
        calls.clear()
        response = env.client.post(
            "/v1/organizations",
            json={"name": f"Org {secrets.token_hex(4)}"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == (201 if what == "right" else 401), what
        if what != "right":
            refusals.add(response.content)
        presented = _forms(token)
        compared = [
            (a, b)
            for a, b in calls
            if (a in presented and b in expected) or (b in presented and a in expected)
        ]
        print(
            f"\n{what} ({len(token)} chars): {response.status_code}, constant-time compares "
            f"of the presented token with the operator's: {len(compared)}"
        )
        assert compared, f"{what}: the token never went through compare_digest"

    # Every wrong token, whatever its length, gets the same refusal.
    assert len(refusals) == 1

    # The answer follows compare_digest alone: told "different", the right token is
    # refused; told "equal", a wrong one passes. No == or length check decides first.
    forced.append(False)
    refused = env.client.post("/v1/organizations", json={"name": "Org x"}, headers=env.operator())
    assert refused.status_code == 401
    forced.append(True)
    passed = env.client.post(
        "/v1/organizations",
        json={"name": "Org y"},
        headers={"Authorization": f"Bearer {tokens['wrong, a prefix of it']}"},
    )
    assert passed.status_code == 201


# --------------------------------------------------------------------------- deal-keys


def _encodings(secret: bytes) -> dict[str, bytes]:
    """The forms a 32-byte scalar could take in a file: raw, hex in both cases, base64
    and base64url with and without padding, each in both byte orders, and decimal."""
    forms = {}
    for order, data in (("le", secret), ("be", secret[::-1])):
        forms[f"raw {order}"] = data
        forms[f"hex {order}"] = data.hex().encode()
        forms[f"HEX {order}"] = data.hex().upper().encode()
        for name, encoder in (
            ("base64", base64.b64encode),
            ("base64url", base64.urlsafe_b64encode),
        ):
            encoded = encoder(data)
            forms[f"{name} {order}"] = encoded
            forms[f"{name} {order} unpadded"] = encoded.rstrip(b"=")
        forms[f"decimal {order}"] = str(int.from_bytes(data, "little")).encode()
    return forms


def _occurrences(secret: bytes, blobs: dict[str, bytes]) -> list[tuple[str, str]]:
    """(blob name, form) for every form of `secret` found in a blob."""
    return [
        (where, form)
        for where, blob in blobs.items()
        for form, needle in _encodings(secret).items()
        if needle in blob
    ]


@pytest.mark.parametrize(("tau", "servers"), [(2, 3), (3, 5)])
def test_deal_keys_never_writes_the_whole_key(tmp_path: Path, tau: int, servers: int) -> None:
    out = tmp_path / "keys"
    result = CliRunner().invoke(
        cli_app,
        ["deal-keys", "--out", str(out), "--threshold", str(tau), "--servers", str(servers)],
    )
    assert result.exit_code == 0, result.output

    # k, recomputed from the shares by Lagrange interpolation at 0: any τ of them agree,
    # and k is the key whose public key federation.json announces.
    shares = {
        i: bytes.fromhex(json.loads((out / f"keyserver-{i}.json").read_text())["secret_key"])
        for i in range(1, servers + 1)
    }
    points = [(group.scalar_from_int(i), k_i) for i, k_i in shares.items()]
    keys = {shamir.interpolate(subset) for subset in itertools.combinations(points, tau)}
    assert len(keys) == 1
    [k] = keys
    federation = json.loads((out / "federation.json").read_text())["federation"]
    assert oprf.public_key(k).hex() == federation["public_key"]

    # Every file under tmp_path (the CLI was told to write only into it), and what it printed.
    blobs = {
        str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()
    }
    blobs["<cli output>"] = result.output.encode()
    written = {f"keys/keyserver-{i}.json" for i in shares} | {
        "keys/federation.json",
        "keys/escrow-ticket-key.json",
    }
    assert written <= set(blobs)
    found = _occurrences(k, blobs)

    # Control: the same scan finds each share's scalar in its own key file.
    own_file_hits = sum(
        any(where == f"keys/keyserver-{i}.json" for where, _ in _occurrences(k_i, blobs))
        for i, k_i in shares.items()
    )
    print(
        f"\n{tau}-of-{servers}: files scanned {len(blobs)}, encodings of k searched "
        f"{len(_encodings(k))}, occurrences of k: {len(found)}; control: {own_file_hits} of "
        f"{servers} shares found in their own key file"
    )
    assert own_file_hits == servers
    assert found == []


# --------------------------------------------------------------------------- routes

#: Operations whose request may carry a tag, each with why its answer reveals nothing.
TAG_TAKERS = {
    # The insert itself: a survivor uploads the tag of each slot. Its answer is the same
    # matched or not (tests/web/test_escrow_api.py::
    # test_the_entry_answer_is_the_same_matched_or_not), and padded in time.
    ("POST", "/v1/entries"): "the entry insert",
}
#: Fields about matches that a survivor may see, each with why it says nothing of a tag.
SURVIVOR_FIELDS_ALLOWED = {
    # t, the number of accounts that complete a match: a setting of the deployment, the
    # same for every tag and every caller, published so clients can build slots.
    ("GET", "/v1/deployment", "match_threshold"),
}
#: A tag in any spelling: tag, tags, tag_count, slots_for_tag, tag_hex…
TAG_FIELD = re.compile(r"(?:^|_)tags?(?:_|$)")
#: What a survivor's answer must not carry: matched, match, match_count, match_id…, and
#: any field about tags.
MATCH_FIELD = re.compile(r"match|(?:^|_)tags?(?:_|$)")
#: The dependencies that demand a credential a survivor does not hold.
CREDENTIALED = {
    require_operator: "operator",
    current_counselor: "counselor",
    current_org_admin: "admin",
}


def _walk(routes: list[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # FastAPI 0.16x keeps an included router as one entry that wraps the original.
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _walk(included.routes)


def _dependencies(route: APIRoute) -> set[object]:
    """Every dependency callable of the route, nested ones included."""
    calls: set[object] = set()
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        calls.add(dependency.call)
        pending += dependency.dependencies
    return calls


def _fields(node: object, components: dict[str, Any], seen: set[str]) -> set[str]:
    """Every property name reachable from a schema node, following $refs."""
    names: set[str] = set()
    if isinstance(node, list):
        for item in node:
            names |= _fields(item, components, seen)
    elif isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                names |= _fields(components[name], components, seen)
        properties = node.get("properties")
        if isinstance(properties, dict):
            names |= set(properties)
        for value in node.values():
            names |= _fields(value, components, seen)
    return names


def _names(operations: set[tuple[str, str]]) -> str:
    return ", ".join(f"{method} {path}" for method, path in sorted(operations))


def _json_keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value).union(*(_json_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_json_keys(v) for v in value))
    return set()


def test_no_route_asks_whether_a_tag_exists_or_matched(escrow: Env) -> None:
    env = escrow
    services = env.services
    # Every service that mounts routes is present (notifications mount none).
    assert None not in (
        services.escrow,
        services.records,
        services.casework,
        services.organizations,
        services.membership,
    )
    schema = env.app.openapi()
    components = schema["components"]["schemas"]
    routes = {
        (method, route.path): route
        for route in _walk(env.app.routes)
        for method in route.methods or ()
    }
    operations = {
        (method.upper(), path): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }
    assert set(operations) <= set(routes)

    # Who may call what, read from each route's dependencies: a route that depends on the
    # operator, counselor or admin check needs that credential; any other (public, or a
    # survivor's session) is one a survivor can call.
    credentials = {
        key: {CREDENTIALED[c] for c in _dependencies(route) if c in CREDENTIALED}
        for key, route in routes.items()
    }
    # The reading is right where we know the answer.
    assert credentials[("POST", "/v1/organizations")] == {"operator"}
    assert credentials[("GET", "/v1/counselor/inbox")] == {"counselor"}
    assert credentials[("GET", "/v1/counselor/cases")] == {"counselor"}
    assert credentials[("GET", "/v1/organization/totals")] == {"admin"}
    assert current_account in _dependencies(routes[("POST", "/v1/entries")])
    survivor_callable = {key for key in operations if not credentials[key]}
    assert {("POST", "/v1/entries"), ("GET", "/v1/entries"), ("GET", "/v1/deployment")} <= (
        survivor_callable
    )

    # 1. Only the insert takes a tag, in a parameter or anywhere in its body. Routes left
    #    out of the document (the pages) take no parameter and no body at all.
    takers = set()
    for key, operation in operations.items():
        asked = {p["name"] for p in operation.get("parameters", [])}
        asked |= _fields(operation.get("requestBody", {}), components, set())
        if any(TAG_FIELD.search(name.lower()) for name in asked):
            takers.add(key)
    assert takers == set(TAG_TAKERS)
    undocumented = set(routes) - set(operations)
    for key in undocumented:
        dependant = routes[key].dependant
        assert key[0] in {"GET", "HEAD"}, key
        assert not dependant.query_params, key
        assert not dependant.body_params, key
        assert all(not TAG_FIELD.search(p.name) for p in dependant.path_params), key

    # 2. Nothing a survivor can call answers with (or asks for) a field about matches
    #    or tags; counselors and admins, who hold packages or totals, are left out.
    scanned = 0
    leaks = []
    for key in sorted(survivor_callable):
        operation = operations[key]
        answered = _fields(operation["responses"], components, set())
        asked = {p["name"] for p in operation.get("parameters", [])}
        asked |= _fields(operation.get("requestBody", {}), components, set())
        scanned += len(answered)
        leaks += [
            (*key, name)
            for name in answered | (asked - {"tag"} if key in TAG_TAKERS else asked)
            if MATCH_FIELD.search(name.lower()) and (*key, name) not in SURVIVOR_FIELDS_ALLOWED
        ]
    assert leaks == []
    # The pattern does catch what it should: the counselors' and admins' answers do speak
    # of matches (match_id, matches), which is why they are left out above.
    credentialed_match_fields = {
        name
        for key in set(operations) - survivor_callable
        for name in _fields(operations[key]["responses"], components, set())
        if MATCH_FIELD.search(name)
    }
    assert {"match_id", "matches"} <= credentialed_match_fields

    # 3. The answers themselves, where a route writes its JSON by hand: every GET a
    #    survivor can call without an id, called by a survivor whose entry has matched.
    ana = env.counselor("c-ana")
    first, second = env.survivor(), env.survivor()
    y = secrets.token_bytes(64)
    for survivor in (first, second):
        made = env.post_entry(survivor, [env.slot(y, survivor.account_id, ana)])
        assert made.status_code == 201
    inbox = env.client.get("/v1/counselor/inbox", headers=ana.headers()).json()["items"]
    assert len(inbox) == 2
    # A record too, so that the record list and the log have something to show.
    box = aead.seal(secrets.token_bytes(32), b"what happened", b"notalone/v1/record")
    record = {"record_id": secrets.token_hex(16), "ciphertext": box.hex()}
    assert env.client.post("/v1/records", json=record, headers=second.headers).status_code == 201
    live = 0
    for method, path in sorted(survivor_callable):
        parameters = operations[(method, path)].get("parameters", [])
        if method != "GET" or path == "/metrics" or any(p["required"] for p in parameters):
            continue
        response = env.client.get(path, headers=second.headers)
        assert response.status_code == 200, path
        live += 1
        leaks += [
            (method, path, name)
            for name in _json_keys(response.json())
            if MATCH_FIELD.search(name.lower())
            and (method, path, name) not in SURVIVOR_FIELDS_ALLOWED
        ]
    print(
        f"\noperations {len(operations)} (survivor-callable {len(survivor_callable)}, "
        f"credentialed {len(operations) - len(survivor_callable)}), undocumented routes "
        f"{len(undocumented)}; operations taking a tag: {len(takers)} ({_names(takers)}); "
        f"survivor answer fields scanned {scanned}, live survivor GETs {live}, "
        f"fields about matches or tags: {len(leaks)} (allowed: {len(SURVIVOR_FIELDS_ALLOWED)})"
    )
    assert leaks == []
