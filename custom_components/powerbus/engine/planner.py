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
points needs fewer reads than this one. Points that share registers (bit
selections of one register, two views of one address) land in one block and are
read once; only when the limits leave no other way (two overlapping points that
together exceed the read size or a readable range) do two blocks overlap.

A :class:`SplitMemory` remembers what one device refused. A poller uses it so:

1. ``plan = plan_reads(points, limits, memory)``; mark ``plan.unplannable`` and
   ``plan.refused`` unavailable.
2. Read each block. When the device answers "illegal data address", call
   ``memory.record_refusal(block)`` and read the blocks it returns in its place;
   points of the block that are in none of them are now refused.
3. Refused reads are never planned again, so after one poll only the offending
   points stay unread and the rest are pooled as tightly as the refusals allow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby

from .models import BusLimits, Point, Table

_TABLE_ORDER = {table: position for position, table in enumerate(Table)}


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
    """The reads one device refused with "illegal data address", kept for its lifetime.

    The memory holds refused spans. No read that contains a refused span is
    planned again, and a point whose own registers contain one is refused: no
    read can fetch it. Only the narrowest refused spans are kept, since a read
    that contains a wider one contains a narrower one too.
    """

    __slots__ = ("_spans",)

    def __init__(self) -> None:
        """Start knowing of no refusal."""
        self._spans: dict[Table, list[tuple[int, int]]] = {}

    def record_refusal(self, block: ReadBlock) -> list[ReadBlock]:
        """Remember that the device refused ``block``; return the reads to try instead.

        The block's points are split in two halves at an address where a point
        starts, and a half that still holds a refused span is split again. A
        block whose points all start at one address is not split: its points
        that span the whole block become refused and the others, if any, are
        returned as one narrower read. Points of ``block`` in none of the
        returned reads are refused.
        """
        self._remember(block.table, block.start, block.end)
        readable = sorted(
            (point for point in block.points if not self.is_refused(point)), key=_address_order
        )
        return self._halves(block.table, readable)

    def is_refused(self, point: Point) -> bool:
        """Whether the device refused every read that could fetch ``point``."""
        return not self.allows_read(point.table, point.address, point.count)

    def allows_read(self, table: Table, start: int, count: int) -> bool:
        """Whether a read of ``count`` items from ``start`` holds no refused span."""
        end = start + count - 1
        return not any(
            start <= refused_start and refused_end <= end
            for refused_start, refused_end in self._spans.get(table, ())
        )

    def forget(self) -> None:
        """Forget every refusal, e.g. after the device's firmware changed."""
        self._spans.clear()

    def _remember(self, table: Table, start: int, end: int) -> None:
        """Add a refused span, keeping only the narrowest spans."""
        if not self.allows_read(table, start, end - start + 1):
            return
        spans = self._spans.setdefault(table, [])
        spans[:] = sorted(
            [(s, e) for s, e in spans if not (s <= start and end <= e)] + [(start, end)]
        )

    def _halves(self, table: Table, points: Sequence[Point]) -> list[ReadBlock]:
        """Split ``points`` in two at a point start; split again any half that is refused."""
        starts = [list(group) for _, group in groupby(points, key=lambda point: point.address)]
        if len(starts) < 2:
            return [_block_of(table, points)] if points else []
        middle = len(starts) // 2
        blocks: list[ReadBlock] = []
        for half in (starts[:middle], starts[middle:]):
            half_points = [point for group in half for point in group]
            block = _block_of(table, half_points)
            if self.allows_read(table, block.start, block.count):
                blocks.append(block)
            else:
                blocks.extend(self._halves(table, half_points))
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
    """Whether the block reading ``start..end`` may grow to take ``point`` (which starts at or after ``start``)."""
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
