"""A link with a device sets up, gets its entities, and unloads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.powerbus.coordinator import registered_device

from .simulated import Site, device_subentry, link_entry, start_site


@pytest.fixture
async def pro380(socket_enabled: None) -> AsyncIterator[Site]:
    """Serve a simulated PRO380 at unit 1 on Modbus TCP."""
    site = await start_site({1: "pro380"})
    yield site
    await site.simulator.stop()


async def test_a_pro380_on_tcp_gets_its_entities(hass: HomeAssistant, pro380: Site) -> None:
    """Set-up reads the meter and creates its device and entities with live values."""
    serial = str(pro380.devices[1].get_value("serial_number"))
    entry = link_entry(
        pro380,
        device_subentry("pro380", 1, uid=f"pro380_{serial}", serial=serial, title="Main meter"),
    )
    entry.add_to_hass(hass)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    device = registered_device(hass, entry.entry_id, f"pro380_{serial}")
    assert device is not None
    assert device.serial_number == serial
    entities = er.async_entries_for_device(er.async_get(hass), device.id)
    assert len(entities) > 20
    voltage = next(e for e in entities if e.unique_id == f"pro380_{serial}_voltage_l1")
    state = hass.states.get(voltage.entity_id)
    assert state is not None
    assert float(state.state) == pytest.approx(
        float(pro380.devices[1].get_value("voltage_l1")), abs=0.1
    )

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_an_unchanged_value_is_not_written_again(hass: HomeAssistant, pro380: Site) -> None:
    """Refreshes that leave a value as it was write no state for it (the state machine stays quiet)."""
    simulated = pro380.devices[1]
    simulated.paused = True
    serial = str(simulated.get_value("serial_number"))
    entry = link_entry(pro380, device_subentry("pro380", 1, uid=f"pro380_{serial}", serial=serial))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", "powerbus", f"pro380_{serial}_voltage_l1"
    )
    coordinator = entry.runtime_data
    written: list[Event] = []

    @callback
    def about_the_sensor(data: Mapping[str, Any]) -> bool:
        return bool(data["entity_id"] == entity_id)

    for event_type in (EVENT_STATE_REPORTED, EVENT_STATE_CHANGED):
        hass.bus.async_listen(event_type, written.append, event_filter=about_the_sensor)

    for _ in range(3):
        (device,) = coordinator.devices.values()
        device.session.request_refresh()
        await coordinator.async_refresh()
    await hass.async_block_till_done()

    assert written == []
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_link_stored_by_an_older_format_is_migrated(
    hass: HomeAssistant, pro380: Site
) -> None:
    """Format 1.0 becomes 1.1 and loads."""
    serial = str(pro380.devices[1].get_value("serial_number"))
    entry = link_entry(pro380, device_subentry("pro380", 1, uid=f"pro380_{serial}", serial=serial))
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, minor_version=0)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert (entry.version, entry.minor_version) == (1, 1)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_link_stored_by_a_newer_powerbus_is_refused(
    hass: HomeAssistant, pro380: Site
) -> None:
    """A higher major format is not misread: the link does not load."""
    entry = link_entry(pro380)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, version=2)

    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.MIGRATION_ERROR
