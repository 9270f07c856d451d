"""Switches: writable on/off points (coils), and switches made of two device commands.

A switch made of commands (a UPS outlet: one command turns it on, another off) that
no point reads back has an assumed state: it shows the state last asked for, and
Home Assistant offers both "on" and "off" whatever it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeassistant.components.switch import SwitchDeviceClass, SwitchEntity, SwitchEntityDescription
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


def describe(spec: EntitySpec) -> PowerbusSwitchEntityDescription:
    """Return Home Assistant's description of a catalogue switch."""
    return PowerbusSwitchEntityDescription(
        **description_fields(spec),
        device_class=None if spec.device_class is None else SwitchDeviceClass(spec.device_class),
    )


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PowerbusConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the switches of every device on the link."""
    add_entities(entry.runtime_data, Platform.SWITCH, PowerbusSwitch.build, async_add_entities)


class PowerbusSwitch(PowerbusEntity, SwitchEntity):
    """Something a user switches on and off; the device reads it back where it can."""

    entity_description: PowerbusSwitchEntityDescription
    _asked: bool | None = None
    """What the user last switched an assumed-state switch to (None before that)."""

    @classmethod
    def build(
        cls, coordinator: PowerbusCoordinator, device: PowerbusDevice, spec: EntitySpec
    ) -> PowerbusSwitch:
        """Build the switch of a catalogue entity."""
        switch = cls(coordinator, device, describe(spec), spec)
        switch._attr_assumed_state = spec.assumed_state
        return switch

    @property
    def is_on(self) -> bool | None:
        """Whether the device reads it on; for an assumed state, what was last asked for."""
        if self.spec.assumed_state:
            return self._asked
        value = self.state_of_entity.value
        return None if value is None else bool(value)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Switch on."""
        await self._switch(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Switch off."""
        await self._switch(False)

    async def _switch(self, on: bool) -> None:
        """Ask the device; once it took the request, an assumed state shows what was asked."""
        await self._operate(on)
        if self.spec.assumed_state:
            self._asked = on
            self.async_write_ha_state()
