"""Answers that leave no sooner than a floor, so their timing says nothing.

An insert into the escrow that completes a match does more work than one that waits
(docs/escrow-api.md, "Not an oracle"). `ResponseFloorMiddleware` holds back the start of
the answer to the routes it is given until a fixed time after the request ARRIVED, for
every outcome: 201, refusals, replays, even a 401. Measuring from arrival, not from the
handler, keeps authentication and body parsing inside the window too. The wait is an
`asyncio.sleep` in the event loop: it holds no worker thread and no database connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from notalone.serving import ASGIApp, Message, Receive, Scope, Send


class ResponseFloorMiddleware:
    """Delay each answer to (method, path) until `floors[(method, path)]` seconds after
    its request arrived; other routes pass untouched."""

    def __init__(self, app: ASGIApp, floors: Mapping[tuple[str, str], float]) -> None:
        self.app = app
        self.floors = {key: value for key, value in floors.items() if value > 0}

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
                remaining = release_at - time.monotonic()
                if remaining > 0:
                    await asyncio.sleep(remaining)
            await send(message)

        await self.app(scope, receive, delayed_send)
