"""What the running Home Assistant release provides: its unit vocabulary and the shared links.

The entity catalogue is built for the units and device classes this release accepts
(taken from Home Assistant's own tables, so a newer release gets its newer units and
an older one never sees a unit it would refuse). All of Powerbus's config entries share
one link registry, so two entries on one serial port share one bus.
"""

from __future__ import annotations

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.components.sensor.const import DEVICE_CLASS_UNITS
from homeassistant.const import __version__ as HA_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .coordinator import monotonic_seconds
from .engine import LinkRegistry, Vocabulary

_REGISTRY: HassKey[LinkRegistry] = HassKey(f"{DOMAIN}_links")


def link_registry(hass: HomeAssistant) -> LinkRegistry:
    """Return the link registry all of Powerbus's entries share."""
    registry = hass.data.get(_REGISTRY)
    if registry is None:
        registry = hass.data[_REGISTRY] = LinkRegistry(clock=monotonic_seconds)
    return registry


def release_vocabulary() -> Vocabulary:
    """Return the sensor units this Home Assistant release accepts, per device class."""
    units = {
        str(device_class.value): frozenset(None if unit is None else str(unit) for unit in allowed)
        for device_class, allowed in DEVICE_CLASS_UNITS.items()
    }
    units[SensorDeviceClass.ENUM.value] = frozenset({None})
    return Vocabulary(name=HA_VERSION, sensor_units=units)
