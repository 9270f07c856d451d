"""Every entity the catalogue builds is valid in the Home Assistant release under test.

The engine states Home Assistant's vocabulary itself (it must not import Home
Assistant). These tests hold that vocabulary, and every entity of every shipped
profile, against Home Assistant's own enums and unit tables, so that a typo or a
unit a release refuses never reaches Home Assistant or MQTT discovery.
"""

from __future__ import annotations

from homeassistant.components.binary_sensor import BinarySensorDeviceClass
from homeassistant.components.energy.validate import ENERGY_USAGE_UNITS
from homeassistant.components.number import NumberDeviceClass
from homeassistant.components.sensor import (
    DEVICE_CLASS_STATE_CLASSES,
    DEVICE_CLASS_UNITS,
    SensorDeviceClass,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
import pytest

from powerbus import (
    HA_2025_4,
    HA_2026_10,
    EntitySpec,
    Platform,
    Vocabulary,
    builtin_profiles,
    catalogue,
)

REACTIVE_ENERGY = getattr(SensorDeviceClass, "REACTIVE_ENERGY", None)
# The engine's vocabulary for the release these tests run on.
VOCABULARY = HA_2025_4 if REACTIVE_ENERGY is None else HA_2026_10


PROFILES = sorted(builtin_profiles())


def test_the_vocabulary_is_the_releases() -> None:
    """Each device class the engine's vocabulary names exists, with every unit it lists."""
    for device_class, units in VOCABULARY.sensor_units.items():
        ha_class = SensorDeviceClass(device_class)
        if ha_class is SensorDeviceClass.ENUM:
            continue
        assert units <= set(DEVICE_CLASS_UNITS[ha_class]), device_class


def test_the_vocabulary_does_not_outrun_the_release() -> None:
    """A vocabulary for a newer release is not used where a class or unit is missing."""
    older: Vocabulary = HA_2025_4
    assert REACTIVE_ENERGY is not None or not older.knows("reactive_energy")
    if REACTIVE_ENERGY is None:
        assert not older.accepts("apparent_power", "kVA")
        assert "kVA" not in {str(u) for u in DEVICE_CLASS_UNITS[SensorDeviceClass.APPARENT_POWER]}


@pytest.mark.parametrize("profile", PROFILES)
def test_every_entity_is_valid_here(profile: str) -> None:
    """Device class, unit, state class, options and category are Home Assistant's own."""
    problems = [
        f"{spec.key}: {problem}"
        for spec in catalogue(builtin_profiles()[profile], VOCABULARY)
        for problem in _problems(spec)
    ]
    assert problems == []


@pytest.mark.parametrize("profile", PROFILES)
def test_energy_counters_suit_the_energy_dashboard(profile: str) -> None:
    """Energy sensors count in a unit the dashboard accepts, as a total."""
    usage_units = ENERGY_USAGE_UNITS[SensorDeviceClass.ENERGY]
    totals = {SensorStateClass.TOTAL.value, SensorStateClass.TOTAL_INCREASING.value}
    energy = [
        spec
        for spec in catalogue(builtin_profiles()[profile], VOCABULARY)
        if spec.device_class == SensorDeviceClass.ENERGY.value
    ]
    wrong = [
        spec.key
        for spec in energy
        if spec.unit not in usage_units
        or spec.state_class is None
        or spec.state_class.value not in totals
    ]
    assert wrong == []


def _problems(spec: EntitySpec) -> list[str]:
    """Return what Home Assistant would refuse or warn about in one entity."""
    problems: list[str] = []
    try:
        if spec.entity_category is not None:
            EntityCategory(spec.entity_category.value)
        if spec.platform is Platform.BINARY_SENSOR and spec.device_class is not None:
            BinarySensorDeviceClass(spec.device_class)
        if spec.platform is Platform.NUMBER:
            if spec.device_class is not None:
                NumberDeviceClass(spec.device_class)
            if spec.step is None or spec.step <= 0:
                problems.append(f"step {spec.step}")
        if spec.platform is Platform.SENSOR:
            problems += _sensor_problems(spec)
    except ValueError as err:
        problems.append(str(err))
    return problems


def _sensor_problems(spec: EntitySpec) -> list[str]:
    """Return what the sensor platform would refuse or warn about."""
    state_class = None if spec.state_class is None else SensorStateClass(spec.state_class.value)
    if spec.device_class is None:
        return []
    device_class = SensorDeviceClass(spec.device_class)
    if device_class is SensorDeviceClass.ENUM:
        return [] if spec.options and spec.unit is None and state_class is None else ["enum"]
    if device_class is SensorDeviceClass.TIMESTAMP:
        return [] if spec.unit is None and state_class is None else ["timestamp"]
    problems = []
    if spec.unit not in DEVICE_CLASS_UNITS[device_class]:
        problems.append(f"unit {spec.unit!r} for {device_class}")
    if state_class is not None and state_class not in DEVICE_CLASS_STATE_CLASSES[device_class]:
        problems.append(f"state class {state_class} for {device_class}")
    return problems
