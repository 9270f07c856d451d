"""Selects: writable points with named options (a meter's tariff, say) or a list of values."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import PowerbusConfigEntry, PowerbusCoordinator, PowerbusDevice
from .engine import EntitySpec, Platform
from .entity import PowerbusEntity, add_entities, description_fields

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class PowerbusSelectEntityDescription(SelectEntityDescription):
    """A select described by the engine's catalogue."""

    spec: EntitySpec


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PowerbusConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the selects of every device on the link."""
    add_entities(entry.runtime_data, Platform.SELECT, PowerbusSelect.build, async_add_entities)


class PowerbusSelect(PowerbusEntity, SelectEntity):
    """A setting a user picks from the profile's options."""

    entity_description: PowerbusSelectEntityDescription

    @classmethod
    def build(
        cls, coordinator: PowerbusCoordinator, device: PowerbusDevice, spec: EntitySpec
    ) -> PowerbusSelect:
        """Build the select of a catalogue entity."""
        description = PowerbusSelectEntityDescription(
            **description_fields(spec), options=list(spec.options)
        )
        return cls(coordinator, device, description, spec)

    @property
    def current_option(self) -> str | None:
        """The option the device reads now."""
        value = self.state_of_entity.value
        return None if value is None else str(value)

    async def async_select_option(self, option: str) -> None:
        """Write the chosen option to the device."""
        await self._operate(option)
