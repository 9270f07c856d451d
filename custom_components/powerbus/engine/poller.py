"""Poll one device: plan block reads, run them on the bus, decode every point.

A poll never raises for device trouble. A refused block ("illegal data address")
is split and retried, so that only the offending points end up unavailable and
the split is remembered for the device. A timeout or a lost link makes the points
it concerns unavailable; a value is never carried over as fresh. The result holds
the readings, the raw blocks (for diagnostics) and the outcome of every request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
import time

from .bus import Bus, DeviceStats
from .codecs import decode_point, exponent_from_register
from .errors import DecodeError, DeviceExceptionError, LinkError, ModbusError, RequestTimeoutError
from .models import Point, PointState, PollGroup, Profile, Reading, Table, Value
from .planner import ReadBlock, SplitMemory, plan_reads

ALL_GROUPS = frozenset(PollGroup)


@dataclass(frozen=True, kw_only=True, slots=True)
class RawBlock:
    """One block read as it went over the wire."""

    table: Table
    start: int
    count: int
    values: tuple[int, ...]
    error: str | None
    timestamp: float


@dataclass(frozen=True, kw_only=True, slots=True)
class PollResult:
    """Everything one poll produced."""

    readings: Mapping[str, Reading]
    blocks: tuple[RawBlock, ...]
    started: float
    duration: float
    available: bool
    error: str | None = None

    def value(self, key: str) -> Value | None:
        """Return the value of ``key`` if it was read validly in this poll."""
        reading = self.readings.get(key)
        return reading.value if reading is not None and reading.state is PointState.VALID else None


class Poller:
    """Reads one profile's points from one unit on a shared bus."""

    def __init__(
        self, bus: Bus, profile: Profile, unit: int, *, clock: Callable[[], float] = time.time
    ) -> None:
        """Bind the device (profile + unit id) to the bus it sits on."""
        self.bus = bus
        self.profile = profile
        self.unit = unit
        self.splits = SplitMemory()
        self._clock = clock
        self._once: dict[str, Reading] = {}
        self._last_poll: float | None = None

    @property
    def stats(self) -> DeviceStats:
        """Statistics of this device on its bus."""
        return self.bus.stats(self.unit)

    def points_for(
        self, groups: Collection[PollGroup], keys: Collection[str] | None = None
    ) -> list[Point]:
        """List the points a poll of ``groups`` (narrowed to ``keys``) reads, with their scale points."""
        wanted = [
            p
            for p in self.profile.points
            if p.group in groups and (keys is None or p.key in keys) and p.key not in self._once
        ]
        wanted_keys = {p.key for p in wanted}
        for point in list(wanted):
            if point.scale_point is not None and point.scale_point not in wanted_keys:
                wanted.append(self.profile.point(point.scale_point))
                wanted_keys.add(point.scale_point)
        return wanted

    async def poll(
        self, groups: Collection[PollGroup] = ALL_GROUPS, keys: Collection[str] | None = None
    ) -> PollResult:
        """Read the due points and decode them; never raises for device trouble.

        A device whose profile sets ``min_scan_interval`` is never polled again sooner
        than that after the previous poll began: the poll waits.
        """
        if self._last_poll is not None:
            remaining = self._last_poll + self.profile.limits.min_scan_interval - time.monotonic()
            if remaining > 0:
                await asyncio.sleep(remaining)
        self._last_poll = time.monotonic()
        started = self._clock()
        points = self.points_for(groups, keys)
        plan = plan_reads(points, self.profile.limits, self.splits)
        raw: dict[str, tuple[tuple[int, ...], float]] = {}
        failures: dict[str, tuple[PointState, str]] = {
            p.key: (
                PointState.UNAVAILABLE,
                "the device refuses this address (illegal data address)",
            )
            for p in plan.refused
        }
        failures.update(
            {
                p.key: (PointState.ERROR, "the profile puts this point where no read can reach it")
                for p in plan.unplannable
            }
        )
        blocks: list[RawBlock] = []
        queue = list(plan.blocks)
        abort: tuple[PointState, str] | None = None
        answered = False
        while queue:
            block = queue.pop(0)
            if abort is not None:
                failures.update({p.key: abort for p in block.points})
                continue
            try:
                values = await self.bus.read(
                    self.unit, block.table, block.start, block.count, self.profile.limits
                )
            except DeviceExceptionError as err:
                blocks.append(self._raw_block(block, (), str(err)))
                answered = True
                if err.is_illegal_address:
                    retry = self.splits.record_refusal(block)
                    queue[:0] = retry
                    covered = {p.key for b in retry for p in b.points}
                    failures.update(
                        {
                            p.key: (PointState.UNAVAILABLE, str(err))
                            for p in block.points
                            if p.key not in covered
                        }
                    )
                else:
                    state = PointState.UNAVAILABLE if err.is_gateway_path else PointState.ERROR
                    failures.update({p.key: (state, str(err)) for p in block.points})
                continue
            except (RequestTimeoutError, LinkError) as err:
                blocks.append(self._raw_block(block, (), str(err)))
                abort = (PointState.UNAVAILABLE, str(err))
                failures.update({p.key: abort for p in block.points})
                continue
            except ModbusError as err:
                blocks.append(self._raw_block(block, (), str(err)))
                failures.update({p.key: (PointState.ERROR, str(err)) for p in block.points})
                continue
            answered = True
            words = tuple(int(v) for v in values)
            now = self._clock()
            blocks.append(self._raw_block(block, words, None, now))
            for point in block.points:
                offset = point.address - block.start
                raw[point.key] = (words[offset : offset + point.count], now)
        readings = self._decode(points, raw, failures)
        self._remember_once(readings)
        readings.update({k: v for k, v in self._once.items() if k not in readings})
        return PollResult(
            readings=readings,
            blocks=tuple(blocks),
            started=started,
            duration=self._clock() - started,
            available=answered or not blocks,
            error=abort[1] if abort and not answered else None,
        )

    def _raw_block(
        self, block: ReadBlock, values: tuple[int, ...], error: str | None, at: float | None = None
    ) -> RawBlock:
        """Record a block read for diagnostics."""
        return RawBlock(
            table=block.table,
            start=block.start,
            count=block.count,
            values=values,
            error=error,
            timestamp=self._clock() if at is None else at,
        )

    def _decode(
        self,
        points: list[Point],
        raw: Mapping[str, tuple[tuple[int, ...], float]],
        failures: Mapping[str, tuple[PointState, str]],
    ) -> dict[str, Reading]:
        """Turn raw words into readings, scale points first."""
        readings: dict[str, Reading] = {}
        now = self._clock()
        ordered = sorted(points, key=lambda p: p.scale_point is not None)
        for point in ordered:
            if point.key in failures or point.key not in raw:
                state, error = failures.get(point.key, (PointState.UNAVAILABLE, "not read"))
                readings[point.key] = Reading(
                    key=point.key, value=None, state=state, timestamp=now, error=error
                )
                continue
            words, at = raw[point.key]
            readings[point.key] = self._decode_one(point, words, at, readings)
        return readings

    def _decode_one(
        self, point: Point, words: tuple[int, ...], at: float, readings: Mapping[str, Reading]
    ) -> Reading:
        """Decode one point, applying its scale point's exponent."""

        def failed(state: PointState, error: str) -> Reading:
            return Reading(
                key=point.key, value=None, state=state, timestamp=at, raw=words, error=error
            )

        exponent: int | None = None
        if point.scale_point is not None:
            scale = readings.get(point.scale_point)
            if scale is None or scale.state is not PointState.VALID or not scale.raw:
                return failed(
                    PointState.UNAVAILABLE, f"its scale point '{point.scale_point}' is unavailable"
                )
            exponent = exponent_from_register(scale.raw[0])
        try:
            value = decode_point(point, words, exponent)
        except DecodeError as err:
            return failed(PointState.ERROR, str(err))
        if value is None:
            return failed(PointState.UNAVAILABLE, "the device reports the value as not available")
        return Reading(key=point.key, value=value, state=PointState.VALID, timestamp=at, raw=words)

    def _remember_once(self, readings: Mapping[str, Reading]) -> None:
        """Keep valid readings of ``once`` points; they are not read again."""
        for key, reading in readings.items():
            if (
                reading.state is PointState.VALID
                and self.profile.point(key).group is PollGroup.ONCE
            ):
                self._once[key] = reading

    def forget_once(self) -> None:
        """Read the ``once`` points again on the next poll (after a firmware change)."""
        self._once.clear()
