"""The survivor's client of the key servers (docs/protocol.md §5 and §5.2).

    KeyServerClient(base_url, http)       one key server: GET /v1/keys, POST /v1/evaluate
    FederationClient(federation, servers) τ of n key servers: blind, ask, verify, combine

The client trusts a *pinned* federation (τ, pk and every pk_i, from the deployment's
`federation.json`), never what a key server says about itself. Before it sends anything
to be evaluated it asks every key server for its keys and stops with an error if one of
them advertises keys the pin does not hold: a deployment whose servers disagree with the
client's federation.json is misconfigured, or the pin is stale, and either must be fixed
rather than worked around silently.

Every answer is verified on its own against the pinned pk_i before it is kept, so one
key server that is down, refuses, or answers with a wrong key is skipped (and named) and
the next one is asked; nothing from a failed answer is ever combined. Only identifiers'
blinded elements leave the client, and no message, repr or log line here carries an
identifier, a blinded element, a ticket or a key.

Errors (all from notalone.errors, plus KeyServerUnavailableError):

    KeyServerUnavailableError  the server cannot be reached or failed (network, 5xx)
    TicketError                the server refused the ticket (401)
    LimitError                 the ticket's quota is used up (429, retry_after_seconds)
    InvalidElementError        the server refused a blinded element (422)
    EncodingError              the server refused the request's shape (400, 413), or its
                               answer is malformed
    InputError                 any other 4xx (a wrong URL: 404, 405)
    ThresholdError             fewer than τ valid answers, or the servers do not match
                               the pinned federation
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from notalone.client._problems import problem_text, retry_after
from notalone.crypto import group, oprf
from notalone.crypto.oprf import Mode
from notalone.crypto.threshold import (
    Federation,
    ShareEvaluation,
    finalize_threshold,
    verify_federation,
)
from notalone.errors import (
    EncodingError,
    InputError,
    InvalidElementError,
    LimitError,
    NotAloneError,
    ProofError,
    ThresholdError,
    TicketError,
    UnavailableError,
)
from notalone.protocol.federation import federation_from_json

__all__ = [
    "MAX_BATCH",
    "FederationClient",
    "KeyServerClient",
    "KeyServerKeys",
    "KeyServerUnavailableError",
    "Outcome",
    "ServerEvent",
]

#: The most blinded elements a key server evaluates in one request (§5.2).
MAX_BATCH = 64
SUITE = "ristretto255-SHA512"
MODE = Mode.VOPRF

_ELEMENT_HEX = re.compile(r"[0-9a-f]{64}")
_PROOF_HEX = re.compile(r"[0-9a-f]{128}")
_ID_HEX = re.compile(r"[0-9a-f]{32}")


class KeyServerUnavailableError(UnavailableError):
    """A key server cannot be reached or failed (network error, timeout, 5xx); try another.

    `url` names the server.
    """

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


@dataclass(frozen=True)
class KeyServerKeys:
    """What a key server says about itself at GET /v1/keys (all public)."""

    index: int
    public_key: bytes
    federation: Federation
    deployment_id: bytes
    ticket_public_key: bytes
    ticket_period_ms: int
    suite: str
    mode: int


class KeyServerClient:
    """One key server's HTTP API, over a caller-owned `httpx.Client`.

    The caller owns the client so that timeouts, TLS settings and connection reuse are
    decided once, at the edge; this class sets no defaults of its own.
    """

    def __init__(self, base_url: str, http: httpx.Client) -> None:
        try:
            url = httpx.URL(base_url)
        except httpx.InvalidURL:
            raise InputError("a key server URL must be an http:// or https:// URL") from None
        if url.scheme not in {"http", "https"} or not url.host:
            raise InputError("a key server URL must be an http:// or https:// URL")
        self._base = str(url.copy_with(query=None, fragment=None)).rstrip("/")
        # Shown in messages: without user:password, which must not reach a log.
        shown = url.copy_with(username=None, password=None, query=None, fragment=None)
        self.url = str(shown).rstrip("/")
        self._http = http

    def __repr__(self) -> str:
        return f"KeyServerClient({self.url!r})"

    def keys(self) -> KeyServerKeys:
        """GET /v1/keys, parsed and checked for shape (not for trust: see FederationClient)."""
        body = self._request("GET", "/v1/keys", None)
        try:
            federation = federation_from_json(body["federation"])
            return KeyServerKeys(
                index=_int(body["index"]),
                public_key=_hex(body["public_key"], _ELEMENT_HEX),
                federation=federation,
                deployment_id=_hex(body["deployment_id"], _ID_HEX),
                ticket_public_key=_hex(body["ticket_public_key"], _ELEMENT_HEX),
                ticket_period_ms=_int(body["ticket_period_ms"]),
                suite=_str(body["suite"]),
                mode=_int(body["mode"]),
            )
        except (KeyError, TypeError, ValueError, EncodingError):
            raise EncodingError(f"key server {self.url} sent malformed keys") from None

    def evaluate(self, ticket: bytes, blinded: Sequence[bytes]) -> ShareEvaluation:
        """POST /v1/evaluate: this server's Z_i for each blinded element and its proof.

        The answer is checked for shape and count only; its proof is verified by the
        caller against the pinned pk_i (FederationClient does).
        """
        if not 1 <= len(blinded) <= MAX_BATCH:
            raise InputError(f"a key server evaluates 1 to {MAX_BATCH} elements per request")
        request = {"ticket": ticket.hex(), "blinded_elements": [b.hex() for b in blinded]}
        body = self._request("POST", "/v1/evaluate", request)
        try:
            elements = tuple(_hex(e, _ELEMENT_HEX) for e in _list(body["evaluated_elements"]))
            evaluation = ShareEvaluation(
                index=_int(body["index"]),
                evaluated_elements=elements,
                proof=_hex(body["proof"], _PROOF_HEX),
            )
        except (KeyError, TypeError, ValueError):
            raise EncodingError(f"key server {self.url} sent a malformed evaluation") from None
        if len(evaluation.evaluated_elements) != len(blinded):
            raise EncodingError(
                f"key server {self.url} answered {len(evaluation.evaluated_elements)} "
                f"element(s) for {len(blinded)}"
            )
        return evaluation

    def _request(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        try:
            response = self._http.request(
                method, self._base + path, json=body, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as e:
            # `from None`: the cause's request holds the ticket and the blinded elements;
            # the class name is enough to tell a refused connection from a timeout.
            raise KeyServerUnavailableError(
                f"key server {self.url} could not be reached ({type(e).__name__})", self.url
            ) from None
        if response.status_code >= 300:
            raise self._refusal(response)
        try:
            parsed = response.json()
        except ValueError:
            raise EncodingError(f"key server {self.url} answered with invalid JSON") from None
        if not isinstance(parsed, dict):
            raise EncodingError(f"key server {self.url} answered with something not an object")
        return parsed

    def _refusal(self, response: httpx.Response) -> NotAloneError:
        status = response.status_code
        title, detail = problem_text(response)
        said = f"key server {self.url} answered {status} {title}" + (
            f": {detail}" if detail else ""
        )
        if status >= 500:
            return KeyServerUnavailableError(said, self.url)
        if status == 401:
            return TicketError(said)
        if status == 429:
            return LimitError(said, retry_after(response.headers.get("retry-after")))
        if status == 422:
            return InvalidElementError(said)
        if status in {400, 413}:
            return EncodingError(said)
        return InputError(said)


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("not an integer")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("not a list")
    return value


def _hex(value: object, pattern: re.Pattern[str]) -> bytes:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError("not lower-case hex of the right length")
    return bytes.fromhex(value)


# --------------------------------------------------------------------------- federation

Outcome = Literal["asking", "answered", "unreachable", "refused", "invalid"]


@dataclass(frozen=True)
class ServerEvent:
    """One step of a federated evaluation, for a progress display; it holds no secret.

    `outcome` is "asking" before a request and the result after it; `valid` counts the
    verified answers so far and `needed` is τ; `reason` says why a server was skipped.
    """

    url: str
    outcome: Outcome
    valid: int
    needed: int
    reason: str = ""


ProgressCallback = Callable[[ServerEvent], None]


FailureKind = Literal["unreachable", "ticket", "limit", "invalid"]
_OUTCOMES: dict[FailureKind, Outcome] = {
    "unreachable": "unreachable",
    "ticket": "refused",
    "limit": "refused",
    "invalid": "invalid",
}


@dataclass(frozen=True)
class _Failure:
    url: str
    kind: FailureKind
    error: NotAloneError


class FederationClient:
    """The τ-of-n key-server federation of one deployment, pinned by its federation.json.

    `servers` are asked in the order given until τ of them have answered with a verified
    evaluation. `deployment_id`, when given, must be the one every server advertises.
    """

    def __init__(
        self,
        federation: Federation,
        servers: Sequence[KeyServerClient],
        *,
        deployment_id: bytes | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        verify_federation(federation)
        if len(servers) < federation.threshold:
            raise InputError(
                f"this deployment needs {federation.threshold} key servers; "
                f"{len(servers)} configured"
            )
        self.federation = federation
        self.servers = tuple(servers)
        self._deployment_id = deployment_id
        self._progress = progress
        # The index each server advertised and the pin confirmed; None until checked.
        self._indices: list[int | None] = [None] * len(self.servers)
        self._checked_once = False

    def __repr__(self) -> str:
        return (
            f"FederationClient(threshold={self.federation.threshold}, "
            f"servers={[s.url for s in self.servers]!r})"
        )

    def check(self) -> None:
        """Ask every key server for its keys and check them against the pin.

        A server that cannot be reached is left unchecked (and checked again before it is
        asked to evaluate); any other disagreement raises ThresholdError naming it.
        """
        for position, server in enumerate(self.servers):
            if not self._check_server(position):
                self._report(
                    server.url, "unreachable", 0, f"key server {server.url} is unreachable"
                )
        self._checked_once = True

    def evaluate(self, inputs: Sequence[bytes], ticket: bytes) -> list[bytes]:
        """The VOPRF outputs y = F(k, x) for `inputs`, from one batch to τ key servers.

        Raises ThresholdError if fewer than τ servers gave a verified answer, TicketError
        if that is because servers refused the ticket, LimitError if because of quotas.
        """
        if not 1 <= len(inputs) <= MAX_BATCH:
            raise InputError(f"one evaluation holds 1 to {MAX_BATCH} identifiers")
        if not self._checked_once:
            self.check()
        blinds: list[bytes] = []
        blinded: list[bytes] = []
        for x in inputs:
            r, b = oprf.blind(x, MODE)
            blinds.append(r)
            blinded.append(b)
        needed = self.federation.threshold
        answers: list[ShareEvaluation] = []
        failures: list[_Failure] = []
        for position, server in enumerate(self.servers):
            if len(answers) >= needed:
                break
            self._report(server.url, "asking", len(answers))
            failure = self._ask(position, ticket, blinded, answers)
            if failure is None:
                self._report(server.url, "answered", len(answers))
            else:
                failures.append(failure)
                outcome = _OUTCOMES[failure.kind]
                self._report(server.url, outcome, len(answers), str(failure.error))
        if len(answers) < needed:
            raise _shortfall(len(answers), needed, failures)
        # Every answer here verified on its own; finalize_threshold verifies them again
        # and refuses all if any fails, so nothing unverified can be combined.
        return finalize_threshold(self.federation, inputs, blinds, blinded, answers)

    def evaluator(self, ticket: bytes) -> Callable[[list[bytes]], list[bytes]]:
        """`evaluate` bound to one ticket: the `oprf` callable that prepare_entry takes."""

        def evaluate(inputs: list[bytes]) -> list[bytes]:
            return self.evaluate(inputs, ticket)

        return evaluate

    # ------------------------------------------------------------------- internals

    def _ask(
        self,
        position: int,
        ticket: bytes,
        blinded: list[bytes],
        answers: list[ShareEvaluation],
    ) -> _Failure | None:
        server = self.servers[position]
        try:
            if not self._check_server(position):
                return _Failure(
                    server.url,
                    "unreachable",
                    KeyServerUnavailableError(
                        f"key server {server.url} is unreachable", server.url
                    ),
                )
            expected = self._indices[position]
            answer = server.evaluate(ticket, blinded)
            self._verify_answer(server, expected, blinded, answer)
        except KeyServerUnavailableError as e:
            return _Failure(server.url, "unreachable", e)
        except TicketError as e:
            return _Failure(server.url, "ticket", e)
        except LimitError as e:
            return _Failure(server.url, "limit", e)
        except ThresholdError:
            raise  # The server disagrees with the pin: stop, as check() does.
        except NotAloneError as e:
            # Malformed, wrong count, invalid element, failed proof: a faulty server.
            return _Failure(server.url, "invalid", e)
        answers.append(answer)
        return None

    def _check_server(self, position: int) -> bool:
        """True once the server's keys matched the pin; False if it cannot be reached."""
        if self._indices[position] is not None:
            return True
        server = self.servers[position]
        try:
            keys = server.keys()
        except KeyServerUnavailableError:
            return False
        except NotAloneError as e:
            raise ThresholdError(
                f"key server {server.url} did not say which keys it holds: {e}"
            ) from None
        problem = self._disagreement(keys)
        if problem is not None:
            raise ThresholdError(
                f"key server {server.url} {problem}; check the deployment's federation.json"
            )
        for other, index in enumerate(self._indices):
            if index == keys.index and other != position:
                raise ThresholdError(
                    f"key servers {self.servers[other].url} and {server.url} both claim "
                    f"index {index}"
                )
        self._indices[position] = keys.index
        return True

    def _disagreement(self, keys: KeyServerKeys) -> str | None:
        pinned = self.federation
        if keys.suite != SUITE or keys.mode != MODE:
            return f"uses another OPRF suite or mode than {SUITE} mode {int(MODE)}"
        if self._deployment_id is not None and keys.deployment_id != self._deployment_id:
            return "belongs to another deployment"
        if (keys.index, keys.public_key) not in pinned.share_public_keys:
            return f"advertises a key for index {keys.index} that the pinned federation lacks"
        advertised = keys.federation
        if (
            advertised.threshold != pinned.threshold
            or advertised.public_key != pinned.public_key
            or sorted(advertised.share_public_keys) != sorted(pinned.share_public_keys)
        ):
            return "advertises another federation than the pinned one"
        return None

    def _verify_answer(
        self,
        server: KeyServerClient,
        expected: int | None,
        blinded: list[bytes],
        answer: ShareEvaluation,
    ) -> None:
        if answer.index != expected:
            raise ProofError(f"key server {server.url} answered as another index than its own")
        public_key = self.federation.share_public_key(answer.index)
        evaluated = [
            group.decode_element(e, f"element from key server {server.url}")
            for e in answer.evaluated_elements
        ]
        try:
            oprf.verify_proof(group.GENERATOR, public_key, blinded, evaluated, answer.proof, MODE)
        except ProofError:
            raise ProofError(
                f"key server {server.url} (index {answer.index}) answered with a proof that "
                "does not verify: it does not hold its pinned key"
            ) from None

    def _report(self, url: str, outcome: Outcome, valid: int, reason: str = "") -> None:
        if self._progress is not None:
            self._progress(ServerEvent(url, outcome, valid, self.federation.threshold, reason))


def _shortfall(valid: int, needed: int, failures: list[_Failure]) -> NotAloneError:
    """The error for too few answers: the one the user can act on, naming the servers."""
    answered = f"{valid} of the {needed} key servers needed gave a valid answer"
    ticket = [f for f in failures if f.kind == "ticket"]
    limit = [f for f in failures if f.kind == "limit"]
    if ticket:
        return TicketError(
            f"{answered}; {len(ticket)} refused the evaluation ticket ({ticket[0].error}); "
            "ask the escrow for a new ticket"
        )
    if limit:
        waits = [
            f.error.retry_after_seconds
            for f in limit
            if isinstance(f.error, LimitError) and f.error.retry_after_seconds is not None
        ]
        # The longest wait: τ servers must have quota again, not just the first one.
        retry = max(waits) if waits else None
        return LimitError(
            f"{answered}; {len(limit)} refused because the evaluation quota is used up",
            retry,
        )
    labels = {"unreachable": "unreachable", "invalid": "wrong answer"}
    named = "; ".join(f"{f.url}: {labels[f.kind]}" for f in failures)
    return ThresholdError(f"{answered} ({named})" if named else answered)
