"""Switches: writable on/off points (coils) of a device."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import PowerbusConfigEntry, PowerbusCoordinator, PowerbusDevice
from .engine import EntitySpec, Platform
from .entity import PowerbusEntity, add_entities, description_fields

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class PowerbusSwitchEntityDescription(SwitchEntityDescription):
    """A switch described by the engine's catalogue."""

    spec: EntitySpec


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PowerbusConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the switches of every device on the link."""
    add_entities(entry.runtime_data, Platform.SWITCH, PowerbusSwitch.build, async_add_entities)


class PowerbusSwitch(PowerbusEntity, SwitchEntity):
    """A point a user switches on and off; the device reads it back."""

    entity_description: PowerbusSwitchEntityDescription

    @classmethod
    def build(
        cls, coordinator: PowerbusCoordinator, device: PowerbusDevice, spec: EntitySpec
    ) -> PowerbusSwitch:
        """Build the switch of a catalogue entity."""
        return cls(
            coordinator, device, PowerbusSwitchEntityDescription(**description_fields(spec)), spec
        )

    @property
    def is_on(self) -> bool | None:
        """Whether the point reads on."""
        value = self.state_of_entity.value
        return None if value is None else bool(value)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Switch the point on."""
        await self._operate(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Switch the point off."""
        await self._operate(False)
