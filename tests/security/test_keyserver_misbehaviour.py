"""Key-server misbehaviour: every bad evaluation is rejected and nothing is submitted.

A key server that is compromised, buggy or malicious can answer a survivor's blinded
elements with anything. The client must keep nothing from such an answer (docs/protocol.md
§3, §5): an element that is not a canonical, non-identity ristretto255 encoding is an
InvalidElementError, and an answer whose DLEQ proof does not verify against the server's
pinned pk_i is a ProofError. Five kinds of bad answer are generated, >= 5,000 of each, for
real blinded elements (a distinct identifier and a fresh blind each time), from the
genuine server's own correct answer:

- wrong key:      evaluated with another scalar, with a valid proof for that other key;
- bit flipped:    one random bit flipped in one evaluated element or in the proof;
- identity:       an evaluated element replaced by the identity encoding (32 zero bytes),
                  the proof recomputed over it by the server, which holds its share;
- non-canonical:  an evaluated element replaced by a non-canonical encoding of it (v + p,
                  v with bit 255 set, or p - v, a negative s: RFC 9496 section 4.3.1),
                  the proof likewise recomputed;
- wrong proof:    the proof of another evaluation by the same key, or 64 random bytes.

Each is fed to `finalize_threshold` together with an honest second answer, as
FederationClient does before it combines, and must be rejected with the expected error.
Then, once per kind, a real survivor flow (`survivor.add_entry`) runs against key-server
apps where server 1 rewrites its genuine answers this way, server 2 is honest and server 3
is down: with fewer than τ = 2 valid answers, nothing may reach the escrow.
"""

from __future__ import annotations

import collections
import functools
import json
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import httpx
import pysodium
import pytest

from notalone.client import survivor
from notalone.client.escrow import Counselor, DeploymentInfo, EscrowClient
from notalone.client.keyservers import ServerEvent
from notalone.crypto import group, hpke, oprf, threshold
from notalone.crypto.threshold import Federation, KeyShare, ShareEvaluation
from notalone.errors import InvalidElementError, NotAloneError, ProofError, ThresholdError
from notalone.protocol.accounts import DataKey
from notalone.protocol.slots import Slot
from tests.client.conftest import (
    DEPLOYMENT_ID,
    AppTransport,
    Deployed,
    deployed,  # noqa: F401 - imported to register the fixture.
)

PER_KIND = 5_000
#: p = 2^255 - 19, the field ristretto255 encodes its elements in.
FIELD_PRIME = 2**255 - 19
ACCOUNT = bytes.fromhex("a1" * 16)
URLS = ("http://ks1.test", "http://ks2.test", "http://ks3.test")


@dataclass(frozen=True)
class Genuine:
    """What a tampering server starts from: its share, the blinded elements it was sent,
    its correct answer, and its correct answer to some other elements."""

    share: KeyShare
    blinded: list[bytes]
    answer: ShareEvaluation
    other: ShareEvaluation


Tamper = Callable[[Genuine, random.Random], tuple[ShareEvaluation, type[NotAloneError]]]


def _with_element(
    genuine: Genuine, position: int, element: bytes, *, reprove: bool
) -> ShareEvaluation:
    """The genuine answer with one element replaced; with `reprove`, the server (which
    holds its share) also recomputes its proof over the elements it now sends."""
    elements = list(genuine.answer.evaluated_elements)
    elements[position] = element
    proof = genuine.answer.proof
    if reprove:
        share = genuine.share
        proof = oprf.generate_proof(
            share.secret_key, group.GENERATOR, share.public_key, genuine.blinded, elements,
            threshold.MODE,
        )  # fmt: skip
    return ShareEvaluation(genuine.answer.index, tuple(elements), proof)


def _is_valid_encoding(data: bytes) -> bool:
    """RFC 9496 decoding, as an oracle independent of the product's: the value must be
    below p (so bit 255 is clear; libsodium 1.0.18 does not look at that bit), and the
    rest is libsodium's decoder; RFC 9497 adds that the identity is never valid."""
    return (
        data[31] < 0x80
        and data != group.IDENTITY
        and bool(pysodium.crypto_core_ristretto255_is_valid_point(data))
    )


def wrong_key(genuine: Genuine, rng: random.Random) -> tuple[ShareEvaluation, type[NotAloneError]]:
    """Evaluated under another scalar, with a proof that verifies for that scalar's key."""
    other = group.random_scalar()
    impostor = KeyShare(genuine.share.index, other, group.mult_base(other))
    return threshold.evaluate_share(impostor, genuine.blinded), ProofError


def bit_flipped(
    genuine: Genuine, rng: random.Random
) -> tuple[ShareEvaluation, type[NotAloneError]]:
    """One random bit of one evaluated element or of the proof, flipped."""
    answer = genuine.answer
    target = rng.randrange(len(answer.evaluated_elements) + 1)
    if target == len(answer.evaluated_elements):
        bit = rng.randrange(8 * len(answer.proof))
        proof = bytearray(answer.proof)
        proof[bit // 8] ^= 1 << (bit % 8)
        return ShareEvaluation(answer.index, answer.evaluated_elements, bytes(proof)), ProofError
    bit = rng.randrange(8 * group.ELEMENT_BYTES)
    element = bytearray(answer.evaluated_elements[target])
    element[bit // 8] ^= 1 << (bit % 8)
    # A flip that still decodes gives another point, which the proof does not cover.
    expected = ProofError if _is_valid_encoding(bytes(element)) else InvalidElementError
    return _with_element(genuine, target, bytes(element), reprove=False), expected


def identity(genuine: Genuine, rng: random.Random) -> tuple[ShareEvaluation, type[NotAloneError]]:
    """One evaluated element replaced by the identity encoding, the proof recomputed."""
    position = rng.randrange(len(genuine.answer.evaluated_elements))
    return _with_element(genuine, position, group.IDENTITY, reprove=True), InvalidElementError


#: Non-canonical encodings of an element's field value v (RFC 9496 section 4.3.1): a value
#: >= p that reduces to v, v with bit 255 set, and p - v (odd: a negative s).
NON_CANONICAL: dict[str, Callable[[int], int]] = {
    "v + p": lambda v: v + FIELD_PRIME,
    "v + 2^255": lambda v: v | 1 << 255,
    "p - v": lambda v: FIELD_PRIME - v,
}


def non_canonical(
    genuine: Genuine, rng: random.Random, variant: str | None = None
) -> tuple[ShareEvaluation, type[NotAloneError]]:
    """One evaluated element replaced by a non-canonical encoding (`variant`, or one
    drawn at random), the proof recomputed over what is sent."""
    position = rng.randrange(len(genuine.answer.evaluated_elements))
    v = int.from_bytes(genuine.answer.evaluated_elements[position], "little")
    encode = NON_CANONICAL[variant or rng.choice(sorted(NON_CANONICAL))]
    encoding = encode(v).to_bytes(group.ELEMENT_BYTES, "little")
    return _with_element(genuine, position, encoding, reprove=True), InvalidElementError


def wrong_proof(
    genuine: Genuine, rng: random.Random
) -> tuple[ShareEvaluation, type[NotAloneError]]:
    """The right elements with the proof of another evaluation by the same key, or with
    64 random bytes."""
    proof = genuine.other.proof if rng.random() < 0.5 else rng.randbytes(oprf.PROOF_BYTES)
    answer = genuine.answer
    return ShareEvaluation(answer.index, answer.evaluated_elements, proof), ProofError


KINDS: dict[str, Tamper] = {
    "wrong-key": wrong_key,
    "bit-flipped": bit_flipped,
    "identity": identity,
    "non-canonical": non_canonical,
    "wrong-proof": wrong_proof,
}


# ------------------------------------------------------------- the client's verification


@dataclass(frozen=True)
class Evaluations:
    """PER_KIND real evaluations: a distinct identifier and a fresh blind each, with the
    genuine, proven answers of key servers 1 and 2 of a 2-of-3 federation."""

    secret_key: bytes
    federation: Federation
    share: KeyShare
    inputs: list[bytes]
    blinds: list[bytes]
    blinded: list[bytes]
    answers_1: list[ShareEvaluation]
    answers_2: list[ShareEvaluation]


@pytest.fixture(scope="module")
def evaluations() -> Evaluations:
    secret_key = group.random_scalar()
    federation, shares = threshold.deal(secret_key, 2, 3)
    inputs = [b"notalone/v1/id|email|person-%d@example.org" % i for i in range(PER_KIND)]
    blinds, blinded = map(list, zip(*(oprf.blind(x, threshold.MODE) for x in inputs), strict=True))
    made = Evaluations(
        secret_key,
        federation,
        shares[0],
        inputs,
        blinds,
        blinded,
        [threshold.evaluate_share(shares[0], [b]) for b in blinded],
        [threshold.evaluate_share(shares[1], [b]) for b in blinded],
    )
    # The genuine answers do combine, so a rejection below is the tampering's doing.
    x, r, b = inputs[0], blinds[0], blinded[0]
    combined = threshold.finalize_threshold(
        federation, [x], [r], [b], [made.answers_1[0], made.answers_2[0]]
    )
    assert combined == [oprf.evaluate(secret_key, x, threshold.MODE)]
    return made


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_bad_answer_is_rejected_by_the_client(evaluations: Evaluations, kind: str) -> None:
    """>= 5,000 distinct bad answers of one kind: finalize_threshold, given each with an
    honest second answer, rejects 100 % of them with the error the kind calls for."""
    e = evaluations
    tamper = KINDS[kind]
    rng = random.Random(secrets.randbits(64))
    generated: set[tuple[tuple[bytes, ...], bytes]] = set()
    rejected = as_expected = 0
    wrong: list[str] = []
    for i, (x, r, b) in enumerate(zip(e.inputs, e.blinds, e.blinded, strict=True)):
        genuine = Genuine(e.share, [b], e.answers_1[i], e.answers_1[(i + 1) % PER_KIND])
        bad, expected = tamper(genuine, rng)
        generated.add((bad.evaluated_elements, bad.proof))
        try:
            threshold.finalize_threshold(e.federation, [x], [r], [b], [bad, e.answers_2[i]])
        except NotAloneError as error:
            rejected += 1
            if type(error) is expected:
                as_expected += 1
            else:
                wrong.append(f"{type(error).__name__} instead of {expected.__name__}")
        else:
            high_bit = any(element[31] & 0x80 for element in bad.evaluated_elements)
            wrong.append("accepted, bit 255 set" if high_bit else "accepted")
    n = len(generated)
    print(f"\n{kind}: generated {n}, rejected {rejected} of {n}, {as_expected} with", end="")
    print(f" the expected error; {len(wrong)} not: {dict(collections.Counter(wrong))}")
    assert n >= PER_KIND
    assert rejected == n, wrong[:3]
    assert as_expected == n, wrong[:3]


# ----------------------------------------------------------------- the whole survivor flow


class TamperingTransport(httpx.BaseTransport):
    """Key server 1's genuine app behind a proxy that rewrites every evaluation it answers."""

    def __init__(self, inner: AppTransport, share: KeyShare, tamper: Tamper | None) -> None:
        self.inner = inner
        self.share = share
        self.tamper = tamper
        self.rng = random.Random(secrets.randbits(64))
        self.tampered = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.tamper is None or request.url.path != "/v1/evaluate" or response.status_code != 200:
            return response
        body = json.loads(response.content)
        blinded = [bytes.fromhex(h) for h in json.loads(request.content)["blinded_elements"]]
        answer = ShareEvaluation(
            body["index"],
            tuple(bytes.fromhex(e) for e in body["evaluated_elements"]),
            bytes.fromhex(body["proof"]),
        )
        _, elsewhere = oprf.blind(secrets.token_bytes(16), threshold.MODE)
        other = threshold.evaluate_share(self.share, [elsewhere])
        bad, _ = self.tamper(Genuine(self.share, blinded, answer, other), self.rng)
        assert (bad.evaluated_elements, bad.proof) != (answer.evaluated_elements, answer.proof)
        body["evaluated_elements"] = [e.hex() for e in bad.evaluated_elements]
        body["proof"] = bad.proof.hex()
        self.tampered += 1
        return httpx.Response(200, json=body)


class Router(httpx.BaseTransport):
    """One httpx client for every key server, as the survivor's session has."""

    def __init__(self, routes: dict[str, httpx.BaseTransport]) -> None:
        self.routes = routes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.routes[request.url.host].handle_request(request)


@dataclass
class RecordingEscrow:
    """The escrow as `survivor.add_entry` uses it; it records every entry submitted."""

    http: httpx.Client
    deployed: Deployed
    counselor: Counselor
    tickets: int = 0
    submitted: list[tuple[bytes, tuple[Slot, ...]]] = field(default_factory=list)

    def counselors(self) -> list[Counselor]:
        return [self.counselor]

    def ticket(self) -> bytes:
        self.tickets += 1
        return self.deployed.ticket(ACCOUNT)

    def create_entry(
        self,
        entry_id: bytes,
        entry_copy: bytes,
        slots: tuple[Slot, ...],
        *,
        idempotency_key: str | None = None,
    ) -> None:
        self.submitted.append((entry_id, tuple(slots)))


def _add_entry(
    apps: Deployed, tamper: Tamper | None
) -> tuple[RecordingEscrow, TamperingTransport, list[ServerEvent], NotAloneError | None]:
    """Run survivor.add_entry with server 1 tampering (if `tamper`), 2 honest, 3 down."""
    for index in (1, 2, 3):
        apps.server(index)
    apps.transports[URLS[2]].down = True
    proxy = TamperingTransport(apps.transports[URLS[0]], apps.shares[0], tamper)
    routes: dict[str, httpx.BaseTransport] = {
        "ks1.test": proxy,
        "ks2.test": apps.transports[URLS[1]],
        "ks3.test": apps.transports[URLS[2]],
    }
    _, counselor_pk = hpke.generate_key_pair()
    counselor = Counselor("c-ana", "Ana", counselor_pk, "fingerprint", bytes(64))
    events: list[ServerEvent] = []
    with httpx.Client(transport=Router(routes)) as http:
        escrow = RecordingEscrow(http, apps, counselor)
        session = survivor.SurvivorSession(
            escrow=cast(EscrowClient, escrow),
            username="quiet-otter-42",
            account_id=ACCOUNT,
            data_key=DataKey(secrets.token_bytes(32)),
            token="token",
            key_bundle=b"",
            _deployment=DeploymentInfo(
                deployment_id=DEPLOYMENT_ID,
                match_threshold=2,
                federation=apps.federation,
                key_servers=URLS,
                ticket_public_key=apps.issuer.public_key,
                log_public_key=bytes(32),
            ),
        )
        try:
            survivor.add_entry(
                session,
                [("email", "Someone@Example.org", None), ("phone", "(415) 555-0134", "US")],
                counselor_id="c-ana",
                contact="signal: +1 555 0100",
                progress=events.append,
            )
        except NotAloneError as e:
            return escrow, proxy, events, e
    return escrow, proxy, events, None


@pytest.fixture
def apps(request: pytest.FixtureRequest) -> Deployed:
    """The client tests' real 2-of-3 federation of key-server apps (tests/client)."""
    dealt: Deployed = request.getfixturevalue("deployed")
    return dealt


def test_honest_servers_submit_one_entry(apps: Deployed) -> None:
    """Control: with servers 1 and 2 honest (3 down) the same flow submits its entry, so
    the harness does see a submission when there is one."""
    escrow, _, _, error = _add_entry(apps, None)
    print(f"\ncontrol (no tampering): {len(escrow.submitted)} entry submitted")
    assert error is None
    assert len(escrow.submitted) == 1
    assert len(escrow.submitted[0][1]) == 2


#: Every kind once, and each non-canonical encoding once, through the whole flow.
FLOW_CASES: dict[str, Tamper] = {
    **{kind: tamper for kind, tamper in KINDS.items() if kind != "non-canonical"},
    **{
        f"non-canonical ({variant})": functools.partial(non_canonical, variant=variant)
        for variant in NON_CANONICAL
    },
}


@pytest.mark.parametrize("kind", list(FLOW_CASES))
def test_a_misbehaving_server_leaves_nothing_submitted(apps: Deployed, kind: str) -> None:
    """One tampering server, one honest, one down: fewer than τ valid answers, so the
    survivor's client stops with ThresholdError and submits nothing."""
    escrow, proxy, events, error = _add_entry(apps, FLOW_CASES[kind])
    print(
        f"\n{kind} through FederationClient: {proxy.tampered} answer(s) tampered,"
        f" {len(escrow.submitted)} entries submitted"
    )
    assert isinstance(error, ThresholdError)
    assert "1 of the 2 key servers needed gave a valid answer" in str(error)
    assert proxy.tampered == 1  # server 1 did answer, and its answer was refused
    assert apps.transports[URLS[1]].evaluations() == 1
    outcomes = {(e.url, e.outcome) for e in events}
    assert (URLS[0], "invalid") in outcomes
    assert (URLS[1], "answered") in outcomes
    assert escrow.submitted == []
