"""A fake clock and an in-memory Modbus link, to test the runtime layer without sockets.

:class:`FakeClock` is both the monotonic clock and the ``sleep`` of the code under
test: sleeping advances the clock at once and lets other tasks run, so a test of a
40 s outage takes milliseconds. :class:`FakeTransport` implements the engine's
``Transport`` protocol over simulated units (a register image per table, address
ranges a unit refuses, units that stay silent) and logs every request, so a test
can count what went over the "wire" and when.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from powerbus.bus import Bus, RetryPolicy
from powerbus.codecs import encode_value
from powerbus.errors import DeviceExceptionError, LinkError, RequestTimeoutError
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import Point, PointState, Profile, Table, Value
from powerbus.profile import parse_profile_text
from powerbus.session import DeviceSession
from powerbus.snapshot import DeviceSnapshot, PollIntervals
from powerbus.transport import TrafficCallback

ILLEGAL_DATA_ADDRESS = 0x02
DEVICE_BUSY = 0x06
GATEWAY_TARGET_FAILED = 0x0B
WALL_CLOCK_OFFSET = 1_700_000_000.0
"""Wall-clock seconds at monotonic zero of a :class:`FakeClock`."""
TCP_LINK = LinkSettings(kind=LinkKind.TCP, host="127.0.0.1", port=502)
RTU_LINK = LinkSettings(kind=LinkKind.RTU, serial_port="/dev/ttyFAKE0", baudrate=9600)

Fault = int | Literal["ok", "timeout", "lost"]
"""A scripted one-off fault: an exception code, a timeout, the link lost mid-request, or
``ok`` (no fault: the unit answers as it would), to let a request through before a fault."""


class FakeClock:
    """Monotonic seconds that only move when a test, a sleep or the fake link moves them."""

    def __init__(self, start: float = 1000.0) -> None:
        """Start at ``start`` seconds (not zero, so that "never" and "at the start" differ)."""
        self.now = start

    def __call__(self) -> float:
        """Return the current time."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` without yielding."""
        self.now += max(seconds, 0.0)

    async def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` and let other tasks run."""
        self.advance(seconds)
        await asyncio.sleep(0)

    def wall(self) -> float:
        """Wall-clock seconds that move with this clock."""
        return WALL_CLOCK_OFFSET + self.now


@dataclass(frozen=True, kw_only=True, slots=True)
class Request:
    """One request as it went over the fake link."""

    started: float
    ended: float
    unit: int
    function: Literal["read", "write_registers", "write_coils"]
    table: Table
    address: int
    count: int
    outcome: str
    """``ok``, ``exception_XX``, ``timeout`` or ``lost``."""

    @property
    def end_address(self) -> int:
        """The last address the request touched."""
        return self.address + self.count - 1


@dataclass(kw_only=True)
class SimUnit:
    """One simulated device: a register image per table, refused ranges, maybe silent.

    Addresses not in the image read as 0. A request touching a refused range is
    answered with exception 0x02; a silent unit never answers.
    """

    image: dict[Table, dict[int, int]] = field(default_factory=lambda: {t: {} for t in Table})
    refused: list[tuple[Table, int, int]] = field(default_factory=list)
    silent: bool = False

    def put(self, point: Point, value: Value) -> None:
        """Store ``value`` in the point's registers, encoded by its type (no scale or offset)."""
        if point.scale != 1 or point.offset != 0:
            raise ValueError(f"{point.key}: give the raw registers of a scaled point")
        registers = encode_value(point.data_type, value, point.word_order, point.count)
        self.put_raw(point.table, point.address, registers)

    def put_raw(self, table: Table, address: int, values: Iterable[int]) -> None:
        """Store raw registers (or bits) from ``address`` on."""
        for offset, value in enumerate(values):
            self.image[table][address + offset] = int(value)

    def refuse(self, table: Table, start: int, end: int) -> None:
        """Answer 0x02 to any request that touches ``start..end`` of ``table``."""
        self.refused.append((table, start, end))

    def allow_all(self) -> None:
        """Stop refusing any address."""
        self.refused.clear()

    def refuses(self, table: Table, address: int, count: int) -> bool:
        """Whether a request of ``count`` items from ``address`` touches a refused range."""
        end = address + count - 1
        return any(t is table and s <= end and address <= e for t, s, e in self.refused)

    def read(self, table: Table, address: int, count: int) -> list[int] | list[bool]:
        """Return the values of ``count`` items from ``address``."""
        cells = self.image[table]
        values = [cells.get(address + offset, 0) for offset in range(count)]
        return [bool(v) for v in values] if table.is_bit else values


class FakeTransport:
    """The engine's ``Transport`` over simulated units, with faults, latency and a request log."""

    def __init__(self, clock: FakeClock, *, latency: float = 0.0) -> None:
        """Start closed, with no units; every answered request takes ``latency`` seconds."""
        self.clock = clock
        self.latency = latency
        self.units: dict[int, SimUnit] = {}
        self.log: list[Request] = []
        self.fail_open = False
        self.open_attempts = 0
        self.on_request: Callable[[int], None] | None = None
        """Called with the unit of every request as it starts (to act in the middle of a poll)."""
        self.opens = 0
        self._connected = False
        self._faults: dict[int, deque[Fault]] = {}
        self._on_traffic: TrafficCallback | None = None

    # --- What a test sets up -----------------------------------------------------------------
    def add_unit(
        self, unit: int, profile: Profile | None = None, values: Mapping[str, Value] | None = None
    ) -> SimUnit:
        """Add a simulated device at ``unit`` holding ``values`` of ``profile``'s points."""
        device = SimUnit()
        for key, value in (values or {}).items():
            assert profile is not None, "values name points of a profile"
            device.put(profile.point(key), value)
        self.units[unit] = device
        return device

    def fault(self, unit: int, *faults: Fault) -> None:
        """Answer the next requests to ``unit`` with these faults, one request each."""
        self._faults.setdefault(unit, deque()).extend(faults)

    def clear_faults(self) -> None:
        """Drop the faults still scripted."""
        self._faults.clear()

    def factory(self, _settings: LinkSettings, on_traffic: TrafficCallback) -> FakeTransport:
        """Serve as the bus's transport factory (it keeps the traffic callback)."""
        self._on_traffic = on_traffic
        return self

    def requests(self, unit: int | None = None) -> list[Request]:
        """Return the logged requests, all or those to ``unit``."""
        return [r for r in self.log if unit is None or r.unit == unit]

    def registers_read(self, unit: int | None = None) -> int:
        """Count the items read from ``unit`` (or from every unit) by answered reads."""
        return sum(
            r.count for r in self.requests(unit) if r.function == "read" and r.outcome == "ok"
        )

    # --- The Transport protocol --------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """Whether the link is open now."""
        return self._connected

    async def open(self, timeout: float) -> None:
        """Open the link, or fail with LinkError when ``fail_open`` is set."""
        self.open_attempts += 1
        await asyncio.sleep(0)
        if self.fail_open:
            raise LinkError("the fake link cannot be opened")
        self._connected = True
        self.opens += 1

    def close(self) -> None:
        """Close the link."""
        self._connected = False

    async def read(
        self, table: Table, address: int, count: int, unit: int, timeout: float
    ) -> list[int] | list[bool]:
        """Read from a simulated unit."""
        device = await self._serve(unit, "read", table, address, count, timeout)
        return device.read(table, address, count)

    async def write_registers(
        self, address: int, values: list[int], unit: int, timeout: float
    ) -> None:
        """Write holding registers of a simulated unit."""
        table = Table.HOLDING_REGISTER
        device = await self._serve(unit, "write_registers", table, address, len(values), timeout)
        device.put_raw(table, address, values)

    async def write_coils(
        self, address: int, values: list[bool], unit: int, timeout: float
    ) -> None:
        """Write coils of a simulated unit."""
        table = Table.COIL
        device = await self._serve(unit, "write_coils", table, address, len(values), timeout)
        device.put_raw(table, address, (int(v) for v in values))

    # --- Inside ------------------------------------------------------------------------------
    async def _serve(
        self,
        unit: int,
        function: Literal["read", "write_registers", "write_coils"],
        table: Table,
        address: int,
        count: int,
        timeout: float,
    ) -> SimUnit:
        """Log one request and decide its fate: a fault, silence, a refusal or an answer."""
        if not self._connected:
            raise LinkError("the fake link is closed")
        started = self.clock()
        if self.on_request is not None:
            self.on_request(unit)
        if self._on_traffic is not None:
            self._on_traffic(True, 8)
        pending = self._faults.get(unit)
        fault = pending.popleft() if pending else None
        if fault == "ok":
            fault = None
        device = self.units.get(unit)

        def book(outcome: str) -> None:
            self.log.append(
                Request(
                    started=started,
                    ended=self.clock(),
                    unit=unit,
                    function=function,
                    table=table,
                    address=address,
                    count=count,
                    outcome=outcome,
                )
            )

        if fault == "timeout" or (fault is None and (device is None or device.silent)):
            await self.clock.sleep(timeout)
            book("timeout")
            raise RequestTimeoutError(f"unit {unit} did not answer within {timeout} s")
        await self.clock.sleep(self.latency)
        if fault == "lost":
            self._connected = False
            book("lost")
            raise LinkError("the fake link was lost mid-request")
        code = fault if isinstance(fault, int) else None
        if code is None and device is not None and device.refuses(table, address, count):
            code = ILLEGAL_DATA_ADDRESS
        if code is not None:
            book(f"exception_{code:02x}")
            if self._on_traffic is not None:
                self._on_traffic(False, 5)
            raise DeviceExceptionError(code)
        book("ok")
        if self._on_traffic is not None:
            self._on_traffic(False, 5 + 2 * count)
        assert device is not None
        return device


def make_bus(
    transport: FakeTransport,
    clock: FakeClock,
    settings: LinkSettings = TCP_LINK,
    *,
    policy: RetryPolicy | None = None,
    unit_switch_delay: float | None = None,
) -> Bus:
    """Build a bus over the fake link, paced by the fake clock."""
    return Bus(
        settings,
        policy=policy,
        unit_switch_delay=unit_switch_delay,
        transport_factory=transport.factory,
        clock=clock,
        sleep=clock.sleep,
    )


TEST_METER_YAML = """
family: testmeter
manufacturer: Test Instruments
addressing: pdu
limits: {max_gap: 4, timeout: 0.5}
defaults: {table: holding_register, data_type: u16}
point_sets:
  all:
    - {key: serial_number, name: Serial number, address: 0, data_type: hex, count: 2, group: once}
    - {key: firmware, name: Firmware, address: 2, group: once}
    - {key: power, name: Power, address: 100, group: fast}
    - {key: current, name: Current, address: 101, group: fast}
    - {key: energy, name: Energy, address: 200, data_type: u32, group: normal}
    - {key: temperature, name: Temperature, address: 300, data_type: s16, group: slow}
    - {key: spare, name: Spare, address: 400, data_type: u32, group: fast, enabled_by_default: false}
    - {key: setpoint, name: Setpoint, address: 500, group: slow, write: {min: 0, max: 100}}
    - {key: mode, name: Mode, address: 501, group: slow, write: {min: 0, max: 3, dangerous: true}}
    - {key: limit_scale, name: Limit scale, address: 600, data_type: s16, group: slow}
    - {key: limit, name: Limit, address: 601, data_type: s16, scale_point: limit_scale, group: slow, write: {min: 0, max: 10000}}
    - {key: status, name: Status, address: 0, table: input_register, group: fast}
commands:
  - key: set_setpoint
    name: Set the setpoint
    params:
      - {key: value, name: Value, kind: int, min: 0, max: 100}
    steps:
      - write: {point: setpoint, value: {param: value}}
      - check: {point: setpoint, equals: {param: value}}
  - key: reset
    name: Reset
    dangerous: true
    steps:
      - write: {point: mode, value: 0}
variants:
  - key: testmeter
    name: Test meter
    models: [TM-1]
    serial_point: serial_number
    firmware_point: firmware
    point_sets: [all]
    commands: [set_setpoint, reset]
"""
"""A small meter: identity (once), two fast points, one normal, one slow, writable points."""


def small_meter() -> Profile:
    """Return the small test meter of :data:`TEST_METER_YAML`."""
    return parse_profile_text(TEST_METER_YAML, "testmeter.yaml")["testmeter"]


# --- Sessions on the fake link ---------------------------------------------------------------

IDENTITY_ADDRESS = 0
"""Where the small test meter's identity (serial number, firmware) is read."""
RIG_INTERVALS = PollIntervals(fast=1.0, normal=5.0, slow=20.0)
"""The intervals of a :class:`Rig` session unless a test names others."""
METER_VALUES: dict[str, Value] = {
    "serial_number": "22091039",
    "firmware": 7,
    "power": 1500,
    "current": 6,
    "energy": 123456,
    "temperature": -5,
}
PRO380_VALUES: dict[str, Value] = {
    "serial_number": "22091039",
    "software_version": 1.5,
    "voltage_l1": 230.0,
    "frequency": 50.0,
    "active_energy": 1234.5,
}


class Rig:
    """A fake link with a test meter at unit 1, a bus over it, and sessions for it."""

    def __init__(self, profile: Profile | None = None, latency: float = 0.005) -> None:
        """Build the link, the bus and the device."""
        self.clock = FakeClock()
        self.link = FakeTransport(self.clock, latency=latency)
        self.bus: Bus = make_bus(self.link, self.clock)
        self.profile = profile or small_meter()
        values = {"pro380": PRO380_VALUES, "testmeter": METER_VALUES}.get(self.profile.family)
        self.device: SimUnit = self.link.add_unit(1, self.profile, values)

    def session(self, **options: Any) -> DeviceSession:
        """Build a session for unit 1 on the fake clock."""
        options.setdefault("intervals", RIG_INTERVALS)
        return DeviceSession(
            self.bus,
            self.profile,
            1,
            clock=self.clock,
            wall_clock=self.clock.wall,
            sleep=self.clock.sleep,
            **options,
        )

    async def tick_for(self, session: DeviceSession, seconds: float, tick: float = 0.1) -> int:
        """Call ``poll_due`` every ``tick`` seconds for ``seconds``; count the polls made."""
        polls = 0
        end = self.clock() + seconds
        while self.clock() < end - 1e-9:
            self.clock.advance(tick)
            if session.due_groups():
                polls += 1
            await session.poll_due()
        return polls

    def reads_at(self, address: int, since: float = 0.0) -> list[float]:
        """Return the times of the reads that start at holding register ``address``."""
        return [
            r.started
            for r in self.link.log
            if r.function == "read"
            and r.table is Table.HOLDING_REGISTER
            and r.address == address
            and r.started >= since
        ]


def all_valid(snapshot: DeviceSnapshot, keys: Collection[str]) -> bool:
    """Whether the device is available and every key in ``keys`` has a valid reading."""
    return snapshot.available and all(
        key in snapshot.readings and snapshot.readings[key].state is PointState.VALID
        for key in keys
    )
