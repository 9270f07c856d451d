"""The base of every Powerbus entity: one catalogue entity of one device on a link.

What an entity is (its platform, unit, classes, options, unique id) comes from the
engine's entity catalogue; what it shows comes from the engine's entity states. The
classes here only translate both into Home Assistant's terms, so the integration and
the MQTT bridge can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from homeassistant.const import EntityCategory
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import PowerbusCoordinator, PowerbusDevice, registered_device
from .engine import EntitySpec, EntityState, Platform, entity_unique_id
from .errors import action_errors


def description_fields(spec: EntitySpec) -> dict[str, Any]:
    """Return the fields of Home Assistant's entity description that every platform shares."""
    return {
        "key": spec.key,
        "spec": spec,
        "translation_key": spec.translation_key,
        "name": spec.name,
        "entity_category": (
            None if spec.entity_category is None else EntityCategory(spec.entity_category.value)
        ),
        "entity_registry_enabled_default": spec.enabled_by_default,
    }


VIA_DEVICE_ID = "via_device_id"


class PowerbusEntity(CoordinatorEntity[PowerbusCoordinator]):
    """One entity of a device, described by the engine's catalogue."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: PowerbusCoordinator,
        device: PowerbusDevice,
        description: EntityDescription,
        spec: EntitySpec,
    ) -> None:
        """Describe the entity; its context tells the coordinator which points it reads."""
        super().__init__(coordinator, context=(device.subentry.subentry_id, spec.reads))
        self.entity_description = description
        self.device = device
        self.spec = spec
        self._attr_unique_id = entity_unique_id(device.uid, spec.key)
        self._attr_device_info = device_info(coordinator, device)
        self._shown: tuple[bool, EntityState] | None = None

    @property
    def state_of_entity(self) -> EntityState:
        """Return what the engine says this entity shows now."""
        return self.device.states.get(self.spec.key, EntityState(available=False, value=None))

    @property
    def available(self) -> bool:
        """Available when the link's last update worked and the engine says so."""
        return super().available and self.state_of_entity.available

    @callback
    def _handle_coordinator_update(self) -> None:
        """Write the state only when what the entity shows changed.

        The link's coordinator tells every entity after every refresh (and a polled
        device's entities once more as soon as it was polled); most values of most
        devices are the same as before.
        """
        shown = (self.available, self.state_of_entity)
        if shown == self._shown:
            return
        self._shown = shown
        self.async_write_ha_state()

    async def async_added_to_hass(self) -> None:
        """Note what the state written as the entity is added shows."""
        await super().async_added_to_hass()
        self._shown = (self.available, self.state_of_entity)

    async def _operate(self, value: Any = None) -> None:
        """Act on the entity through the engine, then show the device's new state."""
        async with action_errors(self.coordinator, self.device):
            await self.coordinator.operate(self.device, self.spec, value)


def device_info(coordinator: PowerbusCoordinator, device: PowerbusDevice) -> DeviceInfo:
    """Return the registry entry of a device: identity, and the gateway it is reached through.

    Home Assistant 2026.10 and later name the gateway by its registry id
    (``via_device_id``); older releases take its identifier (``via_device``) and refuse
    the id.
    """
    identity = device.snapshot.identity
    info = DeviceInfo(
        identifiers={(DOMAIN, device.uid)},
        name=device.subentry.title,
        manufacturer=device.profile.manufacturer,
        model=identity.model if identity else device.profile.name,
        model_id=device.profile.key,
        serial_number=identity.serial if identity else None,
        sw_version=identity.firmware if identity else None,
    )
    gateway = coordinator.gateway_of(device)
    if gateway is None:
        return info
    if VIA_DEVICE_ID not in getattr(DeviceInfo, "__optional_keys__", ()):
        info["via_device"] = (DOMAIN, gateway.uid)
        return info
    hub = registered_device(coordinator.hass, coordinator.config_entry.entry_id, gateway.uid)
    if hub is not None:
        info[VIA_DEVICE_ID] = hub.id  # type: ignore[literal-required]
    return info


def add_entities(
    coordinator: PowerbusCoordinator,
    platform: Platform,
    build: Callable[[PowerbusCoordinator, PowerbusDevice, EntitySpec], Entity],
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the entities of ``platform`` for every device, each under its own subentry.

    Entities that stand for flag points (a UPS's "on battery", say) come first, so that
    they, not the disabled flag entities behind them, get the plain entity ids.
    """
    for device in coordinator.devices.values():
        specs = sorted(
            (spec for spec in device.specs if spec.platform is platform),
            key=lambda spec: not spec.covers,
        )
        entities: Iterable[Entity] = [build(coordinator, device, spec) for spec in specs]
        async_add_entities(entities, config_subentry_id=device.subentry.subentry_id)
