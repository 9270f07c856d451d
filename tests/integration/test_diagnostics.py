"""Diagnostics of a link with a PRO380 and a CM3000 behind an EGX200 gateway.

The download must say what support needs (profile, blocks and their raw words,
points in error, timings, statistics) and nothing that identifies the site: the
test searches the whole downloaded JSON for the host, the serial numbers and the
ids built from them. Its shape is kept as a snapshot; the values are checked here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from http import HTTPStatus
import json
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.powerbus.const import DOMAIN
from powerbus import Table
from powerbus.simulator.faults import ExceptionAnswer

from .recorded import RARELY, RecordedSite, start_recorded_site, subentries_of, unload_all
from .simulated import link_entry

PRO380, CM3000, GATEWAY = 1, 2, 100
HOST = "127.0.0.1"
SERIAL = "22091039"
FOREIGN_SERIAL = "31415926"
LCD_CYCLE_TIME = 0x4010
ENERGY_BLOCK = range(1699, 1727)  # registers 1700-1727
REDACTED = "**REDACTED**"


@dataclass
class Site:
    """The link, set up, with a BCD register garbled and the CM3000's energy block refused."""

    hass: HomeAssistant
    recorded: RecordedSite
    entry: MockConfigEntry

    async def download(self, client: ClientSessionGenerator, path: str = "") -> str:
        """Return the diagnostics download as Home Assistant serves it."""
        assert await async_setup_component(self.hass, "diagnostics", {})
        session = await client()
        response = await session.get(f"/api/diagnostics/config_entry/{self.entry.entry_id}{path}")
        assert response.status == HTTPStatus.OK
        return await response.text()


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Keep the snapshots in ``snapshots/`` beside the tests, as Home Assistant does."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
async def site(hass: HomeAssistant, socket_enabled: None) -> AsyncIterator[Site]:
    """Serve the meters, garble the PRO380's display cycle time and set the link up."""
    recorded = await start_recorded_site({PRO380: "pro380", CM3000: "cm3000", GATEWAY: "egx200"})
    meter = recorded.site.devices[PRO380]
    assert meter.get_value("serial_number") == SERIAL
    meter.set_registers(Table.HOLDING_REGISTER, LCD_CYCLE_TIME, [0x001A])  # no BCD number
    recorded.site.simulator.faults.add(
        ExceptionAnswer(code=0x02, times=None, unit_id=CM3000, addresses=ENERGY_BLOCK)
    )
    subentries = subentries_of(recorded.site)
    entry = link_entry(recorded.site, *subentries, **RARELY)
    entry.add_to_hass(hass)
    # The display cycle time is disabled by default; its entity is enabled beforehand.
    er.async_get(hass).async_get_or_create(
        "number", DOMAIN, f"pro380_{SERIAL}_lcd_cycle_time", config_entry=entry
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield Site(hass=hass, recorded=recorded, entry=entry)
    await unload_all(hass)
    await recorded.site.simulator.stop()


def _devices(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the devices of a diagnostics download by profile."""
    return {device["profile"]["key"]: device for device in data["data"]["devices"]}


def _assert_nothing_identifies_the_site(text: str, site: Site) -> None:
    """Neither the host, nor a serial number, nor an id made of them appears anywhere."""
    simulated = site.recorded.site
    serials = {SERIAL, FOREIGN_SERIAL} | {
        str(device.get_value(device.profile.serial_point))
        for device in simulated.devices.values()
        if device.profile.serial_point is not None
    }
    link = f"tcp_127_0_0_1_{simulated.port}"
    for secret in (HOST, HOST.replace(".", "_"), link, *serials):
        assert secret not in text


async def test_the_download_explains_the_polls_and_identifies_nothing(
    site: Site, hass_client: ClientSessionGenerator
) -> None:
    """Profile, blocks, raw words, errors, timings and statistics; host and serials blanked."""
    text = await site.download(hass_client)

    _assert_nothing_identifies_the_site(text, site)
    data = json.loads(text)
    versions = data["data"]["versions"]
    assert versions["powerbus"] == data["integration_manifest"]["version"]
    assert versions["home_assistant"] == data["home_assistant"]["version"]
    link = data["data"]["link"]
    assert (link["data"]["host"], link["connected"]) == (REDACTED, True)
    devices = _devices(data)
    assert set(devices) == {"pro380", "cm3000", "egx200"}
    assert devices["egx200"]["identity"]["serial"] is None  # a gateway has none to hide

    meter = devices["pro380"]
    assert meter["profile"]["source"] == "pro380.yaml"
    assert meter["identity"]["serial"] == REDACTED
    assert meter["identity"]["firmware"]
    identity_block = next(b for b in meter["blocks"] if b["start"] == 0x4000)
    assert identity_block["words"][:2] == [REDACTED, REDACTED]
    words = site.recorded.site.devices[PRO380].registers(Table.HOLDING_REGISTER, 0x4000, 23)
    assert identity_block["words"][2:] == words[2 : identity_block["count"]]
    display = meter["points_in_error"]["lcd_cycle_time"]
    assert (display["state"], display["raw"]) == ("error", [0x001A])
    assert "binary-coded decimal" in display["error"]
    assert [t["group"] for t in meter["timings"]] == ["fast", "normal", "slow"]
    assert meter["timings"][0]["asked"] == 600.0
    assert meter["statistics"]["requests"] == meter["statistics"]["responses"] > 0

    cm3000 = devices["cm3000"]
    refused = cm3000["points_in_error"]["import_active_energy"]
    assert "illegal data address" in refused["error"]
    assert cm3000["statistics"]["errors"]["exception_02"] >= 1
    assert cm3000["learned_refusals"]


async def test_a_foreign_device_is_described_without_either_serial_number(
    site: Site, hass_client: ClientSessionGenerator
) -> None:
    """After a meter swap the error names two serial numbers; the download names neither."""
    meter = site.recorded.site.devices[PRO380]
    meter.set_value("serial_number", FOREIGN_SERIAL)
    coordinator = site.entry.runtime_data
    for device in coordinator.devices.values():
        device.session.request_refresh()
    await coordinator.async_refresh()

    text = await site.download(hass_client)

    _assert_nothing_identifies_the_site(text, site)
    swapped = _devices(json.loads(text))["pro380"]
    assert (swapped["available"], swapped["identity_mismatch"]) == (False, True)
    assert swapped["error"] == f"a different device answers: serial {REDACTED}, expected {REDACTED}"


async def test_a_device_download_describes_that_device(
    site: Site, hass_client: ClientSessionGenerator
) -> None:
    """The download from a device's page holds that device only."""
    registry = dr.async_get(site.hass)
    device = next(
        d
        for d in dr.async_entries_for_config_entry(registry, site.entry.entry_id)
        if (DOMAIN, f"pro380_{SERIAL}") in d.identifiers
    )

    text = await site.download(hass_client, f"/device/{device.id}")

    _assert_nothing_identifies_the_site(text, site)
    assert list(_devices(json.loads(text))) == ["pro380"]


async def test_the_download_keeps_its_shape(
    site: Site, hass_client: ClientSessionGenerator, snapshot: SnapshotAssertion
) -> None:
    """The structure of the download (its keys and nesting) is what support tools read."""
    data = json.loads(await site.download(hass_client))["data"]

    assert _shape(data) == snapshot


def _shape(value: Any) -> Any:
    """Return the structure of JSON data: its keys and nesting; a list holds its items' shapes once.

    Values are left out (a serial number may be text or missing, a word a number or
    redacted): the snapshot keeps the layout that support tools read.
    """
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        shapes: list[Any] = []
        for item in value:
            if (shape := _shape(item)) not in shapes:
                shapes.append(shape)
        return shapes
    return "value"
