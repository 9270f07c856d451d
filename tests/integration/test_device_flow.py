"""Adding, finding, reconfiguring and removing devices on a link, against simulated devices.

Every device answers from a simulator over real Modbus TCP, RTU over TCP (socat as the
serial server) or RTU on a virtual serial line; a device that "does not answer" is
silent, or reported unreachable by the gateway (exception 0x0B), as on a real line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntry,
    ConfigEntryState,
    ConfigSubentry,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from hypothesis import given, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.powerbus.const import (
    CONF_LINK_TYPE,
    CONF_PROFILE,
    CONF_SERIAL_NUMBER,
    CONF_UNIT,
    DOMAIN,
    SUBENTRY_DEVICE,
    LinkType,
)
from custom_components.powerbus.device_flow import CONF_FOUND, CONF_UNITS, _units
from custom_components.powerbus.settings import CONF_HOST, CONF_PORT
from powerbus import get_profile
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.faults import ExceptionAnswer
from powerbus.simulator.server import Simulator

from .flow_fixtures import (
    assert_abort,
    assert_field_error,
    assert_form,
    devices_of,
    flow_strings,
    identifiers,
    rtu_simulator,
    select_options,
    serial_server,
    suggested,
    unload_all,
)
from .simulated import Site, device_subentry, link_entry, start_site

DEVICE = "config_subentries.device"
GATEWAY_TARGET_FAILED = 0x0B
ILLEGAL_DATA_ADDRESS = 0x02
PRO380_SERIAL = "22091039"
PRO380_UID = f"pro380_{PRO380_SERIAL}"

SiteFactory = Callable[[Mapping[int, str]], Awaitable[Site]]


@pytest.fixture
async def make_site(hass: HomeAssistant, socket_enabled: None) -> AsyncIterator[SiteFactory]:
    """Start simulators on demand; unload every link before they stop."""
    started: list[Site] = []

    async def make(profiles: Mapping[int, str]) -> Site:
        site = await start_site(profiles)
        started.append(site)
        return site

    yield make
    await unload_all(hass)
    for site in started:
        await site.simulator.stop()


async def loaded_link(hass: HomeAssistant, site: Site, *devices: Any) -> MockConfigEntry:
    """Add the site's link with these device subentries and set it up."""
    entry = link_entry(site, *devices)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def pro380_at(unit: int, serial: str = PRO380_SERIAL) -> Any:
    """Return the subentry of a PRO380 as the flow creates it."""
    return device_subentry("pro380", unit, uid=f"pro380_{serial}", serial=serial)


async def start(hass: HomeAssistant, entry: ConfigEntry, step: str) -> dict[str, Any]:
    """Start adding a device to ``entry`` and choose ``step`` (manual or scan) from the menu."""
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_DEVICE), context={"source": SOURCE_USER}
    )
    return dict(
        await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"next_step_id": step}
        )
    )


async def configure(
    hass: HomeAssistant, result: Mapping[str, Any], **user_input: Any
) -> dict[str, Any]:
    """Submit a form of a device flow (or go on after a progress step, without input)."""
    return dict(
        await hass.config_entries.subentries.async_configure(result["flow_id"], user_input or None)
    )


async def reconfigure(
    hass: HomeAssistant, entry: ConfigEntry, subentry: ConfigSubentry
) -> dict[str, Any]:
    """Start reconfiguring a device."""
    return dict(
        await hass.config_entries.subentries.async_init(
            (entry.entry_id, SUBENTRY_DEVICE),
            context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry.subentry_id},
        )
    )


async def scan(hass: HomeAssistant, entry: ConfigEntry, units: str) -> dict[str, Any]:
    """Scan ``units`` on the link and return what the flow shows when the scan is over."""
    result = await start(hass, entry, "scan")
    assert_form(result, DEVICE, "scan")
    progress = await configure(hass, result, units=units)
    assert progress["type"] is FlowResultType.SHOW_PROGRESS
    assert progress["progress_action"] == "scanning"
    assert flow_strings(DEVICE)["progress"]["scanning"]
    await hass.async_block_till_done()
    return await configure(hass, progress)


def subentry_of(entry: ConfigEntry, unique_id: str) -> ConfigSubentry:
    """Return the device subentry with ``unique_id``."""
    return next(s for s in entry.subentries.values() if s.unique_id == unique_id)


def states_of_device(hass: HomeAssistant, entry: ConfigEntry, uid: str) -> dict[str, str]:
    """Return the states of a device's entities, by entity unique id."""
    device = next(d for d in devices_of(hass, entry) if uid in identifiers(d))
    return {
        e.unique_id: state.state
        for e in er.async_entries_for_device(er.async_get(hass), device.id)
        if (state := hass.states.get(e.entity_id)) is not None
    }


async def test_a_device_added_by_model_and_unit_appears_on_the_running_link(
    hass: HomeAssistant, make_site: SiteFactory
) -> None:
    """The meter is read, added under its serial number, and its entities show its values."""
    site = await make_site({1: "pro380"})
    entry = await loaded_link(hass, site)
    menu = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_DEVICE), context={"source": SOURCE_USER}
    )
    assert menu["type"] is FlowResultType.MENU
    texts = flow_strings(DEVICE)["step"]["user"]["menu_options"]
    assert [texts[option] for option in menu["menu_options"]]

    result = await start(hass, entry, "manual")
    assert_form(result, DEVICE, "manual")
    assert "egx100" in select_options(result, CONF_PROFILE)
    result = await configure(hass, result, profile="pro380", unit=1.0)
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"PRO380-Mod {PRO380_SERIAL}"
    subentry = subentry_of(entry, PRO380_UID)
    assert dict(subentry.data) == {
        CONF_PROFILE: "pro380",
        CONF_UNIT: 1,
        CONF_SERIAL_NUMBER: PRO380_SERIAL,
    }
    assert entry.state is ConfigEntryState.LOADED
    assert subentry.subentry_id in entry.runtime_data.devices
    (device,) = devices_of(hass, entry)
    assert device.serial_number == PRO380_SERIAL
    states = states_of_device(hass, entry, PRO380_UID)
    assert float(states[f"{PRO380_UID}_voltage_l1"]) == pytest.approx(
        float(site.devices[1].get_value("voltage_l1")), abs=0.1
    )


async def test_what_keeps_a_device_from_being_added_is_shown_on_its_field(
    hass: HomeAssistant, make_site: SiteFactory
) -> None:
    """Unit in use and silence on the unit id, a wrong model on the model; nothing is added."""
    site = await make_site({1: "pro380", 2: "apc_smart_ups", 4: "pro380"})
    site.simulator.faults.add(ExceptionAnswer(code=GATEWAY_TARGET_FAILED, unit_id=4, times=None))
    entry = await loaded_link(hass, site, pro380_at(1))
    result = await start(hass, entry, "manual")

    in_use = await configure(hass, result, profile="apc_smart_ups", unit=1)
    assert_field_error(in_use, DEVICE, "manual", CONF_UNIT, "unit_in_use")
    assert suggested(in_use) == {CONF_PROFILE: "apc_smart_ups", CONF_UNIT: 1}

    wrong = await configure(hass, in_use, profile="pro380", unit=2)
    assert_field_error(wrong, DEVICE, "manual", CONF_PROFILE, "wrong_device")

    unreachable = await configure(hass, wrong, profile="pro380", unit=4)
    assert_field_error(unreachable, DEVICE, "manual", CONF_UNIT, "no_answer")

    assert len(entry.subentries) == 1


async def test_a_device_on_a_link_that_cannot_open_is_not_added(
    hass: HomeAssistant, socket_enabled: None, free_tcp_port: int
) -> None:
    """Adding by hand says the link cannot be opened; a scan ends saying so."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"tcp://127.0.0.1:{free_tcp_port}",
        data={CONF_LINK_TYPE: LinkType.TCP, CONF_HOST: "127.0.0.1", CONF_PORT: free_tcp_port},
        unique_id=f"tcp_127_0_0_1_{free_tcp_port}",
    )
    entry.add_to_hass(hass)

    result = await start(hass, entry, "manual")
    result = await configure(hass, result, profile="pro380", unit=1)
    assert_field_error(result, DEVICE, "manual", "base", "cannot_open_link")

    assert_abort(await scan(hass, entry, "1"), DEVICE, "cannot_open_link")
    assert not entry.subentries


async def test_a_device_can_be_added_to_a_link_that_is_not_running(
    hass: HomeAssistant, make_site: SiteFactory
) -> None:
    """The flow borrows the link for the identity read; the device is added all the same."""
    site = await make_site({1: "pro380"})
    entry = link_entry(site)
    entry.add_to_hass(hass)

    result = await configure(hass, await start(hass, entry, "manual"), profile="pro380", unit=1)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert subentry_of(entry, PRO380_UID).data[CONF_UNIT] == 1
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_a_meter_configured_on_any_link_is_not_added_again(
    hass: HomeAssistant, make_site: SiteFactory, free_tcp_port: int
) -> None:
    """The device uid is the meter's serial number: another link that has it already wins."""
    site = await make_site({1: "pro380"})
    entry = await loaded_link(hass, site)
    elsewhere = MockConfigEntry(
        domain=DOMAIN,
        data={CONF_LINK_TYPE: LinkType.TCP, CONF_HOST: "127.0.0.1", CONF_PORT: free_tcp_port},
        unique_id=f"tcp_127_0_0_1_{free_tcp_port}",
        subentries_data=[pro380_at(7)],
    )
    elsewhere.add_to_hass(hass)

    result = await configure(hass, await start(hass, entry, "manual"), profile="pro380", unit=1)

    assert_abort(result, DEVICE, "already_configured")
    assert not entry.subentries


async def test_a_scan_shows_progress_and_offers_the_new_devices_it_recognised(
    hass: HomeAssistant, make_site: SiteFactory
) -> None:
    """Configured and unreachable units are left out, a Liebert UPS is offered; the one picked is added."""
    site = await make_site(
        {1: "pro380", 2: "apc_smart_ups", 3: "liebert_gxt2", 4: "pro380", 5: "pro380"}
    )
    site.devices[4].set_value("serial_number", "22091040")
    site.devices[5].set_value("serial_number", "22091041")
    site.simulator.faults.add(ExceptionAnswer(code=GATEWAY_TARGET_FAILED, unit_id=4, times=None))
    entry = await loaded_link(hass, site, pro380_at(1))

    result = await start(hass, entry, "scan")
    assert suggested(result) == {CONF_UNITS: "1-10"}
    assert "PRO380" in result["description_placeholders"]["models"]
    progress = await configure(hass, result, units="1-5")
    assert progress["type"] is FlowResultType.SHOW_PROGRESS
    assert progress["description_placeholders"] == {"units": "5"}
    await hass.async_block_till_done()
    pick = await configure(hass, progress)

    assert_form(pick, DEVICE, "pick")
    assert select_options(pick, CONF_FOUND) == ["2", "3", "5"]
    created = await configure(hass, pick, found="5")
    await hass.async_block_till_done()

    assert created["type"] is FlowResultType.CREATE_ENTRY
    subentry = subentry_of(entry, "pro380_22091041")
    assert subentry.data[CONF_UNIT] == 5
    assert states_of_device(hass, entry, "pro380_22091041")


async def test_a_device_recognised_but_then_unreadable_is_not_added(
    hass: HomeAssistant, make_site: SiteFactory
) -> None:
    """The meter answers its fingerprint reads, then no read of its values: no_answer.

    The fingerprint reads 0x4000-0x4001 and 0x5002-0x5003; every block of values also
    touches registers beyond them, which the gateway cannot deliver.
    """
    site = await make_site({1: "pro380"})
    for values in (range(0x4002, 0x4020), range(0x5004, 0x5032), range(0x6000, 0x604B)):
        site.simulator.faults.add(
            ExceptionAnswer(code=GATEWAY_TARGET_FAILED, unit_id=1, addresses=values, times=None)
        )
    entry = await loaded_link(hass, site)

    result = await configure(hass, await start(hass, entry, "manual"), profile="pro380", unit=1)

    assert_field_error(result, DEVICE, "manual", CONF_UNIT, "no_answer")
    assert not entry.subentries


async def test_a_device_that_stops_answering_before_it_is_picked_is_not_added(
    hass: HomeAssistant, make_site: SiteFactory
) -> None:
    """The pick reads the device again; silence now is shown on the list."""
    site = await make_site({2: "apc_smart_ups"})
    entry = await loaded_link(hass, site)
    pick = await scan(hass, entry, "2")
    site.simulator.faults.add(ExceptionAnswer(code=GATEWAY_TARGET_FAILED, unit_id=2, times=None))

    result = await configure(hass, pick, found="2")

    assert_field_error(result, DEVICE, "pick", CONF_FOUND, "no_answer")
    assert not entry.subentries


@pytest.mark.parametrize("units", ["", "abc", "5-3", "1-", "-4", "256", "1,,2", "1-300"])
async def test_scan_units_that_are_no_unit_ids_are_refused(hass: HomeAssistant, units: str) -> None:
    """The units field takes unit ids and ranges from 0 to 255 only."""
    entry = MockConfigEntry(domain=DOMAIN, data={CONF_LINK_TYPE: LinkType.TCP})
    entry.add_to_hass(hass)

    result = await configure(hass, await start(hass, entry, "scan"), units=units)

    assert_field_error(result, DEVICE, "scan", CONF_UNITS, "invalid_units")
    assert suggested(result) == {CONF_UNITS: units}


@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255)), min_size=1, max_size=5))
def test_unit_ranges_read_as_the_units_they_name(ranges: list[tuple[int, int]]) -> None:
    """``a-b, c`` names every unit from a to b and c, each once, in order."""
    text = ", ".join(f"{min(a, b)}-{max(a, b)}" if a != b else str(a) for a, b in ranges)

    assert _units(text) == sorted(
        {unit for a, b in ranges for unit in range(min(a, b), max(a, b) + 1)}
    )


@given(st.text(max_size=12))
def test_any_text_is_unit_ids_or_refused(text: str) -> None:
    """No text makes the parser fail: it gives unit ids from 0 to 255, or nothing."""
    units = _units(text)

    assert units is None or (units == sorted(set(units)) and all(0 <= u <= 255 for u in units))


async def test_a_scan_that_finds_nothing_new_ends_saying_so(
    hass: HomeAssistant, make_site: SiteFactory
) -> None:
    """A configured device is not offered again; a Liebert UPS is recognised by its fingerprint."""
    site = await make_site({1: "pro380", 3: "liebert_gxt2"})
    entry = await loaded_link(hass, site, pro380_at(1))

    assert_abort(await scan(hass, entry, "1, 5"), DEVICE, "nothing_found")
    pick = await scan(hass, entry, "1, 3")
    assert_form(pick, DEVICE, "pick")
    assert select_options(pick, CONF_FOUND) == ["3"]


async def test_a_scan_names_the_units_that_answer_but_were_not_recognised(
    hass: HomeAssistant, make_site: SiteFactory
) -> None:
    """Unit 5 refuses every read: it answers, no model fits, and the user is told its unit id."""
    site = await make_site({1: "pro380", 5: "pro380"})
    site.simulator.faults.add(ExceptionAnswer(code=ILLEGAL_DATA_ADDRESS, unit_id=5, times=None))
    entry = await loaded_link(hass, site)

    pick = await scan(hass, entry, "1-6")
    assert_form(pick, DEVICE, "pick")
    assert select_options(pick, CONF_FOUND) == ["1"]
    assert pick["description_placeholders"] == {"unrecognised": "5"}

    entry_with_meter = await loaded_link(hass, await make_site({1: "pro380"}), pro380_at(1))
    nothing_new = await scan(hass, entry_with_meter, "1-6")
    assert_abort(nothing_new, DEVICE, "nothing_found")


async def test_a_scan_that_finds_only_unrecognised_units_names_them(
    hass: HomeAssistant, make_site: SiteFactory
) -> None:
    """With the meter at 1 configured, only unit 5 is left: the flow ends naming it."""
    site = await make_site({1: "pro380", 5: "pro380"})
    site.simulator.faults.add(ExceptionAnswer(code=ILLEGAL_DATA_ADDRESS, unit_id=5, times=None))
    entry = await loaded_link(hass, site, pro380_at(1))

    result = await scan(hass, entry, "1-6")

    assert_abort(result, DEVICE, "only_unrecognised")
    assert result["description_placeholders"] == {"units": "5"}


async def test_a_scan_of_a_link_that_went_down_ends_saying_so(
    hass: HomeAssistant, make_site: SiteFactory
) -> None:
    """A running link whose gateway went away cannot be scanned."""
    site = await make_site({1: "pro380"})
    entry = await loaded_link(hass, site)
    await site.simulator.stop()

    assert_abort(await scan(hass, entry, "1"), DEVICE, "cannot_open_link")


async def test_a_device_moved_to_another_unit_id_is_updated_and_keeps_its_entities(
    hass: HomeAssistant, make_site: SiteFactory
) -> None:
    """Same serial number at the new unit id: the subentry follows, the link polls the new unit."""
    site = await make_site({1: "pro380"})
    meter = site.devices[1]
    await site.simulator.stop()
    moved = Simulator({1: meter, 3: meter})
    site.port = await moved.start_tcp("127.0.0.1", site.port)
    site.simulator = moved
    entry = await loaded_link(hass, site, pro380_at(1))
    subentry = subentry_of(entry, PRO380_UID)
    entities_before = set(states_of_device(hass, entry, PRO380_UID))

    result = await reconfigure(hass, entry, subentry)
    assert_form(result, DEVICE, "reconfigure")
    assert suggested(result) == {CONF_PROFILE: "pro380", CONF_UNIT: 1}
    result = await configure(hass, result, profile="pro380", unit=3)
    await hass.async_block_till_done()

    assert_abort(result, DEVICE, "reconfigure_successful")
    assert subentry_of(entry, PRO380_UID).data[CONF_UNIT] == 3
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.devices[subentry.subentry_id].session.unit == 3
    assert set(states_of_device(hass, entry, PRO380_UID)) == entities_before


@pytest.mark.parametrize(
    ("profile", "unit"), [("pro380", 2), ("apc_smart_ups", 3)], ids=["other serial", "other family"]
)
async def test_reconfiguring_onto_another_device_is_refused(
    hass: HomeAssistant, make_site: SiteFactory, profile: str, unit: int
) -> None:
    """Another meter (another serial number, or another kind of device) is a new device."""
    site = await make_site({1: "pro380", 2: "pro380", 3: "apc_smart_ups"})
    site.devices[2].set_value("serial_number", "22091040")
    entry = await loaded_link(hass, site, pro380_at(1))
    subentry = subentry_of(entry, PRO380_UID)

    result = await configure(
        hass, await reconfigure(hass, entry, subentry), profile=profile, unit=unit
    )

    assert_abort(result, DEVICE, "different_device")
    assert subentry_of(entry, PRO380_UID).data[CONF_UNIT] == 1


async def test_reconfigure_failures_are_shown_on_their_field(
    hass: HomeAssistant, make_site: SiteFactory
) -> None:
    """A unit id another device has, or one where nothing answers, leaves the device as it was."""
    site = await make_site({1: "pro380", 2: "apc_smart_ups", 4: "pro380"})
    site.simulator.faults.add(ExceptionAnswer(code=GATEWAY_TARGET_FAILED, unit_id=4, times=None))
    ups = device_subentry("apc_smart_ups", 2, uid="apc_AS1234567890", serial="AS1234567890")
    entry = await loaded_link(hass, site, pro380_at(1), ups)
    subentry = subentry_of(entry, PRO380_UID)
    result = await reconfigure(hass, entry, subentry)

    in_use = await configure(hass, result, profile="pro380", unit=2)
    assert_field_error(in_use, DEVICE, "reconfigure", CONF_UNIT, "unit_in_use")
    silent = await configure(hass, in_use, profile="pro380", unit=4)
    assert_field_error(silent, DEVICE, "reconfigure", CONF_UNIT, "no_answer")

    assert subentry_of(entry, PRO380_UID).data[CONF_UNIT] == 1


async def test_a_device_whose_profile_is_gone_can_be_given_another(
    hass: HomeAssistant, make_site: SiteFactory
) -> None:
    """A subentry naming a profile this release lacks is repaired by reconfiguring it."""
    site = await make_site({1: "pro380"})
    retired = device_subentry("pro380_retired", 1, uid=PRO380_UID, serial=None)
    entry = link_entry(site, retired)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    subentry = subentry_of(entry, PRO380_UID)

    result = await configure(
        hass, await reconfigure(hass, entry, subentry), profile="pro380", unit=1
    )
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()

    assert_abort(result, DEVICE, "reconfigure_successful")
    assert dict(subentry_of(entry, PRO380_UID).data) == {
        CONF_PROFILE: "pro380",
        CONF_UNIT: 1,
        CONF_SERIAL_NUMBER: PRO380_SERIAL,
    }
    assert entry.state is ConfigEntryState.LOADED


async def test_removing_a_device_removes_its_device_and_entities(
    hass: HomeAssistant, make_site: SiteFactory
) -> None:
    """The other devices of the link stay; the link stops polling the removed one."""
    site = await make_site({1: "pro380", 2: "apc_smart_ups"})
    ups = device_subentry("apc_smart_ups", 2, uid="apc_AS1234567890", serial="AS1234567890")
    entry = await loaded_link(hass, site, pro380_at(1), ups)
    removed = subentry_of(entry, "apc_AS1234567890")
    ups_entities = [
        e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if e.unique_id.startswith("apc_AS1234567890_")
    ]
    assert ups_entities

    assert hass.config_entries.async_remove_subentry(entry, removed.subentry_id)
    await hass.async_block_till_done()

    assert [identifiers(d) for d in devices_of(hass, entry)] == [{PRO380_UID}]
    registry = er.async_get(hass)
    assert not [e for e in ups_entities if registry.async_get(e) is not None]
    assert not [e for e in ups_entities if hass.states.get(e) is not None]
    assert entry.state is ConfigEntryState.LOADED
    assert list(entry.runtime_data.devices) == [subentry_of(entry, PRO380_UID).subentry_id]


async def test_a_device_behind_a_serial_server_is_added_over_rtu_over_tcp(
    hass: HomeAssistant,
    socket_enabled: None,
    serial_pair: tuple[str, str],
) -> None:
    """A link to a serial server and a meter on its line, both set up in the UI."""
    device_end, line_end = serial_pair
    simulator = Simulator({1: simulated_device(get_profile("pro380"))})
    async with rtu_simulator(simulator, device_end), serial_server(line_end) as port:
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": LinkType.RTU_OVER_TCP}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: port}
        )
        await hass.async_block_till_done()
        entry = result["result"]

        added = await configure(hass, await start(hass, entry, "manual"), profile="pro380", unit=1)
        await hass.async_block_till_done()

        assert added["type"] is FlowResultType.CREATE_ENTRY
        assert (
            states_of_device(hass, entry, PRO380_UID)[f"{PRO380_UID}_serial_number"]
            == PRO380_SERIAL
        )
        await unload_all(hass)


async def test_a_device_on_a_serial_line_is_added_and_a_silent_unit_id_is_refused(
    hass: HomeAssistant, serial_pair: tuple[str, str]
) -> None:
    """On RS-485 a unit id nobody has stays silent: no_answer; the meter itself is added."""
    device_end, line_end = serial_pair
    simulator = Simulator({1: simulated_device(get_profile("pro380"))})
    async with rtu_simulator(simulator, device_end):
        entry = MockConfigEntry(
            domain=DOMAIN,
            data={
                CONF_LINK_TYPE: LinkType.SERIAL,
                "serial_port": line_end,
                "baudrate": 9600,
                "parity": "N",
                "stopbits": 1,
                "bytesize": 8,
            },
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        result = await start(hass, entry, "manual")

        silent = await configure(hass, result, profile="pro380", unit=9)
        assert_field_error(silent, DEVICE, "manual", CONF_UNIT, "no_answer")
        added = await configure(hass, silent, profile="pro380", unit=1)
        await hass.async_block_till_done()

        assert added["type"] is FlowResultType.CREATE_ENTRY
        assert states_of_device(hass, entry, PRO380_UID)
        await unload_all(hass)


async def test_a_scan_offers_every_model_a_device_may_be(
    hass: HomeAssistant, make_site: SiteFactory
) -> None:
    """A gateway no register tells from its twin is offered as both; the model picked is added."""
    site = await make_site({254: "egx100"})
    entry = await loaded_link(hass, site)

    pick = await scan(hass, entry, "254")

    assert_form(pick, DEVICE, "pick")
    assert select_options(pick, CONF_FOUND) == ["254:egx100", "254:egx300"]
    created = await configure(hass, pick, found="254:egx300")
    await hass.async_block_till_done()
    assert created["type"] is FlowResultType.CREATE_ENTRY
    assert created["data"][CONF_PROFILE] == "egx300"
    assert created["data"][CONF_UNIT] == 254
