"""Sensors: every read-only value of a device, a UPS's status, and bus statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .coordinator import PowerbusConfigEntry, PowerbusCoordinator, PowerbusDevice
from .engine import EntitySpec, Platform
from .entity import PowerbusEntity, add_entities, description_fields

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class PowerbusSensorEntityDescription(SensorEntityDescription):
    """A sensor described by the engine's catalogue."""

    spec: EntitySpec


def describe(spec: EntitySpec) -> PowerbusSensorEntityDescription:
    """Return Home Assistant's description of a catalogue sensor."""
    return PowerbusSensorEntityDescription(
        **description_fields(spec),
        native_unit_of_measurement=spec.unit,
        device_class=None if spec.device_class is None else SensorDeviceClass(spec.device_class),
        state_class=None if spec.state_class is None else SensorStateClass(spec.state_class.value),
        options=list(spec.options) if spec.options else None,
        suggested_display_precision=spec.precision,
    )


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PowerbusConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of every device on the link."""
    add_entities(entry.runtime_data, Platform.SENSOR, PowerbusSensor.build, async_add_entities)


class PowerbusSensor(PowerbusEntity, SensorEntity):
    """A value a device reports."""

    entity_description: PowerbusSensorEntityDescription

    @classmethod
    def build(
        cls, coordinator: PowerbusCoordinator, device: PowerbusDevice, spec: EntitySpec
    ) -> PowerbusSensor:
        """Build the sensor of a catalogue entity."""
        return cls(coordinator, device, describe(spec), spec)

    @property
    def native_value(self) -> StateType | datetime:
        """The value the engine shows, as Home Assistant expects it."""
        value = self.state_of_entity.value
        if value is None:
            return None
        if self.device_class is SensorDeviceClass.TIMESTAMP and isinstance(value, int | float):
            return datetime.fromtimestamp(value, tz=UTC)
        return value
