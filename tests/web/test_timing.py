"""The response floor's waker: never early, across loops, cancellations and a
close. (Whether the floor hides the match work is tests/web/test_entry_timing.py's job:
these tests check lower bounds and completion only, nothing a busy machine can move.)"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from fastapi.testclient import TestClient

from notalone.web.app import create_app
from notalone.web.timing import PreciseWaker
from tests.web.conftest import Env


def _run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """`asyncio.run(main())` in a thread of its own: the browser tests' session-wide
    Playwright keeps an event loop running in the main thread of a pytest worker."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, main()).result(timeout=60)


async def _wait(waker: PreciseWaker, deadline: float, woken: list[tuple[float, float]]) -> None:
    await waker.sleep_until(deadline)
    woken.append((deadline, time.monotonic()))


def test_no_wait_ends_before_its_deadline() -> None:
    waker = PreciseWaker()
    chance = random.Random(20261130)
    woken: list[tuple[float, float]] = []

    async def main() -> None:
        now = time.monotonic()
        deadlines = [now + chance.uniform(0.0, 0.03) for _ in range(300)]
        await asyncio.gather(*(_wait(waker, d, woken) for d in deadlines))

    try:
        _run(main)
    finally:
        waker.close()
    assert len(woken) == 300
    assert all(at >= deadline for deadline, at in woken)


def test_a_deadline_already_past_returns_without_a_thread() -> None:
    waker = PreciseWaker()
    _run(lambda: waker.sleep_until(time.monotonic() - 1))
    assert not waker.running
    waker.close()


def test_a_cancelled_wait_leaves_the_others_alone() -> None:
    waker = PreciseWaker()
    woken: list[tuple[float, float]] = []

    async def main() -> None:
        now = time.monotonic()
        left = asyncio.create_task(_wait(waker, now + 0.01, woken))
        stay = asyncio.create_task(_wait(waker, now + 0.02, woken))
        await asyncio.sleep(0.001)
        left.cancel()
        await stay
        assert left.cancelled()

    try:
        _run(main)
    finally:
        waker.close()
    assert len(woken) == 1
    assert woken[0][1] >= woken[0][0]


def test_waits_of_two_event_loops_share_the_thread() -> None:
    waker = PreciseWaker()
    woken: list[tuple[float, float]] = []

    def run_loop() -> None:
        async def main() -> None:
            now = time.monotonic()
            await asyncio.gather(*(_wait(waker, now + i / 1000, woken) for i in range(20)))

        asyncio.run(main())

    loops = [threading.Thread(target=run_loop) for _ in range(2)]
    try:
        for loop in loops:
            loop.start()
        for loop in loops:
            loop.join(timeout=10)
    finally:
        waker.close()
    assert len(woken) == 40
    assert all(at >= deadline for deadline, at in woken)


def test_closing_hands_pending_waits_to_their_loop_and_a_later_wait_restarts() -> None:
    waker = PreciseWaker()
    woken: list[tuple[float, float]] = []

    async def main() -> None:
        deadline = time.monotonic() + 0.05
        pending = [asyncio.create_task(_wait(waker, deadline, woken)) for _ in range(5)]
        await asyncio.sleep(0.005)
        await asyncio.to_thread(waker.close)
        assert not waker.running
        await asyncio.gather(*pending)
        # Still padded after the close, then served by a new thread.
        await _wait(waker, time.monotonic() + 0.01, woken)
        assert waker.running

    try:
        _run(main)
    finally:
        waker.close()
    assert len(woken) == 6
    assert all(at >= deadline for deadline, at in woken)
    assert not waker.running


def test_the_app_stops_its_waker_on_shutdown(env: Env) -> None:
    # A floor no loaded machine overruns: an answer later than the floor needs no waiting.
    app = create_app(replace(env.settings, entry_response_floor_ms=1000), env.services)
    with TestClient(app, base_url="https://testserver") as client:
        survivor = env.survivor()
        response = client.post("/v1/entries", json={}, headers=survivor.headers)
        assert response.status_code == 400
        assert app.state.response_waker.running
    assert not app.state.response_waker.running
