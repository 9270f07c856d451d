"""A device expected to refuse its holes (``split_at_holes``) is read around them at once.

Pure tests of :class:`SplitMemory` on hand-made blocks: points at 0, 4 and 8 (and 12) of
the holding registers, read as one block through the holes between them.
"""

from __future__ import annotations

import pytest

from powerbus.models import BusLimits, DataType, Point, Table
from powerbus.planner import ReadBlock, plan_reads
from powerbus.refusals import DEFAULT_BACKOFF, SplitMemory

pytestmark = pytest.mark.hardware_free

HR = Table.HOLDING_REGISTER
LIMITS = BusLimits(max_gap=8)


def point(address: int) -> Point:
    """Make a one-register point at ``address``."""
    return Point(
        key=f"p{address}",
        name=f"p{address}",
        table=HR,
        address=address,
        data_type=DataType.U16,
        count=1,
    )


POINTS = [point(0), point(4), point(8)]
WHOLE = ReadBlock(table=HR, start=0, count=9, points=tuple(POINTS))


class Clock:
    """Monotonic seconds moved by hand."""

    def __init__(self) -> None:
        """Start at 100 s."""
        self.now = 100.0

    def __call__(self) -> float:
        """Return the time."""
        return self.now


def spans(blocks: list[ReadBlock]) -> list[tuple[int, int]]:
    """Return the (first, last) address of each read."""
    return [(block.start, block.end) for block in blocks]


def test_a_refused_read_through_holes_is_read_as_its_runs_and_not_merged_again() -> None:
    """The runs come back at once; later plans keep them apart until the back-off runs out."""
    clock = Clock()
    memory = SplitMemory(clock=clock)

    retry = memory.record_refusal(WHOLE, split_at_holes=True)
    for block in retry:
        memory.record_answer(block)

    assert spans(retry) == [(0, 0), (4, 4), (8, 8)]
    assert spans(list(plan_reads(POINTS, LIMITS, memory).blocks)) == [(0, 0), (4, 4), (8, 8)]
    clock.now += DEFAULT_BACKOFF + 1
    assert spans(list(plan_reads(POINTS, LIMITS, memory).blocks)) == [(0, 8)]


def test_without_the_flag_a_refused_read_is_halved() -> None:
    """A device that may refuse only some holes is searched by halves."""
    assert spans(SplitMemory().record_refusal(WHOLE)) == [(0, 0), (4, 8)]


def test_a_refused_run_explains_the_refusal_and_frees_the_other_seams() -> None:
    """When a point was the cause, the runs that answered are read together again."""
    points = [*POINTS, point(12)]
    memory = SplitMemory()
    *answered, bad = memory.record_refusal(
        ReadBlock(table=HR, start=0, count=13, points=tuple(points)), split_at_holes=True
    )
    for block in answered:
        memory.record_answer(block)
    assert memory.record_refusal(bad, split_at_holes=True) == []

    plan = plan_reads(points, LIMITS, memory)

    assert [p.key for p in plan.refused] == ["p12"]
    assert spans(list(plan.blocks)) == [(0, 8)]
    assert memory.export()["suspected"] == []
