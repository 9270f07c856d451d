"""Adding, refusing and reconfiguring links in the UI, against real ports and simulators.

Serial links open a real pseudo-terminal (socat), network links connect to a
simulator on 127.0.0.1; nothing is mocked but the list of serial adapters the
operating system reports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntry,
    ConfigEntryState,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.powerbus import config_flow
from custom_components.powerbus.const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_EXPERT_WRITES,
    CONF_FAMILY,
    CONF_FAST_INTERVAL,
    CONF_LINK_TYPE,
    CONF_NORMAL_INTERVAL,
    CONF_PARITY,
    CONF_SERIAL_PORT,
    CONF_SLOW_INTERVAL,
    CONF_STOPBITS,
    DEFAULT_FAST_INTERVAL,
    DOMAIN,
    LinkType,
)
from custom_components.powerbus.settings import CONF_HOST, CONF_PORT
from powerbus import builtin_profiles, get_profile
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.server import Simulator

from .flow_fixtures import (
    assert_abort,
    assert_field_error,
    assert_form,
    flow_strings,
    rtu_simulator,
    select_options,
    suggested,
    unload_all,
)
from .simulated import Site, device_subentry, link_entry, start_site

CONFIG = "config"
OPTIONS = "options"


@pytest.fixture
async def site(hass: HomeAssistant, socket_enabled: None) -> AsyncIterator[Site]:
    """Serve a simulated PRO380 at unit 1 on Modbus TCP; unload every link before it stops."""
    site = await start_site({1: "pro380"})
    yield site
    await unload_all(hass)
    await site.simulator.stop()


@pytest.fixture
async def other_site(hass: HomeAssistant, site: Site) -> AsyncIterator[Site]:
    """Serve a second simulated PRO380 on another port, for a link that moves."""
    other = await start_site({1: "pro380"})
    yield other
    await unload_all(hass)
    await other.simulator.stop()


@pytest.fixture
async def rtu_line(hass: HomeAssistant, serial_pair: tuple[str, str]) -> AsyncIterator[str]:
    """Serve a PRO380 at unit 1 on a virtual RS-485 line; return the line's end for the link."""
    device_end, link_end = serial_pair
    simulator = Simulator({1: simulated_device(get_profile("pro380"))})
    async with rtu_simulator(simulator, device_end):
        yield link_end
        await unload_all(hass)


async def start(hass: HomeAssistant, kind: LinkType) -> dict[str, Any]:
    """Start adding a link and choose its kind from the menu."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    return dict(
        await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": kind})
    )


async def configure(
    hass: HomeAssistant, result: dict[str, Any], **user_input: Any
) -> dict[str, Any]:
    """Submit a form of a flow."""
    return dict(await hass.config_entries.flow.async_configure(result["flow_id"], user_input))


async def reconfigure(hass: HomeAssistant, entry: ConfigEntry) -> dict[str, Any]:
    """Start reconfiguring a link."""
    return dict(
        await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
        )
    )


def line(port: str, *, baudrate: str = "9600", parity: str = "N") -> dict[str, str]:
    """Return the serial line form as a user fills it in."""
    return {
        CONF_SERIAL_PORT: port,
        CONF_BAUDRATE: baudrate,
        CONF_PARITY: parity,
        CONF_STOPBITS: "1",
        CONF_BYTESIZE: "8",
    }


async def test_the_menu_offers_every_kind_of_link_by_name(hass: HomeAssistant) -> None:
    """The first step is a menu of the three kinds of link, each with a text."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})

    assert result["type"] is FlowResultType.MENU
    assert list(result["menu_options"]) == ["serial", "tcp", "rtu_over_tcp"]
    texts = flow_strings(CONFIG)["step"]["user"]["menu_options"]
    assert all(texts[option] for option in result["menu_options"])


async def test_serial_ports_are_offered_by_their_stable_path(
    hass: HomeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An adapter udev names in /dev/serial/by-id is offered by that name, others by device."""
    adapter, plain = tmp_path / "ttyUSB0", tmp_path / "ttyS0"
    adapter.touch()
    plain.touch()
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    stable = by_id / "usb-FTDI_FT232R_USB_UART_A10K1234-if00-port0"
    stable.symlink_to(adapter)
    (by_id / "usb-gone-if00").symlink_to(tmp_path / "ttyUSB9")
    monkeypatch.setattr(config_flow, "SERIAL_BY_ID", by_id)
    monkeypatch.setattr(
        config_flow.list_ports,
        "comports",
        lambda: [SimpleNamespace(device=str(adapter)), SimpleNamespace(device=str(plain))],
    )

    result = await start(hass, LinkType.SERIAL)

    assert_form(result, CONFIG, "serial")
    assert select_options(result, CONF_SERIAL_PORT) == sorted(
        [str(stable), str(plain), str(by_id / "usb-gone-if00")]
    )


async def test_every_device_family_is_offered_with_a_name(hass: HomeAssistant) -> None:
    """The family list holds every shipped family and "other", each translated."""
    result = await start(hass, LinkType.SERIAL)

    families = select_options(result, CONF_FAMILY)
    assert set(families) == {p.family for p in builtin_profiles().values()} | {"other"}
    names = flow_strings("selector")["family"]["options"]
    assert all(names.get(family) for family in families)
    parities = flow_strings("selector")["parity"]["options"]
    assert all(parities.get(parity) for parity in ("N", "E", "O"))


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        (
            "pro380",
            {CONF_BAUDRATE: "9600", CONF_PARITY: "E", CONF_STOPBITS: "1", CONF_BYTESIZE: "8"},
        ),
        ("apc", {CONF_BAUDRATE: "9600", CONF_PARITY: "N", CONF_STOPBITS: "1", CONF_BYTESIZE: "8"}),
        (
            "other",
            {CONF_BAUDRATE: "9600", CONF_PARITY: "E", CONF_STOPBITS: "1", CONF_BYTESIZE: "8"},
        ),
    ],
)
async def test_the_line_settings_start_from_the_family(
    hass: HomeAssistant, family: str, expected: dict[str, str]
) -> None:
    """The line page fills in the port chosen and the line the family's devices ship with."""
    result = await start(hass, LinkType.SERIAL)

    result = await configure(hass, result, serial_port="/dev/ttyUSB7", family=family)

    assert_form(result, CONFIG, "serial_line")
    assert suggested(result) == {CONF_SERIAL_PORT: "/dev/ttyUSB7", **expected}
    if family != "other":
        shipped = next(p for p in builtin_profiles().values() if p.family == family).transport
        assert expected[CONF_PARITY] == shipped.parity


async def test_a_serial_link_opens_its_port_before_it_is_added(
    hass: HomeAssistant, rtu_line: str
) -> None:
    """A port that refuses the settings is reported on the port; with settings it takes, the link is added."""
    result = await start(hass, LinkType.SERIAL)
    result = await configure(hass, result, serial_port=rtu_line, family="pro380")

    refused = await configure(hass, result, **line(rtu_line, parity="E"))

    assert_field_error(refused, CONFIG, "serial_line", CONF_SERIAL_PORT, "cannot_open")
    assert not hass.config_entries.async_entries(DOMAIN)

    created = await configure(hass, refused, **line(rtu_line, baudrate="19200"))
    await hass.async_block_till_done()

    assert created["type"] is FlowResultType.CREATE_ENTRY
    entry = created["result"]
    assert entry.data == {
        CONF_LINK_TYPE: LinkType.SERIAL,
        CONF_SERIAL_PORT: rtu_line,
        CONF_BAUDRATE: 19200,
        CONF_PARITY: "N",
        CONF_STOPBITS: 1,
        CONF_BYTESIZE: 8,
    }
    assert entry.title == f"rtu://{rtu_line} 19200 8N1"
    assert entry.unique_id.startswith("rtu_") and entry.unique_id.endswith("client_end")
    assert entry.state is ConfigEntryState.LOADED


async def test_a_missing_port_and_a_bad_baud_rate_are_shown_on_their_fields(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """Nothing is created for a port that does not exist or a baud rate that is no number."""
    result = await start(hass, LinkType.SERIAL)
    result = await configure(hass, result, serial_port=str(tmp_path / "nothing"), family="other")

    missing = await configure(hass, result, **line(str(tmp_path / "nothing")))
    assert_field_error(missing, CONFIG, "serial_line", CONF_SERIAL_PORT, "cannot_open")

    for baudrate in ("fast", "0", "96OO"):
        bad = await configure(hass, result, **line(str(tmp_path / "nothing"), baudrate=baudrate))
        assert_field_error(bad, CONFIG, "serial_line", CONF_BAUDRATE, "invalid_baudrate")
    assert not hass.config_entries.async_entries(DOMAIN)


async def test_the_same_serial_port_is_not_added_twice(hass: HomeAssistant, rtu_line: str) -> None:
    """Neither under its own name nor under the name of the device it leads to."""
    first = await start(hass, LinkType.SERIAL)
    first = await configure(hass, first, serial_port=rtu_line, family="other")
    first = await configure(hass, first, **line(rtu_line))
    await hass.async_block_till_done()
    title = first["result"].title

    again = await start(hass, LinkType.SERIAL)
    again = await configure(hass, again, serial_port=rtu_line, family="other")
    assert_abort(await configure(hass, again, **line(rtu_line)), CONFIG, "already_configured")

    other_name = os.path.realpath(rtu_line)
    assert other_name != rtu_line
    aliased = await start(hass, LinkType.SERIAL)
    aliased = await configure(hass, aliased, serial_port=other_name, family="other")
    result = await configure(hass, aliased, **line(other_name, baudrate="19200"))
    assert_abort(result, CONFIG, "same_endpoint")
    assert result["description_placeholders"] == {"link": title}
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


@pytest.mark.parametrize(
    ("kind", "scheme"), [(LinkType.TCP, "tcp"), (LinkType.RTU_OVER_TCP, "rtu+tcp")]
)
async def test_a_network_link_connects_before_it_is_added(
    hass: HomeAssistant, site: Site, kind: LinkType, scheme: str
) -> None:
    """Host and port are stored as typed (a number as a number), the title is the link's address."""
    result = await start(hass, kind)
    assert_form(result, CONFIG, kind.value)

    result = await configure(hass, result, host=" 127.0.0.1 ", port=float(site.port))
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.data == {CONF_LINK_TYPE: kind, CONF_HOST: "127.0.0.1", CONF_PORT: site.port}
    assert entry.title == f"{scheme}://127.0.0.1:{site.port}"
    assert entry.unique_id == f"{scheme.replace('+', '')}_127_0_0_1_{site.port}"
    assert entry.state is ConfigEntryState.LOADED


async def test_a_host_that_refuses_or_is_blank_is_shown_on_the_host(
    hass: HomeAssistant, socket_enabled: None, free_tcp_port: int
) -> None:
    """Nothing is created while nothing listens, or no host is given."""
    result = await start(hass, LinkType.TCP)

    refused = await configure(hass, result, host="127.0.0.1", port=free_tcp_port)
    assert_field_error(refused, CONFIG, "tcp", CONF_HOST, "cannot_connect")
    assert suggested(refused) == {CONF_HOST: "127.0.0.1", CONF_PORT: free_tcp_port}

    blank = await configure(hass, refused, host="  ", port=free_tcp_port)
    assert_field_error(blank, CONFIG, "tcp", CONF_HOST, "invalid_host")
    assert not hass.config_entries.async_entries(DOMAIN)


async def test_one_host_and_port_is_one_link_whatever_the_framing(
    hass: HomeAssistant, site: Site
) -> None:
    """The same endpoint again is already configured; as RTU over TCP it names the link it is."""
    entry = link_entry(site)
    entry.add_to_hass(hass)

    again = await start(hass, LinkType.TCP)
    assert_abort(
        await configure(hass, again, host="127.0.0.1", port=site.port), CONFIG, "already_configured"
    )

    framed = await start(hass, LinkType.RTU_OVER_TCP)
    result = await configure(hass, framed, host="127.0.0.1", port=site.port)
    assert_abort(result, CONFIG, "same_endpoint")
    assert result["description_placeholders"] == {"link": entry.title}


async def test_reconfiguring_moves_the_link_and_reloads_it(
    hass: HomeAssistant, site: Site, other_site: Site
) -> None:
    """A link moved to another endpoint is tested, stored under its new name and id, and reloaded."""
    serial = str(site.devices[1].get_value("serial_number"))
    entry = link_entry(site, device_subentry("pro380", 1, uid=f"pro380_{serial}", serial=serial))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    result = await reconfigure(hass, entry)
    assert_form(result, CONFIG, "reconfigure")
    assert suggested(result) == {CONF_HOST: "127.0.0.1", CONF_PORT: site.port}

    result = await configure(hass, result, host="127.0.0.1", port=other_site.port)
    await hass.async_block_till_done()

    assert_abort(result, CONFIG, "reconfigure_successful")
    assert entry.data[CONF_PORT] == other_site.port
    assert entry.title == f"tcp://127.0.0.1:{other_site.port}"
    assert entry.unique_id == f"tcp_127_0_0_1_{other_site.port}"
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.link.port == other_site.port


async def test_reconfiguring_keeps_a_name_the_user_gave(
    hass: HomeAssistant, site: Site, other_site: Site
) -> None:
    """Only a title that is still the link's address follows the address."""
    entry = link_entry(site)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, title="Switchboard gateway")

    result = await configure(
        hass, await reconfigure(hass, entry), host="127.0.0.1", port=other_site.port
    )
    await hass.async_block_till_done()

    assert_abort(result, CONFIG, "reconfigure_successful")
    assert entry.title == "Switchboard gateway"
    assert entry.data[CONF_PORT] == other_site.port


async def test_reconfiguring_to_a_dead_or_taken_endpoint_changes_nothing(
    hass: HomeAssistant, site: Site, other_site: Site, free_tcp_port: int
) -> None:
    """A host that refuses, a blank host, or another link's endpoint is shown on the host."""
    entry = link_entry(site)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    taken = link_entry(other_site)
    taken.add_to_hass(hass)
    before = dict(entry.data)

    result = await reconfigure(hass, entry)
    refused = await configure(hass, result, host="127.0.0.1", port=free_tcp_port)
    assert_field_error(refused, CONFIG, "reconfigure", CONF_HOST, "cannot_connect")
    blank = await configure(hass, refused, host=" ", port=site.port)
    assert_field_error(blank, CONFIG, "reconfigure", CONF_HOST, "invalid_host")
    in_use = await configure(hass, blank, host="127.0.0.1", port=other_site.port)
    assert_field_error(in_use, CONFIG, "reconfigure", CONF_HOST, "endpoint_in_use")
    await hass.async_block_till_done()

    assert dict(entry.data) == before
    assert entry.state is ConfigEntryState.LOADED


async def test_a_link_that_could_not_start_starts_once_reconfigured(
    hass: HomeAssistant, site: Site, free_tcp_port: int
) -> None:
    """A link whose device was unreachable starts at once when pointed at the right endpoint."""
    serial = str(site.devices[1].get_value("serial_number"))
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"tcp://127.0.0.1:{free_tcp_port}",
        data={CONF_LINK_TYPE: LinkType.TCP, CONF_HOST: "127.0.0.1", CONF_PORT: free_tcp_port},
        unique_id=f"tcp_127_0_0_1_{free_tcp_port}",
        subentries_data=[device_subentry("pro380", 1, uid=f"pro380_{serial}", serial=serial)],
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY

    result = await configure(hass, await reconfigure(hass, entry), host="127.0.0.1", port=site.port)
    await hass.async_block_till_done()

    assert_abort(result, CONFIG, "reconfigure_successful")
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfiguring_a_running_serial_link_frees_its_port_for_the_test(
    hass: HomeAssistant, rtu_line: str
) -> None:
    """The running link lets go of its port while new settings are tried, and comes back either way."""
    result = await start(hass, LinkType.SERIAL)
    result = await configure(hass, result, serial_port=rtu_line, family="other")
    entry = (await configure(hass, result, **line(rtu_line)))["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    result = await reconfigure(hass, entry)
    assert_form(result, CONFIG, "reconfigure")
    assert suggested(result) == line(rtu_line)
    refused = await configure(hass, result, **line(rtu_line, parity="E"))
    assert_field_error(refused, CONFIG, "reconfigure", CONF_SERIAL_PORT, "cannot_open")
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_PARITY] == "N"

    done = await configure(hass, refused, **line(rtu_line, baudrate="38400"))
    await hass.async_block_till_done()

    assert_abort(done, CONFIG, "reconfigure_successful")
    assert entry.data[CONF_BAUDRATE] == 38400
    assert entry.title == f"rtu://{rtu_line} 38400 8N1"
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.link.baudrate == 38400


async def test_options_set_the_poll_intervals_and_the_link_polls_at_once_with_them(
    hass: HomeAssistant, site: Site
) -> None:
    """Saved options reload the link; its coordinator ticks at the new fast interval."""
    serial = str(site.devices[1].get_value("serial_number"))
    entry = link_entry(site, device_subentry("pro380", 1, uid=f"pro380_{serial}", serial=serial))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.runtime_data.update_interval <= timedelta(seconds=DEFAULT_FAST_INTERVAL)

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert_form(result, OPTIONS, "init")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_FAST_INTERVAL: 1.0,
            CONF_NORMAL_INTERVAL: 5.0,
            CONF_SLOW_INTERVAL: 300.0,
            CONF_EXPERT_WRITES: True,
        },
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_EXPERT_WRITES] is True
    coordinator = entry.runtime_data
    assert coordinator.update_interval == timedelta(seconds=1.0)
    (device,) = coordinator.devices.values()
    assert (device.session.intervals.normal, device.session.intervals.slow) == (5.0, 300.0)

    again = await hass.config_entries.options.async_init(entry.entry_id)
    assert suggested(again)[CONF_FAST_INTERVAL] == 1.0


@pytest.mark.parametrize(
    ("fast", "normal", "slow", "field"),
    [(20.0, 10.0, 60.0, CONF_NORMAL_INTERVAL), (2.0, 120.0, 60.0, CONF_SLOW_INTERVAL)],
)
async def test_options_read_fast_values_at_least_as_often_as_slow_ones(
    hass: HomeAssistant, fast: float, normal: float, slow: float, field: str
) -> None:
    """Intervals out of order are refused on the first one out of place."""
    entry = MockConfigEntry(domain=DOMAIN, data={CONF_LINK_TYPE: LinkType.TCP})
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_FAST_INTERVAL: fast,
            CONF_NORMAL_INTERVAL: normal,
            CONF_SLOW_INTERVAL: slow,
            CONF_EXPERT_WRITES: False,
        },
    )

    assert_field_error(result, OPTIONS, "init", field, "interval_order")
    assert suggested(result)[field] in (normal, slow)
    assert not entry.options
