"""How many bytes and how much line time Modbus requests cost: a model, no I/O.

On a serial line the cost of polling is set by the wire, not by the computer.
This module counts the characters of each request and response and turns them
into seconds at a baud rate, so that read plans can be compared with each other
and with the least any poller could spend on the same data. The benchmarks in
this folder use it; the engine does not.

RTU frames (unit id, PDU, CRC-16), in characters, for N registers or bits:

* read coils or discrete inputs (01, 02): request 8, response 5 + ceil(N / 8);
* read holding or input registers (03, 04): request 8, response 5 + 2 N;
* write a single coil or register (05, 06): request 8, response 8;
* write multiple coils (15): request 9 + ceil(N / 8), response 8;
* write multiple registers (16): request 9 + 2 N, response 8;
* an exception response to any of them: 5.

A Modbus TCP frame replaces the unit id and the CRC by the 7-byte MBAP header
(which carries the unit id), so it is the PDU plus 7 bytes.

Timing of one RTU transaction, each term at the line's baud rate:

* every character is 11 bits on the line (start, 8 data, parity and one stop
  bit for 8E1 or 8O1; no parity and two stop bits for 8N2);
* every frame is followed by a silence of 3.5 characters (fixed at 1.75 ms above
  19200 Bd), which is how a receiver knows the frame has ended;
* the device may think before it answers: ``turnaround``, 0 unless given,
  because no profile states it (real devices take a few milliseconds);
* after the answer the bus keeps quiet for its frame silence or for the
  profile's ``min_spacing``, whichever is longer, as :class:`powerbus.bus.Bus` does.

So one read of N registers takes
``(8 + 5 + 2 N) characters + silence + turnaround + max(silence, spacing)``.
The time of several reads is the sum of their transactions; a bus that polls
several devices in turn adds the unit-switch pause once per device and cycle.
(A line set to 8N1 has 10-bit characters; like :mod:`powerbus.link`, the model assumes
the 11 bits the Modbus serial specification asks for.)

Three ways to read the same points are compared: the blocks of a read plan,
one request per point, and the floor (:func:`lower_bound_traffic`): only the
registers the points occupy, in the fewest reads the readable ranges and the
read size allow. No real poller goes below the floor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
import math

from powerbus.errors import ConfigError
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import AddressRange, BusLimits, Point, Table
from powerbus.planner import ReadBlock

# Bytes around the PDU in each framing.
_RTU_UNIT_ID = 1
_RTU_CRC = 2
_TCP_MBAP = 7

# PDU sizes without the variable data: function code, address, quantity, byte count.
_FUNCTION_CODE = 1
_ADDRESS = 2
_QUANTITY = 2
_BYTE_COUNT = 1
_EXCEPTION_CODE = 1
_REGISTER_BYTES = 2
_BITS_PER_BYTE = 8

READ_COILS = 1
READ_DISCRETE_INPUTS = 2
READ_HOLDING_REGISTERS = 3
READ_INPUT_REGISTERS = 4
WRITE_SINGLE_COIL = 5
WRITE_SINGLE_REGISTER = 6
WRITE_MULTIPLE_COILS = 15
WRITE_MULTIPLE_REGISTERS = 16

_READS = frozenset({READ_COILS, READ_DISCRETE_INPUTS, READ_HOLDING_REGISTERS, READ_INPUT_REGISTERS})
_BIT_FUNCTIONS = frozenset({READ_COILS, READ_DISCRETE_INPUTS, WRITE_MULTIPLE_COILS})
_WRITE_SINGLE = frozenset({WRITE_SINGLE_COIL, WRITE_SINGLE_REGISTER})
_WRITE_MULTIPLE = frozenset({WRITE_MULTIPLE_COILS, WRITE_MULTIPLE_REGISTERS})


class Framing(StrEnum):
    """How a PDU is wrapped on the wire."""

    RTU = "rtu"
    TCP = "tcp"

    @property
    def overhead(self) -> int:
        """Bytes a frame adds to its PDU."""
        return _RTU_UNIT_ID + _RTU_CRC if self is Framing.RTU else _TCP_MBAP


@dataclass(frozen=True, slots=True)
class Traffic:
    """Transactions, and the bytes sent and received, of a set of requests."""

    transactions: int = 0
    sent: int = 0
    received: int = 0

    def __add__(self, other: Traffic) -> Traffic:
        """Add up the traffic of two sets of requests."""
        return Traffic(
            self.transactions + other.transactions,
            self.sent + other.sent,
            self.received + other.received,
        )

    @property
    def total(self) -> int:
        """Bytes in both directions."""
        return self.sent + self.received


# --- bytes ---------------------------------------------------------------------------------


def request_bytes(function: int, count: int = 1, framing: Framing = Framing.RTU) -> int:
    """Bytes of a request with ``function`` for ``count`` registers or bits."""
    _check(function, count)
    pdu = _FUNCTION_CODE + _ADDRESS + _QUANTITY
    if function in _WRITE_MULTIPLE:
        pdu += _BYTE_COUNT + _data_bytes(function, count)
    return pdu + framing.overhead


def response_bytes(
    function: int, count: int = 1, framing: Framing = Framing.RTU, *, exception: bool = False
) -> int:
    """Bytes of the answer to a request with ``function`` for ``count`` registers or bits.

    With ``exception``, the bytes of an exception response instead (function
    code with its high bit set, and the exception code).
    """
    _check(function, count)
    if exception:
        pdu = _FUNCTION_CODE + _EXCEPTION_CODE
    elif function in _READS:
        pdu = _FUNCTION_CODE + _BYTE_COUNT + _data_bytes(function, count)
    else:
        pdu = _FUNCTION_CODE + _ADDRESS + _QUANTITY
    return pdu + framing.overhead


def _check(function: int, count: int) -> None:
    """Refuse a function this model does not know, or a count it cannot carry."""
    if function not in _READS | _WRITE_SINGLE | _WRITE_MULTIPLE:
        raise ConfigError("function", f"function code {function} is not modelled")
    if count < 1 or (function in _WRITE_SINGLE and count != 1):
        raise ConfigError("count", f"function code {function} cannot carry {count} items")


def _data_bytes(function: int, count: int) -> int:
    """Bytes the values of ``count`` items take in a PDU of ``function``."""
    if function in _BIT_FUNCTIONS:
        return math.ceil(count / _BITS_PER_BYTE)
    return _REGISTER_BYTES * count


def read_traffic(table: Table, count: int, framing: Framing = Framing.RTU) -> Traffic:
    """Count the traffic of one read of ``count`` items of ``table``."""
    function = table.read_function
    return Traffic(
        1, request_bytes(function, count, framing), response_bytes(function, count, framing)
    )


def plan_traffic(blocks: Iterable[ReadBlock], framing: Framing = Framing.RTU) -> Traffic:
    """Count the traffic of reading every block of a read plan."""
    return sum((read_traffic(b.table, b.count, framing) for b in blocks), Traffic())


def count_requests_one_per_point(points: Iterable[Point]) -> int:
    """Count the requests a poller sends when it reads each point on its own.

    This is how Home Assistant core's modbus sensors and mbmd read: one request
    per point, so registers that several points share are read once for each of
    them. Benchmarks set it against ``len(plan_reads(...).blocks)``.
    """
    return sum(1 for _ in points)


def one_per_point_traffic(points: Iterable[Point], framing: Framing = Framing.RTU) -> Traffic:
    """Count the traffic of reading every point with a request of its own, of its items.

    This is how a poller without a planner reads (Home Assistant core's modbus
    sensors, mbmd): registers that several points share are read once for each.
    """
    return sum((read_traffic(p.table, p.count, framing) for p in points), Traffic())


def lower_bound_traffic(
    points: Iterable[Point], limits: BusLimits, framing: Framing = Framing.RTU
) -> Traffic:
    """Count the least traffic any poller could fetch ``points`` with, were holes free to skip.

    Only the registers (or bits) the points occupy are counted, each once. Per
    readable range they need at least ``ceil(occupied / max_items)`` reads,
    since no read crosses from one readable range into another (ranges that
    overlap count as one), and at least their own bytes in the answers. Points
    that no single read may fetch are left out, as a plan leaves them out.
    A plan reaches this floor only when its points leave no holes and pack
    into its blocks without a spare register.
    """
    occupied: dict[tuple[Table, int], set[int]] = {}
    areas: dict[Table, list[AddressRange]] = {}
    for point in points:
        area = limits.readable_range(point.table, point.address, point.count)
        if area is None or point.count > limits.max_items(point.table):
            continue
        merged = areas.setdefault(point.table, _merged_ranges(limits, point.table))
        index = next(i for i, known in enumerate(merged) if known.start <= area.start <= known.end)
        occupied.setdefault((point.table, index), set()).update(range(point.address, point.end + 1))
    floor = Traffic()
    for (table, _), addresses in occupied.items():
        function = table.read_function
        reads = math.ceil(len(addresses) / limits.max_items(table))
        answer_without_values = response_bytes(function, 1, framing) - _data_bytes(function, 1)
        floor += Traffic(
            reads,
            reads * request_bytes(function, 1, framing),
            reads * answer_without_values + _data_bytes(function, len(addresses)),
        )
    return floor


def _merged_ranges(limits: BusLimits, table: Table) -> list[AddressRange]:
    """Merge the overlapping readable ranges of ``table``; return them by start address."""
    declared = sorted((r for r in limits.readable if r.table is table), key=lambda r: r.start)
    if not declared:
        return [AddressRange(table=table, start=0, end=0xFFFF)]
    merged = [declared[0]]
    for area in declared[1:]:
        last = merged[-1]
        if area.start <= last.end:
            merged[-1] = AddressRange(table=table, start=last.start, end=max(last.end, area.end))
        else:
            merged.append(area)
    return merged


def gap_items(blocks: Iterable[ReadBlock]) -> int:
    """Count the registers (or bits) the blocks read that none of their points occupies."""
    unused = 0
    for block in blocks:
        used: set[int] = set()
        for point in block.points:
            used.update(range(point.address, point.end + 1))
        unused += block.count - len(used)
    return unused


# --- time ----------------------------------------------------------------------------------


def character_time(baud: int) -> float:
    """Seconds one RTU character (11 bits) takes at ``baud``."""
    return _line(baud).character_time


def frame_silence(baud: int) -> float:
    """Seconds of silence that end an RTU frame at ``baud``."""
    return _line(baud).frame_silence


def _line(baud: int) -> LinkSettings:
    """Describe an RTU link at ``baud``: its settings define character time and silence."""
    if baud <= 0:
        raise ConfigError("baudrate", f"{baud} is not a baud rate")
    return LinkSettings(kind=LinkKind.RTU, baudrate=baud)


def traffic_time(
    traffic: Traffic, baud: int, *, turnaround: float = 0.0, spacing: float = 0.0
) -> float:
    """Seconds RTU traffic holds the line at ``baud``.

    Every character costs its 11 bits; every transaction adds the silence after
    the request, the device's ``turnaround`` and, after the answer, the frame
    silence or the bus's ``spacing`` (a profile's ``min_spacing``), whichever is
    longer.
    """
    silence = frame_silence(baud)
    per_transaction = silence + turnaround + max(silence, spacing)
    return traffic.total * character_time(baud) + traffic.transactions * per_transaction


def transaction_time(
    table: Table, count: int, baud: int, *, turnaround: float = 0.0, spacing: float = 0.0
) -> float:
    """Seconds one RTU read of ``count`` items of ``table`` holds the line at ``baud``."""
    return traffic_time(read_traffic(table, count), baud, turnaround=turnaround, spacing=spacing)


def plan_time(
    blocks: Iterable[ReadBlock], baud: int, *, turnaround: float = 0.0, spacing: float = 0.0
) -> float:
    """Seconds the blocks of a read plan hold an RTU line at ``baud``."""
    return traffic_time(plan_traffic(blocks), baud, turnaround=turnaround, spacing=spacing)


def one_per_point_time(
    points: Iterable[Point], baud: int, *, turnaround: float = 0.0, spacing: float = 0.0
) -> float:
    """Seconds reading every point with a request of its own holds an RTU line at ``baud``."""
    return traffic_time(one_per_point_traffic(points), baud, turnaround=turnaround, spacing=spacing)


def lower_bound_time(
    points: Iterable[Point],
    limits: BusLimits,
    baud: int,
    *,
    turnaround: float = 0.0,
    spacing: float = 0.0,
) -> float:
    """Seconds no poller can beat for ``points`` on an RTU line at ``baud``.

    The time of :func:`lower_bound_traffic`: the physical floor for the data.
    """
    return traffic_time(
        lower_bound_traffic(points, limits), baud, turnaround=turnaround, spacing=spacing
    )


def shared_bus_time(device_times: Sequence[float], unit_switch: float) -> float:
    """Seconds one round over several devices on one line takes.

    Each device's reads follow one another; polling the devices in turn changes
    the unit id once per device and round (not at all with one device), and the
    bus pauses ``unit_switch`` each time.
    """
    switches = len(device_times) if len(device_times) > 1 else 0
    return sum(device_times) + switches * unit_switch
