"""Tests for the benchmarks' wire-time model: frame sizes, line time, and the floor no plan can beat."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
import pytest
from wiretime import (
    Framing,
    Traffic,
    count_requests_one_per_point,
    gap_items,
    lower_bound_time,
    lower_bound_traffic,
    one_per_point_time,
    one_per_point_traffic,
    plan_time,
    plan_traffic,
    request_bytes,
    response_bytes,
    shared_bus_time,
    transaction_time,
)

from powerbus.errors import ConfigError
from powerbus.models import AddressRange, BusLimits, DataType, Point, Table
from powerbus.planner import plan_reads

pytestmark = pytest.mark.hardware_free

# The OC-485 reference's framing example: unit 2 reads 3 holding registers from 40051.
SEED_QUERY = bytes.fromhex("02 03 00 32 00 03 E5 FA")
SEED_RESPONSE = bytes.fromhex("02 03 06 01 58 00 FA 00 54 1B 0D")

REGISTER_TYPES = {1: DataType.U16, 2: DataType.F32, 4: DataType.F64}


def rtu(hex_body: str) -> bytes:
    """Build an RTU frame: the given unit id and PDU, then two CRC bytes (their value does not matter here)."""
    return bytes.fromhex(hex_body) + bytes(2)


def make_point(
    key: str, address: int, count: int = 1, table: Table = Table.HOLDING_REGISTER
) -> Point:
    """Build a point of ``count`` items at ``address``."""
    data_type = DataType.BOOL if table.is_bit else REGISTER_TYPES[count]
    return Point(key=key, name=key, table=table, address=address, data_type=data_type, count=count)


# --- bytes -------------------------------------------------------------------------------------


def test_seed_read_is_8_bytes_and_its_answer_11() -> None:
    """The reference's 3-register read and its answer have the modelled sizes."""
    assert request_bytes(3, 3) == len(SEED_QUERY) == 8
    assert response_bytes(3, 3) == len(SEED_RESPONSE) == 11


@pytest.mark.parametrize(
    ("function", "count", "query", "answer"),
    [
        # read 10 coils from 0x13: two data bytes in the answer
        (1, 10, "01 01 00 13 00 0A", "01 01 02 CD 01"),
        # read 9 discrete inputs from 0xC4
        (2, 9, "01 02 00 C4 00 09", "01 02 02 AC 01"),
        # read 1 input register from 0x08
        (4, 1, "01 04 00 08 00 01", "01 04 02 00 0A"),
        # write coil 0xAC on: the answer echoes the request
        (5, 1, "01 05 00 AC FF 00", "01 05 00 AC FF 00"),
        # write register 0x4010 with 0x0025
        (6, 1, "01 06 40 10 00 25", "01 06 40 10 00 25"),
        # write 10 coils from 0x13
        (15, 10, "01 0F 00 13 00 0A 02 CD 01", "01 0F 00 13 00 0A"),
        # write 2 registers from 0x01
        (16, 2, "01 10 00 01 00 02 04 00 0A 01 02", "01 10 00 01 00 02"),
    ],
)
def test_frame_sizes_match_hand_built_frames(
    function: int, count: int, query: str, answer: str
) -> None:
    """Every modelled function's request and answer are as long as real RTU frames."""
    assert request_bytes(function, count) == len(rtu(query))
    assert response_bytes(function, count) == len(rtu(answer))


def test_exception_answer_is_5_bytes_on_rtu() -> None:
    """An exception response (function | 0x80, code, CRC) has 5 bytes whatever was asked."""
    assert response_bytes(3, 125, exception=True) == len(rtu("01 83 02")) == 5
    assert response_bytes(16, 10, exception=True) == 5


def test_tcp_frames_carry_the_7_byte_mbap_header_instead_of_unit_id_and_crc() -> None:
    """The seed read over Modbus TCP: MBAP (transaction, protocol, length, unit) + PDU."""
    tcp_query = bytes.fromhex("00 01 00 00 00 06 02 03 00 32 00 03")
    tcp_answer = bytes.fromhex("00 01 00 00 00 09 02 03 06 01 58 00 FA 00 54")
    assert request_bytes(3, 3, Framing.TCP) == len(tcp_query)
    assert response_bytes(3, 3, Framing.TCP) == len(tcp_answer)


def test_impossible_requests_are_refused() -> None:
    """Unknown function codes and counts a function cannot carry raise ConfigError."""
    with pytest.raises(ConfigError):
        request_bytes(7)
    with pytest.raises(ConfigError):
        request_bytes(6, 2)
    with pytest.raises(ConfigError):
        response_bytes(3, 0)


# --- time --------------------------------------------------------------------------------------


def test_three_register_read_at_9600_8e1_by_hand() -> None:
    """8 + 11 characters of 11 bits, plus 3.5 characters of silence after each frame."""
    by_hand = (8 + 11 + 3.5 + 3.5) * 11 / 9600  # = 29.79 ms
    assert transaction_time(Table.HOLDING_REGISTER, 3, 9600) == pytest.approx(by_hand)
    assert by_hand == pytest.approx(0.02979, abs=1e-5)


def test_silence_is_fixed_above_19200_baud() -> None:
    """At 38400 Bd each frame is followed by 1.75 ms, not 3.5 characters."""
    by_hand = (8 + 11) * 11 / 38400 + 2 * 0.00175
    assert transaction_time(Table.HOLDING_REGISTER, 3, 38400) == pytest.approx(by_hand)


def test_turnaround_and_spacing_lengthen_a_transaction() -> None:
    """The device's thinking time adds; the bus spacing replaces the silence after the answer."""
    character = 11 / 9600
    by_hand = (8 + 11) * character + 3.5 * character + 0.004 + 0.02
    measured = transaction_time(Table.HOLDING_REGISTER, 3, 9600, turnaround=0.004, spacing=0.02)
    assert measured == pytest.approx(by_hand)
    short_spacing = transaction_time(Table.HOLDING_REGISTER, 3, 9600, spacing=0.001)
    assert short_spacing == pytest.approx(transaction_time(Table.HOLDING_REGISTER, 3, 9600))


def test_one_request_per_point_reads_shared_registers_again() -> None:
    """Two views of one float cost two reads one-per-point, one read in a plan."""
    points = [make_point("power", 10, 2), make_point("power_again", 10, 2)]
    plan = plan_reads(points, BusLimits())
    assert one_per_point_traffic(points) == Traffic(2, 16, 18)
    assert plan_traffic(plan.blocks) == Traffic(1, 8, 9)
    assert one_per_point_time(points, 9600) == pytest.approx(2 * plan_time(plan.blocks, 9600))


def test_one_request_per_point_reads_a_status_word_once_per_view() -> None:
    """Sixteen views of one status word and a float beside it: seventeen requests, or one read."""
    views = [make_point(f"flag{bit}", 0x10) for bit in range(16)]
    points = [*views, make_point("power", 0x11, 2)]
    plan = plan_reads(points, BusLimits())
    assert count_requests_one_per_point(iter(points)) == 17
    assert one_per_point_traffic(points).transactions == 17
    assert len(plan.blocks) == 1


def test_shared_bus_pauses_once_per_device_and_round() -> None:
    """Three devices in turn switch unit three times a round; one device never does."""
    assert shared_bus_time([0.3, 0.2, 0.1], 0.005) == pytest.approx(0.615)
    assert shared_bus_time([0.3], 0.005) == pytest.approx(0.3)


# --- the floor ---------------------------------------------------------------------------------


def test_floor_counts_only_occupied_registers_per_readable_range() -> None:
    """Points in two ranges need two reads; registers nobody occupies are not counted."""
    limits = BusLimits(
        readable=(
            AddressRange(table=Table.HOLDING_REGISTER, start=0, end=99),
            AddressRange(table=Table.HOLDING_REGISTER, start=100, end=199),
        )
    )
    points = [make_point("a", 0, 2), make_point("b", 50, 2), make_point("c", 120)]
    floor = lower_bound_traffic(points, limits)
    assert floor == Traffic(2, 2 * 8, 2 * 5 + 2 * 5)
    assert lower_bound_traffic(points, limits, Framing.TCP) == Traffic(2, 2 * 12, 2 * 9 + 2 * 5)


def test_floor_splits_what_one_read_cannot_carry() -> None:
    """130 contiguous registers with a 125-register read size need two reads."""
    points = [make_point(f"r{i}", i) for i in range(130)]
    assert lower_bound_traffic(points, BusLimits()) == Traffic(2, 16, 2 * 5 + 2 * 130)


@st.composite
def point_sets(draw: st.DrawFn) -> tuple[list[Point], BusLimits]:
    """Random points in a few tables and random limits, readable ranges included."""
    tables = [Table.HOLDING_REGISTER, Table.INPUT_REGISTER, Table.COIL, Table.DISCRETE_INPUT]
    points: list[Point] = []
    for index in range(draw(st.integers(1, 40))):
        table = draw(st.sampled_from(tables))
        count = 1 if table.is_bit else draw(st.sampled_from([1, 2, 4]))
        points.append(make_point(f"p{index}", draw(st.integers(0, 300)), count, table))
    ranges = [
        AddressRange(table=draw(st.sampled_from(tables)), start=start, end=start + length)
        for start, length in draw(
            st.lists(st.tuples(st.integers(0, 300), st.integers(0, 120)), max_size=4)
        )
    ]
    limits = BusLimits(
        max_registers=draw(st.integers(1, 125)),
        max_bits=draw(st.integers(1, 64)),
        max_gap=draw(st.integers(0, 30)),
        readable=tuple(ranges),
    )
    return points, limits


@settings(max_examples=300, deadline=None)
@given(point_sets(), st.sampled_from([1200, 9600, 19200, 38400, 115200]), st.floats(0, 0.05))
def test_no_plan_beats_the_floor(
    case: tuple[list[Point], BusLimits], baud: int, spacing: float
) -> None:
    """Whatever the points and limits, the planned reads take at least the floor's time and bytes."""
    points, limits = case
    plan = plan_reads(points, limits)
    floor = lower_bound_traffic(points, limits)
    planned = plan_traffic(plan.blocks)
    assert floor.transactions <= planned.transactions
    assert floor.received <= planned.received
    assert lower_bound_time(points, limits, baud, spacing=spacing) <= plan_time(
        plan.blocks, baud, spacing=spacing
    ) * (1 + 1e-12)


@st.composite
def packed_ranges(draw: st.DrawFn) -> tuple[list[Point], BusLimits]:
    """Readable ranges, each tiled from its start by points with no hole, fitting one read."""
    max_registers = draw(st.integers(4, 125))
    points: list[Point] = []
    ranges: list[AddressRange] = []
    start = 0
    for area in range(draw(st.integers(1, 4))):
        address = start
        for width in draw(
            st.lists(st.sampled_from([1, 2, 4]), min_size=1, max_size=max_registers // 4)
        ):
            points.append(make_point(f"a{area}_{address}", address, width))
            address += width
        ranges.append(AddressRange(table=Table.HOLDING_REGISTER, start=start, end=address - 1))
        start = address + draw(st.integers(0, 50))
    return points, BusLimits(max_registers=max_registers, max_gap=0, readable=tuple(ranges))


@settings(max_examples=200, deadline=None)
@given(packed_ranges())
def test_a_plan_without_gap_registers_meets_the_floor(case: tuple[list[Point], BusLimits]) -> None:
    """Points that tile their ranges are read with no spare register, in the floor's time."""
    points, limits = case
    plan = plan_reads(points, limits)
    assert gap_items(plan.blocks) == 0
    assert plan_traffic(plan.blocks) == lower_bound_traffic(points, limits)
    assert plan_time(plan.blocks, 9600) == pytest.approx(lower_bound_time(points, limits, 9600))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 125), st.integers(1, 600))
def test_contiguous_single_registers_meet_the_floor_across_many_reads(
    max_registers: int, registers: int
) -> None:
    """A long run of one-register points fills every read to the limit and meets the floor."""
    points = [make_point(f"r{i}", i) for i in range(registers)]
    limits = BusLimits(max_registers=max_registers)
    plan = plan_reads(points, limits)
    assert gap_items(plan.blocks) == 0
    assert plan_time(plan.blocks, 9600) == pytest.approx(lower_bound_time(points, limits, 9600))
