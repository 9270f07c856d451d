"""Writes, commands and raw reads of a device session: validated before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest

from powerbus.errors import (
    CommandFailedError,
    ConfirmationRequiredError,
    DeviceExceptionError,
    WriteValidationError,
)
from powerbus.models import PointState, Table, Value

from .fakes import IDENTITY_ADDRESS, Rig

pytestmark = pytest.mark.hardware_free

HR = Table.HOLDING_REGISTER


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("nonexistent", 1, WriteValidationError),
        ("power", 1, WriteValidationError),  # a measurement, not writable
        ("status", 1, WriteValidationError),  # an input register
        ("setpoint", 101, WriteValidationError),  # above the maximum
        ("setpoint", -1, WriteValidationError),  # below the minimum
        ("setpoint", "high", WriteValidationError),  # not a number
        ("setpoint", 2.5, WriteValidationError),  # a u16 holds whole numbers
        ("mode", 1, ConfirmationRequiredError),  # dangerous
        ("limit", 100, WriteValidationError),  # its scale register has not been read
    ],
)
async def test_a_refused_write_sends_nothing(
    key: str, value: Value, error: type[Exception]
) -> None:
    """Every check runs before the first byte goes out."""
    rig = Rig()
    session = rig.session()
    with pytest.raises(error):
        await session.write_point(key, value)
    assert rig.link.log == []


async def test_a_good_write_lands_and_is_read_back() -> None:
    """A write sends one request, then reads the point back into the snapshot."""
    rig = Rig()
    session = rig.session()
    await session.poll_due()
    rig.link.log.clear()
    reading = await session.write_point("setpoint", 42)
    assert (reading.value, reading.state) == (42, PointState.VALID)
    assert [(r.function, r.address, r.count) for r in rig.link.log] == [
        ("write_registers", 500, 1),
        ("read", 500, 1),
    ]
    assert rig.device.read(HR, 500, 1) == [42]
    assert session.snapshot.value("setpoint") == 42


async def test_a_dangerous_write_goes_through_with_confirmation() -> None:
    """An explicit confirmation lets a dangerous write through."""
    rig = Rig()
    reading = await rig.session().write_point("mode", 2, confirm=True)
    assert reading.value == 2
    assert rig.device.read(HR, 501, 1) == [2]


async def test_a_scaled_write_uses_the_exponent_last_read() -> None:
    """A point scaled by a power-of-ten register is written in the device's raw units."""
    rig = Rig()
    rig.device.put(rig.profile.point("limit_scale"), -1)
    session = rig.session()
    await session.poll_due()
    reading = await session.write_point("limit", 123.4)
    assert reading.value == pytest.approx(123.4)
    assert rig.device.read(HR, 601, 1) == [1234]


async def test_a_write_the_device_refuses_raises_its_exception() -> None:
    """The device's own refusal reaches the caller."""
    rig = Rig()
    rig.device.refuse(HR, 500, 500)
    with pytest.raises(DeviceExceptionError):
        await rig.session().write_point("setpoint", 5)
    assert [r.function for r in rig.link.log] == ["write_registers"]


async def test_a_write_whose_read_back_fails_says_so() -> None:
    """A write that cannot be confirmed fails with the command error, for a point never read."""
    rig = Rig()
    session = rig.session(enabled={"power"})
    await session.poll_due()
    rig.link.fault(1, "ok", "timeout", "timeout", "timeout")
    with pytest.raises(CommandFailedError):
        await session.write_point("setpoint", 5)


@pytest.mark.parametrize(
    ("key", "params", "error"),
    [
        ("fly", {}, WriteValidationError),  # no such command
        ("set_setpoint", {}, WriteValidationError),  # missing parameter
        ("set_setpoint", {"value": 101}, WriteValidationError),  # out of range
        ("set_setpoint", {"value": 5, "speed": 1}, WriteValidationError),  # unknown parameter
        ("set_setpoint", {"value": "5"}, WriteValidationError),  # not a number
        ("reset", {}, ConfirmationRequiredError),  # dangerous
    ],
)
async def test_a_refused_command_sends_nothing(
    key: str, params: dict[str, Any], error: type[Exception]
) -> None:
    """A command is checked as a whole before any of its steps is sent."""
    rig = Rig()
    with pytest.raises(error):
        await rig.session().run_command(key, params)
    assert rig.link.log == []


async def test_a_command_runs_its_steps_and_the_next_poll_reads_everything() -> None:
    """A command writes and checks; afterwards the device is read in full, identity included."""
    rig = Rig()
    session = rig.session()
    await session.poll_due()
    result = await session.run_command("set_setpoint", {"value": 30})
    assert (result.outcome, result.writes) == ("done", 1)
    assert rig.device.read(HR, 500, 1) == [30]
    rig.link.log.clear()
    snapshot = await session.poll_due()
    assert snapshot.value("setpoint") == 30
    assert IDENTITY_ADDRESS in {r.address for r in rig.link.log if r.table is HR}


async def test_a_dangerous_command_runs_with_confirmation() -> None:
    """A confirmed dangerous command runs."""
    rig = Rig()
    rig.device.put(rig.profile.point("mode"), 3)
    result = await rig.session().run_command("reset", confirm=True)
    assert result.writes == 1
    assert rig.device.read(HR, 501, 1) == [0]


@pytest.mark.parametrize(
    ("table", "address", "count"),
    [
        (HR, 0, 0),
        (HR, 0, 126),  # more than one read of this device may ask for
        (HR, -1, 1),
        (HR, 0x10000, 1),
        (HR, 0xFFFF, 2),  # would run past the last address
        (Table.COIL, 0, 2001),
    ],
)
async def test_a_raw_read_outside_one_request_sends_nothing(
    table: Table, address: int, count: int
) -> None:
    """A support read that no device could answer is refused before it is sent."""
    rig = Rig()
    with pytest.raises(WriteValidationError):
        await rig.session().read_registers(table, address, count)
    assert rig.link.log == []


async def test_a_raw_read_returns_the_registers() -> None:
    """A support read returns the raw registers."""
    rig = Rig()
    assert await rig.session().read_registers(HR, 100, 2) == [1500, 6]
    assert await rig.session().read_registers(HR, 0xFFFF, 1) == [0]
