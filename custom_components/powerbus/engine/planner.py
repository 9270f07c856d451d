"""Plan the fewest block reads that fetch a set of points.

Every request costs a round trip on a slow bus, so the points of each table are
pooled into blocks. A block obeys the device's :class:`BusLimits`:

* it asks for at most ``limits.max_items(table)`` registers (or bits);
* it reads through at most ``limits.max_gap`` consecutive addresses that none of
  its points needs;
* it lies inside one readable range (``limits.readable_range``);
* it holds every point it carries whole: a point is never split over two reads.

Points are taken in address order and a block grows until the next point no
longer fits. Each limit only gets harder to meet as a block grows, and a point
that stops a block always reaches past the block's end, so no grouping of the
points needs fewer reads than this one. Points that start at one address (bit
selections of a register, two views of one value) always share a read. Two
blocks overlap, reading some registers twice, only when a block could not take
an overlapping point without breaking the read size or a readable range.

A :class:`SplitMemory` remembers what one device refused. A poller uses it so:

1. ``plan = plan_reads(points, limits, memory)``; mark ``plan.unplannable`` and
   ``plan.refused`` unavailable.
2. Read each block. When the device answers "illegal data address", call
   ``memory.record_refusal(block)`` and read the blocks it returns in its place;
   points of the block that are in none of them are now refused.
3. Refused reads are never planned again. The first poll already reads every
   point the device answers for; later plans pool them as tightly as the
   refusals learnt so far allow, and a poll without refusals means the plan
   has settled.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import NamedTuple

from .models import BusLimits, Point, Table

_TABLE_ORDER = {table: position for position, table in enumerate(Table)}


class _Span(NamedTuple):
    """An inclusive span of addresses in one table."""

    start: int
    end: int

    def holds(self, other: _Span) -> bool:
        """Whether ``other`` lies wholly inside this span."""
        return self.start <= other.start and other.end <= self.end


class _SplitSuspect(NamedTuple):
    """Where two halves of a refused read meet, suspected while neither half holds a refusal."""

    bridge: _Span
    first: _Span
    second: _Span


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadBlock:
    """One read request: ``count`` items of ``table`` from ``start``, and the points it fetches.

    ``points`` are in address order; each lies wholly inside the block.
    """

    table: Table
    start: int
    count: int
    points: tuple[Point, ...]

    @property
    def end(self) -> int:
        """The last address the block reads."""
        return self.start + self.count - 1


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadPlan:
    """The reads that fetch a set of points, and the points no read may fetch.

    Every point given to :func:`plan_reads` is in exactly one of: one block's
    ``points``, ``unplannable`` (it fits no readable range, or it is larger than
    one read may be: a profile problem), or ``refused`` (the device refused
    reading it). All three are ordered by table, then address.
    """

    blocks: tuple[ReadBlock, ...]
    unplannable: tuple[Point, ...]
    refused: tuple[Point, ...]


class SplitMemory:
    """What one device refused with "illegal data address", kept for its lifetime.

    The memory holds refused spans: reads the device refused. No read that
    contains a refused span is planned again, and a point whose own registers
    contain one is refused, as no read can fetch it. Only the narrowest refused
    spans are kept, since a read that contains a wider one contains a narrower
    one too.

    When a refused read is split in two, the seam between the halves (the
    last address of the first to the first address of the second) is suspected
    too: if neither half holds a refusal, the device refused the read for
    crossing from one half into the other or for a hole between them, so the
    halves are not merged again. The suspicion is dropped as soon as a refusal
    is found inside either half.
    """

    __slots__ = ("_refused", "_suspected")

    def __init__(self) -> None:
        """Start knowing of no refusal."""
        self._refused: dict[Table, list[_Span]] = {}
        self._suspected: dict[Table, list[_SplitSuspect]] = {}

    def record_refusal(self, block: ReadBlock) -> list[ReadBlock]:
        """Remember that the device refused ``block``; return the reads to try instead.

        The block's points are split in two halves at an address where a point
        starts, and a half that still holds a refused span is split again. A
        block whose points all start at one address is not split: its points
        that span the whole block become refused and the others, if any, are
        returned as one narrower read. Points of ``block`` in none of the
        returned reads are refused.
        """
        self._refuse(block.table, _Span(block.start, block.end))
        readable = sorted(
            (point for point in block.points if not self.is_refused(point)), key=_address_order
        )
        retry = self._halves(block.table, readable)
        if len(retry) == 2:
            self._suspect_split(block, *retry)
        return retry

    def is_refused(self, point: Point) -> bool:
        """Whether no read may fetch ``point``: its registers hold a refused or suspected span."""
        return not self.allows_read(point.table, point.address, point.count)

    def allows_read(self, table: Table, start: int, count: int) -> bool:
        """Whether a read of ``count`` items from ``start`` holds no refused or suspected span."""
        read = _Span(start, start + count - 1)
        suspected = (suspect.bridge for suspect in self._suspected.get(table, ()))
        return not any(read.holds(span) for span in (*self._refused.get(table, ()), *suspected))

    def forget(self) -> None:
        """Forget every refusal, e.g. after the device's firmware changed."""
        self._refused.clear()
        self._suspected.clear()

    def _refuse(self, table: Table, span: _Span) -> None:
        """Add a refused span, keeping only the narrowest; drop suspicions it explains."""
        refused = self._refused.setdefault(table, [])
        if any(span.holds(known) for known in refused):
            return
        refused[:] = sorted([known for known in refused if not known.holds(span)] + [span])
        self._suspected[table] = [
            suspect
            for suspect in self._suspected.get(table, ())
            if not (suspect.first.holds(span) or suspect.second.holds(span))
        ]

    def _suspect_split(self, block: ReadBlock, first: ReadBlock, second: ReadBlock) -> None:
        """Suspect the seam between two halves that together reach over the whole refused block."""
        if first.start == block.start and second.end == block.end and first.end < second.start:
            self._suspected.setdefault(block.table, []).append(
                _SplitSuspect(
                    bridge=_Span(first.end, second.start),
                    first=_Span(first.start, first.end),
                    second=_Span(second.start, second.end),
                )
            )

    def _halves(self, table: Table, points: Sequence[Point]) -> list[ReadBlock]:
        """Split ``points`` in two at a point start; split again any half that is refused.

        A half is also cut wherever it would read through more unneeded
        addresses in a row than the whole did, so a retried read never breaks
        the gap limit the refused read kept.
        """
        starts = [list(group) for _, group in groupby(points, key=lambda point: point.address)]
        if len(starts) < 2:
            return [_block_of(table, points)] if points else []
        longest_gap = max(gap for gap, _ in _runs(points))
        middle = len(starts) // 2
        blocks: list[ReadBlock] = []
        for half in (starts[:middle], starts[middle:]):
            for piece in _cut_at_gaps([point for group in half for point in group], longest_gap):
                block = _block_of(table, piece)
                if self.allows_read(table, block.start, block.count):
                    blocks.append(block)
                else:
                    blocks.extend(self._halves(table, piece))
        return blocks


def plan_reads(
    points: Iterable[Point], limits: BusLimits, splits: SplitMemory | None = None
) -> ReadPlan:
    """Plan the fewest reads, per table, that fetch every point that can be read.

    With ``splits``, the device's refusals are honoured: refused points are left
    out (reported in ``ReadPlan.refused``) and no block holds a refused span.
    Blocks come ordered by table (in :class:`Table` order), then start address.
    """
    blocks: list[ReadBlock] = []
    unplannable: list[Point] = []
    refused: list[Point] = []
    ordered = sorted(points, key=lambda point: (_TABLE_ORDER[point.table], *_address_order(point)))
    for table, table_points in groupby(ordered, key=lambda point: point.table):
        readable: list[Point] = []
        for point in table_points:
            if not _fits_one_read(point, limits):
                unplannable.append(point)
            elif splits is not None and splits.is_refused(point):
                refused.append(point)
            else:
                readable.append(point)
        blocks.extend(_pool(table, readable, limits, splits))
    return ReadPlan(blocks=tuple(blocks), unplannable=tuple(unplannable), refused=tuple(refused))


def count_requests_one_per_point(points: Iterable[Point]) -> int:
    """Count the requests a poller sends when it reads each point on its own.

    This is how Home Assistant core's modbus sensors and mbmd read: one request
    per point, so registers that several points share are read once for each of
    them. Benchmarks set it against ``len(plan_reads(...).blocks)``.
    """
    return sum(1 for _ in points)


def _address_order(point: Point) -> tuple[int, int]:
    """Sort key: by address, and the longer of two points that start together first."""
    return point.address, -point.count


def _fits_one_read(point: Point, limits: BusLimits) -> bool:
    """Whether one read may fetch the point at all."""
    return (
        point.count <= limits.max_items(point.table)
        and limits.readable_range(point.table, point.address, point.count) is not None
    )


def _pool(
    table: Table, points: Sequence[Point], limits: BusLimits, splits: SplitMemory | None
) -> list[ReadBlock]:
    """Pool points of one table, in address order, into blocks as long as the limits allow."""
    blocks: list[ReadBlock] = []
    members: list[Point] = []
    start = end = 0
    for point in points:
        if members and _can_take(table, start, end, point, limits, splits):
            members.append(point)
            end = max(end, point.end)
            continue
        if members:
            blocks.append(_block_of(table, members))
        members, start, end = [point], point.address, point.end
    if members:
        blocks.append(_block_of(table, members))
    return blocks


def _can_take(
    table: Table, start: int, end: int, point: Point, limits: BusLimits, splits: SplitMemory | None
) -> bool:
    """Whether the block reading ``start..end`` may grow to take ``point``.

    ``point`` starts at or after ``start``, so the only unneeded run it can add
    lies between ``end`` and its own start.
    """
    count = max(end, point.end) - start + 1
    return (
        point.address - end - 1 <= limits.max_gap
        and count <= limits.max_items(table)
        and limits.readable_range(table, start, count) is not None
        and (splits is None or splits.allows_read(table, start, count))
    )


def _block_of(table: Table, points: Sequence[Point]) -> ReadBlock:
    """Build the read from the first point's start to the furthest point end."""
    start = points[0].address
    end = max(point.end for point in points)
    return ReadBlock(table=table, start=start, count=end - start + 1, points=tuple(points))


def _runs(points: Sequence[Point]) -> list[tuple[int, Point]]:
    """Pair each point (in address order) with the unneeded addresses read just before it."""
    runs: list[tuple[int, Point]] = []
    end = points[0].address - 1
    for point in points:
        runs.append((max(point.address - end - 1, 0), point))
        end = max(end, point.end)
    return runs


def _cut_at_gaps(points: Sequence[Point], max_gap: int) -> list[list[Point]]:
    """Cut points (in address order) wherever more than ``max_gap`` addresses lie unneeded."""
    pieces: list[list[Point]] = []
    for gap, point in _runs(points):
        if pieces and gap <= max_gap:
            pieces[-1].append(point)
        else:
            pieces.append([point])
    return pieces
