"""The device simulator seen from the wire: a plain pymodbus client (and mbpoll) against it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
import inspect
import re
import struct
import time
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerType
import pytest

from powerbus.errors import ConfigError, DeviceExceptionError, LinkError
from powerbus.models import Table
from powerbus.profile import get_profile
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.clock import ManualClock
from powerbus.simulator.device import RegisterImage
from powerbus.simulator.faults import (
    CorruptFrame,
    Delay,
    DropConnection,
    ExceptionAnswer,
    FaultPlan,
    NoAnswer,
    Reply,
    Request,
)
from powerbus.simulator.server import Simulator

HR = Table.HOLDING_REGISTER
IR = Table.INPUT_REGISTER
COIL = Table.COIL
DI = Table.DISCRETE_INPUT

METER = 1
OTHER_METER = 2
ABSENT_UNIT = 9
TIMEOUT = 0.5
CLIENT_SETTINGS: dict[str, Any] = {"timeout": TIMEOUT, "retries": 0, "reconnect_delay": 0}
# A pty carries no parity: Linux drops PARENB on ptys and refuses to set it again, so the
# virtual serial pair runs 8N1.
SERIAL_LINE: dict[str, Any] = {"baudrate": 9600, "parity": "N", "stopbits": 1, "bytesize": 8}

# pymodbus 3.10 renamed the client's unit keyword from slave= to device_id=.
_UNIT_KEYWORD = (
    "device_id"
    if "device_id" in inspect.signature(AsyncModbusTcpClient.read_holding_registers).parameters
    else "slave"
)


def unit(unit_id: int) -> dict[str, Any]:
    """Return the client keyword argument that addresses ``unit_id``."""
    return {_UNIT_KEYWORD: unit_id}


def meter_image() -> RegisterImage:
    """Build a small meter: values in all four tables, a gap at holding register 3, a few writable cells."""
    return RegisterImage(
        {
            HR: {0: 11, 1: 22, 2: 33, 10: 0},
            IR: {0: 2301, 1: 65535},
            COIL: {0: True, 1: False, 2: True},
            DI: {0: False, 1: True},
        },
        writable={(HR, 10), (HR, 11), (COIL, 1)},
    )


@dataclass
class Line:
    """A simulator with two meters and a pymodbus client connected to it."""

    simulator: Simulator
    client: AsyncModbusTcpClient | AsyncModbusSerialClient
    meter: RegisterImage

    @property
    def faults(self) -> FaultPlan:
        """The simulator's fault plan."""
        return self.simulator.faults


@pytest.fixture(params=["tcp", "rtu"])
async def line(request: pytest.FixtureRequest) -> AsyncIterator[Line]:
    """Two meters served over Modbus TCP, or over RTU on a virtual serial pair."""
    meter = meter_image()
    simulator = Simulator({METER: meter, OTHER_METER: RegisterImage({HR: {0: 7}})})
    client: AsyncModbusTcpClient | AsyncModbusSerialClient
    if request.param == "tcp":
        port = await simulator.start_tcp()
        client = AsyncModbusTcpClient("127.0.0.1", port=port, **CLIENT_SETTINGS)
    else:
        server_end, client_end = request.getfixturevalue("serial_pair")
        await simulator.start_rtu(server_end, **SERIAL_LINE)
        client = AsyncModbusSerialClient(
            client_end, framer=FramerType.RTU, **SERIAL_LINE, **CLIENT_SETTINGS
        )
    assert await client.connect()
    yield Line(simulator=simulator, client=client, meter=meter)
    client.close()
    await simulator.stop()


async def read_holding(line: Line, address: int, count: int, unit_id: int = METER) -> Any:
    """Read holding registers with the line's client."""
    return await line.client.read_holding_registers(address, count=count, **unit(unit_id))


def refusal_code(response: Any) -> int:
    """Return the exception code of an exception response; fail on a normal response."""
    assert response.isError(), f"expected an exception response, got {response}"
    code: int = response.exception_code
    return code


# --- Normal answers -------------------------------------------------------------------------


async def test_reads_return_the_image_in_every_table(line: Line) -> None:
    """Holding and input registers, coils and discrete inputs come back as the image holds them."""
    holding = await read_holding(line, 0, 3)
    inputs = await line.client.read_input_registers(0, count=2, **unit(METER))
    coils = await line.client.read_coils(0, count=3, **unit(METER))
    discrete = await line.client.read_discrete_inputs(0, count=2, **unit(METER))

    assert holding.registers == [11, 22, 33]
    assert inputs.registers == [2301, 65535]
    assert coils.bits[:3] == [True, False, True]
    assert discrete.bits[:2] == [False, True]


async def test_each_unit_answers_from_its_own_device(line: Line) -> None:
    """The same address on two unit ids gives each device's own value."""
    first = await read_holding(line, 0, 1, METER)
    second = await read_holding(line, 0, 1, OTHER_METER)

    assert (first.registers, second.registers) == ([11], [7])


async def test_writes_to_writable_addresses_land(line: Line) -> None:
    """Single and multiple register writes and a coil write are read back as written."""
    single = await line.client.write_register(10, 1234, **unit(METER))
    after_single = await read_holding(line, 10, 1)
    multiple = await line.client.write_registers(10, [5, 6], **unit(METER))
    after_multiple = await read_holding(line, 10, 2)
    coil = await line.client.write_coil(1, True, **unit(METER))
    coils = await line.client.read_coils(1, count=1, **unit(METER))

    assert not single.isError() and single.registers == [1234]
    assert after_single.registers == [1234]
    assert not multiple.isError()
    assert after_multiple.registers == [5, 6]
    assert not coil.isError()
    assert coils.bits[0] is True


async def test_write_to_a_read_only_address_is_refused_and_changes_nothing(line: Line) -> None:
    """Writing a register that is not writable answers 0x02, also when part of a larger write."""
    single = await line.client.write_register(0, 99, **unit(METER))
    partly_writable = await line.client.write_registers(10, [7, 8, 9], **unit(METER))
    after = await read_holding(line, 0, 1)
    untouched = await read_holding(line, 10, 1)

    assert refusal_code(single) == 0x02
    assert refusal_code(partly_writable) == 0x02
    assert after.registers == [11]
    assert untouched.registers == [0]


async def test_read_across_a_gap_in_the_image_is_refused(line: Line) -> None:
    """A read that touches an address the image does not hold answers 0x02."""
    response = await read_holding(line, 2, 2)

    assert refusal_code(response) == 0x02


async def test_a_value_changed_while_serving_is_read_at_once(line: Line) -> None:
    """The image can be changed while the simulator runs; the next read sees it."""
    line.meter.set(IR, 0, 2299)
    response = await line.client.read_input_registers(0, count=1, **unit(METER))

    assert response.registers == [2299]


# --- Faults ---------------------------------------------------------------------------------


async def test_injected_exception_code_arrives_once(line: Line) -> None:
    """The next request gets the injected code; the one after it the normal answer."""
    line.faults.add(ExceptionAnswer(code=0x06))
    refused = await read_holding(line, 0, 1)
    answered = await read_holding(line, 0, 1)

    assert refusal_code(refused) == 0x06
    assert answered.registers == [11]


async def test_exception_limited_to_a_unit_and_an_address_range(line: Line) -> None:
    """A scoped exception hits only the requests inside its scope, as often as they come."""
    line.faults.add(ExceptionAnswer(code=0x04, times=None, unit_id=METER, addresses=range(10, 12)))
    outside = await read_holding(line, 0, 3)
    inside = await read_holding(line, 10, 1)
    overlapping_write = await line.client.write_registers(9, [1, 2], **unit(METER))
    again = await read_holding(line, 10, 1)
    other_unit = await read_holding(line, 0, 1, OTHER_METER)
    line.faults.clear()
    cleared = await read_holding(line, 10, 1)

    assert outside.registers == [11, 22, 33]
    assert [refusal_code(r) for r in (inside, overlapping_write, again)] == [0x04] * 3
    assert other_unit.registers == [7]
    assert cleared.registers == [0]


async def test_no_answer_times_out_and_the_next_request_is_answered(line: Line) -> None:
    """A request left unanswered runs into the client's timeout; the next one is answered."""
    line.faults.add(NoAnswer())
    started = time.monotonic()
    with pytest.raises(ModbusException):
        await read_holding(line, 0, 1)
    waited = time.monotonic() - started
    answered = await read_holding(line, 0, 1)

    assert waited >= TIMEOUT * 0.9
    assert answered.registers == [11]


async def test_no_answer_while_enabled_until_discarded(line: Line) -> None:
    """An open-ended silence lasts for every request until the fault is discarded."""
    silence = NoAnswer(times=None)
    line.faults.add(silence)
    for _ in range(2):
        with pytest.raises(ModbusException):
            await read_holding(line, 0, 1)
    line.faults.discard(silence)
    answered = await read_holding(line, 0, 1)

    assert answered.registers == [11]


async def test_unit_without_a_device_gets_no_answer(line: Line) -> None:
    """As on an RS-485 bus, a unit id nobody has stays silent (no gateway exception)."""
    started = time.monotonic()
    with pytest.raises(ModbusException):
        await read_holding(line, 0, 1, ABSENT_UNIT)

    assert time.monotonic() - started >= TIMEOUT * 0.9


async def test_delay_holds_the_answer_back(line: Line) -> None:
    """A delayed answer arrives no sooner than the delay, with the right values."""
    line.faults.add(Delay(seconds=0.3))
    started = time.monotonic()
    response = await read_holding(line, 0, 3)
    waited = time.monotonic() - started

    assert response.registers == [11, 22, 33]
    assert waited >= 0.3


async def test_corrupt_frame_is_an_error_not_a_value(line: Line) -> None:
    """A damaged answer never reaches the client as a value; the next request is answered."""
    line.faults.add(CorruptFrame())
    with pytest.raises(ModbusException):
        await read_holding(line, 0, 3)
    if not line.client.connected:
        # Some pymodbus clients close a TCP connection that delivered a malformed frame.
        await line.client.connect()
    answered = await read_holding(line, 0, 3)

    assert answered.registers == [11, 22, 33]


async def test_device_refusal_arrives_with_its_own_code() -> None:
    """Whatever exception code a device raises is the code the client receives."""

    class Refusing:
        """A device that refuses reads as busy and writes as an illegal value."""

        def read(self, table: Table, address: int, count: int) -> list[int]:
            raise DeviceExceptionError(0x06)

        def write(self, table: Table, address: int, values: list[int] | list[bool]) -> None:
            raise DeviceExceptionError(0x03)

    async with Simulator({METER: Refusing()}) as simulator:
        port = await simulator.start_tcp()
        client = AsyncModbusTcpClient("127.0.0.1", port=port, **CLIENT_SETTINGS)
        await client.connect()
        read = await client.read_input_registers(0, count=1, **unit(METER))
        write = await client.write_register(0, 1, **unit(METER))
        client.close()

    assert refusal_code(read) == 0x06
    assert refusal_code(write) == 0x03


async def test_drop_connection_closes_the_tcp_link() -> None:
    """The simulator closes the client's TCP connection instead of answering."""
    async with Simulator({METER: meter_image()}, FaultPlan(DropConnection())) as simulator:
        port = await simulator.start_tcp()
        client = AsyncModbusTcpClient("127.0.0.1", port=port, **CLIENT_SETTINGS)
        await client.connect()
        with pytest.raises(ModbusException):
            await client.read_holding_registers(0, count=1, **unit(METER))
        was_connected = client.connected
        client.close()

    assert not was_connected


async def test_drop_connection_on_rtu_leaves_the_request_unanswered(
    serial_pair: tuple[str, str],
) -> None:
    """A serial line cannot be dropped: the request goes unanswered, the line stays open."""
    server_end, client_end = serial_pair
    async with Simulator({METER: meter_image()}, FaultPlan(DropConnection())) as simulator:
        await simulator.start_rtu(server_end, **SERIAL_LINE)
        client = AsyncModbusSerialClient(
            client_end, framer=FramerType.RTU, **SERIAL_LINE, **CLIENT_SETTINGS
        )
        await client.connect()
        with pytest.raises(ModbusException):
            await client.read_holding_registers(0, count=1, **unit(METER))
        answered = await client.read_holding_registers(0, count=1, **unit(METER))
        client.close()

    assert answered.registers == [11]


# --- Serving --------------------------------------------------------------------------------


async def test_mbpoll_reads_the_image_over_tcp() -> None:
    """An independent master (libmodbus' mbpoll) reads the values the image holds."""
    async with Simulator({METER: meter_image()}) as simulator:
        port = await simulator.start_tcp()
        mbpoll = await asyncio.create_subprocess_exec(
            *("mbpoll", "-m", "tcp", "-a", str(METER), "-r", "1", "-c", "3", "-t", "4", "-1"),
            *("-p", str(port), "127.0.0.1"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        output, errors = await asyncio.wait_for(mbpoll.communicate(), timeout=10)

    assert mbpoll.returncode == 0, errors.decode()
    # mbpoll numbers references from 1: reference 1 is PDU address 0.
    values = re.findall(r"^\[(\d+)\]:\s+(\d+)", output.decode(), re.MULTILINE)
    assert values == [("1", "11"), ("2", "22"), ("3", "33")]


async def test_one_bus_served_over_tcp_and_rtu_at_once(serial_pair: tuple[str, str]) -> None:
    """A write over TCP is read back over RTU: both transports serve the same devices."""
    server_end, client_end = serial_pair
    async with Simulator({METER: meter_image()}) as simulator:
        port = await simulator.start_tcp()
        await simulator.start_rtu(server_end, **SERIAL_LINE)
        tcp = AsyncModbusTcpClient("127.0.0.1", port=port, **CLIENT_SETTINGS)
        rtu = AsyncModbusSerialClient(
            client_end, framer=FramerType.RTU, **SERIAL_LINE, **CLIENT_SETTINGS
        )
        await tcp.connect()
        await rtu.connect()
        await tcp.write_register(10, 4321, **unit(METER))
        response = await rtu.read_holding_registers(10, count=1, **unit(METER))
        tcp.close()
        rtu.close()

    assert response.registers == [4321]


async def test_serves_tcp_on_the_port_asked_for(free_tcp_port: int) -> None:
    """A given port is the port the simulator listens on."""
    async with Simulator({METER: meter_image()}) as simulator:
        port = await simulator.start_tcp("127.0.0.1", free_tcp_port)
        client = AsyncModbusTcpClient("127.0.0.1", port=free_tcp_port, **CLIENT_SETTINGS)
        await client.connect()
        response = await client.read_holding_registers(0, count=1, **unit(METER))
        client.close()

    assert port == free_tcp_port
    assert response.registers == [11]


async def test_port_already_in_use_is_a_link_error() -> None:
    """A second simulator cannot listen where the first one does."""
    async with Simulator({METER: meter_image()}) as first, Simulator({}) as second:
        port = await first.start_tcp()
        with pytest.raises(LinkError):
            await second.start_tcp("127.0.0.1", port)


async def test_missing_serial_port_is_a_link_error(tmp_path: Any) -> None:
    """Serving RTU on a serial port that does not exist fails at once."""
    async with Simulator({METER: meter_image()}) as simulator:
        with pytest.raises(LinkError):
            await simulator.start_rtu(str(tmp_path / "no-such-port"))


async def test_served_device_moves_only_with_the_clock_it_was_given() -> None:
    """A served PRO380 on a manual clock counts no energy until the clock moves, then it has."""
    clock = ManualClock()
    meter = simulated_device(get_profile("pro380"), speed=60.0, clock=clock)
    import_energy = 0x600C  # float32, high word first (kWh)

    async with Simulator({METER: meter}) as simulator:
        port = await simulator.start_tcp()
        client = AsyncModbusTcpClient("127.0.0.1", port=port, **CLIENT_SETTINGS)
        assert await client.connect()
        readings = []
        for seconds in (0.0, 0.0, 60.0):
            clock.advance(seconds)
            response = await client.read_holding_registers(import_energy, count=2, **unit(METER))
            high, low = response.registers
            readings.append(struct.unpack(">f", struct.pack(">HH", high, low))[0])
        client.close()

    first, unchanged, an_hour_later = readings
    assert unchanged == first
    assert an_hour_later > first


def test_manual_clock_never_runs_backwards() -> None:
    """Advancing a manual clock by a negative time is refused and leaves it where it was."""
    clock = ManualClock(start=5.0)
    clock.advance(2.5)

    with pytest.raises(ConfigError):
        clock.advance(-1.0)
    assert clock() == 7.5


def test_unit_id_beyond_one_byte_is_refused() -> None:
    """A unit id must fit the one byte of a Modbus frame."""
    with pytest.raises(ConfigError):
        Simulator({256: meter_image()})


# --- Register image and fault plan on their own --------------------------------------------


def test_image_refuses_values_that_do_not_fit() -> None:
    """Registers hold 0..65535 and bits 0 or 1; anything else is refused up front."""
    with pytest.raises(ConfigError):
        RegisterImage({HR: {0: 65536}})
    with pytest.raises(ConfigError):
        RegisterImage({COIL: {0: 2}})
    image = meter_image()
    with pytest.raises(DeviceExceptionError) as refusal:
        image.write(HR, 10, [70000])
    assert refusal.value.code == 0x03


def request_for(unit_id: int = METER, address: int = 0, count: int = 1) -> Request:
    """Describe a holding-register read as the server does for the fault plan."""
    return Request(unit_id=unit_id, function_code=3, table=HR, address=address, count=count)


def test_oldest_answer_fault_strikes_first_and_the_next_one_waits() -> None:
    """Two answer faults: the older decides this answer, the newer the following one."""
    plan = FaultPlan(NoAnswer(), ExceptionAnswer(code=0x0B))

    verdicts = [plan.judge(request_for()) for _ in range(3)]

    assert [v.reply for v in verdicts] == [Reply.SILENT, Reply.EXCEPTION, Reply.NORMAL]
    assert verdicts[1].exception_code == 0x0B


def test_delays_add_up_and_combine_with_an_answer_fault() -> None:
    """Every matching delay adds its seconds on top of the fault that decides the answer."""
    plan = FaultPlan(Delay(seconds=0.2), Delay(seconds=0.1, times=None), CorruptFrame())

    first, second = plan.judge(request_for()), plan.judge(request_for())

    assert first.reply is Reply.CORRUPT
    assert first.delay == pytest.approx(0.3)
    assert second.reply is Reply.NORMAL
    assert second.delay == pytest.approx(0.1)


def test_fault_outside_its_scope_is_not_used_up() -> None:
    """Requests outside a fault's unit or addresses leave its count untouched."""
    plan = FaultPlan(NoAnswer(unit_id=OTHER_METER, addresses=range(100, 110)))

    elsewhere = [
        plan.judge(request_for(METER, 100)),
        plan.judge(request_for(OTHER_METER, 0, 100)),
    ]
    hit = plan.judge(request_for(OTHER_METER, 95, 10))
    after = plan.judge(request_for(OTHER_METER, 100))

    assert [v.reply for v in elsewhere] == [Reply.NORMAL, Reply.NORMAL]
    assert hit.reply is Reply.SILENT
    assert after.reply is Reply.NORMAL


@pytest.mark.parametrize(
    "make_fault",
    [
        lambda: NoAnswer(times=0),
        lambda: Delay(seconds=-0.1),
        lambda: ExceptionAnswer(code=0),
        lambda: ExceptionAnswer(code=0x100),
    ],
)
def test_fault_that_could_never_strike_is_refused(make_fault: Any) -> None:
    """A count below one, a negative delay or a code that does not fit one byte is refused."""
    with pytest.raises(ConfigError):
        make_fault()
