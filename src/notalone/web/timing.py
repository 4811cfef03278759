"""Answers that leave no sooner than a floor, so their timing says nothing.

An insert into the escrow that completes a match does more work than one that waits
(docs/escrow-api.md, "Not an oracle"). `ResponseFloorMiddleware` holds back the start of
the answer to the routes it is given until a fixed time after the request ARRIVED, for
every outcome: 201, refusals, replays, even a 401. Measuring from arrival, not from the
handler, keeps authentication and body parsing inside the window too.

The wait must not leak through its own precision. asyncio's own timers cannot be used:
the selector waits in whole milliseconds (epoll_wait) and asyncio rounds each timeout
up, so a sleep ends up to 1 ms late, by an amount set by the sub-millisecond moment the
loop went idle, that is, by how long the handler worked. Over 10,000 interleaved
requests, matched inserts answered 46 to 60 µs later than waiting ones (median of the
paired differences), above a noise floor of 39 to 40 µs; 26 µs of it was the wait's own
overshoot. So a `PreciseWaker` thread sleeps until each deadline with the operating system's timer
(nanosecond clock, a few tens of microseconds of slack, the same for every request) and
then wakes the loop at once through its self-pipe. The request holds no worker thread
and no database connection while it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Mapping

from notalone.serving import ASGIApp, Message, Receive, Scope, Send


class PreciseWaker:
    """Resolves asyncio futures at monotonic-clock deadlines, from one daemon thread.

    The thread starts on first use. `close()` stops it (the app's shutdown calls it);
    a request still waiting then finishes its wait on its loop's own timer, and a later
    `sleep_until` starts a new thread.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._deadlines: list[tuple[float, int, asyncio.AbstractEventLoop, asyncio.Future[None]]]
        self._deadlines = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def running(self) -> bool:
        """Whether the thread is up (it starts on the first wait that has to wait)."""
        with self._condition:
            return self._thread is not None and self._thread.is_alive()

    async def sleep_until(self, deadline: float) -> None:
        """Return once `time.monotonic()` has reached `deadline`."""
        if deadline <= time.monotonic():
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._condition:
            if self._stopping and self._thread is not None:
                # Closing: the thread is on its way out, the loop's timer must do.
                loop.call_at(deadline, _resolve, future)
            else:
                if self._thread is None:
                    self._stopping = False
                    self._thread = threading.Thread(
                        target=self._run, name="notalone-response-floor", daemon=True
                    )
                    self._thread.start()
                heapq.heappush(self._deadlines, (deadline, next(self._order), loop, future))
                self._condition.notify()
        await future

    def close(self) -> None:
        """Stop the thread, handing every pending wait to its own loop's timer."""
        with self._condition:
            thread = self._thread
            self._stopping = True
            self._condition.notify()
        if thread is not None:
            thread.join()
        with self._condition:
            if self._thread is thread:
                self._thread = None

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopping:
                    remaining = (
                        self._deadlines[0][0] - time.monotonic() if self._deadlines else None
                    )
                    if remaining is not None and remaining <= 0:
                        break
                    self._condition.wait(remaining)
                if self._stopping:
                    pending = [(d, loop, future) for d, _, loop, future in self._deadlines]
                    self._deadlines.clear()
                    for deadline, loop, future in pending:
                        _on_loop(loop, loop.call_at, deadline, _resolve, future)
                    return
                _, _, loop, future = heapq.heappop(self._deadlines)
            _on_loop(loop, _resolve, future)


def _on_loop(
    loop: asyncio.AbstractEventLoop, callback: Callable[..., object], *args: object
) -> None:
    """Run `callback(*args)` in `loop`'s thread, now; nothing if the loop has closed (then
    nobody waits on it any more)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback, *args)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():  # A request whose client left was cancelled meanwhile.
        future.set_result(None)


class ResponseFloorMiddleware:
    """Delay each answer to (method, path) until `floors[(method, path)]` seconds after
    its request arrived; other routes pass untouched."""

    def __init__(
        self, app: ASGIApp, floors: Mapping[tuple[str, str], float], waker: PreciseWaker
    ) -> None:
        self.app = app
        self.floors = {key: value for key, value in floors.items() if value > 0}
        self.waker = waker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        floor = (
            self.floors.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if floor is None:
            await self.app(scope, receive, send)
            return
        release_at = time.monotonic() + floor

        async def delayed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                await self.waker.sleep_until(release_at)
            await send(message)

        await self.app(scope, receive, delayed_send)
