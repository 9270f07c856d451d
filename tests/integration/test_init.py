"""Setting up, reloading and unloading a link; its devices in the registry; RTU on a serial line.

The link is checked where a user would notice it: the TCP connections to the device
(read from the kernel's table, so the check holds whichever owner Home Assistant's
release gives the connection), what is stored across a reload, and the device registry.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
import warnings

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.powerbus.const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_LINK_TYPE,
    CONF_PARITY,
    CONF_SERIAL_PORT,
    CONF_STOPBITS,
    DOMAIN,
    LinkType,
)
from custom_components.powerbus.coordinator import registered_device
from powerbus.simulator.faults import DropConnection, ExceptionAnswer

from .harness import (
    FAST,
    TIME_TRAVEL,
    advance,
    device_by_title,
    device_of,
    served,
    set_up,
    set_up_site,
    simulated_value,
    state_of,
    steady_ticks,  # noqa: F401
)
from .simulated import Site, link_entry, start_site

pytestmark = TIME_TRAVEL

ILLEGAL_DATA_ADDRESS = 0x02
_TCP_TABLE = Path("/proc/net/tcp")
_ESTABLISHED = "01"


def _connections_to(port: int) -> int:
    """Count the open TCP connections from a client on this machine to ``port``."""
    count = 0
    for line in _TCP_TABLE.read_text(encoding="ascii").splitlines()[1:]:
        fields = line.split()
        remote_port = int(fields[2].split(":")[1], 16)
        if remote_port == port and fields[3] == _ESTABLISHED:
            count += 1
    return count


async def _open_connections(hass: HomeAssistant, site: Site) -> int:
    """Count the connections to the site's simulator, reading the kernel's table off the loop."""
    return await hass.async_add_executor_job(_connections_to, site.port)


def _serial_entry(port: str, baudrate: int, *devices: ConfigSubentryData) -> MockConfigEntry:
    """Return a link entry for a serial port at ``baudrate``, 8N1 (a pty carries no parity)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"{port} {baudrate}",
        data={
            CONF_LINK_TYPE: LinkType.SERIAL,
            CONF_SERIAL_PORT: port,
            CONF_BAUDRATE: baudrate,
            CONF_PARITY: "N",
            CONF_STOPBITS: 1,
            CONF_BYTESIZE: 8,
        },
        unique_id=f"{port}_{baudrate}",
        subentries_data=list(devices),
    )


async def test_a_link_sets_up_reloads_and_unloads(hass: HomeAssistant) -> None:
    """Reloading keeps the entities; unloading shows them unavailable and closes the link."""
    async with served({1: "pro380"}) as site:
        entry, coordinator = await set_up_site(hass, site, {1: "Meter"})
        voltage = state_of(hass, device_by_title(coordinator, "Meter"), "voltage_l1")
        assert await _open_connections(hass, site) == 1

        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        assert hass.states.get(voltage.entity_id) is not None
        assert hass.states.get(voltage.entity_id).state != STATE_UNAVAILABLE

        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()

        assert entry.state is ConfigEntryState.NOT_LOADED
        assert hass.states.get(voltage.entity_id).state == STATE_UNAVAILABLE
        assert await _open_connections(hass, site) == 0


async def test_a_second_entry_on_the_link_keeps_it_open(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Two entries on one endpoint: unloading one leaves the other polling; the last closes it."""
    async with served({1: "pro380", 2: "pro380"}) as site:
        site.devices[2].set_value("serial_number", "22091040")
        first = link_entry(site, device_of(site, 1, title="First meter"))
        second = MockConfigEntry(
            domain=DOMAIN,
            title="second",
            data=site.link_data(),
            unique_id="second",
            subentries_data=[device_of(site, 2, title="Second meter")],
        )
        await set_up(hass, first)
        coordinator = await set_up(hass, second)

        assert await hass.config_entries.async_unload(first.entry_id)
        await hass.async_block_till_done()
        site.devices[2].paused = True
        site.devices[2].set_value("voltage_l1", 241.5)
        await advance(hass, freezer, FAST)

        meter = device_by_title(coordinator, "Second meter")
        assert float(state_of(hass, meter, "voltage_l1").state) == pytest.approx(241.5)
        assert await _open_connections(hass, site) >= 1

        assert await hass.config_entries.async_unload(second.entry_id)
        await hass.async_block_till_done()
        assert await _open_connections(hass, site) == 0


async def test_nothing_answering_at_start_retries_the_set_up(hass: HomeAssistant) -> None:
    """With the simulator down, set-up is retried, with the reason; once it answers, it loads."""
    site = await start_site({1: "pro380"})
    await site.simulator.stop()
    entry = link_entry(site, device_of(site, 1, title="Meter"))
    entry.add_to_hass(hass)

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert f"No device on tcp://127.0.0.1:{site.port} answers" in (entry.reason or "")
    assert await _open_connections(hass, site) == 0
    await site.simulator.start_tcp("127.0.0.1", site.port)
    try:
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=2))
        await hass.async_block_till_done(wait_background_tasks=True)
        assert entry.state is ConfigEntryState.LOADED
    finally:
        assert await hass.config_entries.async_unload(entry.entry_id)
        await site.simulator.stop()


async def test_learned_refusals_survive_a_reload(hass: HomeAssistant, hass_storage: Any) -> None:
    """A block the meter refused is not asked for again after a reload."""
    async with served({1: "pro380"}) as site:
        power_factor = site.devices[1].profile.point("power_factor")
        site.simulator.faults.add(
            ExceptionAnswer(
                code=ILLEGAL_DATA_ADDRESS,
                times=None,
                addresses=range(power_factor.address, power_factor.end + 1),
            )
        )
        entry, coordinator = await set_up_site(hass, site, {1: "Meter"})
        assert device_by_title(coordinator, "Meter").session.stats.errors

        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()

        meter = device_by_title(entry.runtime_data, "Meter")
        assert hass_storage[f"{DOMAIN}.{entry.entry_id}.learned_refusals"]["data"]
        assert not meter.session.stats.errors
        assert state_of(hass, meter, "power_factor").state == STATE_UNAVAILABLE
        assert state_of(hass, meter, "voltage_l1").state != STATE_UNAVAILABLE


async def test_a_device_carries_its_identity(hass: HomeAssistant) -> None:
    """Manufacturer, model, serial number and firmware, as the meter reports them."""
    async with served({1: "pro380"}) as site:
        entry, coordinator = await set_up_site(hass, site, {1: "Meter"})
        simulated = site.devices[1]

        device = registered_device(hass, entry.entry_id, device_by_title(coordinator, "Meter").uid)

        assert device is not None
        assert device.name == "Meter"
        assert device.manufacturer == "inepro Metering"
        assert device.model == simulated.profile.name
        assert device.model_id == "pro380"
        assert device.serial_number == simulated.get_value("serial_number")
        assert device.sw_version == str(simulated.get_value("software_version"))


async def test_a_meter_behind_a_gateway_points_at_it(hass: HomeAssistant) -> None:
    """A PM800 on a PM8ECC's link is a device reached through the gateway's device."""
    async with served({254: "pm8ecc", 1: "pm800"}) as site:
        entry, coordinator = await set_up_site(hass, site, {254: "Gateway", 1: "Meter"})

        meter = registered_device(hass, entry.entry_id, device_by_title(coordinator, "Meter").uid)
        gateway = registered_device(
            hass, entry.entry_id, device_by_title(coordinator, "Gateway").uid
        )

        assert meter is not None
        assert gateway is not None
        assert meter.via_device_id == gateway.id
        assert gateway.via_device_id is None
        assert meter.manufacturer == gateway.manufacturer == "Schneider Electric"
        assert meter.sw_version == str(site.devices[1].get_value("firmware_version"))


async def test_a_new_firmware_after_a_reconnect_reaches_the_registry(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The identity is read again after the link drops; the registry follows it."""
    async with served({1: "pro380"}) as site:
        entry, coordinator = await set_up_site(hass, site, {1: "Meter"})
        meter = device_by_title(coordinator, "Meter")
        site.devices[1].set_value("software_version", 2.21)
        site.simulator.faults.add(DropConnection())

        await advance(hass, freezer, FAST)

        device = registered_device(hass, entry.entry_id, meter.uid)
        assert device is not None
        assert device.sw_version == str(site.devices[1].get_value("software_version"))


async def test_a_meter_on_a_serial_line(hass: HomeAssistant, serial_pair: tuple[str, str]) -> None:
    """RTU over a virtual serial line: the meter's values arrive as over TCP."""
    server_end, client_end = serial_pair
    site = await start_site({1: "pro380"})
    await site.simulator.stop()
    await site.simulator.start_rtu(server_end, baudrate=9600, parity="N")
    entry = _serial_entry(client_end, 9600, device_of(site, 1, title="Meter"))
    try:
        coordinator = await set_up(hass, entry)
        meter = device_by_title(coordinator, "Meter")
        voltage = state_of(hass, meter, "voltage_l1")
        energy = state_of(hass, meter, "import_active_energy")

        assert float(voltage.state) == pytest.approx(
            simulated_value(site, 1, "voltage_l1", voltage.attributes["unit_of_measurement"])
        )
        assert float(energy.state) == pytest.approx(
            simulated_value(site, 1, "import_active_energy", "kWh")
        )
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await site.simulator.stop()


async def test_no_deprecated_home_assistant_api_is_used(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A gateway link set up, polled, reloaded and unloaded: no deprecation from Powerbus."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        async with served({254: "pm8ecc", 1: "pm800"}) as site:
            entry, _ = await set_up_site(hass, site, {254: "Gateway", 1: "Meter"})
            await advance(hass, freezer, FAST)
            assert await hass.config_entries.async_reload(entry.entry_id)
            await hass.async_block_till_done()
            assert await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()

    ours = [w for w in caught if "custom_components/powerbus" in str(w.filename)]
    assert not ours, [str(w.message) for w in ours]
    reports = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("homeassistant") and "deprecated" in r.getMessage().lower()
    ]
    assert not reports


async def test_devices_of_the_link_are_in_the_device_registry(hass: HomeAssistant) -> None:
    """Each configured device is a registry device under its own subentry."""
    async with served({1: "pro380", 2: "liebert_gxt2"}) as site:
        entry, _ = await set_up_site(hass, site, {1: "Meter", 2: "UPS"})

        devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)

        assert sorted(d.name for d in devices) == ["Meter", "UPS"]
        assert {d.manufacturer for d in devices} == {"inepro Metering", "Liebert (Vertiv)"}


async def test_a_second_line_speed_on_one_port_is_refused(
    hass: HomeAssistant, serial_pair: tuple[str, str]
) -> None:
    """One serial port at 9600 and at 19200 Bd cannot both be right: set-up says so."""
    server_end, client_end = serial_pair
    site = await start_site({1: "pro380", 2: "pro380"})
    site.devices[2].set_value("serial_number", "22091040")
    await site.simulator.stop()
    await site.simulator.start_rtu(server_end, baudrate=9600, parity="N")
    try:
        await set_up(hass, _serial_entry(client_end, 9600, device_of(site, 1, title="Meter")))
        faster = _serial_entry(client_end, 19200, device_of(site, 2, title="Other meter"))
        faster.add_to_hass(hass)

        assert not await hass.config_entries.async_setup(faster.entry_id)

        assert faster.state is ConfigEntryState.SETUP_ERROR
        assert faster.error_reason_translation_key == "link_in_use"
    finally:
        await site.simulator.stop()


async def test_stored_refusals_that_no_longer_fit_are_forgotten(
    hass: HomeAssistant, hass_storage: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Refusals stored for another profile's registers are dropped with a warning."""
    async with served({1: "pro380"}) as site:
        entry = link_entry(site, device_of(site, 1, title="Meter"))
        subentry_id = next(iter(entry.subentries))
        hass_storage[f"{DOMAIN}.{entry.entry_id}.learned_refusals"] = {
            "version": 1,
            "key": f"{DOMAIN}.{entry.entry_id}.learned_refusals",
            "data": {subentry_id: {"refused": [{"table": "no_such_table", "strikes": 1}]}},
        }

        coordinator = await set_up(hass, entry)

        assert state_of(hass, device_by_title(coordinator, "Meter"), "voltage_l1").state != (
            STATE_UNAVAILABLE
        )
        assert "forgetting stored refusals that no longer fit" in caplog.text
