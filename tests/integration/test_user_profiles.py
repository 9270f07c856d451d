"""Users keep profiles of their own in <config>/powerbus_profiles/, validated like shipped ones."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import logging
from pathlib import Path
import shutil

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.powerbus.const import DOMAIN
from custom_components.powerbus.release import PROFILE_DIRECTORY
from powerbus import Table, get_profile
from powerbus.profile import parse_profile_text
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.server import Simulator
from tests.relay_profile import RELAY_PROFILE

from .simulated import Site, device_subentry, link_entry, start_site

SHIPPED_PROFILES = (
    Path(__file__).parents[2] / "custom_components" / "powerbus" / "engine" / "profiles"
)


@pytest.fixture(autouse=True)
def user_folder(hass: HomeAssistant) -> Iterator[Path]:
    """Give each test an empty user profile folder, removed afterwards."""
    folder = Path(hass.config.path(PROFILE_DIRECTORY))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def pro380(socket_enabled: None) -> AsyncIterator[Site]:
    """Serve a simulated PRO380 at unit 1."""
    site = await start_site({1: "pro380"})
    yield site
    await site.simulator.stop()


def _shipped_pro380() -> str:
    """Return the text of the shipped PRO380 family file."""
    return (SHIPPED_PROFILES / get_profile("pro380").source_file).read_text("utf-8")


def _user_copy(hass: HomeAssistant, text: str, name: str) -> Path:
    """Write a profile file into the user's profile folder."""
    folder = Path(hass.config.path(PROFILE_DIRECTORY))
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_a_device_configured_with_a_user_profile_sets_up(
    hass: HomeAssistant, pro380: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """A copy of a shipped family under a variant key of its own is used; a broken file is logged."""
    shipped = _shipped_pro380()
    mine = shipped.replace("  - key: pro380\n", "  - key: my_pro380\n", 1).replace(
        "  - key: pro380_legacy\n", "  - key: my_pro380_legacy\n", 1
    )
    assert mine != shipped
    await hass.async_add_executor_job(_user_copy, hass, mine, "mine.yaml")
    await hass.async_add_executor_job(_user_copy, hass, "family: [broken", "broken.yaml")
    serial = str(pro380.devices[1].get_value("serial_number"))
    entry = link_entry(
        pro380, device_subentry("my_pro380", 1, uid=f"pro380_{serial}", serial=serial)
    )
    entry.add_to_hass(hass)

    with caplog.at_level(logging.WARNING):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"pro380_{serial}_voltage_l1"
    )
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state not in ("unavailable", "unknown")
    assert any("broken.yaml" in record.message for record in caplog.records)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_user_file_may_not_take_a_shipped_key(
    hass: HomeAssistant, pro380: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """A user file reusing a shipped variant key is left out; the shipped profile stays."""
    shipped = _shipped_pro380()
    await hass.async_add_executor_job(_user_copy, hass, shipped, "copy.yaml")
    serial = str(pro380.devices[1].get_value("serial_number"))
    entry = link_entry(pro380, device_subentry("pro380", 1, uid=f"pro380_{serial}", serial=serial))
    entry.add_to_hass(hass)

    with caplog.at_level(logging.WARNING):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert any("copy.yaml" in r.message and "pro380" in r.message for r in caplog.records)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_writable_coil_of_a_user_profile_is_a_switch_the_device_reads_back(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """Turning the relay on sets the coil; its state is what the device reads, not what was asked."""
    await hass.async_add_executor_job(_user_copy, hass, RELAY_PROFILE, "relay.yaml")
    relay = simulated_device(parse_profile_text(RELAY_PROFILE, "relay.yaml")["test_relay"])
    async with Simulator({5: relay}) as simulator:
        site = Site(simulator=simulator, port=await simulator.start_tcp("127.0.0.1", 0), devices={})
        entry = link_entry(site, device_subentry("test_relay", 5, uid="test_relay_5"))
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        switch = er.async_get(hass).async_get_entity_id("switch", DOMAIN, "test_relay_5_relay")
        assert switch is not None
        state = hass.states.get(switch)
        assert state is not None and state.state == STATE_OFF
        assert not state.attributes.get("assumed_state")

        await hass.services.async_call("switch", "turn_on", {ATTR_ENTITY_ID: switch}, blocking=True)
        assert relay.read(Table.COIL, 0, 1) == [True]
        assert (on := hass.states.get(switch)) is not None and on.state == STATE_ON

        relay.write(Table.COIL, 0, [False])
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert (off := hass.states.get(switch)) is not None and off.state == STATE_OFF
        assert await hass.config_entries.async_unload(entry.entry_id)
