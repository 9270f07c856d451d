"""Sessions keep what a user sees trustworthy across reconnects, device swaps and lost answers."""

from __future__ import annotations

import pytest

from powerbus.errors import CommandFailedError, RequestTimeoutError, WriteValidationError
from powerbus.models import Table
from powerbus.profile import parse_profile_text

from .fakes import IDENTITY_ADDRESS, TEST_METER_YAML, Rig

pytestmark = pytest.mark.hardware_free


async def test_a_poll_during_which_the_link_reopened_reads_the_identity_again_first() -> None:
    """Values read across a reconnect are kept only after the identity was read again."""
    rig = Rig()
    session = rig.session()
    await session.refresh()
    rig.device.put(rig.profile.point("serial_number"), "99999999")

    def drop_the_link_once(_unit: int) -> None:
        rig.link.on_request = None
        rig.link.close()

    rig.clock.advance(1.0)
    rig.link.on_request = drop_the_link_once
    snapshot = await session.poll_due()

    assert snapshot.identity is not None
    assert snapshot.identity.serial == "99999999"
    assert rig.reads_at(IDENTITY_ADDRESS, since=rig.clock() - 1.0)


async def test_the_device_uid_survives_a_serial_number_that_cannot_be_read() -> None:
    """A serial-number read that fails after a reconnect does not make the device another one."""
    rig = Rig()
    session = rig.session()
    await session.refresh()
    known = session.uid
    assert known == "testmeter_22091039"

    rig.device.refuse(Table.HOLDING_REGISTER, 0, 1)
    session.request_refresh()
    rig.clock.advance(1.0)
    await session.poll_due()

    assert session.uid == known


async def test_a_different_serial_number_is_a_different_device() -> None:
    """When another meter answers (no expected serial given), the uid follows its serial."""
    rig = Rig()
    session = rig.session()
    await session.refresh()
    rig.device.put(rig.profile.point("serial_number"), "12345678")

    await session.refresh()

    assert session.uid == "testmeter_12345678"


async def test_nothing_is_written_to_a_device_that_is_not_the_one_configured() -> None:
    """A foreign device at the unit id gets no write, no command and no energy preset."""
    rig = Rig()
    session = rig.session(expected_serial="11111111")
    await session.refresh()
    assert session.snapshot.identity_mismatch
    sent = len(rig.link.log)

    with pytest.raises(WriteValidationError, match="different device"):
        await session.write_point("setpoint", 10)
    with pytest.raises(WriteValidationError, match="different device"):
        await session.run_command("set_setpoint", {"value": 10})

    assert len(rig.link.log) == sent


async def test_a_write_whose_answer_was_lost_is_not_sent_again() -> None:
    """After a timeout the device may have acted; a command register must not act twice."""
    rig = Rig()
    session = rig.session()
    await session.refresh()
    rig.link.fault(1, "timeout")

    with pytest.raises(RequestTimeoutError):
        await session.write_point("setpoint", 10)

    writes = [r for r in rig.link.requests(1) if r.function == "write_registers"]
    assert len(writes) == 1


async def test_a_busy_device_gets_the_write_again() -> None:
    """A device answering busy did nothing: the write is sent again and lands."""
    rig = Rig()
    session = rig.session()
    await session.refresh()
    rig.link.fault(1, 0x06)

    reading = await session.write_point("setpoint", 10)

    writes = [r for r in rig.link.requests(1) if r.function == "write_registers"]
    assert [w.outcome for w in writes] == ["exception_06", "ok"]
    assert reading.value == 10


async def test_groups_read_in_full_after_an_outage_count_as_read() -> None:
    """The full poll that brings a device back resets every group's interval."""
    rig = Rig()
    session = rig.session()
    await session.refresh()
    rig.device.silent = True
    await rig.tick_for(session, 30.0)
    rig.device.silent = False
    rig.clock.advance(1.0)
    await session.poll_due()
    back = rig.clock()
    assert session.available

    await rig.tick_for(session, 4.5)

    energy_reads = [t for t in rig.reads_at(200) if t > back]
    assert energy_reads == []  # the normal group (5 s) is not read again before its interval


async def test_a_command_check_waits_on_the_session_s_clock() -> None:
    """A read-back check that never matches gives up after its time on the injected clock."""
    profile = parse_profile_text(
        TEST_METER_YAML.replace(
            "      - check: {point: setpoint, equals: {param: value}}",
            "      - check: {point: setpoint, equals: 99, within: 30, interval: 1}",
        ),
        "testmeter.yaml",
    )["testmeter"]
    rig = Rig(profile)
    session = rig.session()
    await session.refresh()
    started = rig.clock()

    with pytest.raises(CommandFailedError) as failure:
        await session.run_command("set_setpoint", {"value": 10})

    assert failure.value.outcome == "readback_mismatch"
    assert 30.0 <= rig.clock() - started < 40.0
