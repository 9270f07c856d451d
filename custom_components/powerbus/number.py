"""Numbers: writable setpoints of a device, within the limits its profile declares."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import PowerbusConfigEntry, PowerbusCoordinator, PowerbusDevice
from .engine import EntitySpec, Platform
from .entity import PowerbusEntity, add_entities, description_fields

PARALLEL_UPDATES = 1
_UNBOUNDED = 1e9


@dataclass(frozen=True, kw_only=True)
class PowerbusNumberEntityDescription(NumberEntityDescription):
    """A number described by the engine's catalogue."""

    spec: EntitySpec


def describe(spec: EntitySpec) -> PowerbusNumberEntityDescription:
    """Return Home Assistant's description of a catalogue number."""
    return PowerbusNumberEntityDescription(
        **description_fields(spec),
        native_unit_of_measurement=spec.unit,
        device_class=None if spec.device_class is None else NumberDeviceClass(spec.device_class),
        native_min_value=-_UNBOUNDED if spec.minimum is None else spec.minimum,
        native_max_value=_UNBOUNDED if spec.maximum is None else spec.maximum,
        native_step=spec.step,
        mode=NumberMode.BOX,
    )


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PowerbusConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the numbers of every device on the link."""
    add_entities(entry.runtime_data, Platform.NUMBER, PowerbusNumber.build, async_add_entities)


class PowerbusNumber(PowerbusEntity, NumberEntity):
    """A setpoint a user sets; the device reads it back."""

    entity_description: PowerbusNumberEntityDescription

    @classmethod
    def build(
        cls, coordinator: PowerbusCoordinator, device: PowerbusDevice, spec: EntitySpec
    ) -> PowerbusNumber:
        """Build the number of a catalogue entity."""
        return cls(coordinator, device, describe(spec), spec)

    @property
    def native_value(self) -> float | None:
        """The setpoint the device reads now."""
        value = self.state_of_entity.value
        return float(value) if isinstance(value, int | float) else None

    async def async_set_native_value(self, value: float) -> None:
        """Write a new setpoint."""
        await self._operate(value)
