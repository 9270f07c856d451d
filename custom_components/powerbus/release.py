"""What the running Home Assistant release provides: its unit vocabulary and the shared links.

The entity catalogue is built for the units and device classes this release accepts
(taken from Home Assistant's own tables, so a newer release gets its newer units and
an older one never sees a unit it would refuse). All of Powerbus's config entries share
one link registry, so two entries on one serial port share one bus.
"""

from __future__ import annotations

from pathlib import Path

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.components.sensor.const import DEVICE_CLASS_UNITS
from homeassistant.const import __version__ as HA_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN, LOGGER
from .coordinator import monotonic_seconds
from .engine import LinkRegistry, ProfileLibrary, Vocabulary, builtin_profiles, load_profiles

_REGISTRY: HassKey[LinkRegistry] = HassKey(f"{DOMAIN}_links")
_PROFILES: HassKey[ProfileLibrary] = HassKey(f"{DOMAIN}_profiles")
PROFILE_DIRECTORY = "powerbus_profiles"
"""The folder of the configuration directory where users keep profiles of their own."""


async def async_load_profiles(hass: HomeAssistant) -> ProfileLibrary:
    """Load the shipped profiles and the user's own (``<config>/powerbus_profiles/*.yaml``).

    The files are read again each time (a link's set-up, a device flow), so a new or
    corrected file is taken without a restart. A file with a problem is left out, and
    every problem is logged once per file and text.
    """
    directory = Path(hass.config.path(PROFILE_DIRECTORY))
    library = await hass.async_add_executor_job(_load_profiles, directory)
    previous = hass.data.get(_PROFILES)
    for path, error in library.errors.items():
        if previous is None or str(previous.errors.get(path)) != str(error):
            LOGGER.warning("Profile file %s is left out: %s", path, error)
    hass.data[_PROFILES] = library
    return library


def profile_library(hass: HomeAssistant) -> ProfileLibrary:
    """Return the profiles loaded last (the shipped ones alone before any load)."""
    library = hass.data.get(_PROFILES)
    return library if library is not None else ProfileLibrary(profiles=builtin_profiles())


def _load_profiles(directory: Path) -> ProfileLibrary:
    """Load the profiles, with the user's folder where it exists (blocking: file reads)."""
    return load_profiles(directory if directory.is_dir() else None)


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
