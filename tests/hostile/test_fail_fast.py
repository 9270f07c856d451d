"""Broken answers end a request at once, in one log line, and serial settings fail clearly."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import serial

from powerbus.adapter.client import PymodbusTransport
from powerbus.bus import Bus, RetryPolicy
from powerbus.errors import DecodeError, LinkError, ModbusError, RequestTimeoutError
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import BusLimits, PointState, Profile, Table
from powerbus.poller import Poller
from tests.modbus_crc import modbus_crc

from .conftest import EXPECTED, POLICY, image, link_to, open_fds, tracebacks
from .server import FALSIFIED_FRAMES, POISON, UNIT, Framing, HostileServer, Mode, modes_for

SLOW = BusLimits(timeout=2.0)
"""A timeout long enough that waiting it out shows on a stopwatch."""
SHORT = BusLimits(timeout=0.3)


FAILING_AT_ONCE = [
    *(
        (framing, mode, LinkError)
        for framing in Framing
        for mode in (Mode.CLOSE_ON_REQUEST, Mode.TRUNCATED_CLOSE)
    ),
    (Framing.MBAP, Mode.LENGTH_LOW, LinkError),
    (Framing.MBAP, Mode.LENGTH_HIGH, LinkError),
    (Framing.MBAP, Mode.PROTOCOL_ID, LinkError),
    (Framing.MBAP, Mode.BYTE_COUNT_HIGH, DecodeError),
    (Framing.MBAP, Mode.WRONG_FUNCTION, DecodeError),
]


@pytest.mark.parametrize(
    ("framing", "mode", "error"),
    FAILING_AT_ONCE,
    ids=[f"{framing.value}-{mode.value}" for framing, mode, _ in FAILING_AT_ONCE],
)
async def test_a_closed_link_or_broken_answer_fails_at_once(
    framing: Framing, mode: Mode, error: type[ModbusError]
) -> None:
    """A closed connection or a broken answer ends the request well before its timeout."""
    server = HostileServer(framing, image())
    port = await server.start()
    server.set_mode(mode)
    bus = Bus(link_to(server, port), policy=RetryPolicy(retries=0))
    try:
        await bus.open()
        started = time.monotonic()
        with pytest.raises(error):
            await bus.read(UNIT, Table.HOLDING_REGISTER, 0, 2, SLOW)
        elapsed = time.monotonic() - started
    finally:
        bus.close()
        await server.stop()

    assert elapsed < SLOW.timeout / 4


@pytest.mark.parametrize("framing", list(Framing))
async def test_timeouts_in_a_row_leave_the_link_to_the_bus(framing: Framing) -> None:
    """Pymodbus does not close a link after a few timeouts in a row; the bus decides."""
    server = HostileServer(framing, image())
    port = await server.start()
    server.set_mode(Mode.WRONG_UNIT)
    transport = PymodbusTransport(link_to(server, port))
    errors: list[type[Exception]] = []
    try:
        await transport.open(1.0)
        for _ in range(6):
            try:
                await transport.read(Table.HOLDING_REGISTER, 0, 2, UNIT, 0.05)
            except ModbusError as err:
                errors.append(type(err))
        still_open = transport.connected
    finally:
        transport.close()
        await server.stop()

    assert errors == [RequestTimeoutError] * 6
    assert still_open


@pytest.mark.parametrize(
    "mode", [Mode.BYTE_COUNT_HIGH, Mode.LENGTH_LOW, Mode.LENGTH_HIGH, Mode.PROTOCOL_ID]
)
async def test_a_corrupt_frame_is_one_line_naming_the_link(
    mode: Mode, profile: Profile, caplog: pytest.LogCaptureFixture
) -> None:
    """A frame pymodbus cannot decode is one warning naming the link, not a traceback per try."""
    server = HostileServer(Framing.MBAP, image())
    port = await server.start()
    link = link_to(server, port)
    server.set_mode(mode)
    bus = Bus(link, policy=POLICY)
    try:
        with caplog.at_level(logging.WARNING):
            result = await Poller(bus, profile, UNIT).poll()
    finally:
        bus.close()
        await server.stop()

    assert all(reading.value is None for reading in result.readings.values())
    assert tracebacks(caplog.records) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert link.describe() in warnings[0]
    assert "\n" not in warnings[0]


async def test_the_warning_comes_again_after_the_device_recovered(
    profile: Profile, caplog: pytest.LogCaptureFixture
) -> None:
    """A device that answers properly in between gets a fresh warning for its next corrupt frame."""
    server = HostileServer(Framing.MBAP, image())
    port = await server.start()
    bus = Bus(link_to(server, port), policy=POLICY)
    poller = Poller(bus, profile, UNIT)
    try:
        with caplog.at_level(logging.INFO):
            for mode in (Mode.LENGTH_LOW, Mode.LENGTH_LOW, Mode.HEALTHY, Mode.LENGTH_LOW):
                server.set_mode(mode)
                await poller.poll()
    finally:
        bus.close()
        await server.stop()

    levels = [r.levelno for r in caplog.records if r.name.startswith("powerbus.adapter")]
    assert levels.count(logging.WARNING) == 2
    assert levels.count(logging.INFO) == 1


@pytest.mark.parametrize(
    ("framing", "mode"),
    [
        (framing, mode)
        for framing in Framing
        for mode in modes_for(framing)
        if mode in FALSIFIED_FRAMES and mode is not Mode.EXCEPTION
    ],
)
async def test_a_write_answered_wrongly_is_not_reported_done(framing: Framing, mode: Mode) -> None:
    """A write whose answer is not the device's echo of it fails instead of succeeding."""
    server = HostileServer(framing, image())
    port = await server.start()
    server.set_mode(mode)
    bus = Bus(link_to(server, port), policy=POLICY)
    try:
        with pytest.raises(ModbusError):
            await bus.write_registers(UNIT, 0, [7], BusLimits(timeout=0.2))
        with pytest.raises(ModbusError):
            await bus.write_registers(UNIT, 0, [7, 8], BusLimits(timeout=0.2))
    finally:
        bus.close()
        await server.stop()

    assert server.image.holding[0] == EXPECTED["a0"]


async def test_a_serial_port_refusing_parity_names_port_and_setting(
    serial_pair: tuple[str, str], profile: Profile, caplog: pytest.LogCaptureFixture
) -> None:
    """Linux refuses parity on a pty: a LinkError naming port and parity, polls unavailable."""
    _, client_end = serial_pair
    settings = LinkSettings(
        kind=LinkKind.RTU, serial_port=client_end, baudrate=9600, parity="E", stopbits=1
    )
    fds = open_fds()
    bus = Bus(settings, policy=RetryPolicy(retries=0, reconnect_backoff=0.0))
    try:
        with pytest.raises(LinkError) as refused:
            await bus.open()
        result = await Poller(bus, profile, UNIT).poll()
    finally:
        bus.close()

    assert client_end in str(refused.value)
    assert "parity E" in str(refused.value)
    assert {r.state for r in result.readings.values()} == {PointState.UNAVAILABLE}
    assert tracebacks(caplog.records) == []
    assert open_fds() == fds


def rtu_frame(body: bytes) -> bytes:
    """Return ``body`` (unit id and PDU) with its CRC."""
    return body + modbus_crc(body)


async def test_a_serial_line_takes_only_the_units_answer(
    serial_pair: tuple[str, str], profile: Profile
) -> None:
    """On RTU, frames of another unit, function or byte count ahead of the answer are skipped."""
    device_end, master_end = serial_pair
    settings = LinkSettings(kind=LinkKind.RTU, serial_port=master_end, baudrate=9600, parity="N")
    line = serial.Serial(device_end, baudrate=9600, timeout=2)
    poisoned = POISON.to_bytes(2, "big") * 2
    foreign = (
        rtu_frame(bytes([UNIT + 1, 3, 4]) + poisoned)  # another unit
        + rtu_frame(bytes([UNIT, 4, 4]) + poisoned)  # another function
        + rtu_frame(bytes([UNIT, 3, 6]) + poisoned + poisoned[:2])  # another byte count
    )
    answer = rtu_frame(bytes([UNIT, 3, 4, 0x10, 0x00, 0x10, 0x01]))
    bus = Bus(settings, policy=RetryPolicy(retries=0))
    results: list[object] = []
    try:
        await bus.open()
        for reply in (foreign + answer, foreign):
            read = asyncio.create_task(bus.read(UNIT, Table.HOLDING_REGISTER, 0, 2, SHORT))
            await asyncio.to_thread(line.read, 8)
            await asyncio.to_thread(line.write, reply)
            outcome = await asyncio.gather(read, return_exceptions=True)
            results.append(outcome[0])
    finally:
        bus.close()
        line.close()

    assert results[0] == [EXPECTED["a0"], EXPECTED["a1"]]
    assert isinstance(results[1], RequestTimeoutError)
