"""The scheduler of one link: its devices' polls, in strict order, at their intervals.

Every device session on the link knows which of its groups are due. The scheduler
polls the due devices one after the other (the bus keeps the spacing between
requests), so that two devices never talk over each other. A front end either
calls :meth:`Scheduler.run_due` from its own timer (Home Assistant's coordinator
does) or lets :meth:`Scheduler.run` wait for the next due time itself (the MQTT
bridge does).

When the line is too slow for the intervals asked, the scheduler does not drift
silently: :meth:`Scheduler.timings` reports, per device and group, the interval
asked and the interval achieved, and :meth:`Scheduler.shortfalls` the ones that
fall short.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
import logging
import math
import time

from .session import DeviceSession
from .snapshot import DeviceSnapshot, GroupTiming

_LOGGER = logging.getLogger(__name__)

PollListener = Callable[[DeviceSession, DeviceSnapshot], Awaitable[None] | None]
"""Called after every poll of a device with its new snapshot."""


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceTiming:
    """The asked and achieved intervals of one device's groups."""

    session: DeviceSession
    groups: tuple[GroupTiming, ...]

    @property
    def shortfall(self) -> bool:
        """Whether any group of the device is read noticeably less often than asked."""
        return any(group.shortfall for group in self.groups)


class Scheduler:
    """Polls the devices of one link in strict order, each group at its own interval."""

    def __init__(
        self,
        sessions: Sequence[DeviceSession] = (),
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Take the devices to poll, in the order they are polled."""
        self._sessions: list[DeviceSession] = list(sessions)
        self._clock = clock
        self._wake = asyncio.Event()

    @property
    def sessions(self) -> tuple[DeviceSession, ...]:
        """The devices, in polling order."""
        return tuple(self._sessions)

    def add(self, session: DeviceSession) -> None:
        """Poll ``session`` too, after the others."""
        if session not in self._sessions:
            self._sessions.append(session)
            self.wake()

    def remove(self, session: DeviceSession) -> None:
        """Stop polling ``session``."""
        if session in self._sessions:
            self._sessions.remove(session)
            self.wake()

    def wake(self) -> None:
        """Make :meth:`run` look at the due times again (after enabling points, say)."""
        self._wake.set()

    def next_due(self) -> float | None:
        """Return the monotonic time at which the next device is due; None without devices."""
        return min((s.next_due() for s in self._sessions), default=None)

    async def run_due(
        self, listener: PollListener | None = None
    ) -> dict[DeviceSession, DeviceSnapshot]:
        """Poll every device with a due group, in order; return their new snapshots.

        ``listener`` hears of each device as soon as it was polled, before the next
        device's poll: a UPS that went on battery is reported without waiting for the
        rest of a busy line.
        """
        polled: dict[DeviceSession, DeviceSnapshot] = {}
        for session in list(self._sessions):
            if not session.due_groups(self._clock()):
                continue
            snapshot = await session.poll_due(self._clock())
            polled[session] = snapshot
            if listener is not None:
                outcome = listener(session, snapshot)
                if outcome is not None:
                    await outcome
        return polled

    async def run(self, listener: PollListener | None = None) -> None:
        """Poll the devices whenever they are due, until cancelled."""
        while True:
            self._wake.clear()
            due = self.next_due()
            delay = math.inf if due is None else due - self._clock()
            if delay > 0:
                await self._wait(delay)
                continue
            await self.run_due(listener)

    def timings(self) -> tuple[DeviceTiming, ...]:
        """Return the asked and achieved intervals of every device's groups."""
        return tuple(DeviceTiming(session=s, groups=s.timings()) for s in self._sessions)

    def shortfalls(self) -> tuple[DeviceTiming, ...]:
        """Return the devices with a group read noticeably less often than asked."""
        return tuple(timing for timing in self.timings() if timing.shortfall)

    async def _wait(self, delay: float) -> None:
        """Sleep for ``delay`` seconds, or until woken."""
        try:
            async with asyncio.timeout(None if math.isinf(delay) else delay):
                await self._wake.wait()
        except TimeoutError:
            return
