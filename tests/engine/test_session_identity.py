"""Device identity: read after every (re)connect, never carried over; serial mismatches; uids."""

from __future__ import annotations

import pytest

from powerbus.link import LinkKind, LinkSettings
from powerbus.models import PointState, Table
from powerbus.profile import get_profile
from powerbus.session import DeviceSession
from powerbus.uid import device_uid, entity_unique_id, link_id

from .fakes import Rig

pytestmark = pytest.mark.hardware_free

HR = Table.HOLDING_REGISTER


def swap_meter(rig: Rig, serial: str, firmware: int) -> None:
    """Put another meter (another serial number and firmware) at the same unit id."""
    rig.device.put(rig.profile.point("serial_number"), serial)
    rig.device.put(rig.profile.point("firmware"), firmware)


async def break_the_link(rig: Rig, session: DeviceSession, seconds: float) -> None:
    """Take the link down for ``seconds`` of polling (a gateway restarts, an adapter is replugged)."""
    rig.link.fail_open = True
    rig.bus.close()
    await rig.tick_for(session, seconds)
    assert not session.available
    rig.link.fail_open = False


async def test_identity_is_read_again_after_a_reconnect() -> None:
    """A meter swapped while the link was down is recognised at the first poll after."""
    rig = Rig()
    session = rig.session()
    await session.poll_due()
    assert session.uid == "testmeter_22091039"
    swap_meter(rig, "33334444", 8)
    await rig.tick_for(session, 5.0)
    assert session.identity is not None
    assert session.identity.serial == "22091039"  # the same connection: not read again

    await break_the_link(rig, session, 3.0)
    await rig.tick_for(session, 1.0)
    assert session.available
    assert session.identity is not None
    assert (session.identity.serial, session.identity.firmware) == ("33334444", "8")
    assert session.uid == "testmeter_33334444"


async def test_identity_is_not_carried_over_a_reconnect() -> None:
    """A serial number that cannot be read after a reconnect is unknown, not the old one."""
    rig = Rig()
    session = rig.session()
    await session.poll_due()
    rig.device.refuse(HR, 0, 1)  # the serial number registers
    await break_the_link(rig, session, 3.0)
    await rig.tick_for(session, 1.0)
    assert session.available
    assert session.identity is not None
    assert session.identity.serial is None
    assert session.identity.firmware == "7"


async def test_identity_is_read_again_when_the_device_answers_after_an_outage() -> None:
    """A meter replaced while it did not answer is recognised once it answers."""
    rig = Rig()
    session = rig.session()
    await session.poll_due()
    rig.device.silent = True
    await rig.tick_for(session, 10.0)
    swap_meter(rig, "55556666", 9)
    rig.device.silent = False
    await rig.tick_for(session, 2.0)
    assert session.available
    assert session.identity is not None
    assert session.identity.serial == "55556666"


async def test_a_device_with_another_serial_number_is_unavailable() -> None:
    """The configured meter was replaced: the one answering is not shown as if it were it."""
    rig = Rig()
    session = rig.session(expected_serial="99990000")
    snapshot = await session.poll_due()
    assert not snapshot.available
    assert snapshot.identity_mismatch
    assert snapshot.error is not None
    assert "99990000" in snapshot.error
    assert "22091039" in snapshot.error
    assert not any(r.state is PointState.VALID for r in snapshot.readings.values())
    assert all(snapshot.value(key) is None for key in snapshot.readings)

    swap_meter(rig, "99990000", 7)  # the right meter is back
    await rig.tick_for(session, 1.0)
    assert session.available
    assert not session.snapshot.identity_mismatch
    assert session.snapshot.value("power") == 1500


async def test_the_expected_serial_number_is_accepted() -> None:
    """The configured meter answers: it is available."""
    rig = Rig()
    snapshot = await rig.session(expected_serial="22091039").poll_due()
    assert snapshot.available
    assert not snapshot.identity_mismatch


async def test_new_firmware_forgets_what_the_old_one_refused() -> None:
    """A firmware update may fill a hole in the map: the learned refusals are dropped."""
    rig = Rig()
    session = rig.session()
    rig.device.refuse(HR, 101, 101)
    await session.poll_due()
    assert session.learned_refusals()["refused"]
    rig.device.allow_all()
    swap_meter(rig, "22091039", 8)  # the same meter, updated while the link was down
    await break_the_link(rig, session, 3.0)
    await rig.tick_for(session, 2.0)
    assert session.learned_refusals() == {"refused": [], "suspected": []}
    assert session.snapshot.value("current") == 6


async def test_learned_refusals_survive_a_restart() -> None:
    """A restarted session does not ask again for what the device refused before."""
    rig = Rig()
    rig.device.refuse(HR, 100, 100)
    first = rig.session()
    await first.poll_due()
    learned = first.learned_refusals()

    restarted = Rig()
    restarted.device.refuse(HR, 100, 100)
    snapshot = await restarted.session(learned=learned).poll_due()
    assert not any(r.address <= 100 <= r.end_address for r in restarted.link.log if r.table is HR)
    assert snapshot.value("current") == 6
    assert snapshot.readings["power"].state is PointState.UNAVAILABLE


def test_uids_follow_the_serial_number_or_else_the_link_and_unit() -> None:
    """A meter with a serial number keeps its uid on another link; one without is named by place."""
    tcp = LinkSettings(kind=LinkKind.TCP, host="Gateway.local", port=502)
    serial = LinkSettings(kind=LinkKind.RTU, serial_port="/dev/serial/by-id/usb-FTDI_A1-if00")
    assert link_id(tcp) == "tcp_gateway_local_502"
    assert link_id(serial) == "rtu_dev_serial_by_id_usb_ftdi_a1_if00"
    assert device_uid("pro380", "2209-1039", link_id(tcp), 3) == device_uid(
        "pro380", "2209-1039", link_id(serial), 7
    )
    assert device_uid("apc", None, link_id(tcp), 3) != device_uid("apc", None, link_id(tcp), 4)
    assert device_uid("apc", "--", link_id(tcp), 3) == device_uid("apc", None, link_id(tcp), 3)
    assert entity_unique_id("pro380_22091039", "voltage_l1") == "pro380_22091039_voltage_l1"


async def test_a_device_without_a_serial_number_has_a_uid_from_the_start() -> None:
    """A profile with no serial point names its device by link and unit before any poll."""
    rig = Rig(get_profile("apc_ap9622"))
    session = rig.session()
    assert session.uid == device_uid("apc", None, link_id(rig.bus.settings), 1)
