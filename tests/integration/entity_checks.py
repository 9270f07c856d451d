"""Checks of a device's entities against its simulator, and a stable dump of them for snapshots.

:func:`check_device_entities` asserts what a user sees of every catalogue entity: its
platform, whether it is enabled by default, its translated name, and that its state is
the simulated device's value (in the unit the entity shows). :func:`entity_dump` writes
one line per entity (name, state and unit, classes, category, enabled) that reads the
same on every Home Assistant release, except where a release's units differ:
:func:`release_tag` names the snapshot variant then.
"""

from __future__ import annotations

from functools import cache
import json
from pathlib import Path
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.components.sensor.const import DEVICE_CLASS_UNITS
from homeassistant.const import ATTR_FRIENDLY_NAME, STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.powerbus.coordinator import PowerbusDevice
from powerbus import (
    HA_2025_4,
    HA_2026_10,
    builtin_profiles,
    catalogue,
    entity_unique_id,
    get_profile,
)

from .harness import simulated_value
from .simulated import Site

_TRANSLATIONS = (
    Path(__file__).parents[2] / "custom_components" / "powerbus" / "translations" / "en.json"
)


@cache
def _entity_names() -> dict[str, dict[str, Any]]:
    """Return the English entity translations, by platform and translation key."""
    names: dict[str, dict[str, Any]] = json.loads(_TRANSLATIONS.read_text(encoding="utf-8"))[
        "entity"
    ]
    return names


def translated_name(platform: str, translation_key: str) -> str:
    """Return the English name of an entity, as the translation file gives it."""
    name: str = _entity_names()[platform][translation_key]["name"]
    return name


def translated_states(platform: str, translation_key: str) -> set[str]:
    """Return the states an entity's translation names (an enum sensor's options)."""
    return set(_entity_names()[platform][translation_key].get("state", {}))


def release_tag(profile_key: str) -> str | None:
    """Name the release variant of a profile's snapshot, or None when no release differs.

    Home Assistant 2025.4 knows apparent power only in VA and reactive power only in
    var, and no reactive energy device class; later releases do.
    """
    profile = get_profile(profile_key)
    if catalogue(profile, HA_2025_4) == catalogue(profile, HA_2026_10):
        return None
    newer = "kvar" in DEVICE_CLASS_UNITS[SensorDeviceClass.REACTIVE_POWER]
    return "2026.10" if newer else "2025.4"


def check_device_entities(
    hass: HomeAssistant, site: Site, unit: int, device: PowerbusDevice
) -> int:
    """Assert every catalogue entity of a device as a user sees it; return how many are enabled."""
    registry = er.async_get(hass)
    enabled = 0
    for spec in device.specs:
        platform = spec.platform.value
        found = registry.async_get_entity_id(
            platform, "powerbus", entity_unique_id(device.uid, spec.key)
        )
        assert found is not None, f"{spec.key}: no {platform} entity"
        entry = registry.async_get(found)
        assert entry is not None
        assert entry.translation_key == spec.translation_key
        assert (entry.disabled_by is None) is spec.enabled_by_default, spec.key
        if entry.disabled_by is not None:
            assert hass.states.get(found) is None
            continue
        enabled += 1
        state = hass.states.get(found)
        assert state is not None, f"{found} has no state"
        name = translated_name(platform, spec.translation_key)
        assert state.attributes[ATTR_FRIENDLY_NAME] == f"{device.subentry.title} {name}"
        if spec.point is not None:
            _check_value(
                site, unit, spec.point, platform, spec.options, state.state, state.attributes
            )
    return enabled


def _check_value(
    site: Site,
    unit: int,
    key: str,
    platform: str,
    options: tuple[str, ...],
    shown: str,
    attributes: Any,
) -> None:
    """Assert that an entity shows the simulated point's value."""
    value = site.devices[unit].get_value(key)
    if value is None or (options and isinstance(value, str) and value not in options):
        assert shown == STATE_UNKNOWN, f"{key}: {shown!r}, the simulator holds {value!r}"
        return
    if platform in ("binary_sensor", "switch"):
        assert shown == (STATE_ON if value else STATE_OFF), f"{key}: {shown!r} for {value!r}"
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or options:
        assert shown == str(value), f"{key}: {shown!r}, the simulator holds {value!r}"
        return
    expected = simulated_value(site, unit, key, attributes.get("unit_of_measurement"))
    assert float(shown) == pytest.approx(expected, rel=1e-6, abs=1e-9), key


def entity_dump(hass: HomeAssistant, device: PowerbusDevice) -> dict[str, str]:
    """Return one line per entity of a device: name, state and unit, classes, category."""
    registry = er.async_get(hass)
    lines: dict[str, str] = {}
    for spec in device.specs:
        found = registry.async_get_entity_id(
            spec.platform.value, "powerbus", entity_unique_id(device.uid, spec.key)
        )
        assert found is not None
        entry = registry.async_get(found)
        assert entry is not None
        state = hass.states.get(found)
        shown = "disabled" if state is None else state.state
        classes = " ".join(
            str(part)
            for part in (
                entry.unit_of_measurement,
                entry.original_device_class,
                (entry.capabilities or {}).get("state_class"),
            )
            if part is not None
        )
        category = entry.entity_category.value if entry.entity_category else "-"
        lines[found] = " | ".join((entry.original_name or "", shown, classes or "-", category))
    return lines


def catalogue_keys() -> dict[str, set[str]]:
    """Return the translation keys of every shipped profile's entities, by platform."""
    keys: dict[str, set[str]] = {}
    for profile_key in builtin_profiles():
        for spec in catalogue(get_profile(profile_key), HA_2026_10):
            keys.setdefault(spec.platform.value, set()).add(spec.translation_key)
    return keys
