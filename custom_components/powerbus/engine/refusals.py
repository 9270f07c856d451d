"""What one device refused with "illegal data address", learned, re-probed and kept.

A poller uses a :class:`SplitMemory` so:

1. ``plan = plan_reads(points, limits, memory)``; points in ``plan.refused`` are
   unavailable.
2. Read each block. When the device answers "illegal data address", call
   ``memory.record_refusal(block)`` and read the blocks it returns in its place;
   points of the block that are in none of them are now refused. When a block is
   answered, call ``memory.record_answer(block)``.
3. A refused read is not planned again for a while. The first poll already reads
   every point the device answers for; later plans pool them as tightly as the
   refusals learnt so far allow.

Refusals are not forever. A device that refuses while it boots, or a map hole
that a firmware update filled, must come back: each refused span is tried again
after a back-off (``backoff`` seconds, doubling with every refusal of the same span
up to ``backoff_max``). A read that is answered clears what it held. What was
learnt can be exported as plain data and restored, so a front end keeps it across
restarts (restored refusals are tried again after their back-off, too).

Refused spans and suspected seams
    Only the narrowest refused spans are kept, since a read that contains a wider
    one contains a narrower one too. When a refused read is split in two, the seam
    between the halves (the last address of the first to the first address of the
    second) is suspected too: if neither half holds a refusal, the device refused
    the read for crossing from one half into the other or for a hole between them,
    so the halves are not merged again. The suspicion is dropped as soon as a
    refusal is found inside either half: that refusal explains the read's.

Reads through holes
    Halving finds, in a few polls, the fewest reads a device allows, whichever of
    its holes it refuses. A device expected to refuse every hole (``split_at_holes``:
    a card that answers only the rows of its table) falls back at once instead: a
    refused read that crossed holes (addresses no point needs) is not halved, its
    runs of needed addresses between the holes are read, and every seam between two
    runs is suspected, until a refusal found inside any run explains the read's
    refusal instead (then all its seams are dropped). The first poll so learns what
    halving would take several polls to learn; a device that answers its holes
    keeps the fewer, longer reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import copy
from dataclasses import dataclass
from itertools import groupby, pairwise
import time
from typing import Any

from .errors import ConfigError
from .models import Point, Table
from .planner import ReadBlock, Span, address_order, block_of, cut_at_gaps, unneeded_runs

DEFAULT_BACKOFF = 60.0
"""Seconds until a span refused once is tried again."""
DEFAULT_BACKOFF_MAX = 3600.0
"""The longest wait before a span refused many times is tried again."""
_EXPORT_KEY = "learned refusals"
_MAX_STRIKES = 64
"""Refusals of one span are counted up to this (the back-off has long reached its maximum)."""


@dataclass(slots=True)
class _Refusal:
    """A span the device refused, how often, and when it may be tried again."""

    span: Span
    strikes: int
    retry_at: float


@dataclass(slots=True)
class _Suspect:
    """Where two pieces of a refused read meet, suspected while no piece holds a refusal.

    ``origin`` is the refused read the pieces came from: a refusal found inside any
    of its pieces explains that refusal, and every seam suspected for it is dropped.
    """

    first: Span
    second: Span
    strikes: int
    retry_at: float
    origin: Span

    @property
    def bridge(self) -> Span:
        """The addresses a read must hold to cross from the first half into the second."""
        return Span(self.first.end, self.second.start)


class SplitMemory:
    """The refusals of one device; see the module notes."""

    __slots__ = ("_backoff", "_backoff_max", "_clock", "_refused", "_suspected")

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        backoff: float = DEFAULT_BACKOFF,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
    ) -> None:
        """Start knowing of no refusal; ``clock`` gives monotonic seconds."""
        self._clock = clock
        self._backoff = backoff
        self._backoff_max = backoff_max
        self._refused: dict[Table, list[_Refusal]] = {}
        self._suspected: dict[Table, list[_Suspect]] = {}

    # --- What the planner asks ------------------------------------------------------------
    def is_refused(self, point: Point) -> bool:
        """Whether no read may fetch ``point`` now: its registers hold a refused span."""
        return not self.allows_read(point.table, point.address, point.count)

    def allows_read(self, table: Table, start: int, count: int) -> bool:
        """Whether a read of ``count`` items from ``start`` holds no span refused right now."""
        read = Span(start, start + count - 1)
        now = self._clock()
        if any(read.holds(r.span) for r in self._refused.get(table, ()) if r.retry_at > now):
            return False
        return not any(
            read.holds(s.bridge) for s in self._suspected.get(table, ()) if s.retry_at > now
        )

    @property
    def empty(self) -> bool:
        """Whether nothing has been learnt."""
        return not any(self._refused.values()) and not any(self._suspected.values())

    # --- What the poller tells ------------------------------------------------------------
    def record_refusal(self, block: ReadBlock, *, split_at_holes: bool = False) -> list[ReadBlock]:
        """Remember that the device refused ``block``; return the reads to try instead.

        With ``split_at_holes``, a block that crossed holes is cut into its runs
        between them (see the module notes). Any other block is split in two
        halves at an address where a point starts, and a half (or run) that still
        holds a refused span is split again. A block whose points all start at one address is not split:
        its points that span the whole block become refused and the others, if
        any, are returned as one narrower read. Points of ``block`` in none of the
        returned reads are refused.
        """
        self._refuse(block.table, Span(block.start, block.end))
        readable = sorted(
            (point for point in block.points if not self.is_refused(point)), key=address_order
        )
        runs = cut_at_gaps(readable, 0) if split_at_holes and readable else []
        if len(runs) > 1:
            retry = []
            for run in runs:
                piece = block_of(block.table, run)
                if self.allows_read(block.table, piece.start, piece.count):
                    retry.append(piece)
                else:
                    retry.extend(self._halves(block.table, run))
            self._suspect_seams(block.table, Span(block.start, block.end), retry)
            return retry
        retry = self._halves(block.table, readable)
        if len(retry) == 2 and retry[0].start == block.start and retry[1].end == block.end:
            self._suspect_seams(block.table, Span(block.start, block.end), retry)
        return retry

    def record_answer(self, block: ReadBlock) -> None:
        """Forget refusals and suspicions that an answered read shows to be wrong now."""
        read = Span(block.start, block.end)
        if block.table in self._refused:
            self._refused[block.table] = [
                r for r in self._refused[block.table] if not read.holds(r.span)
            ]
        if block.table in self._suspected:
            self._suspected[block.table] = [
                s for s in self._suspected[block.table] if not read.holds(s.bridge)
            ]

    def forget(self) -> None:
        """Forget every refusal, e.g. after the device's firmware changed."""
        self._refused.clear()
        self._suspected.clear()

    def clone(self) -> SplitMemory:
        """Return an independent copy, to learn into and keep only if it proves right."""
        twin = SplitMemory(clock=self._clock, backoff=self._backoff, backoff_max=self._backoff_max)
        twin._refused = copy.deepcopy(self._refused)  # noqa: SLF001 - same class
        twin._suspected = copy.deepcopy(self._suspected)  # noqa: SLF001 - same class
        return twin

    def adopt(self, other: SplitMemory) -> None:
        """Take over what ``other`` (a clone of this memory) learnt."""
        self._refused = other._refused  # noqa: SLF001 - same class
        self._suspected = other._suspected  # noqa: SLF001 - same class

    # --- Keeping it across restarts -------------------------------------------------------
    def export(self) -> dict[str, list[dict[str, Any]]]:
        """Return what was learnt as plain data (JSON-ready), without clock times."""
        return {
            "refused": [
                {
                    "table": table.value,
                    "start": r.span.start,
                    "end": r.span.end,
                    "strikes": r.strikes,
                }
                for table, refusals in self._refused.items()
                for r in refusals
            ],
            "suspected": [
                {
                    "table": table.value,
                    "first": [s.first.start, s.first.end],
                    "second": [s.second.start, s.second.end],
                    "strikes": s.strikes,
                }
                for table, suspects in self._suspected.items()
                for s in suspects
            ],
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Replace what is known by exported data; ConfigError (nothing changed) when it is bad.

        Every restored span waits out its back-off before it is tried again.
        """
        refused: dict[Table, list[_Refusal]] = {}
        suspected: dict[Table, list[_Suspect]] = {}
        try:
            for item in data.get("refused", ()):
                table, strikes = Table(item["table"]), _strikes(item["strikes"])
                span = _span(item["start"], item["end"])
                refused.setdefault(table, []).append(_Refusal(span, strikes, self._retry(strikes)))
            for item in data.get("suspected", ()):
                table, strikes = Table(item["table"]), _strikes(item["strikes"])
                first, second = _halves(item["first"], item["second"])
                suspected.setdefault(table, []).append(
                    _Suspect(
                        first,
                        second,
                        strikes,
                        self._retry(strikes),
                        origin=Span(first.start, second.end),
                    )
                )
        except (AttributeError, KeyError, TypeError, ValueError) as err:
            raise ConfigError(_EXPORT_KEY, f"not what export() writes: {err!r}") from err
        self._refused, self._suspected = refused, suspected

    # --- Inside ---------------------------------------------------------------------------
    def _retry(self, strikes: int) -> float:
        """When a span refused ``strikes`` times may be tried again."""
        return self._clock() + min(self._backoff * 2.0 ** (strikes - 1), self._backoff_max)

    def _refuse(self, table: Table, span: Span) -> None:
        """Add a refused span, keeping only the narrowest; drop suspicions it explains.

        A refused read that holds spans refused before (whose back-off had run out)
        confirms them: they count one more refusal and wait longer.
        """
        refused = self._refused.setdefault(table, [])
        held = [r for r in refused if span.holds(r.span)]
        if held:
            for refusal in held:
                refusal.strikes = min(refusal.strikes + 1, _MAX_STRIKES)
                refusal.retry_at = self._retry(refusal.strikes)
            return
        refused[:] = sorted(
            [r for r in refused if not r.span.holds(span)] + [_Refusal(span, 1, self._retry(1))],
            key=lambda r: r.span,
        )
        suspects = self._suspected.get(table, [])
        explained = {
            s.origin
            for s in suspects
            if s.origin.holds(span)
            and not any(span.holds(t.bridge) for t in suspects if t.origin == s.origin)
        }
        self._suspected[table] = [s for s in suspects if s.origin not in explained]

    def _suspect_seams(self, table: Table, origin: Span, pieces: Sequence[ReadBlock]) -> None:
        """Suspect the seam between each two pieces, in address order, of the refused ``origin``."""
        suspects = self._suspected.setdefault(table, [])
        for first, second in pairwise(pieces):
            if first.end >= second.start:
                continue
            halves = (Span(first.start, first.end), Span(second.start, second.end))
            known = next((s for s in suspects if (s.first, s.second) == halves), None)
            if known is None:
                suspects.append(
                    _Suspect(*halves, strikes=1, retry_at=self._retry(1), origin=origin)
                )
            else:
                known.strikes = min(known.strikes + 1, _MAX_STRIKES)
                known.retry_at = self._retry(known.strikes)
                known.origin = origin

    def _halves(self, table: Table, points: Sequence[Point]) -> list[ReadBlock]:
        """Split ``points`` in two at a point start; split again any half that is refused.

        A half is also cut wherever it would read through more unneeded
        addresses in a row than the whole did, so a retried read never breaks
        the gap limit the refused read kept.
        """
        starts = [list(group) for _, group in groupby(points, key=lambda point: point.address)]
        if len(starts) < 2:
            return [block_of(table, points)] if points else []
        longest_gap = max(gap for gap, _ in unneeded_runs(points))
        middle = len(starts) // 2
        blocks: list[ReadBlock] = []
        for half in (starts[:middle], starts[middle:]):
            for piece in cut_at_gaps([point for group in half for point in group], longest_gap):
                block = block_of(table, piece)
                if self.allows_read(table, block.start, block.count):
                    blocks.append(block)
                else:
                    blocks.extend(self._halves(table, piece))
        return blocks


def _strikes(value: Any) -> int:
    """Check a refusal count from exported data."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= _MAX_STRIKES:
        raise ValueError(f"strikes must be a whole number from 1 to {_MAX_STRIKES}, not {value!r}")
    return value


def _span(start: Any, end: Any) -> Span:
    """Check an address span from exported data."""
    for number in (start, end):
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= 0xFFFF:
            raise ValueError(f"an address must be a whole number from 0 to 65535, not {number!r}")
    if start > end:
        raise ValueError(f"span {start}..{end} ends before it starts")
    return Span(start, end)


def _halves(first: Any, second: Any) -> tuple[Span, Span]:
    """Check the two halves of a suspected seam from exported data."""
    halves = _span(*first), _span(*second)
    if halves[0].end >= halves[1].start:
        raise ValueError(f"halves {first} and {second} do not follow each other")
    return halves
