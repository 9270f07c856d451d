"""Poll one device in three steps: plan the block reads, read them, decode every point.

A poll never raises for device trouble. A refused block ("illegal data address")
is split and retried, so that only the offending points end up unavailable and
the split is remembered for the device (``refusals.py``), but only when the device
answered something normally in that poll: a device that refuses everything is in
trouble, and that teaches nothing about its map. A timeout or a lost link makes
the points it concerns unavailable and ends the poll; a value is never carried over
as fresh. The result holds the readings, the raw blocks (for diagnostics) and
whether the device answered at all.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
import time

from .bus import Bus, DeviceStats
from .codecs import decode_point, exponent_from_register
from .errors import DecodeError, DeviceExceptionError, LinkError, ModbusError, RequestTimeoutError
from .models import Point, PointState, PollGroup, Profile, Reading, Table, Value
from .planner import ReadBlock, ReadPlan, plan_reads
from .refusals import SplitMemory

ALL_GROUPS = frozenset(PollGroup)
_REFUSED = "the device refuses this address (illegal data address)"
_UNREACHABLE = "the profile puts this point where no read can reach it"


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
class PollPlan:
    """The points one poll reads (scale points included) and the reads that fetch them."""

    points: tuple[Point, ...]
    reads: ReadPlan


@dataclass(kw_only=True, slots=True)
class BlockReads:
    """What the reads of one poll brought back, before decoding."""

    words: dict[str, tuple[tuple[int, ...], float]] = field(default_factory=dict)
    failures: dict[str, tuple[PointState, str]] = field(default_factory=dict)
    blocks: list[RawBlock] = field(default_factory=list)
    answered: bool = False
    """Whether the device answered any request (normally or with an exception)."""
    answered_normally: bool = False
    lost: str | None = None
    """Why the poll ended early (a timeout, a lost link, a gateway that cannot reach the
    device), if it did."""


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
        self,
        bus: Bus,
        profile: Profile,
        unit: int,
        *,
        clock: Callable[[], float] = time.time,
        splits: SplitMemory | None = None,
    ) -> None:
        """Bind the device (profile + unit id) to the bus it sits on.

        ``clock`` stamps readings (wall-clock seconds); ``splits`` is the device's
        learned refusals (a new, empty memory when not given).
        """
        self.bus = bus
        self.profile = profile
        self.unit = unit
        self.splits = splits if splits is not None else SplitMemory()
        self._clock = clock

    @property
    def stats(self) -> DeviceStats:
        """Statistics of this device on its bus."""
        return self.bus.stats(self.unit)

    async def poll(
        self,
        groups: Collection[PollGroup] = ALL_GROUPS,
        keys: Collection[str] | None = None,
        *,
        retries: int | None = None,
    ) -> PollResult:
        """Read the points of ``groups`` (narrowed to ``keys``); never raises for device trouble."""
        started = self._clock()
        plan = self.plan(groups, keys)
        reads = await self.read(plan, retries=retries)
        return self.decode(plan, reads, started)

    # --- 1. Plan ---------------------------------------------------------------------------
    def points_for(
        self, groups: Collection[PollGroup], keys: Collection[str] | None = None
    ) -> list[Point]:
        """List the points a poll of ``groups`` (narrowed to ``keys``) reads, with their scale points."""
        wanted = [
            p for p in self.profile.points if p.group in groups and (keys is None or p.key in keys)
        ]
        wanted_keys = {p.key for p in wanted}
        for point in list(wanted):
            if point.scale_point is not None and point.scale_point not in wanted_keys:
                wanted.append(self.profile.point(point.scale_point))
                wanted_keys.add(point.scale_point)
        return wanted

    def plan(
        self, groups: Collection[PollGroup] = ALL_GROUPS, keys: Collection[str] | None = None
    ) -> PollPlan:
        """Plan the reads of a poll; nothing is sent."""
        points = self.points_for(groups, keys)
        return PollPlan(
            points=tuple(points), reads=plan_reads(points, self.profile.limits, self.splits)
        )

    # --- 2. Read ---------------------------------------------------------------------------
    async def read(self, plan: PollPlan, *, retries: int | None = None) -> BlockReads:
        """Send the planned reads, splitting refused blocks; never raises for device trouble."""
        reads = BlockReads()
        reads.failures.update(
            {p.key: (PointState.UNAVAILABLE, _REFUSED) for p in plan.reads.refused}
        )
        reads.failures.update(
            {p.key: (PointState.ERROR, _UNREACHABLE) for p in plan.reads.unplannable}
        )
        learning = self.splits.clone()
        queue = list(plan.reads.blocks)
        while queue:
            block = queue.pop(0)
            if reads.lost is not None:
                reads.failures.update(
                    {p.key: (PointState.UNAVAILABLE, reads.lost) for p in block.points}
                )
                continue
            try:
                values = await self.bus.read(
                    self.unit,
                    block.table,
                    block.start,
                    block.count,
                    self.profile.limits,
                    retries=retries,
                )
            except DeviceExceptionError as err:
                reads.blocks.append(self._raw_block(block, (), str(err)))
                if err.is_gateway_path:  # the gateway answers for a device it cannot reach
                    reads.lost = str(err)
                    reads.failures.update(
                        {p.key: (PointState.UNAVAILABLE, str(err)) for p in block.points}
                    )
                    continue
                reads.answered = True
                queue[:0] = self._refused(block, err, learning, reads)
                continue
            except (RequestTimeoutError, LinkError) as err:
                reads.blocks.append(self._raw_block(block, (), str(err)))
                reads.lost = str(err)
                reads.failures.update(
                    {p.key: (PointState.UNAVAILABLE, str(err)) for p in block.points}
                )
                continue
            except ModbusError as err:
                reads.blocks.append(self._raw_block(block, (), str(err)))
                reads.answered = True
                reads.failures.update({p.key: (PointState.ERROR, str(err)) for p in block.points})
                continue
            reads.answered = reads.answered_normally = True
            learning.record_answer(block)
            self._keep_words(block, tuple(int(v) for v in values), reads)
        if reads.answered_normally:
            self.splits.adopt(learning)
        return reads

    def _refused(
        self, block: ReadBlock, err: DeviceExceptionError, learning: SplitMemory, reads: BlockReads
    ) -> list[ReadBlock]:
        """Book an exception answer; return the narrower reads to try after a refusal."""
        if not err.is_illegal_address:
            reads.failures.update({p.key: (PointState.ERROR, str(err)) for p in block.points})
            return []
        retry = learning.record_refusal(block, split_at_holes=self.profile.limits.split_at_holes)
        covered = {p.key for b in retry for p in b.points}
        reads.failures.update(
            {
                p.key: (PointState.UNAVAILABLE, str(err))
                for p in block.points
                if p.key not in covered
            }
        )
        return retry

    def _keep_words(self, block: ReadBlock, words: tuple[int, ...], reads: BlockReads) -> None:
        """Hand each point of an answered block its own words."""
        now = self._clock()
        reads.blocks.append(self._raw_block(block, words, None, now))
        for point in block.points:
            offset = point.address - block.start
            reads.words[point.key] = (words[offset : offset + point.count], now)
            reads.failures.pop(point.key, None)

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

    # --- 3. Decode -------------------------------------------------------------------------
    def decode(self, plan: PollPlan, reads: BlockReads, started: float) -> PollResult:
        """Turn the words of a poll into readings, scale points first."""
        readings: dict[str, Reading] = {}
        now = self._clock()
        for point in sorted(plan.points, key=lambda p: p.scale_point is not None):
            if point.key in reads.failures or point.key not in reads.words:
                state, error = reads.failures.get(point.key, (PointState.UNAVAILABLE, "not read"))
                readings[point.key] = Reading(
                    key=point.key, value=None, state=state, timestamp=now, error=error
                )
                continue
            words, at = reads.words[point.key]
            readings[point.key] = self._decode_one(point, words, at, readings)
        return PollResult(
            readings=readings,
            blocks=tuple(reads.blocks),
            started=started,
            duration=now - started,
            available=reads.answered or not reads.blocks,
            error=reads.lost if not reads.answered else None,
        )

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
