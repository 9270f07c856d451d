"""What the simulators promise a user: simulated time, their own unit id, and whole-Wh counters.

- ``--speed X`` makes every moving value run X times faster, none of them tied to the wall clock:
  a device at 60x after 10 s holds what a device at 2x holds after 300 s.
- A PRO380 whose Modbus address is changed over Modbus (``set_modbus_id``) answers on the new
  unit id at once, and its address register shows the unit id it is served on.
- A PowerLogic meter's energy counters hold the integrated energy rounded to the nearest Wh,
  negative totals included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from hypothesis import given, settings, strategies as st
import pytest

from powerbus import Bus, DeviceSession, parse_link
from powerbus.errors import RequestTimeoutError
from powerbus.models import Profile, Table
from powerbus.profile import builtin_profiles, get_profile, with_limits
from powerbus.simulator import powerlogic_map as pmap
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.clock import ManualClock
from powerbus.simulator.powerlogic import INITIAL_ENERGY, PowerLogicBehaviour
from powerbus.simulator.powerlogic_feeder import feeder_at
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator

START = 1000.0
SECONDS_PER_HOUR = 3600.0
WH_PER_KWH = 1000.0


def _image(device: ProfileDevice) -> dict[str, list[int]]:
    """Return the registers of every point of the device, by point key."""
    return {
        point.key: device.registers(point.table, point.address, point.count)
        for point in device.profile.points
    }


@pytest.mark.parametrize("key", sorted(builtin_profiles()))
def test_every_moving_value_follows_simulated_time_only(key: str) -> None:
    """600 s of simulated time give the same registers at 60x (10 s) as at 2x (300 s)."""
    profile = get_profile(key)
    fast_clock, slow_clock = ManualClock(START), ManualClock(START)
    fast = simulated_device(profile, speed=60, clock=fast_clock)
    slow = simulated_device(profile, speed=2, clock=slow_clock)

    fast_clock.advance(10)
    slow_clock.advance(300)
    fast.advance()
    slow.advance()

    assert _image(fast) == _image(slow)


def test_a_powerlogic_setup_session_lapses_after_its_timeout_in_simulated_time() -> None:
    """At 60x a session left alone for timeout / 60 s of wall time has lapsed."""
    clock = ManualClock(START)
    behaviour = PowerLogicBehaviour(speed=60, setup_timeout=120)
    device = ProfileDevice(get_profile("pm800"), behaviour, clock=clock)
    device.write(Table.HOLDING_REGISTER, pmap.COMMAND_REGISTER - 1, [pmap.Code.ENTER_SETUP])
    assert behaviour.events == ["setup opened"]

    clock.advance(1.9)  # 114 s of the meter's time
    device.advance()
    assert "setup timed out" not in behaviour.events
    clock.advance(0.2)  # 126 s
    device.advance()
    assert behaviour.events[-1] == "setup timed out"


@given(seconds=st.floats(min_value=0.001, max_value=7200.0))
@settings(max_examples=60, deadline=None)
def test_powerlogic_energy_counters_hold_the_nearest_whole_wh(seconds: float) -> None:
    """Every counter is within half a Wh of the energy integrated, the negative total too."""
    clock = ManualClock(START)
    device = ProfileDevice(get_profile("pm800"), PowerLogicBehaviour(), clock=clock)
    clock.advance(seconds)
    device.advance()

    feeder = feeder_at(seconds, pmap.MODELS["pm800"].phase_current)
    hours = seconds / SECONDS_PER_HOUR
    active = feeder.active * WH_PER_KWH * hours
    reactive = feeder.reactive * WH_PER_KWH * hours
    integrated = dict(INITIAL_ENERGY)
    integrated["import_active_energy" if active >= 0 else "export_active_energy"] += abs(active)
    integrated["import_reactive_energy" if reactive >= 0 else "export_reactive_energy"] += abs(
        reactive
    )
    integrated["active_energy"] += active
    integrated["reactive_energy"] += reactive
    integrated["apparent_energy"] += feeder.apparent * WH_PER_KWH * hours

    assert integrated["reactive_energy"] < 0
    for key, energy in integrated.items():
        shown = device.get_value(key)
        assert isinstance(shown, int), key
        assert abs(shown - energy) <= 0.5, (key, shown, energy)


# ---------------------------------------------------------------------------
# A PRO380's unit id is its own setting
# ---------------------------------------------------------------------------


@dataclass
class Line:
    """A simulated PRO380 on Modbus TCP, and a bus to it."""

    bus: Bus
    meter: ProfileDevice
    profile: Profile


@pytest.fixture
async def line() -> AsyncIterator[Line]:
    """Serve a PRO380 as unit 5; open a bus with a short answer timeout."""
    profile = with_limits(get_profile("pro380"), timeout=0.3, timeout_per_register=0.0)
    meter = simulated_device(get_profile("pro380"))
    async with Simulator({5: meter}) as simulator:
        port = await simulator.start_tcp("127.0.0.1", 0)
        async with Bus(parse_link(f"tcp://127.0.0.1:{port}")) as bus:
            yield Line(bus=bus, meter=meter, profile=profile)


async def test_a_pro380_shows_the_unit_id_it_is_served_on(line: Line) -> None:
    """The meter's Modbus address register holds the unit id it answers on."""
    session = DeviceSession(line.bus, line.profile, 5, enabled=["modbus_id"])
    snapshot = await session.refresh()
    assert snapshot.readings["modbus_id"].value == 5


async def test_set_modbus_id_moves_the_meter_to_its_new_unit_id(line: Line) -> None:
    """After set_modbus_id 7 the meter answers as unit 7, and unit 5 is silent."""
    old = DeviceSession(line.bus, line.profile, 5, enabled=["modbus_id"])
    await old.run_command("set_modbus_id", {"modbus_id": 7}, confirm=True)

    new = DeviceSession(line.bus, line.profile, 7, enabled=["modbus_id"])
    snapshot = await new.refresh()
    assert snapshot.available
    assert snapshot.readings["modbus_id"].value == 7
    with pytest.raises(RequestTimeoutError):
        await line.bus.read(5, Table.HOLDING_REGISTER, 0x4003, 1, line.profile.limits)
