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

With a :class:`ReadFilter` (a device's learned refusals, ``refusals.SplitMemory``),
points the device refuses are left out and no block holds a refused span.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import NamedTuple, Protocol

from .models import BusLimits, Point, Table

_TABLE_ORDER = {table: position for position, table in enumerate(Table)}


class Span(NamedTuple):
    """An inclusive span of addresses in one table."""

    start: int
    end: int

    def holds(self, other: Span) -> bool:
        """Whether ``other`` lies wholly inside this span."""
        return self.start <= other.start and other.end <= self.end


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


class ReadFilter(Protocol):
    """What a device refused, as the planner asks it (see ``refusals.SplitMemory``)."""

    def is_refused(self, point: Point) -> bool:
        """Whether no read may fetch ``point``."""

    def allows_read(self, table: Table, start: int, count: int) -> bool:
        """Whether a read of ``count`` items from ``start`` may be sent."""


def plan_reads(
    points: Iterable[Point], limits: BusLimits, splits: ReadFilter | None = None
) -> ReadPlan:
    """Plan the fewest reads, per table, that fetch every point that can be read.

    With ``splits``, the device's refusals are honoured: refused points are left
    out (reported in ``ReadPlan.refused``) and no block holds a refused span.
    Blocks come ordered by table (in :class:`Table` order), then start address.
    """
    blocks: list[ReadBlock] = []
    unplannable: list[Point] = []
    refused: list[Point] = []
    ordered = sorted(points, key=lambda point: (_TABLE_ORDER[point.table], *address_order(point)))
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


def address_order(point: Point) -> tuple[int, int]:
    """Sort key: by address, and the longer of two points that start together first."""
    return point.address, -point.count


def _fits_one_read(point: Point, limits: BusLimits) -> bool:
    """Whether one read may fetch the point at all."""
    return (
        point.count <= limits.max_items(point.table)
        and limits.readable_range(point.table, point.address, point.count) is not None
    )


def _pool(
    table: Table, points: Sequence[Point], limits: BusLimits, splits: ReadFilter | None
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
            blocks.append(block_of(table, members))
        members, start, end = [point], point.address, point.end
    if members:
        blocks.append(block_of(table, members))
    return blocks


def _can_take(
    table: Table, start: int, end: int, point: Point, limits: BusLimits, splits: ReadFilter | None
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


def block_of(table: Table, points: Sequence[Point]) -> ReadBlock:
    """Build the read from the first point's start to the furthest point end."""
    start = points[0].address
    end = max(point.end for point in points)
    return ReadBlock(table=table, start=start, count=end - start + 1, points=tuple(points))


def unneeded_runs(points: Sequence[Point]) -> list[tuple[int, Point]]:
    """Pair each point (in address order) with the unneeded addresses read just before it."""
    runs: list[tuple[int, Point]] = []
    end = points[0].address - 1
    for point in points:
        runs.append((max(point.address - end - 1, 0), point))
        end = max(end, point.end)
    return runs


def cut_at_gaps(points: Sequence[Point], max_gap: int) -> list[list[Point]]:
    """Cut points (in address order) wherever more than ``max_gap`` addresses lie unneeded."""
    pieces: list[list[Point]] = []
    for gap, point in unneeded_runs(points):
        if pieces and gap <= max_gap:
            pieces[-1].append(point)
        else:
            pieces.append([point])
    return pieces
