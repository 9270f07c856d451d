"""Selects, numbers, buttons and switches operated through Home Assistant's services against simulators.

Each action goes over Modbus TCP to a simulated device, which must then hold the
value (or have done what the button says); a device that refuses or does not answer
turns into a translated Home Assistant error.
"""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import (
    ATTR_ASSUMED_STATE,
    ATTR_DEVICE_CLASS,
    ATTR_ENTITY_ID,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest

from powerbus import Table
from powerbus.simulator.faults import ExceptionAnswer, NoAnswer

from .harness import (
    FAST,
    TIME_TRAVEL,
    advance,
    device_by_title,
    device_of,
    enable,
    entity_id,
    served,
    set_up,
    set_up_site,
    state_of,
    steady_ticks,  # noqa: F401
)
from .simulated import link_entry

pytestmark = TIME_TRAVEL

ILLEGAL_DATA_VALUE = 0x03


async def test_choosing_a_tariff_switches_the_meter(hass: HomeAssistant) -> None:
    """The PRO380's tariff select writes the tariff; the meter then counts on T2."""
    async with served({1: "pro380"}) as site:
        _, coordinator = await set_up_site(hass, site, {1: "Meter"})
        meter = device_by_title(coordinator, "Meter")

        await hass.services.async_call(
            "select",
            "select_option",
            {ATTR_ENTITY_ID: entity_id(hass, meter, "tariff"), "option": "t2"},
            blocking=True,
        )

        assert site.devices[1].get_value("tariff") == "t2"
        assert state_of(hass, meter, "tariff").state == "t2"


async def test_setting_the_pulse_rate_writes_it(hass: HomeAssistant) -> None:
    """The S0 pulse rate number (a setting, disabled by default) writes the meter's register."""
    async with served({1: "pro380"}) as site:
        entry, coordinator = await set_up_site(hass, site, {1: "Meter"})
        await enable(hass, entry, entity_id(hass, device_by_title(coordinator, "Meter"), "s0_rate"))
        meter = device_by_title(entry.runtime_data, "Meter")
        rate = state_of(hass, meter, "s0_rate")
        assert rate.attributes["min"] == 0.01
        assert rate.attributes["max"] == 10000

        await hass.services.async_call(
            "number",
            "set_value",
            {ATTR_ENTITY_ID: rate.entity_id, "value": 2000},
            blocking=True,
        )

        assert site.devices[1].get_value("s0_rate") == pytest.approx(2000)
        assert float(state_of(hass, meter, "s0_rate").state) == pytest.approx(2000)


async def test_a_refused_write_is_a_translated_error(hass: HomeAssistant) -> None:
    """The meter answers "illegal data value": the user reads which device refused."""
    async with served({1: "pro380"}) as site:
        _, coordinator = await set_up_site(hass, site, {1: "Meter"})
        meter = device_by_title(coordinator, "Meter")
        tariff = site.devices[1].profile.point("tariff")
        site.simulator.faults.add(
            ExceptionAnswer(
                code=ILLEGAL_DATA_VALUE,
                table=Table.HOLDING_REGISTER,
                addresses=range(tariff.address, tariff.end + 1),
            )
        )

        with pytest.raises(HomeAssistantError) as raised:
            await hass.services.async_call(
                "select",
                "select_option",
                {ATTR_ENTITY_ID: entity_id(hass, meter, "tariff"), "option": "t2"},
                blocking=True,
            )

        assert raised.value.translation_domain == "powerbus"
        assert raised.value.translation_key == "device_refused"
        assert raised.value.translation_placeholders["device"] == "Meter"
        assert site.devices[1].get_value("tariff") == "t1"


async def test_an_unanswered_write_is_a_translated_error(hass: HomeAssistant) -> None:
    """A write the meter never answers is not repeated, and says the device does not answer."""
    async with served({1: "pro380"}) as site:
        _, coordinator = await set_up_site(hass, site, {1: "Meter"})
        meter = device_by_title(coordinator, "Meter")
        tariff = site.devices[1].profile.point("tariff")
        site.simulator.faults.add(
            NoAnswer(table=Table.HOLDING_REGISTER, addresses=range(tariff.address, tariff.end + 1))
        )

        with pytest.raises(HomeAssistantError) as raised:
            await hass.services.async_call(
                "select",
                "select_option",
                {ATTR_ENTITY_ID: entity_id(hass, meter, "tariff"), "option": "t2"},
                blocking=True,
            )

        assert raised.value.translation_key == "no_answer"
        assert not isinstance(raised.value, ServiceValidationError)


async def test_a_device_that_is_not_the_one_configured_offers_no_controls(
    hass: HomeAssistant,
) -> None:
    """Another meter at the unit id: its tariff select is unavailable and nothing is written."""
    async with served({1: "pro380", 2: "pro380"}) as site:
        site.devices[2].set_value("serial_number", "22091040")
        swapped = device_of(site, 1, title="Meter")
        swapped["data"] = {**swapped["data"], "serial_number": "99999999"}
        coordinator = await set_up(
            hass, link_entry(site, swapped, device_of(site, 2, title="Other meter"))
        )
        meter = device_by_title(coordinator, "Meter")
        assert state_of(hass, meter, "tariff").state == STATE_UNAVAILABLE

        await hass.services.async_call(
            "select",
            "select_option",
            {ATTR_ENTITY_ID: entity_id(hass, meter, "tariff"), "option": "t2"},
            blocking=True,
        )

        assert site.devices[1].get_value("tariff") == "t1"


async def test_a_button_starts_a_battery_test(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The Liebert's battery test button starts the test; the next poll shows it running."""
    async with served({1: "liebert_series600"}) as site:
        _, coordinator = await set_up_site(hass, site, {1: "UPS"})
        ups = device_by_title(coordinator, "UPS")

        await hass.services.async_call(
            "button",
            "press",
            {ATTR_ENTITY_ID: entity_id(hass, ups, "start_battery_test")},
            blocking=True,
        )
        await advance(hass, freezer, FAST)

        assert site.devices[1].behaviour.battery_test_running  # type: ignore[union-attr]
        assert state_of(hass, ups, "battery_test_result").state == "in_progress"


async def test_a_dangerous_button_runs_once_enabled(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Transferring the load to bypass is disabled by default; enabled and pressed, it runs."""
    async with served({1: "liebert_series600"}) as site:
        entry, coordinator = await set_up_site(hass, site, {1: "UPS"})
        button = entity_id(hass, device_by_title(coordinator, "UPS"), "transfer_to_bypass")
        registry_entry = er.async_get(hass).async_get(button)
        assert registry_entry is not None
        assert registry_entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION

        await enable(hass, entry, button)
        ups = device_by_title(entry.runtime_data, "UPS")
        assert state_of(hass, ups, "ups_on_bypass").state == STATE_OFF
        await hass.services.async_call("button", "press", {ATTR_ENTITY_ID: button}, blocking=True)
        await advance(hass, freezer, FAST)

        assert state_of(hass, ups, "ups_on_bypass").state == STATE_ON
        assert state_of(hass, ups, "ups_status").state == "on_bypass"


async def test_an_outlet_switch_switches_only_its_outlet_once_enabled(hass: HomeAssistant) -> None:
    """Outlet 2 of a Series 600: disabled by default (off cuts a load); then off and on again.

    No register reads an outlet back, so the switch has an assumed state: unknown until
    it is first switched, then what was asked for.
    """
    async with served({1: "liebert_series600"}) as site:
        entry, coordinator = await set_up_site(hass, site, {1: "UPS"})
        outlet = entity_id(hass, device_by_title(coordinator, "UPS"), "outlet_2")
        registry_entry = er.async_get(hass).async_get(outlet)
        assert registry_entry is not None
        assert registry_entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        await enable(hass, entry, outlet)
        ups = device_by_title(entry.runtime_data, "UPS")
        behaviour = site.devices[1].behaviour
        behaviour.outlets = 0b0111  # type: ignore[union-attr]
        before = state_of(hass, ups, "outlet_2")
        assert before.state == STATE_UNKNOWN
        assert before.attributes[ATTR_ASSUMED_STATE] is True
        assert before.attributes[ATTR_DEVICE_CLASS] == "outlet"

        await hass.services.async_call(
            "switch", "turn_off", {ATTR_ENTITY_ID: outlet}, blocking=True
        )
        assert behaviour.outlets == 0b0101  # type: ignore[union-attr]
        assert state_of(hass, ups, "outlet_2").state == STATE_OFF

        await hass.services.async_call("switch", "turn_on", {ATTR_ENTITY_ID: outlet}, blocking=True)
        assert behaviour.outlets == 0b0111  # type: ignore[union-attr]
        assert state_of(hass, ups, "outlet_2").state == STATE_ON


async def test_an_outlet_the_ups_does_not_answer_for_keeps_its_state(hass: HomeAssistant) -> None:
    """A refused outlet command is a translated error, and the switch does not pretend it worked."""
    async with served({1: "liebert_series600"}) as site:
        entry, coordinator = await set_up_site(hass, site, {1: "UPS"})
        outlet = entity_id(hass, device_by_title(coordinator, "UPS"), "outlet_1")
        await enable(hass, entry, outlet)
        ups = device_by_title(entry.runtime_data, "UPS")
        site.simulator.faults.add(
            ExceptionAnswer(
                code=ILLEGAL_DATA_VALUE,
                table=Table.HOLDING_REGISTER,
                addresses=range(40113 - 40001, 40113 - 40001 + 1),
            )
        )

        with pytest.raises(HomeAssistantError) as raised:
            await hass.services.async_call(
                "switch", "turn_off", {ATTR_ENTITY_ID: outlet}, blocking=True
            )

        assert raised.value.translation_key == "device_refused"
        assert state_of(hass, ups, "outlet_1").state == STATE_UNKNOWN
        assert site.devices[1].behaviour.outlets & 0b1  # type: ignore[union-attr]
