"""Tests for the read planner: pooling points into block reads, and learning refused reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
import functools
import random
from typing import NamedTuple

from hypothesis import given, settings, strategies as st
import pytest

from powerbus.models import AddressRange, BusLimits, DataType, Point, Table
from powerbus.planner import ReadBlock, ReadPlan, plan_reads
from powerbus.refusals import SplitMemory

pytestmark = pytest.mark.hardware_free

TABLE_ADDRESSES = 0x10000
REGISTER_TYPES = {1: DataType.U16, 2: DataType.F32, 4: DataType.F64}

# A refusal rule: whether the device answers "illegal data address" to a read.
Refuses = Callable[[Table, int, int], bool]


def make_point(
    key: str,
    address: int,
    count: int = 1,
    table: Table = Table.HOLDING_REGISTER,
    bit: int | None = None,
) -> Point:
    """Build a point of ``count`` items at ``address``."""
    data_type = DataType.BOOL if table.is_bit else REGISTER_TYPES[count]
    return Point(
        key=key, name=key, table=table, address=address, data_type=data_type, count=count, bit=bit
    )


def floats(prefix: str, first: int, last: int) -> list[Point]:
    """Build two-register float points at every even offset from ``first`` to ``last``."""
    return [
        make_point(f"{prefix}_{address:04x}", address, 2) for address in range(first, last + 1, 2)
    ]


# --- an independent statement of the rules a block must follow --------------------------------


def most_items(limits: BusLimits, table: Table) -> int:
    """Return the read size limit of ``table``."""
    return limits.max_bits if table in (Table.COIL, Table.DISCRETE_INPUT) else limits.max_registers


def inside_a_range(limits: BusLimits, table: Table, start: int, end: int) -> bool:
    """Whether ``start..end`` lies inside one declared range (or the table declares none)."""
    declared = [span for span in limits.readable if span.table is table]
    if not declared:
        return start >= 0 and end < TABLE_ADDRESSES
    return any(span.start <= start and end <= span.end for span in declared)


def can_be_planned(point: Point, limits: BusLimits) -> bool:
    """Whether one read may fetch the point, by the rules of the profile."""
    return point.count <= most_items(limits, point.table) and inside_a_range(
        limits, point.table, point.address, point.end
    )


def longest_unneeded_run(start: int, end: int, points: Sequence[Point]) -> int:
    """Measure the longest run of addresses in ``start..end`` that none of ``points`` occupies."""
    needed = {address for point in points for address in range(point.address, point.end + 1)}
    longest = run = 0
    for address in range(start, end + 1):
        run = 0 if address in needed else run + 1
        longest = max(longest, run)
    return longest


def one_read_can_fetch(
    group: Sequence[Point], limits: BusLimits, refuses: Refuses | None = None
) -> bool:
    """Whether the points of one table can share a read under ``limits``."""
    table = group[0].table
    start = min(point.address for point in group)
    end = max(point.end for point in group)
    return (
        end - start + 1 <= most_items(limits, table)
        and inside_a_range(limits, table, start, end)
        and longest_unneeded_run(start, end, group) <= limits.max_gap
        and (refuses is None or not refuses(table, start, end))
    )


def fewest_reads(points: Sequence[Point], limits: BusLimits, refuses: Refuses | None = None) -> int:
    """Find the fewest reads that fetch ``points`` by trying every grouping, table by table."""
    return sum(
        fewest_groups([point for point in points if point.table is table], limits, refuses)
        for table in Table
    )


def fewest_groups(members: Sequence[Point], limits: BusLimits, refuses: Refuses | None) -> int:
    """Find the fewest valid groups that together hold every one of ``members``.

    Every subset of the members is judged once as a possible read; the best
    grouping of a set is then the best over the valid groups that hold its
    lowest member, plus the best grouping of what remains.
    """
    everyone = (1 << len(members)) - 1
    fits = [
        subset != 0
        and one_read_can_fetch(
            [member for bit, member in enumerate(members) if subset >> bit & 1], limits, refuses
        )
        for subset in range(everyone + 1)
    ]

    @functools.cache
    def best(remaining: int) -> int:
        if not remaining:
            return 0
        lowest = remaining & -remaining
        fewest = len(members)
        group = remaining
        while group:
            if group & lowest and fits[group]:
                fewest = min(fewest, 1 + best(remaining & ~group))
            group = (group - 1) & remaining
        return fewest

    return best(everyone)


def touches(bad: frozenset[tuple[Table, int]]) -> Refuses:
    """Build a device that refuses every read touching one of the ``bad`` addresses."""

    def refuses(table: Table, start: int, end: int) -> bool:
        return any(table is bad_table and start <= address <= end for bad_table, address in bad)

    return refuses


def poll_once(plan: ReadPlan, memory: SplitMemory, refuses: Refuses) -> tuple[list[str], int]:
    """Read every block as a poller does; return the keys read and the number of refusals."""
    pending = list(plan.blocks)
    read: list[str] = []
    refusals = 0
    while pending:
        block = pending.pop(0)
        if refuses(block.table, block.start, block.end):
            refusals += 1
            pending[:0] = memory.record_refusal(block)
        else:
            read.extend(point.key for point in block.points)
    return read, refusals


def keys(points: Sequence[Point]) -> list[str]:
    """Return the sorted keys of ``points``."""
    return sorted(point.key for point in points)


def planned_keys(plan: ReadPlan) -> list[str]:
    """Return the keys of every point a block of ``plan`` fetches, one entry per fetch."""
    return sorted(point.key for block in plan.blocks for point in block.points)


# --- strategies --------------------------------------------------------------------------------


# Half of all draws land in the holding registers, so that points, ranges and
# refused addresses meet in one table often; the rest spread over all four tables.
tables = st.one_of(st.just(Table.HOLDING_REGISTER), st.sampled_from(list(Table)))
read_sizes = st.one_of(st.integers(1, 12), st.integers(1, 125))


class Case(NamedTuple):
    """Points to plan, the limits to plan them under, and addresses the device refuses."""

    points: list[Point]
    limits: BusLimits
    bad: frozenset[tuple[Table, int]]


@st.composite
def cases(draw: st.DrawFn, max_points: int, min_points: int = 1) -> Case:
    """Draw points, limits and refused addresses, all over one stretch of addresses.

    The stretch is sometimes short, so that points overlap and abut often and
    ranges and refused addresses hit them.
    """
    addresses = st.integers(0, draw(st.sampled_from((10, 40, 300))))
    specs = draw(
        st.lists(
            st.tuples(tables, addresses, st.sampled_from((1, 2, 4))),
            min_size=min_points,
            max_size=max_points,
        )
    )
    ranges = st.builds(
        lambda table, one, other: AddressRange(
            table=table, start=min(one, other), end=max(one, other)
        ),
        tables,
        addresses,
        addresses,
    )
    limits = BusLimits(
        max_registers=draw(read_sizes),
        max_bits=draw(read_sizes),
        max_gap=draw(st.integers(0, 20)),
        readable=tuple(draw(st.lists(ranges, max_size=3))),
    )
    points = [
        make_point(f"p{index}", address, 1 if table.is_bit else count, table)
        for index, (table, address, count) in enumerate(specs)
    ]
    bad = draw(st.frozensets(st.tuples(tables, addresses), max_size=4))
    return Case(points, limits, bad)


# --- properties of every plan ------------------------------------------------------------------


@given(cases(max_points=60))
def test_every_point_is_fetched_once_or_reported(case: Case) -> None:
    """No point is silently dropped, and none is fetched twice."""
    points, limits, _ = case
    plan = plan_reads(points, limits)

    assert sorted(planned_keys(plan) + keys(plan.unplannable)) == keys(points)
    assert plan.refused == ()


@given(cases(max_points=60))
def test_unplannable_points_are_exactly_those_no_read_can_fetch(case: Case) -> None:
    """A point is reported unplannable if and only if it fits no range or exceeds the read size."""
    points, limits, _ = case
    plan = plan_reads(points, limits)

    assert keys(plan.unplannable) == keys([p for p in points if not can_be_planned(p, limits)])


@given(cases(max_points=60))
def test_every_block_obeys_the_limits(case: Case) -> None:
    """Each block holds its points whole, fits one read and one range, and skips no long gap."""
    points, limits, _ = case
    plan = plan_reads(points, limits)

    for block in plan.blocks:
        assert block.points
        assert all(point.table is block.table for point in block.points)
        assert all(
            block.start <= point.address and point.end <= block.end for point in block.points
        )
        assert block.start == min(point.address for point in block.points)
        assert block.end == max(point.end for point in block.points)
        assert [p.address for p in block.points] == sorted(p.address for p in block.points)
        assert block.count <= most_items(limits, block.table)
        assert inside_a_range(limits, block.table, block.start, block.end)
        assert longest_unneeded_run(block.start, block.end, block.points) <= limits.max_gap


@given(cases(max_points=60))
def test_blocks_come_in_table_then_address_order(case: Case) -> None:
    """The plan lists blocks by table (in the order of the Table enum), then by start."""
    points, limits, _ = case
    order = list(Table)
    plan = plan_reads(points, limits)

    positions = [(order.index(block.table), block.start) for block in plan.blocks]
    assert positions == sorted(positions)


@given(cases(max_points=40), st.randoms(use_true_random=False))
def test_plan_does_not_depend_on_the_order_points_come_in(
    case: Case, shuffler: random.Random
) -> None:
    """Shuffling the points changes neither the reads nor which points each read fetches."""
    points, limits, _ = case
    shuffled = list(points)
    shuffler.shuffle(shuffled)

    def reads(plan: ReadPlan) -> list[tuple[Table, int, int, list[str]]]:
        return [(b.table, b.start, b.count, keys(b.points)) for b in plan.blocks]

    assert reads(plan_reads(shuffled, limits)) == reads(plan_reads(points, limits))


@given(cases(max_points=60))
def test_points_on_one_address_share_one_read(case: Case) -> None:
    """Several selections of one register are fetched by a single read."""
    points, limits, _ = case
    plan = plan_reads(points, limits)

    block_of = {
        point.key: index for index, block in enumerate(plan.blocks) for point in block.points
    }
    fetched = [point for point in points if point.key in block_of]
    for point in fetched:
        for other in fetched:
            if (other.table, other.address) == (point.table, point.address):
                assert block_of[other.key] == block_of[point.key]


@given(cases(max_points=60))
def test_reads_overlap_only_when_they_cannot_be_one(case: Case) -> None:
    """Two reads of the same registers happen only when one read of both would break a limit."""
    points, limits, _ = case
    plan = plan_reads(points, limits)

    for earlier, later in zip(plan.blocks, plan.blocks[1:], strict=False):
        if earlier.table is later.table and later.start <= earlier.end:
            merged = (*earlier.points, *later.points)
            assert not one_read_can_fetch(merged, limits)


@settings(max_examples=300, deadline=None)
@given(cases(min_points=3, max_points=9))
def test_plan_has_the_fewest_reads(case: Case) -> None:
    """No grouping of the points into valid reads needs fewer reads than the plan."""
    points, limits, _ = case
    plan = plan_reads(points, limits)

    readable = [point for point in points if can_be_planned(point, limits)]
    assert len(plan.blocks) == fewest_reads(readable, limits)


# --- worked examples ---------------------------------------------------------------------------


def pro380_map() -> list[Point]:
    """Build every point of the PRO380's current register map (banks 0x4000, 0x5000, 0x6000)."""
    identity_sizes = {
        0x4000: 2, 0x4002: 1, 0x4003: 1, 0x4004: 1, 0x4005: 2, 0x4007: 2, 0x4009: 2,
        0x400B: 1, 0x400C: 1, 0x400D: 2, 0x401B: 2, 0x401D: 2, 0x401F: 1,
    } | dict.fromkeys(range(0x400F, 0x401B), 1)  # fmt: skip
    identity = [make_point(f"id_{a:04x}", a, n) for a, n in sorted(identity_sizes.items())]
    return [
        *identity,
        *floats("instant", 0x5000, 0x5030),
        *floats("energy", 0x6000, 0x6046),
        make_point("tariff", 0x6048, 1),
        make_point("day_counter", 0x6049, 2),
    ]


def test_pro380_map_takes_three_reads() -> None:
    """The whole PRO380 map is read in one request per register bank."""
    plan = plan_reads(pro380_map(), BusLimits())

    assert [(b.table, b.start, b.count) for b in plan.blocks] == [
        (Table.HOLDING_REGISTER, 0x4000, 0x20),
        (Table.HOLDING_REGISTER, 0x5000, 0x32),
        (Table.HOLDING_REGISTER, 0x6000, 0x4B),
    ]
    assert plan.unplannable == ()
    assert [len(b.points) for b in plan.blocks] == [25, 25, 38]


def test_read_size_limit_cuts_at_point_boundaries() -> None:
    """A float is never cut in two to fill a read up to its limit."""
    limits = BusLimits(max_registers=5)
    plan = plan_reads(floats("f", 0, 10), limits)

    assert [(b.start, b.count) for b in plan.blocks] == [(0, 4), (4, 4), (8, 4)]


def test_gap_limit_decides_whether_to_read_through() -> None:
    """A hole of three registers is read through with max_gap 3 and not with max_gap 2."""
    points = [make_point("a", 0), make_point("b", 4)]

    assert [(b.start, b.count) for b in plan_reads(points, BusLimits(max_gap=3)).blocks] == [(0, 5)]
    assert [(b.start, b.count) for b in plan_reads(points, BusLimits(max_gap=2)).blocks] == [
        (0, 1),
        (4, 1),
    ]


def test_zero_gap_merges_only_touching_points() -> None:
    """With max_gap 0 only points that abut or overlap share a read."""
    points = [make_point("a", 0, 2), make_point("b", 2), make_point("c", 1), make_point("d", 4)]
    plan = plan_reads(points, BusLimits(max_gap=0))

    assert [(b.start, b.count, keys(b.points)) for b in plan.blocks] == [
        (0, 3, ["a", "b", "c"]),
        (4, 1, ["d"]),
    ]


def test_two_views_of_one_address_are_read_once_at_a_size_boundary() -> None:
    """A u32 and its high word at one address go to the same read, even where a read fills up."""
    singles = [make_point(f"r{a}", a) for a in range(3)]
    high_word = make_point("high_word", 3)
    whole = make_point("whole", 3, 2)
    plan = plan_reads([*singles, high_word, whole], BusLimits(max_registers=4))

    assert [(b.start, b.count, keys(b.points)) for b in plan.blocks] == [
        (0, 3, ["r0", "r1", "r2"]),
        (3, 2, ["high_word", "whole"]),
    ]


def test_reads_stay_inside_one_declared_range() -> None:
    """Two abutting ranges are read separately; a point in neither is reported, not read."""
    limits = BusLimits(
        readable=(
            AddressRange(table=Table.INPUT_REGISTER, start=0, end=9),
            AddressRange(table=Table.INPUT_REGISTER, start=10, end=19),
        )
    )
    points = [make_point(f"r{a}", a, table=Table.INPUT_REGISTER) for a in (8, 9, 10, 11, 25)]
    straddling = make_point("straddling", 9, 2, Table.INPUT_REGISTER)
    plan = plan_reads([*points, straddling], limits)

    assert [(b.start, b.count) for b in plan.blocks] == [(8, 2), (10, 2)]
    assert keys(plan.unplannable) == ["r25", "straddling"]


def test_ranges_of_one_table_do_not_restrict_another() -> None:
    """A table without declared ranges is readable everywhere."""
    limits = BusLimits(readable=(AddressRange(table=Table.INPUT_REGISTER, start=0, end=9),))
    plan = plan_reads([make_point("far", 5000), make_point("near", 5001)], limits)

    assert [(b.table, b.start, b.count) for b in plan.blocks] == [(Table.HOLDING_REGISTER, 5000, 2)]


def test_point_larger_than_one_read_is_reported() -> None:
    """A point that needs more items than one read may ask for is unplannable."""
    plan = plan_reads(
        [make_point("energy", 0, 4), make_point("status", 4)], BusLimits(max_registers=3)
    )

    assert keys(plan.unplannable) == ["energy"]
    assert [(b.start, b.count) for b in plan.blocks] == [(4, 1)]


def test_bit_tables_use_the_bit_limit() -> None:
    """Coils are pooled up to max_bits, not max_registers."""
    coils = [make_point(f"c{a}", a, table=Table.COIL) for a in range(300)]
    plan = plan_reads(coils, BusLimits(max_registers=10, max_bits=200))

    assert [(b.table, b.start, b.count) for b in plan.blocks] == [
        (Table.COIL, 0, 200),
        (Table.COIL, 200, 100),
    ]


def test_bit_selections_cost_one_request_instead_of_one_each() -> None:
    """Sixteen flags of a status word and a float beside it take one read, not seventeen."""
    flags = [make_point(f"flag{bit}", 0x10, bit=bit) for bit in range(16)]
    points = [*flags, make_point("power", 0x11, 2)]
    plan = plan_reads(points, BusLimits())

    assert [(b.start, b.count) for b in plan.blocks] == [(0x10, 3)]
    assert len(plan.blocks[0].points) == 17


# --- learning what a device refuses ------------------------------------------------------------


@pytest.mark.parametrize("bad_index", range(10))
def test_refused_address_ends_with_only_its_point_unread(bad_index: int) -> None:
    """A device refusing any read touching one float loses that float and nothing else."""
    points = floats("f", 0x5000, 0x5012)
    bad_address = 0x5000 + 2 * bad_index + 1
    refuses = touches(frozenset({(Table.HOLDING_REGISTER, bad_address)}))
    memory = SplitMemory()

    first_plan = plan_reads(points, BusLimits(), memory)
    read, refusals = poll_once(first_plan, memory, refuses)

    assert [(b.start, b.count) for b in first_plan.blocks] == [(0x5000, 20)]
    assert refusals > 0
    assert sorted(read) == keys([p for p in points if p.address != bad_address - 1])
    assert [p.key for p in points if memory.is_refused(p)] == [f"f_{bad_address - 1:04x}"]

    second_plan = plan_reads(points, BusLimits(), memory)
    expected = [(0x5000, 2 * bad_index), (bad_address + 1, 18 - 2 * bad_index)]
    assert [(b.start, b.count) for b in second_plan.blocks] == [s for s in expected if s[1] > 0]
    assert keys(second_plan.refused) == [f"f_{bad_address - 1:04x}"]
    assert poll_once(second_plan, memory, refuses)[1] == 0


def test_refused_read_across_two_points_keeps_them_apart() -> None:
    """A device that refuses reads spanning a boundary still has both sides read, separately."""
    points = [make_point(f"r{a}", a) for a in range(8)]

    def refuses(table: Table, start: int, end: int) -> bool:
        return start <= 3 < end

    memory = SplitMemory()
    read, _ = poll_once(plan_reads(points, BusLimits(), memory), memory, refuses)
    plan = plan_reads(points, BusLimits(), memory)

    assert sorted(read) == keys(points)
    assert plan.refused == ()
    assert [(b.start, b.count) for b in plan.blocks] == [(0, 4), (4, 4)]


def test_refused_hole_between_points_is_no_longer_read_through() -> None:
    """A hole the profile did not declare is learnt; the points around it stay readable."""
    points = [make_point(f"r{a}", a) for a in range(10) if a != 5]
    refuses = touches(frozenset({(Table.HOLDING_REGISTER, 5)}))
    memory = SplitMemory()

    read, _ = poll_once(plan_reads(points, BusLimits(), memory), memory, refuses)
    plan = plan_reads(points, BusLimits(), memory)

    assert sorted(read) == keys(points)
    assert plan.refused == ()
    assert [(b.start, b.count) for b in plan.blocks] == [(0, 5), (6, 4)]


def test_selections_of_a_refused_register_are_refused_together() -> None:
    """When a register is refused, every bit selection of it is refused with it."""
    flags = [make_point(f"flag{bit}", 7, bit=bit) for bit in range(3)]
    memory = SplitMemory()
    block = plan_reads(flags, BusLimits(), memory).blocks[0]

    assert memory.record_refusal(block) == []
    assert all(memory.is_refused(flag) for flag in flags)


def test_refusal_splits_a_block_in_halves_along_points() -> None:
    """The reads to retry split the refused block in two and keep every point whole."""
    points = floats("f", 0, 14)
    memory = SplitMemory()
    block = plan_reads(points, BusLimits(), memory).blocks[0]

    retry = memory.record_refusal(block)

    assert [(b.start, b.count, len(b.points)) for b in retry] == [(0, 8, 4), (8, 8, 4)]
    assert not any(memory.is_refused(point) for point in points)


def test_refusal_of_a_block_spanned_by_one_point_refuses_that_point_only() -> None:
    """A point covering the whole refused read is refused; the points inside it are retried."""
    wide = make_point("serial", 0, 4)
    inside = [make_point("high", 0), make_point("low", 3)]
    memory = SplitMemory()
    block = plan_reads([wide, *inside], BusLimits(), memory).blocks[0]

    retry = memory.record_refusal(block)

    assert memory.is_refused(wide)
    assert [(b.start, b.count, keys(b.points)) for b in retry] == [
        (0, 1, ["high"]),
        (3, 1, ["low"]),
    ]


def test_forget_lets_refused_reads_be_planned_again() -> None:
    """After forget() (e.g. new firmware) the device is planned as if it never refused."""
    points = floats("f", 0, 18)
    memory = SplitMemory()
    poll_once(
        plan_reads(points, BusLimits(), memory),
        memory,
        touches(frozenset({(Table.HOLDING_REGISTER, 6)})),
    )
    assert len(plan_reads(points, BusLimits(), memory).blocks) == 2

    memory.forget()

    plan = plan_reads(points, BusLimits(), memory)
    assert [(b.start, b.count) for b in plan.blocks] == [(0, 20)]
    assert plan.refused == ()


def test_each_device_keeps_its_own_refusals() -> None:
    """A refusal learnt from one device does not change the plan of another."""
    points = floats("f", 0, 6)
    refusing, other = SplitMemory(), SplitMemory()
    refusing.record_refusal(
        ReadBlock(table=Table.HOLDING_REGISTER, start=0, count=2, points=(points[0],))
    )

    assert plan_reads(points, BusLimits(), refusing).refused == (points[0],)
    assert plan_reads(points, BusLimits(), other).refused == ()


@settings(max_examples=200, deadline=None)
@given(cases(min_points=3, max_points=9))
def test_learning_converges_on_the_fewest_reads_the_device_allows(case: Case) -> None:
    """Polling until nothing is refused leaves out just the bad points, read in the fewest blocks.

    The device refuses every read touching a bad address. Every point without a
    bad address is read in the very first poll; once no read is refused any
    more, the plan needs no more reads than the best grouping that avoids every
    bad address.
    """
    points, limits, bad = case
    refuses = touches(bad)
    memory = SplitMemory()
    readable = [p for p in points if can_be_planned(p, limits)]
    good = [p for p in readable if not refuses(p.table, p.address, p.end)]

    read, _ = poll_once(plan_reads(points, limits, memory), memory, refuses)
    assert sorted(set(read)) == keys(good)

    for _ in range(50):
        plan = plan_reads(points, limits, memory)
        if poll_once(plan, memory, refuses)[1] == 0:
            break
    else:
        pytest.fail("the planner kept planning refused reads")

    assert keys(plan.refused) == keys([p for p in readable if refuses(p.table, p.address, p.end)])
    assert planned_keys(plan) == keys(good)
    assert len(plan.blocks) == fewest_reads(good, limits, refuses)


@given(cases(max_points=30))
def test_retried_reads_obey_the_limits_and_lose_no_point(case: Case) -> None:
    """Every read a refusal hands back is valid, and no point of the refused block goes missing."""
    points, limits, bad = case
    refuses = touches(bad)
    memory = SplitMemory()
    pending = list(plan_reads(points, limits, memory).blocks)
    while pending:
        block = pending.pop(0)
        if not refuses(block.table, block.start, block.end):
            continue
        retry = memory.record_refusal(block)
        refused_now = [p for p in block.points if memory.is_refused(p)]
        retried = [point.key for sub in retry for point in sub.points]
        assert sorted(retried + keys(refused_now)) == keys(block.points)
        for sub in retry:
            assert block.start <= sub.start and sub.end <= block.end
            assert (sub.start, sub.end) != (block.start, block.end)
            assert one_read_can_fetch(sub.points, limits)
            assert sub.start == min(p.address for p in sub.points)
            assert sub.end == max(p.end for p in sub.points)
        pending[:0] = retry
