"""Every device family's entities, set up against its simulator over Modbus TCP.

For each family: every catalogue entity exists on its platform, enabled or disabled
by default as its profile says, with its translated name and the simulated device's
value; a few entities per family are checked by hand (unit, classes); and a snapshot
of all of them (one line each) shows the whole shape for review. Where Home Assistant
2025.4 and 2026.10 give a family different units, the snapshot has a variant per release.
"""

from __future__ import annotations

import json
from pathlib import Path
import re

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, STATE_OFF, STATE_UNKNOWN, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.powerbus.coordinator import PowerbusDevice

from .entity_checks import (
    catalogue_keys,
    check_device_entities,
    entity_dump,
    release_tag,
    translated_states,
)
from .harness import (
    FAST,
    TIME_TRAVEL,
    advance,
    device_by_title,
    enable,
    entity_id,
    served,
    set_up_site,
    state_of,
    steady_ticks,  # noqa: F401
)

pytestmark = TIME_TRAVEL

_ICONS = Path(__file__).parents[2] / "custom_components" / "powerbus" / "icons.json"
_MDI = re.compile(r"mdi:[a-z0-9-]+")
POLLS_REMEMBERED = 8
"""The achieved interval is the mean over this many polls: past the set-up's, it is the ticks'."""

FAMILIES = [
    pytest.param("pro380", "2025.4", id="pro380-2025.4"),
    pytest.param("pro380", "2026.10", id="pro380-2026.10"),
    pytest.param("pm800", "2025.4", id="pm800-2025.4"),
    pytest.param("pm800", "2026.10", id="pm800-2026.10"),
    pytest.param("pm800_float", "2025.4", id="pm800_float-2025.4"),
    pytest.param("pm800_float", "2026.10", id="pm800_float-2026.10"),
    pytest.param("liebert_gxt2", None, id="liebert_gxt2"),
    pytest.param("liebert_series600", None, id="liebert_series600"),
    pytest.param("apc_smart_ups", None, id="apc_smart_ups"),
    pytest.param("bcpm_current_channels_1_42", None, id="bcpm_current_channels_1_42"),
]


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Keep the snapshots in ``snapshots/`` beside the tests, as Home Assistant does."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


def _attributes(hass: HomeAssistant, device: PowerbusDevice, key: str) -> tuple[str, ...]:
    """Return (state, unit, device class, state class) of an entity, as Home Assistant has it."""
    state = state_of(hass, device, key)
    return (
        state.state,
        str(state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)),
        str(state.attributes.get("device_class")),
        str(state.attributes.get("state_class")),
    )


@pytest.mark.parametrize(("profile", "release"), FAMILIES)
async def test_a_device_family_gets_its_entities(
    hass: HomeAssistant, snapshot: SnapshotAssertion, profile: str, release: str | None
) -> None:
    """The device's entities show its simulator's values, and their shape matches the snapshot."""
    if release != release_tag(profile):
        pytest.skip(f"{profile} shows other units on Home Assistant {release}")
    async with served({1: profile}) as site:
        _, coordinator = await set_up_site(hass, site, {1: "Device"})
        device = device_by_title(coordinator, "Device")

        enabled = check_device_entities(hass, site, 1, device)

        assert enabled > 0
        assert entity_dump(hass, device) == snapshot


async def test_a_pro380_shows_energy_for_the_energy_dashboard(hass: HomeAssistant) -> None:
    """Energy counters are kWh totals; power in kW; the tariff is a select of T1 and T2."""
    async with served({1: "pro380"}) as site:
        _, coordinator = await set_up_site(hass, site, {1: "Meter"})
        meter = device_by_title(coordinator, "Meter")

        _, *energy = _attributes(hass, meter, "import_active_energy")
        _, *power = _attributes(hass, meter, "active_power")
        tariff = state_of(hass, meter, "tariff")

        assert energy == ["kWh", "energy", "total_increasing"]
        assert _attributes(hass, meter, "active_energy")[1:] == ("kWh", "energy", "total")
        assert power == ["kW", "power", "measurement"]
        assert _attributes(hass, meter, "voltage_l1")[1:] == ("V", "voltage", "measurement")
        assert tariff.attributes["options"] == ["t1", "t2"]
        assert tariff.state == "t1"


async def test_a_ups_shows_its_status_and_flags(hass: HomeAssistant) -> None:
    """A healthy Liebert GXT2 is online, on mains, with its battery charge in percent."""
    async with served({1: "liebert_gxt2"}) as site:
        _, coordinator = await set_up_site(hass, site, {1: "UPS"})
        ups = device_by_title(coordinator, "UPS")

        status = state_of(hass, ups, "ups_status")

        assert status.state == "online"
        assert "on_battery" in status.attributes["options"]
        assert state_of(hass, ups, "ups_on_battery").state == STATE_OFF
        assert _attributes(hass, ups, "battery_charge")[1:3] == ("%", "battery")
        assert state_of(hass, ups, "ups_low_battery").attributes["device_class"] == "battery"


async def test_a_dangerous_button_is_disabled_by_default(hass: HomeAssistant) -> None:
    """Turning a UPS's output off takes enabling its button first; silencing the alarm does not."""
    async with served({1: "liebert_series600"}) as site:
        _, coordinator = await set_up_site(hass, site, {1: "UPS"})
        ups = device_by_title(coordinator, "UPS")
        registry = er.async_get(hass)

        output_off = registry.async_get(entity_id(hass, ups, "output_off"))
        silence = registry.async_get(entity_id(hass, ups, "silence_alarm"))

        assert output_off is not None
        assert output_off.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        assert silence is not None
        assert silence.disabled_by is None
        assert state_of(hass, ups, "silence_alarm").state == STATE_UNKNOWN


async def test_a_meter_behind_a_gateway(hass: HomeAssistant, snapshot: SnapshotAssertion) -> None:
    """A PM8ECC and the PM800 behind it on one link: both get their entities."""
    async with served({254: "pm8ecc", 1: "pm800"}) as site:
        _, coordinator = await set_up_site(hass, site, {254: "Gateway", 1: "Meter"})
        gateway = device_by_title(coordinator, "Gateway")
        meter = device_by_title(coordinator, "Meter")

        assert check_device_entities(hass, site, 254, gateway) > 0
        assert check_device_entities(hass, site, 1, meter) > 0
        assert entity_dump(hass, gateway) == snapshot


async def test_the_bus_statistics_of_a_device(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Disabled by default; enabled, they show requests, latency, last answer and intervals."""
    async with served({1: "pro380"}) as site:
        entry, coordinator = await set_up_site(hass, site, {1: "Meter"})
        meter = device_by_title(coordinator, "Meter")
        statistics = [spec.key for spec in meter.specs if spec.key.startswith("bus_")]
        assert len(statistics) == 7
        registry = er.async_get(hass)
        for key in statistics:
            registry_entry = registry.async_get(entity_id(hass, meter, key))
            assert registry_entry is not None
            assert registry_entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
            assert registry_entry.entity_category is EntityCategory.DIAGNOSTIC

        await enable(hass, entry, *(entity_id(hass, meter, key) for key in statistics))
        meter = device_by_title(entry.runtime_data, "Meter")
        for _ in range(POLLS_REMEMBERED):
            await advance(hass, freezer, FAST)
        requests = int(state_of(hass, meter, "bus_requests").state)
        await advance(hass, freezer, FAST)

        assert int(state_of(hass, meter, "bus_requests").state) == requests + 1
        assert state_of(hass, meter, "bus_errors").state == "0"
        assert state_of(hass, meter, "bus_timeouts").state == "0"
        latency = state_of(hass, meter, "bus_latency")
        assert latency.attributes[ATTR_UNIT_OF_MEASUREMENT] == "ms"
        assert 0 < float(latency.state) < 1000
        last_answer = state_of(hass, meter, "bus_last_success")
        assert last_answer.attributes["device_class"] == "timestamp"
        answered_at = dt_util.parse_datetime(last_answer.state)
        assert answered_at is not None
        assert abs((dt_util.utcnow() - answered_at).total_seconds()) < 1
        assert float(state_of(hass, meter, "bus_interval_asked").state) == FAST
        achieved = state_of(hass, meter, "bus_interval_achieved")
        assert achieved.attributes[ATTR_UNIT_OF_MEASUREMENT] == "s"
        assert float(achieved.state) == pytest.approx(FAST, abs=0.1)


def test_every_icon_belongs_to_an_entity_a_device_has() -> None:
    """icons.json names only entities and states the shipped profiles give devices."""
    icons = json.loads(_ICONS.read_text(encoding="utf-8"))["entity"]
    shipped = catalogue_keys()
    for platform, entities in icons.items():
        for key, icon in entities.items():
            assert key in shipped.get(platform, set()), f"{platform}.{key} is no entity"
            named = [icon["default"], *icon.get("state", {}).values()]
            assert all(_MDI.fullmatch(name) for name in named), f"{platform}.{key}: {named}"
            states = (
                {"on", "off"} if platform == "binary_sensor" else translated_states(platform, key)
            )
            for state in icon.get("state", {}):
                assert state in states, f"{platform}.{key}: {state}"
