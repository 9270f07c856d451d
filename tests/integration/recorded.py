"""Simulated devices whose every request is noted, to tell what reached the wire.

A refused service call must send nothing: the tests serve their devices through
:class:`RecordingDevice`, which notes each read and write the simulator hands to a
device, and assert on :attr:`Wire.writes`. A device can also be told to garble what
is written to it or what it answers, as a line that flips bits would.
:class:`Bench` is such a site set up as a link in Home Assistant, with the service
calls and polls the tests make.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.powerbus.const import (
    CONF_FAST_INTERVAL,
    CONF_NORMAL_INTERVAL,
    CONF_SLOW_INTERVAL,
    CONF_UNIT,
    DOMAIN,
)
from powerbus import LinkKind, LinkSettings, Table, device_uid, get_profile, link_id
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.clock import ManualClock
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator

from .simulated import Site, device_subentry, link_entry

RARELY = {CONF_FAST_INTERVAL: 600.0, CONF_NORMAL_INTERVAL: 600.0, CONF_SLOW_INTERVAL: 3600.0}
"""Link options under which nothing is polled unless a test asks: what reaches the wire
during a service call comes from the call."""

Garble = Callable[[Table, int, list[int]], list[int]]
"""Changes the words of a write or an answer on their way (table, address, words)."""


@dataclass(frozen=True, kw_only=True)
class Request:
    """One request a simulated device received."""

    unit: int
    write: bool
    table: Table
    address: int
    count: int


@dataclass
class Wire:
    """The requests the simulated devices of a site received, in order."""

    requests: list[Request] = field(default_factory=list)

    @property
    def writes(self) -> list[Request]:
        """The writes among them."""
        return [request for request in self.requests if request.write]

    def writes_to(self, unit: int) -> list[Request]:
        """Return the writes that reached unit ``unit``."""
        return [request for request in self.writes if request.unit == unit]


class RecordingDevice:
    """Serves a simulated device and notes every request that reaches it."""

    def __init__(
        self, unit: int, device: ProfileDevice, wire: Wire, garble: Garble | None = None
    ) -> None:
        """Serve ``device`` as unit ``unit``, noting its requests on ``wire``."""
        self._unit = unit
        self._device = device
        self._wire = wire
        self.garble = garble
        self.garble_answers: Garble | None = None

    def read(self, table: Table, address: int, count: int) -> list[int] | list[bool]:
        """Note the read, then answer it as the device does (garbled, if asked)."""
        self._wire.requests.append(
            Request(unit=self._unit, write=False, table=table, address=address, count=count)
        )
        answer = self._device.read(table, address, count)
        if self.garble_answers is None or table.is_bit:
            return answer
        return self.garble_answers(table, address, [int(word) for word in answer])

    def write(self, table: Table, address: int, values: Sequence[int] | Sequence[bool]) -> None:
        """Note the write, then hand it (garbled, if asked) to the device."""
        self._wire.requests.append(
            Request(unit=self._unit, write=True, table=table, address=address, count=len(values))
        )
        words = [int(value) for value in values]
        if self.garble is not None:
            words = self.garble(table, address, words)
        self._device.write(table, address, words)


@dataclass
class RecordedSite:
    """A site whose devices' requests are recorded on its wire."""

    site: Site
    wire: Wire
    served: dict[int, RecordingDevice]


async def start_recorded_site(
    profiles: Mapping[int, str], clock: ManualClock | None = None
) -> RecordedSite:
    """Serve one simulated device per unit id, each from its profile key, and record the wire."""
    clock = clock or ManualClock()
    wire = Wire()
    devices = {
        unit: simulated_device(get_profile(key), clock=clock) for unit, key in profiles.items()
    }
    served = {unit: RecordingDevice(unit, device, wire) for unit, device in devices.items()}
    simulator = Simulator(served)
    port = await simulator.start_tcp("127.0.0.1", 0)
    site = Site(simulator=simulator, port=port, devices=devices, clock=clock)
    return RecordedSite(site=site, wire=wire, served=served)


def link_settings_of(site: Site) -> LinkSettings:
    """Return the engine's settings of the site's Modbus TCP endpoint."""
    return LinkSettings(kind=LinkKind.TCP, host="127.0.0.1", port=site.port)


def subentries_of(site: Site) -> list[ConfigSubentryData]:
    """Return a device subentry per simulated device, as the device flow would create it."""
    link = link_id(link_settings_of(site))
    subentries = []
    for unit, device in site.devices.items():
        profile = device.profile
        serial = None if profile.serial_point is None else device.get_value(profile.serial_point)
        serial = None if serial is None else str(serial)
        subentries.append(
            device_subentry(
                profile.key,
                unit,
                uid=device_uid(profile.family, serial, link, unit),
                serial=serial,
                title=f"{profile.name} {serial or f'unit {unit}'}",
            )
        )
    return subentries


async def set_up_link(hass: HomeAssistant, site: Site, **options: Any) -> MockConfigEntry:
    """Add a link entry with every device of the site, set it up and wait for its entities."""
    entry = link_entry(site, *subentries_of(site), **options)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def device_id(hass: HomeAssistant, entry: MockConfigEntry, unit: int) -> str:
    """Return the registry id of the device configured at ``unit`` on the link."""
    subentry = next(s for s in entry.subentries.values() if s.data[CONF_UNIT] == unit)
    registry = dr.async_get(hass)
    return next(
        device.id
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
        if (DOMAIN, subentry.unique_id) in device.identifiers
    )


def subentry_id(entry: MockConfigEntry, unit: int) -> str:
    """Return the id of the subentry of the device configured at ``unit``."""
    return next(s.subentry_id for s in entry.subentries.values() if s.data[CONF_UNIT] == unit)


async def unload_all(hass: HomeAssistant) -> None:
    """Unload every Powerbus link that is loaded or waiting to retry, so that nothing outlives the test."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state in (ConfigEntryState.LOADED, ConfigEntryState.SETUP_RETRY):
            assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@dataclass
class Bench:
    """Simulated devices on one Modbus TCP link, set up in Home Assistant."""

    hass: HomeAssistant
    recorded: RecordedSite
    entry: MockConfigEntry

    def device(self, unit: int) -> str:
        """Return the registry id of the device at ``unit``."""
        return device_id(self.hass, self.entry, unit)

    async def call(
        self, service: str, data: Mapping[str, Any], *, response: bool = False
    ) -> dict[str, Any] | None:
        """Call a Powerbus service and wait for it."""
        return await self.hass.services.async_call(
            DOMAIN, service, dict(data), blocking=True, return_response=response
        )

    async def refused(self, service: str, data: Mapping[str, Any], response: bool = False) -> str:
        """Call a service that must be refused; return the error's key, having checked the wire."""
        before = len(self.recorded.wire.writes)
        with pytest.raises(ServiceValidationError) as refusal:
            await self.call(service, data, response=response)
        assert self.recorded.wire.writes[before:] == [], f"{service} {data} wrote to the device"
        assert refusal.value.translation_domain == DOMAIN
        return str(refusal.value.translation_key)

    async def poll_now(self) -> None:
        """Read every device in full at once, then let the link show what it read."""
        coordinator = self.entry.runtime_data
        for device in coordinator.devices.values():
            await device.session.refresh()
        await coordinator.async_refresh()
        await self.hass.async_block_till_done()


async def serve_bench(
    hass: HomeAssistant, profiles: Mapping[int, str], **options: Any
) -> AsyncIterator[Bench]:
    """Serve the devices, set up their link, and take both down again afterwards."""
    recorded = await start_recorded_site(profiles)
    entry = await set_up_link(hass, recorded.site, **options)
    yield Bench(hass=hass, recorded=recorded, entry=entry)
    await unload_all(hass)
    await recorded.site.simulator.stop()
