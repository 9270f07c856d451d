"""Buttons: device commands without parameters (battery test, silence alarm, resets)."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import PowerbusConfigEntry, PowerbusCoordinator, PowerbusDevice
from .engine import EntitySpec, Platform
from .entity import PowerbusEntity, add_entities, description_fields

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class PowerbusButtonEntityDescription(ButtonEntityDescription):
    """A button described by the engine's catalogue."""

    spec: EntitySpec


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PowerbusConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the buttons of every device on the link."""
    add_entities(entry.runtime_data, Platform.BUTTON, PowerbusButton.build, async_add_entities)


class PowerbusButton(PowerbusEntity, ButtonEntity):
    """A device command; a dangerous one is created disabled and runs once enabled."""

    entity_description: PowerbusButtonEntityDescription

    @classmethod
    def build(
        cls, coordinator: PowerbusCoordinator, device: PowerbusDevice, spec: EntitySpec
    ) -> PowerbusButton:
        """Build the button of a catalogue entity."""
        return cls(
            coordinator, device, PowerbusButtonEntityDescription(**description_fields(spec)), spec
        )

    async def async_press(self) -> None:
        """Run the command."""
        await self._operate()
