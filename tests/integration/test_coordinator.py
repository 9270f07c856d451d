"""The coordinator against simulated devices: what it polls, availability, UPS latency, counters.

Every test talks to simulators over real Modbus TCP and moves time with
:func:`~.harness.advance`; the bus statistics (what each device cost on the wire) show
what was polled.
"""

from __future__ import annotations

import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest

from custom_components.powerbus.const import LOGGER
from custom_components.powerbus.coordinator import PowerbusDevice
from powerbus.simulator.faults import Delay, ExceptionAnswer, NoAnswer

from .harness import (
    FAST,
    TIME_TRAVEL,
    advance,
    device_by_title,
    enable,
    entity_id,
    served,
    set_up_site,
    simulated_value,
    state_of,
    steady_ticks,  # noqa: F401
)

pytestmark = TIME_TRAVEL

NORMAL = 10.0
SLOW_METER = 0.5
"""Seconds a slow meter takes to answer each request."""
UPS_POLL = 1.5
"""Room for the UPS's own fast poll: 14 requests at the card's 50 ms spacing (0.7 s), with
headroom for a loaded test machine."""
ILLEGAL_DATA_ADDRESS = 0x02


def _our_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Return the log records of the integration (and its engine)."""
    return [r for r in caplog.records if r.name.startswith(LOGGER.name)]


def _wire(device: PowerbusDevice) -> tuple[int, int]:
    """Return the requests sent to a device and the bytes it answered, so far."""
    stats = device.session.stats
    return stats.requests, stats.bytes_received


async def _fast_poll_cost(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, device: PowerbusDevice
) -> tuple[int, int]:
    """Return the requests and answer bytes of the next tick (a fast poll only)."""
    before = _wire(device)
    await advance(hass, freezer, FAST)
    after = _wire(device)
    return after[0] - before[0], after[1] - before[1]


# --- What is polled ------------------------------------------------------------------------


async def test_disabling_an_entity_takes_its_registers_out_of_the_next_poll(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The power factor ends the fast block: disabled, the block ends at apparent power."""
    async with served({1: "pro380"}) as site:
        _, coordinator = await set_up_site(hass, site, {1: "Meter"})
        meter = device_by_title(coordinator, "Meter")
        await advance(hass, freezer, FAST)
        requests, answered = await _fast_poll_cost(hass, freezer, meter)
        assert requests == 1

        er.async_get(hass).async_update_entity(
            entity_id(hass, meter, "power_factor"), disabled_by=er.RegistryEntryDisabler.USER
        )
        await hass.async_block_till_done()
        requests_after, answered_after = await _fast_poll_cost(hass, freezer, meter)

        profile = site.devices[1].profile
        power_factor, apparent = profile.point("power_factor"), profile.point("apparent_power")
        registers_saved = power_factor.address + power_factor.count - apparent.end - 1
        assert requests_after == 1
        assert answered - answered_after == 2 * registers_saved
        assert state_of(hass, meter, "voltage_l1").state != STATE_UNAVAILABLE
        assert hass.states.get(entity_id(hass, meter, "power_factor")) is None


async def test_a_group_without_enabled_entities_costs_no_request(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """With every fast entity disabled, the ticks between normal polls send nothing."""
    async with served({1: "pro380"}) as site:
        entry, coordinator = await set_up_site(hass, site, {1: "Meter"})
        meter = device_by_title(coordinator, "Meter")
        profile = site.devices[1].profile
        registry = er.async_get(hass)
        for spec in meter.specs:
            point = profile.point(spec.point) if spec.point else None
            if point is not None and point.group.value == "fast":
                registry.async_update_entity(
                    entity_id(hass, meter, spec.key), disabled_by=er.RegistryEntryDisabler.USER
                )
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        meter = device_by_title(entry.runtime_data, "Meter")
        await advance(hass, freezer, FAST)

        requests, _ = await _fast_poll_cost(hass, freezer, meter)

        assert requests == 0
        assert "voltage_l1" not in meter.session.enabled
        assert state_of(hass, meter, "import_active_energy").state != STATE_UNAVAILABLE


async def test_enabling_an_entity_polls_its_point(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A disabled-by-default entity, once enabled, shows the meter's value."""
    async with served({1: "pro380"}) as site:
        entry, coordinator = await set_up_site(hass, site, {1: "Meter"})
        meter = device_by_title(coordinator, "Meter")
        assert "reactive_power_l1" not in meter.session.enabled

        await enable(hass, entry, entity_id(hass, meter, "reactive_power_l1"))
        meter = device_by_title(entry.runtime_data, "Meter")

        assert "reactive_power_l1" in meter.session.enabled
        state = state_of(hass, meter, "reactive_power_l1")
        expected = simulated_value(
            site, 1, "reactive_power_l1", state.attributes.get("unit_of_measurement")
        )
        assert float(state.state) == pytest.approx(expected, rel=1e-3)


# --- Availability --------------------------------------------------------------------------


async def test_a_silent_device_goes_unavailable_within_a_poll_and_comes_back(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Its entities go unavailable, the other device's stay; one log line each way."""
    async with served({1: "pro380", 2: "liebert_gxt2"}) as site:
        _, coordinator = await set_up_site(hass, site, {1: "Meter", 2: "UPS"})
        meter, ups = device_by_title(coordinator, "Meter"), device_by_title(coordinator, "UPS")
        silence = NoAnswer(unit_id=1, times=None)
        caplog.set_level(logging.INFO, logger="custom_components.powerbus")

        site.simulator.faults.add(silence)
        await advance(hass, freezer, FAST)

        assert state_of(hass, meter, "voltage_l1").state == STATE_UNAVAILABLE
        assert state_of(hass, ups, "input_voltage_l1").state != STATE_UNAVAILABLE
        assert coordinator.last_update_success
        await advance(hass, freezer, FAST)
        assert state_of(hass, meter, "voltage_l1").state == STATE_UNAVAILABLE

        site.simulator.faults.discard(silence)
        await advance(hass, freezer, FAST)

        assert float(state_of(hass, meter, "voltage_l1").state) == pytest.approx(
            float(site.devices[1].get_value("voltage_l1")), abs=0.01
        )
        await advance(hass, freezer, FAST)
        messages = [r.getMessage() for r in _our_records(caplog)]
        assert sum(m.startswith("Meter is unavailable") for m in messages) == 1
        assert sum(m == "Meter is available again" for m in messages) == 1
        assert not any(m.startswith("UPS is") for m in messages)


async def test_a_refused_block_makes_only_its_points_unavailable(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A meter that refuses the power factor's registers still shows its voltages."""
    async with served({1: "pro380"}) as site:
        _, coordinator = await set_up_site(hass, site, {1: "Meter"})
        meter = device_by_title(coordinator, "Meter")
        power_factor = site.devices[1].profile.point("power_factor")
        site.simulator.faults.add(
            ExceptionAnswer(
                code=ILLEGAL_DATA_ADDRESS,
                times=None,
                addresses=range(power_factor.address, power_factor.end + 1),
            )
        )

        await advance(hass, freezer, FAST)

        assert state_of(hass, meter, "power_factor").state == STATE_UNAVAILABLE
        assert float(state_of(hass, meter, "voltage_l1").state) == pytest.approx(
            float(site.devices[1].get_value("voltage_l1")), abs=0.01
        )
        assert state_of(hass, meter, "apparent_power").state != STATE_UNAVAILABLE


async def test_a_link_where_nothing_answers_fails_as_a_whole_and_recovers(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A stopped server: the update fails with a translated error, logged once, then recovers."""
    async with served({1: "pro380"}) as site:
        _, coordinator = await set_up_site(hass, site, {1: "Meter"})
        meter = device_by_title(coordinator, "Meter")
        caplog.set_level(logging.INFO, logger="custom_components.powerbus")

        await site.simulator.stop()
        for _ in range(3):
            await advance(hass, freezer, FAST)

        assert not coordinator.last_update_success
        assert coordinator.last_exception is not None
        assert coordinator.last_exception.translation_key == "link_unreachable"
        assert state_of(hass, meter, "voltage_l1").state == STATE_UNAVAILABLE
        failures = [r for r in _our_records(caplog) if r.levelno == logging.ERROR]
        assert len(failures) == 1
        assert f"No device on tcp://127.0.0.1:{site.port} answers" in failures[0].getMessage()

        await site.simulator.start_tcp("127.0.0.1", site.port)
        await advance(hass, freezer, FAST)
        await advance(hass, freezer, FAST)

        assert coordinator.last_update_success
        assert state_of(hass, meter, "voltage_l1").state != STATE_UNAVAILABLE
        messages = [r.getMessage() for r in _our_records(caplog)]
        assert sum("recovered" in m for m in messages) == 1
        assert not any(m.startswith("Meter is") for m in messages)


# --- UPS -----------------------------------------------------------------------------------


async def test_an_on_battery_change_reaches_home_assistant_within_one_fast_poll(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The input fails right after a poll; the binary sensor turns on by the next fast tick."""
    async with served({1: "liebert_gxt2"}) as site:
        _, coordinator = await set_up_site(hass, site, {1: "UPS"})
        ups = device_by_title(coordinator, "UPS")
        behaviour = site.devices[1].behaviour
        await advance(hass, freezer, FAST)
        assert state_of(hass, ups, "ups_on_battery").state == STATE_OFF

        flipped_at = dt_util.utcnow()
        behaviour.fail_input()  # type: ignore[union-attr]
        await advance(hass, freezer, FAST)

        on_battery = state_of(hass, ups, "ups_on_battery")
        assert on_battery.state == STATE_ON
        latency = (on_battery.last_changed - flipped_at).total_seconds()
        assert 0 < latency <= FAST + UPS_POLL
        assert state_of(hass, ups, "ups_status").state == "on_battery"

        behaviour.restore_input()  # type: ignore[union-attr]
        await advance(hass, freezer, FAST)
        assert state_of(hass, ups, "ups_on_battery").state == STATE_OFF


async def test_a_ups_is_polled_first_and_shown_before_the_rest_of_the_line(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A slow meter configured before the UPS does not hold back the UPS's on-battery state."""
    async with served({1: "pro380", 2: "liebert_gxt2"}) as site:
        _, coordinator = await set_up_site(hass, site, {1: "Meter", 2: "UPS"})
        meter, ups = device_by_title(coordinator, "Meter"), device_by_title(coordinator, "UPS")
        assert coordinator.scheduler.sessions[0] is ups.session
        await advance(hass, freezer, FAST)
        site.devices[1].paused = True
        site.devices[1].set_value("voltage_l1", 228.5)
        site.simulator.faults.add(Delay(unit_id=1, seconds=SLOW_METER, times=None))

        site.devices[2].behaviour.fail_input()  # type: ignore[union-attr]
        await advance(hass, freezer, FAST)

        on_battery = state_of(hass, ups, "ups_on_battery")
        voltage = state_of(hass, meter, "voltage_l1")
        assert on_battery.state == STATE_ON
        assert float(voltage.state) == pytest.approx(228.5)
        shown_earlier = (voltage.last_changed - on_battery.last_changed).total_seconds()
        assert shown_earlier >= SLOW_METER * 0.8


# --- Energy counters -----------------------------------------------------------------------


async def test_an_energy_counter_never_goes_back(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A lower reading is never shown (logged once); the counter shows again once past it."""
    async with served({1: "pro380"}) as site:
        _, coordinator = await set_up_site(hass, site, {1: "Meter"})
        meter = device_by_title(coordinator, "Meter")
        simulated = site.devices[1]
        simulated.paused = True
        shown = float(state_of(hass, meter, "import_active_energy").state)

        simulated.set_value("import_active_energy", shown - 100)
        seen = []
        for _ in range(3):
            await advance(hass, freezer, NORMAL)
            seen.append(state_of(hass, meter, "import_active_energy").state)

        assert seen == [STATE_UNAVAILABLE] * 3
        assert sum("went back" in r.getMessage() for r in caplog.records) == 1

        simulated.set_value("import_active_energy", shown + 0.5)
        await advance(hass, freezer, NORMAL)
        assert float(state_of(hass, meter, "import_active_energy").state) == pytest.approx(
            shown + 0.5, abs=0.01
        )


async def test_an_implausible_jump_is_not_shown(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Ten megawatt-hours in ten seconds is a garbled read: refused, logged once."""
    async with served({1: "pro380"}) as site:
        _, coordinator = await set_up_site(hass, site, {1: "Meter"})
        meter = device_by_title(coordinator, "Meter")
        simulated = site.devices[1]
        simulated.paused = True
        shown = float(state_of(hass, meter, "import_active_energy").state)

        simulated.set_value("import_active_energy", shown + 10_000)
        await advance(hass, freezer, NORMAL)
        await advance(hass, freezer, NORMAL)

        assert state_of(hass, meter, "import_active_energy").state == STATE_UNAVAILABLE
        assert sum("jumped from" in r.getMessage() for r in caplog.records) == 1


async def test_a_reset_powerbus_runs_may_take_the_counter_down(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The day counter's reset button (dangerous: enabled first) brings the counter to zero."""
    async with served({1: "pro380"}) as site:
        entry, coordinator = await set_up_site(hass, site, {1: "Meter"})
        meter = device_by_title(coordinator, "Meter")
        site.devices[1].paused = True
        assert float(state_of(hass, meter, "day_counter_energy").state) > 0

        await enable(hass, entry, entity_id(hass, meter, "reset_day_counter"))
        meter = device_by_title(entry.runtime_data, "Meter")
        await hass.services.async_call(
            "button",
            "press",
            {"entity_id": entity_id(hass, meter, "reset_day_counter")},
            blocking=True,
        )
        await advance(hass, freezer, FAST)

        assert float(state_of(hass, meter, "day_counter_energy").state) == 0
        assert site.devices[1].get_value("day_counter_energy") == 0
