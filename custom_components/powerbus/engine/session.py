"""A device session: one device (profile + unit id) on a shared bus, as front ends see it.

The session decides what is polled when, keeps the device's snapshot, and runs its
writes and commands:

- Each poll group (fast, normal, slow) is polled at its own interval, and only
  the points the front end enabled are read (disabled points cost no bus time).
  ``once`` points are read after every (re)connect and on request.
- The identity (serial number, firmware) is read after every (re)connect of the
  link and whenever the device answers again after an outage; it is never carried
  over a reconnect.
- While the device does not answer, every point is unavailable, and each poll
  sends a single probe request without retries, so that a dead device does not hog
  a shared line. The first answer brings a full poll of every enabled point: the
  device is valid again within one poll of its fast group.
- Writes and commands are validated completely before anything is sent, then take
  the line ahead of any waiting poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
import logging
import math
import time
from typing import Any

from .bus import Bus, DeviceStats
from .counter_guard import CounterGuard
from .device_actions import DeviceActions
from .errors import WriteValidationError
from .link import LinkSettings
from .models import PointState, PollGroup, Profile, Reading
from .planner import ReadPlan
from .poll_clock import REPEATING, PollClock
from .poller import Poller, PollPlan, PollResult, RawBlock
from .refusals import SplitMemory
from .snapshot import DeviceIdentity, DeviceSnapshot, GroupTiming, PollIntervals
from .turns import Priority
from .uid import device_uid, link_id

_LOGGER = logging.getLogger(__name__)

_MODEL_POINT = "model"


class DeviceSession(DeviceActions):
    """One device on a link: what to poll when, its snapshot, its writes and commands."""

    def __init__(
        self,
        bus: Bus,
        profile: Profile,
        unit: int,
        *,
        intervals: PollIntervals | None = None,
        enabled: Collection[str] | None = None,
        expected_serial: str | None = None,
        learned: Mapping[str, Any] | None = None,
        link: LinkSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Bind the device to its bus.

        ``enabled`` names the points the front end shows (None: those the profile
        enables by default); ``expected_serial`` is the serial number the device had
        when it was configured; ``learned`` restores refusals exported by
        :meth:`learned_refusals`; ``link`` names the link for the device uid (the
        bus's settings when not given).
        """
        self.bus = bus
        self.profile = profile
        self.unit = unit
        self.intervals = intervals or PollIntervals()
        self.expected_serial = expected_serial
        self._link_id = link_id(link or bus.settings)
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        splits = SplitMemory(clock=clock)
        if learned:
            splits.restore(learned)
        self._poller = Poller(bus, profile, unit, clock=wall_clock, splits=splits)
        self._enabled = self._checked_keys(enabled)
        self._readings: dict[str, Reading] = {}
        self._identity: DeviceIdentity | None = None
        self._counters = CounterGuard(f"{profile.key} unit {unit}")
        self._uid: str | None = None
        self._identity_epoch: int | None = None
        self._available = False
        self._polled = False
        self._error: str | None = None
        self._mismatch = False
        self._polled_at: float | None = None
        self._last_success: float | None = None
        self._clock_of_groups = PollClock(self.intervals, profile.limits.min_scan_interval)
        self._refresh_requested = False
        self._blocks: tuple[RawBlock, ...] = ()
        bus.limit_reconnect_backoff(self._clock_of_groups.fastest)

    # --- What the front ends read -----------------------------------------------------------
    @property
    def uid(self) -> str | None:
        """The device uid (``uid.py``); None until the serial number was read, where one exists.

        Once known it stays: a serial number that cannot be read after a reconnect
        does not turn the device into another one.
        """
        if self.profile.serial_point is None:
            return device_uid(self.profile.family, None, self._link_id, self.unit)
        return self._uid

    @property
    def identity(self) -> DeviceIdentity | None:
        """Who the device said it is after the last (re)connect."""
        return self._identity

    @property
    def available(self) -> bool:
        """Whether the device answered its last poll."""
        return self._available

    @property
    def enabled(self) -> frozenset[str]:
        """The keys of the points the front end wants read."""
        return self._enabled

    @property
    def stats(self) -> DeviceStats:
        """Requests, answers, errors and latency of this device on its bus."""
        return self.bus.stats(self.unit)

    @property
    def blocks(self) -> tuple[RawBlock, ...]:
        """The raw blocks of the last poll, for diagnostics."""
        return self._blocks

    @property
    def snapshot(self) -> DeviceSnapshot:
        """The device's latest readings and availability."""
        return DeviceSnapshot(
            profile=self.profile.key,
            unit=self.unit,
            uid=self.uid,
            available=self._available,
            identity=self._identity,
            readings=dict(self._readings),
            polled_at=self._polled_at,
            last_success=self._last_success,
            error=self._error,
            identity_mismatch=self._mismatch,
            stats=self._statistics(),
        )

    def _statistics(self) -> dict[str, float | int | None]:
        """Return the bus statistics a snapshot carries."""
        stats = self.stats
        fastest = next(iter(self.timings()), None)
        return {
            "requests": stats.requests,
            "errors": sum(stats.errors.values()),
            "timeouts": stats.timeouts,
            "latency": round(stats.latency_mean * 1000, 2) if stats.responses else None,
            "last_success": stats.last_success,
            "interval_asked": None if fastest is None else fastest.asked,
            "interval_achieved": None
            if fastest is None or fastest.achieved is None
            else round(fastest.achieved, 3),
        }

    def timings(self) -> tuple[GroupTiming, ...]:
        """Return the asked and achieved interval of every repeating group in use."""
        return self._clock_of_groups.timings(self._groups_in_use())

    def learned_refusals(self) -> dict[str, list[dict[str, Any]]]:
        """Return the device's learned refusals as plain data, to restore after a restart."""
        return self._poller.splits.export()

    # --- What the front ends change ---------------------------------------------------------
    def set_enabled(self, keys: Collection[str] | None) -> None:
        """Read only these points from the next poll on (None: the profile's defaults)."""
        before = self._enabled
        self._enabled = self._checked_keys(keys)
        for key in set(self._readings) - self._wanted_keys():
            del self._readings[key]
        if self._enabled - before:
            self._refresh_requested = True

    def accept_counters(self, keys: Collection[str]) -> None:
        """Show the next reading of these energy counters even if it went back (a user said so)."""
        self._counters.accept(keys)

    @property
    def refused_counters(self) -> frozenset[str]:
        """The energy counters whose latest reading went back or jumped, and was not shown."""
        return self._counters.refusing

    def request_refresh(self) -> None:
        """Read every enabled point, ``once`` points included, at the next poll."""
        self._refresh_requested = True

    # --- Polling ----------------------------------------------------------------------------
    def next_due(self) -> float:
        """Return the monotonic time at which the next poll is due (now or earlier: due)."""
        if self._needs_full_poll():
            return self._clock_of_groups.not_before
        return self._clock_of_groups.next_due(self._groups_in_use())

    def due_groups(self, now: float | None = None) -> frozenset[PollGroup]:
        """Return the groups a poll now would read (every group in use after a (re)connect)."""
        now = self._clock() if now is None else now
        if now < self._clock_of_groups.not_before:
            return frozenset()
        if self._needs_full_poll():
            return frozenset(self._groups_in_use()) | {PollGroup.ONCE}
        return self._clock_of_groups.due(now, self._groups_in_use())

    async def poll_due(self, now: float | None = None) -> DeviceSnapshot:
        """Poll the groups that are due now; return the snapshot (unchanged when none was due)."""
        now = self._clock() if now is None else now
        if not self.due_groups(now):
            return self.snapshot
        async with self.bus.turn(Priority.POLL):
            # The poll runs when it gets the line, which a command may have held a while.
            now = max(now, self._clock())
            groups = self.due_groups(now)
            if groups:
                await self._poll(groups, now)
        return self.snapshot

    async def refresh(self) -> DeviceSnapshot:
        """Poll every enabled point now, ``once`` points included.

        A device whose profile sets a minimum scan interval is not polled sooner than
        that after the previous poll began: the refresh waits.
        """
        self._refresh_requested = True
        async with self.bus.turn(Priority.POLL):
            wait = self._clock_of_groups.not_before - self._clock()
            if wait > 0:
                await self._sleep(wait)
            await self._poll(self.due_groups(math.inf), self._clock())
        return self.snapshot

    async def _poll(self, groups: frozenset[PollGroup], now: float) -> None:
        """Probe an unreachable device first; poll ``groups``, or everything on a (re)connect.

        A poll during which the link was reopened is read again in full before anything
        of it is kept, so that no value is shown under an identity read before the
        reconnect.
        """
        if self._polled and not self._available:
            self._clock_of_groups.record(groups, now)
            if not await self._probe():
                self._polled_at = self._wall_clock()
                return
            full = True
        else:
            full = self._needs_full_poll()
        if full:
            groups = frozenset(self._groups_in_use()) | {PollGroup.ONCE}
        self._clock_of_groups.record(groups, now)
        epoch = self.bus.epoch
        result = await self._poller.poll(groups, self._wanted_keys())
        if not full and result.available and self.bus.epoch != epoch:
            full = True
            groups = frozenset(self._groups_in_use()) | {PollGroup.ONCE}
            result = await self._poller.poll(groups, self._wanted_keys())
        self._blocks = result.blocks
        self._polled = True
        self._merge(result)
        if full and result.available:
            self._refresh_requested = False
            self._identity_epoch = self.bus.epoch
            self._take_identity()

    async def _probe(self) -> bool:
        """Send one read, without retries, to learn whether the device answers again."""
        plan = self._poller.plan(
            frozenset(self._groups_in_use()) | {PollGroup.ONCE}, self._wanted_keys()
        )
        if not plan.reads.blocks:
            return True
        first = plan.reads.blocks[0]
        probe = PollPlan(
            points=first.points, reads=ReadPlan(blocks=(first,), unplannable=(), refused=())
        )
        reads = await self._poller.read(probe, retries=0)
        if reads.answered:
            return True
        self._error = reads.lost or self._error
        return False

    def _merge(self, result: PollResult) -> None:
        """Fold a poll into the snapshot; an unanswered poll makes every point unavailable."""
        self._polled_at = self._wall_clock()
        if not result.available:
            if self._available or not self._readings:
                _LOGGER.debug(
                    "%s: unit %s does not answer: %s", self.profile.key, self.unit, result.error
                )
            self._available = False
            self._error = result.error
            self._readings = {
                key: _stale(reading, PointState.UNAVAILABLE, result.error)
                for key, reading in self._readings.items()
            }
            return
        self._available = True
        self._error = None
        self._last_success = self._polled_at
        for key, reading in result.readings.items():
            previous = self._readings.get(key)
            refused = (
                self._counters.check(self.profile.point(key), previous, reading)
                if reading.state is PointState.VALID
                else None
            )
            if previous is not None and refused is not None:
                self._readings[key] = _stale(previous, PointState.ERROR, refused)
            elif reading.state is PointState.VALID or previous is None:
                self._readings[key] = reading
            else:
                self._readings[key] = _stale(previous, reading.state, reading.error)
        self._counters.end_of_poll()

    def _take_identity(self) -> None:
        """Read identity from the points just polled; refuse a device that is not the one configured."""
        serial = self._text(self.profile.serial_point)
        firmware = self._text(self.profile.firmware_point)
        previous = self._identity
        self._identity = DeviceIdentity(
            manufacturer=self.profile.manufacturer,
            model=self._text(_MODEL_POINT) or self.profile.name,
            serial=serial,
            firmware=firmware,
            profile=self.profile.key,
        )
        if previous is not None and previous.firmware != firmware:
            self._poller.splits.forget()
        self._mismatch = (
            self.expected_serial is not None
            and serial is not None
            and serial != self.expected_serial
        )
        if self._mismatch:
            error = f"a different device answers: serial {serial}, expected {self.expected_serial}"
            self._available = False
            self._error = error
            self._readings = {
                key: _stale(reading, PointState.UNAVAILABLE, error)
                for key, reading in self._readings.items()
            }
        elif serial is not None:
            self._uid = device_uid(self.profile.family, serial, self._link_id, self.unit)

    def _text(self, key: str | None) -> str | None:
        """Return a valid point value as text, or None."""
        if key is None or not self.profile.has_point(key):
            return None
        reading = self._readings.get(key)
        if reading is None or reading.state is not PointState.VALID or reading.value is None:
            return None
        return str(reading.value)

    # --- Inside -----------------------------------------------------------------------------
    def _checked_keys(self, keys: Collection[str] | None) -> frozenset[str]:
        """Return the enabled keys, each checked against the profile."""
        if keys is None:
            return frozenset(p.key for p in self.profile.points if p.enabled_by_default)
        unknown = sorted(k for k in keys if not self.profile.has_point(k))
        if unknown:
            raise WriteValidationError(f"{self.profile.key} has no point {', '.join(unknown)}")
        return frozenset(keys)

    def _wanted_keys(self) -> frozenset[str]:
        """Return the enabled points plus what identity needs."""
        identity = (self.profile.serial_point, self.profile.firmware_point)
        extra = {k for k in identity if k is not None}
        if self.profile.has_point(_MODEL_POINT):
            extra.add(_MODEL_POINT)
        return self._enabled | extra

    def _groups_in_use(self) -> list[PollGroup]:
        """Repeating groups with at least one enabled point, fastest first."""
        groups = {self.profile.point(k).group for k in self._enabled}
        return [group for group in REPEATING if group in groups]

    def _needs_full_poll(self) -> bool:
        """Whether the next poll must read everything: first poll, reconnect or refresh.

        A device that stopped answering is probed at its groups' pace instead, and
        polled in full once it answers (see :meth:`_poll`).
        """
        if self._polled and not self._available:
            return False
        return (
            self._refresh_requested
            or self._identity_epoch is None
            or self._identity_epoch != self.bus.epoch
        )


def _stale(reading: Reading, state: PointState, error: str | None) -> Reading:
    """Keep a reading's last value and its time, marked as no longer valid."""
    return Reading(
        key=reading.key, value=reading.value, state=state, timestamp=reading.timestamp, error=error
    )
