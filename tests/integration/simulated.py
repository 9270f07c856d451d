"""Simulated devices served over real Modbus TCP (or RTU on a socat pair) for integration tests.

The integration reaches them exactly as it reaches real devices: through its own
engine copy (``custom_components.powerbus.engine``) over a socket. The simulators come
from the engine's package under its other name (``powerbus``); the two never share
objects, only the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from homeassistant.config_entries import ConfigSubentryData
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
from custom_components.powerbus.settings import CONF_HOST, CONF_PORT
from powerbus import get_profile
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.clock import ManualClock
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator


@dataclass
class Site:
    """Simulated devices on one Modbus TCP endpoint, and their clock."""

    simulator: Simulator
    port: int
    devices: dict[int, ProfileDevice]
    clock: ManualClock = field(default_factory=ManualClock)

    def link_data(self) -> dict[str, Any]:
        """Return a config entry's data for this endpoint."""
        return {CONF_LINK_TYPE: LinkType.TCP, CONF_HOST: "127.0.0.1", CONF_PORT: self.port}


async def start_site(profiles: Mapping[int, str], clock: ManualClock | None = None) -> Site:
    """Serve one simulated device per unit id, each from its profile key."""
    clock = clock or ManualClock()
    devices = {
        unit: simulated_device(get_profile(key), clock=clock) for unit, key in profiles.items()
    }
    simulator = Simulator(devices)
    port = await simulator.start_tcp("127.0.0.1", 0)
    return Site(simulator=simulator, port=port, devices=devices, clock=clock)


def device_subentry(
    profile: str, unit: int, *, uid: str, serial: str | None = None, title: str | None = None
) -> ConfigSubentryData:
    """Return a device subentry as the device flow creates it."""
    return ConfigSubentryData(
        data={CONF_PROFILE: profile, CONF_UNIT: unit, CONF_SERIAL_NUMBER: serial},
        subentry_type=SUBENTRY_DEVICE,
        title=title or f"{profile} {unit}",
        unique_id=uid,
    )


def link_entry(site: Site, *devices: ConfigSubentryData, **options: Any) -> MockConfigEntry:
    """Return a link entry for the site with these devices."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"tcp://127.0.0.1:{site.port}",
        data=site.link_data(),
        options=options,
        unique_id=f"tcp_127_0_0_1_{site.port}",
        subentries_data=list(devices),
    )
