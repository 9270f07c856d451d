"""Energy counters never go back, and never jump further than a meter can count."""

from __future__ import annotations

import logging

import pytest

from powerbus.models import PointState, Table
from powerbus.profile import parse_profile_text
from powerbus.session import DeviceSession

from .fakes import Rig

pytestmark = pytest.mark.hardware_free

COUNTER_YAML = """
family: counter
manufacturer: Test
addressing: pdu
defaults: {table: holding_register, data_type: u32}
point_sets:
  all:
    - {key: energy, name: Energy, address: 0, unit: kWh, device_class: energy, state_class: total_increasing, group: fast}
    - {key: net_energy, name: Net energy, address: 2, data_type: s32, unit: kWh, device_class: energy, state_class: total, group: fast}
    - {key: day_energy, name: Day energy, address: 4, unit: kWh, device_class: energy, state_class: total_increasing, group: fast, write: {choices: [0], dangerous: true}}
commands:
  - key: reset
    name: Reset
    dangerous: true
    steps:
      - write: {address: 0, values: [0, 0]}
variants:
  - {key: counter, name: Counter, models: [C], point_sets: [all], commands: [reset]}
"""


def _rig() -> tuple[Rig, DeviceSession]:
    profile = parse_profile_text(COUNTER_YAML, "counter.yaml")["counter"]
    rig = Rig(profile)
    rig.device.put_raw(Table.HOLDING_REGISTER, 0, [0, 1000])
    return rig, rig.session()


def _set(rig: Rig, address: int, value: int) -> None:
    rig.device.put_raw(Table.HOLDING_REGISTER, address, [value >> 16 & 0xFFFF, value & 0xFFFF])


async def _poll_after(rig: Rig, session: DeviceSession, seconds: float = 1.0) -> None:
    rig.clock.advance(seconds)
    await session.poll_due()


async def test_a_counter_that_goes_back_keeps_its_last_value_and_is_not_valid(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A lower reading is refused, shown as an error, and logged once."""
    rig, session = _rig()
    await session.refresh()
    _set(rig, 0, 900)

    with caplog.at_level(logging.WARNING):
        await _poll_after(rig, session)
        await _poll_after(rig, session)

    reading = session.snapshot.readings["energy"]
    assert reading.state is PointState.ERROR
    assert reading.value == 1000
    assert session.snapshot.value("energy") is None
    assert "went back from 1000 to 900" in (reading.error or "")
    assert sum("went back" in r.message for r in caplog.records) == 1
    assert session.refused_counters == {"energy"}


async def test_the_counter_counts_again_once_it_is_past_the_last_value() -> None:
    """After a glitch, the next plausible reading is shown again."""
    rig, session = _rig()
    await session.refresh()
    _set(rig, 0, 5)
    await _poll_after(rig, session)
    _set(rig, 0, 1001)

    await _poll_after(rig, session)

    assert session.snapshot.value("energy") == 1001
    assert session.refused_counters == frozenset()


async def test_a_reset_powerbus_ran_itself_is_shown() -> None:
    """Right after a command the device ran, a lower reading is the reset, not a glitch."""
    rig, session = _rig()
    await session.refresh()

    await session.run_command("reset", confirm=True)
    await _poll_after(rig, session)

    assert session.snapshot.value("energy") == 0


async def test_only_the_poll_right_after_a_command_may_go_back() -> None:
    """The allowance is for one poll: a later drop is refused again."""
    rig, session = _rig()
    await session.refresh()
    await session.run_command("reset", confirm=True)
    await _poll_after(rig, session)
    _set(rig, 0, 10)
    await _poll_after(rig, session)
    _set(rig, 0, 5)

    await _poll_after(rig, session)

    assert session.snapshot.value("energy") is None
    assert session.snapshot.readings["energy"].value == 10


async def test_a_user_can_accept_a_lower_reading() -> None:
    """A meter reset at its own front panel: the user accepts the new reading once."""
    rig, session = _rig()
    await session.refresh()
    _set(rig, 0, 3)
    await _poll_after(rig, session)

    session.accept_counters(["energy"])
    await _poll_after(rig, session)

    assert session.snapshot.value("energy") == 3


async def test_an_impossible_jump_is_refused() -> None:
    """More than a megawatt's worth in a minute is a garbled read, not consumption."""
    rig, session = _rig()
    await session.refresh()
    _set(rig, 0, 1000 + 5000)

    await _poll_after(rig, session, seconds=2.0)

    assert session.snapshot.value("energy") is None
    assert "jumped from 1000 to 6000" in (session.snapshot.readings["energy"].error or "")


async def test_a_large_step_after_a_long_time_is_plausible() -> None:
    """Hours of consumption may arrive in one reading after an outage."""
    rig, session = _rig()
    await session.refresh()
    _set(rig, 0, 1000 + 5000)

    await _poll_after(rig, session, seconds=8 * 3600)

    assert session.snapshot.value("energy") == 6000


async def test_net_counters_may_fall() -> None:
    """A ``total`` counter (import minus export) is not guarded: it may go down."""
    rig, session = _rig()
    _set(rig, 2, 100)
    await session.refresh()
    _set(rig, 2, 50)

    await _poll_after(rig, session)

    assert session.snapshot.value("net_energy") == 50
