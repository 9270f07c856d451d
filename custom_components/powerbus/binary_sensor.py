"""Binary sensors: device flags (alarms, states) and a UPS's on-battery, low-battery and alarms."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import PowerbusConfigEntry, PowerbusCoordinator, PowerbusDevice
from .engine import EntitySpec, Platform
from .entity import PowerbusEntity, add_entities, description_fields

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class PowerbusBinarySensorEntityDescription(BinarySensorEntityDescription):
    """A binary sensor described by the engine's catalogue."""

    spec: EntitySpec


def describe(spec: EntitySpec) -> PowerbusBinarySensorEntityDescription:
    """Return Home Assistant's description of a catalogue binary sensor."""
    return PowerbusBinarySensorEntityDescription(
        **description_fields(spec),
        device_class=(
            None if spec.device_class is None else BinarySensorDeviceClass(spec.device_class)
        ),
    )


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PowerbusConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the binary sensors of every device on the link."""
    add_entities(
        entry.runtime_data, Platform.BINARY_SENSOR, PowerbusBinarySensor.build, async_add_entities
    )


class PowerbusBinarySensor(PowerbusEntity, BinarySensorEntity):
    """A flag a device reports, or one derived from its points."""

    entity_description: PowerbusBinarySensorEntityDescription

    @classmethod
    def build(
        cls, coordinator: PowerbusCoordinator, device: PowerbusDevice, spec: EntitySpec
    ) -> PowerbusBinarySensor:
        """Build the binary sensor of a catalogue entity."""
        return cls(coordinator, device, describe(spec), spec)

    @property
    def is_on(self) -> bool | None:
        """Whether the flag is set; None when the device cannot tell."""
        value = self.state_of_entity.value
        return None if value is None else bool(value)
