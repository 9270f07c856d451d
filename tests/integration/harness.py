"""What the coordinator and entity tests share: simulated sites, time travel, entity look-ups.

Time: the tests run under a ticking frozen clock (``TIME_TRAVEL``): real time flows,
so socket round trips and the engine's short waits behave as in production, and
:func:`advance` moves Home Assistant's clock, its event loop and the engine's schedule
forward together, without waiting. ``steady_ticks`` makes coordinators tick on whole
seconds (Home Assistant spreads them over a random fraction of a second), so that moving
time by an interval always reaches the next tick. The simulated devices keep their own
:class:`ManualClock`, which a test moves to change their values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er, event
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed_exact,
)

from custom_components.powerbus.const import DOMAIN
from custom_components.powerbus.coordinator import PowerbusCoordinator, PowerbusDevice
from powerbus import entity_unique_id

from .simulated import Site, device_subentry, link_entry, start_site

FAST = 2.0
"""The default fast poll interval, in seconds."""

_PER_KILO = {("kvar", "var"), ("kVA", "VA"), ("kW", "W"), ("kWh", "Wh"), ("kvarh", "varh")}

TIME_TRAVEL = [
    pytest.mark.usefixtures("socket_enabled", "steady_ticks"),
    pytest.mark.freeze_time(tick=True),
]
"""Marks for a test module whose tests talk to simulators and move time."""


@pytest.fixture
def steady_ticks() -> Iterator[None]:
    """Make coordinators tick on whole seconds instead of a random fraction past them."""
    with (
        patch.object(event, "RANDOM_MICROSECOND_MIN", 0),
        patch.object(event, "RANDOM_MICROSECOND_MAX", 0),
    ):
        yield


@asynccontextmanager
async def served(profiles: Mapping[int, str]) -> AsyncIterator[Site]:
    """Serve simulated devices (unit id: profile key) on Modbus TCP for the block."""
    site = await start_site(profiles)
    try:
        yield site
    finally:
        await site.simulator.stop()


def device_of(site: Site, unit: int, *, title: str) -> ConfigSubentryData:
    """Return the subentry of the simulated device at ``unit``, as the device flow makes it."""
    device = site.devices[unit]
    profile = device.profile
    serial = None
    if profile.serial_point is not None:
        serial = str(device.get_value(profile.serial_point))
    uid = (
        f"{profile.family}_{serial}"
        if serial is not None
        else f"{profile.family}_tcp_127_0_0_1_{site.port}_u{unit}"
    )
    return device_subentry(profile.key, unit, uid=uid, serial=serial, title=title)


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> PowerbusCoordinator:
    """Add a link entry to Home Assistant, set it up and return its coordinator."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator: PowerbusCoordinator = entry.runtime_data
    return coordinator


async def set_up_site(
    hass: HomeAssistant, site: Site, titles: Mapping[int, str], **options: Any
) -> tuple[MockConfigEntry, PowerbusCoordinator]:
    """Set up a link to ``site`` with a device per unit id in ``titles``."""
    entry = link_entry(
        site, *(device_of(site, unit, title=title) for unit, title in titles.items()), **options
    )
    return entry, await set_up(hass, entry)


async def advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    """Let ``seconds`` pass for Home Assistant and the engine, and run what fell due."""
    freezer.move_to(dt_util.utcnow() + timedelta(seconds=seconds))
    async_fire_time_changed_exact(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def device_by_title(coordinator: PowerbusCoordinator, title: str) -> PowerbusDevice:
    """Return the coordinator's device with this subentry title."""
    return next(d for d in coordinator.devices.values() if d.subentry.title == title)


def entity_id(hass: HomeAssistant, device: PowerbusDevice, key: str) -> str:
    """Return the entity id of a device's catalogue entity ``key``."""
    spec = next(s for s in device.specs if s.key == key)
    found = er.async_get(hass).async_get_entity_id(
        spec.platform.value, DOMAIN, entity_unique_id(device.uid, key)
    )
    assert found is not None, f"{device.subentry.title} has no entity {key}"
    return found


def state_of(hass: HomeAssistant, device: PowerbusDevice, key: str) -> State:
    """Return the state of a device's catalogue entity ``key``."""
    state = hass.states.get(entity_id(hass, device, key))
    assert state is not None, f"{device.subentry.title}: {key} has no state"
    return state


async def enable(hass: HomeAssistant, entry: MockConfigEntry, *entity_ids: str) -> None:
    """Enable entities that are disabled by default, and reload the link so they appear."""
    registry = er.async_get(hass)
    for an_entity_id in entity_ids:
        registry.async_update_entity(an_entity_id, disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()


def keys_on(device: PowerbusDevice, platform: str) -> list[str]:
    """Return the keys of a device's catalogue entities on ``platform`` (``"sensor"``...)."""
    return [spec.key for spec in device.specs if spec.platform.value == platform]


def simulated_value(site: Site, unit: int, key: str, shown_in: str | None) -> float:
    """Return a simulated point's value as a number in ``shown_in``, the unit an entity shows."""
    device = site.devices[unit]
    value = device.get_value(key)
    assert isinstance(value, int | float), f"{key} is not a number: {value!r}"
    native = device.profile.point(key).unit
    if native == shown_in:
        return float(value)
    assert (native, shown_in) in _PER_KILO, f"{key}: no conversion from {native} to {shown_in}"
    return float(value) * 1000
