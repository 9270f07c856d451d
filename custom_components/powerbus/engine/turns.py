"""Turns on a shared line: one job of several requests at a time, commands before polls.

A device's poll and a device command each send several requests in a row. While
one job holds the turn, the others wait; when it ends, the waiting job with the
highest priority goes next (first come, first served within a priority). A write a
user asked for therefore waits at most for the poll that is running, never for a
whole round of polls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import IntEnum
import heapq
import itertools


class Priority(IntEnum):
    """Who goes first when the line frees up: the lower value."""

    COMMAND = 0
    POLL = 1


class Turns:
    """Grants the line to one job at a time, by priority, then in order of arrival."""

    def __init__(self) -> None:
        """Start with the line free and nobody waiting."""
        self._held = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    @property
    def waiting(self) -> int:
        """How many jobs wait for their turn."""
        return sum(1 for *_, future in self._waiting if not future.done())

    @asynccontextmanager
    async def hold(self, priority: Priority) -> AsyncIterator[None]:
        """Wait for the turn, hold it for the ``async with`` body, then pass it on."""
        await self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: Priority) -> None:
        """Take the line at once if it is free, else queue by priority and wait."""
        if not self._held and not self._waiting:
            self._held = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (int(priority), next(self._arrivals), future)
        heapq.heappush(self._waiting, entry)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                # The turn was granted just as the waiter was cancelled: pass it on.
                self._release()
            elif entry in self._waiting:  # a release may have dropped it already
                self._waiting.remove(entry)
                heapq.heapify(self._waiting)
            raise

    def _release(self) -> None:
        """Hand the line to the next waiter, or mark it free."""
        while self._waiting:
            *_, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)
                return
        self._held = False
