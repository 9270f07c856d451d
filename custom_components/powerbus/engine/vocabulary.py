"""Home Assistant's words for units, device classes and state classes, per HA version.

The entity catalogue speaks Home Assistant's vocabulary, so that neither the
integration nor the MQTT discovery can hand Home Assistant a unit or device class it
refuses. The vocabulary grew between releases, and a catalogue is built for one:

- :data:`HA_2025_4` (the oldest supported release): apparent power only in VA,
  reactive power only in var, and no ``reactive_energy`` device class (it arrived in
  2025.6). Readings in kVA and kvar are converted to VA and var; reactive energy is
  published without a device class.
- :data:`HA_2026_10`: kVA, kvar and ``reactive_energy`` (varh, kvarh) are known.

These tables hold the device classes the shipped profiles use. A test in the Home
Assistant environment checks them, and every catalogue entity, against Home
Assistant's own enums on each release the tests run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

UnitSet = frozenset[str | None]

_COMMON_UNITS: dict[str, UnitSet] = {
    "battery": frozenset({"%"}),
    "current": frozenset({"mA", "A"}),
    "duration": frozenset({"μs", "ms", "s", "min", "h", "d"}),
    "energy": frozenset(
        {
            "J",
            "kJ",
            "MJ",
            "GJ",
            "mWh",
            "Wh",
            "kWh",
            "MWh",
            "GWh",
            "TWh",
            "cal",
            "kcal",
            "Mcal",
            "Gcal",
        }
    ),
    "enum": frozenset({None}),
    "frequency": frozenset({"Hz", "kHz", "MHz", "GHz"}),
    "humidity": frozenset({"%"}),
    "power": frozenset({"mW", "W", "kW", "MW", "GW", "TW"}),
    "power_factor": frozenset({"%", None}),
    "temperature": frozenset({"°C", "°F", "K"}),
    "voltage": frozenset({"mV", "V", "kV", "MV"}),
}

BINARY_SENSOR_DEVICE_CLASSES = frozenset(
    {"battery", "heat", "plug", "power", "problem", "running", "safety", "connectivity"}
)
"""Binary sensor device classes the catalogue may use (known to every supported release)."""

ENERGY_DASHBOARD_UNITS = frozenset({"Wh", "kWh", "MWh", "MJ", "GJ"})
"""Energy units the Energy dashboard accepts on every supported release."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Vocabulary:
    """What one Home Assistant release accepts for the sensor device classes in use."""

    name: str
    sensor_units: Mapping[str, UnitSet]
    """Device class to the units it accepts (None: no unit)."""

    def accepts(self, device_class: str, unit: str | None) -> bool:
        """Whether a sensor of ``device_class`` may report in ``unit``."""
        return unit in self.sensor_units.get(device_class, frozenset())

    def knows(self, device_class: str) -> bool:
        """Whether the release has the sensor device class at all."""
        return device_class in self.sensor_units


HA_2025_4 = Vocabulary(
    name="2025.4",
    sensor_units=MappingProxyType(
        {
            **_COMMON_UNITS,
            "apparent_power": frozenset({"VA"}),
            "reactive_power": frozenset({"var"}),
        }
    ),
)
"""Home Assistant 2025.4 (the oldest release the integration supports)."""

HA_2026_10 = Vocabulary(
    name="2026.10",
    sensor_units=MappingProxyType(
        {
            **_COMMON_UNITS,
            "apparent_power": frozenset({"mVA", "VA", "kVA"}),
            "reactive_power": frozenset({"mvar", "var", "kvar"}),
            "reactive_energy": frozenset({"varh", "kvarh"}),
            "energy": _COMMON_UNITS["energy"] | {"thm"},
            "frequency": _COMMON_UNITS["frequency"] | {"mHz"},
            "current": _COMMON_UNITS["current"] | {"μA"},
        }
    ),
)
"""Home Assistant 2026.10 and later."""

UNIT_CONVERSIONS: Mapping[str, tuple[str, float]] = MappingProxyType(
    {"kVA": ("VA", 1000.0), "kvar": ("var", 1000.0), "kW": ("W", 1000.0), "kWh": ("Wh", 1000.0)}
)
"""A unit a release may refuse, and the base unit (with its factor) to convert it to."""
