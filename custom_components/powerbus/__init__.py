"""The Powerbus integration: Modbus energy meters, UPS units and gateways in Home Assistant.

A config entry is a link (a serial port, a Modbus TCP endpoint or a serial server);
its config subentries are the devices on it. One coordinator per link drives the
engine's scheduler; every device gets the entities of the engine's catalogue.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import Platform as HaPlatform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.helpers.typing import ConfigType

from .const import (
    CONF_PROFILE,
    CONF_SERIAL_NUMBER,
    CONF_UNIT,
    DOMAIN,
    LINK_MINOR_VERSION,
    LINK_VERSION,
    LOGGER,
    SUBENTRY_DEVICE,
)
from .coordinator import (
    GATEWAY_FAMILY,
    PowerbusConfigEntry,
    PowerbusCoordinator,
    PowerbusDevice,
    monotonic_seconds,
    wall_seconds,
)
from .engine import (
    Bus,
    ConfigError,
    DeviceSession,
    EntitySpec,
    LinkConflictError,
    LinkSettings,
    PollIntervals,
    Profile,
    ProfileError,
    ProfileLibrary,
    Vocabulary,
    catalogue,
    entity_unique_id,
)
from .entity import device_info
from .learned import LearnedRefusals
from .release import async_load_profiles, link_registry, release_vocabulary
from .repairs import async_watch_repairs, repair_points
from .services import async_setup_services
from .settings import link_settings, poll_intervals
from .shared_link import async_shared_bus

PLATFORMS = [
    HaPlatform.SENSOR,
    HaPlatform.BINARY_SENSOR,
    HaPlatform.SWITCH,
    HaPlatform.SELECT,
    HaPlatform.NUMBER,
    HaPlatform.BUTTON,
]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's services (they work on any loaded link)."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: PowerbusConfigEntry) -> bool:
    """Open the link, build a session per device and read every device once."""
    settings = link_settings(entry.data)
    library = await async_load_profiles(hass)
    # Where Home Assistant shares Modbus connections between integrations, the link is one
    # of them; elsewhere Powerbus owns it, shared among its own entries.
    bus = await async_shared_bus(hass, entry, settings, library)
    if bus is None:
        registry = link_registry(hass)
        try:
            bus = registry.acquire(settings)
        except LinkConflictError as err:
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key="link_in_use",
                translation_placeholders={"link": settings.describe(), "error": str(err)},
            ) from err
        entry.async_on_unload(partial(registry.release, bus))
    learned = LearnedRefusals(hass, entry)
    await learned.async_load()
    vocabulary = release_vocabulary()
    intervals = poll_intervals(entry.options)
    devices = [
        _device(hass, bus, settings, subentry, intervals, vocabulary, learned, library)
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_DEVICE
    ]
    coordinator = PowerbusCoordinator(
        hass, entry, bus=bus, link=settings, devices=devices, vocabulary=vocabulary
    )
    entry.async_on_unload(coordinator.async_add_listener(lambda: learned.async_note(coordinator)))
    entry.async_on_unload(async_watch_repairs(hass, coordinator))
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    _register_gateways(hass, entry, coordinator)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    entry.async_on_unload(partial(learned.async_save, coordinator))
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: PowerbusConfigEntry) -> bool:
    """Bring a link stored by an older Powerbus up to this version's format.

    Format 1.0 differs from 1.1 only in version number. A link stored by a newer
    Powerbus (a higher major version) is refused rather than misread.
    """
    if entry.version > LINK_VERSION:
        LOGGER.error(
            "%s was set up by a newer Powerbus (format %s.%s); this one reads %s.%s",
            entry.title,
            entry.version,
            entry.minor_version,
            LINK_VERSION,
            LINK_MINOR_VERSION,
        )
        return False
    if entry.minor_version < LINK_MINOR_VERSION:
        hass.config_entries.async_update_entry(entry, minor_version=LINK_MINOR_VERSION)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: PowerbusConfigEntry) -> bool:
    """Unload the platforms; the link closes when its last user lets go."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def _async_reload(hass: HomeAssistant, entry: PowerbusConfigEntry) -> None:
    """Reload the link when its options or devices change."""
    hass.config_entries.async_schedule_reload(entry.entry_id)


def _device(
    hass: HomeAssistant,
    bus: Bus,
    link: LinkSettings,
    subentry: ConfigSubentry,
    intervals: PollIntervals,
    vocabulary: Vocabulary,
    learned: LearnedRefusals,
    library: ProfileLibrary,
) -> PowerbusDevice:
    """Build the session and the entities of one configured device."""
    try:
        profile = library.get(subentry.data[CONF_PROFILE])
    except ProfileError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="unknown_profile",
            translation_placeholders={"device": subentry.title, "error": str(err)},
        ) from err
    uid = subentry.unique_id or subentry.subentry_id
    specs = catalogue(profile, vocabulary)

    def session(refusals: dict[str, Any] | None) -> DeviceSession:
        return DeviceSession(
            bus,
            profile,
            int(subentry.data[CONF_UNIT]),
            intervals=intervals,
            enabled=_enabled_points(hass, uid, profile, specs),
            expected_serial=subentry.data.get(CONF_SERIAL_NUMBER),
            learned=refusals,
            link=link,
            clock=monotonic_seconds,
            wall_clock=wall_seconds,
        )

    try:
        device_session = session(learned.of(subentry.subentry_id))
    except ConfigError as err:
        LOGGER.warning("%s: forgetting stored refusals that no longer fit: %s", subentry.title, err)
        device_session = session(None)
    return PowerbusDevice(subentry=subentry, uid=uid, session=device_session, specs=specs)


def _register_gateways(
    hass: HomeAssistant, entry: PowerbusConfigEntry, coordinator: PowerbusCoordinator
) -> None:
    """Put the link's gateways in the device registry first, so devices behind them can point there."""
    registry = dr.async_get(hass)
    for device in coordinator.devices.values():
        if coordinator.gateway_of(device) is None and device.profile.family == GATEWAY_FAMILY:
            registry.async_get_or_create(
                config_entry_id=entry.entry_id,
                config_subentry_id=device.subentry.subentry_id,
                **device_info(coordinator, device),
            )


def _enabled_points(
    hass: HomeAssistant, uid: str, profile: Profile, specs: tuple[EntitySpec, ...]
) -> set[str]:
    """Return the points the device's enabled entities read (the registry's word, else the default)."""
    registry = er.async_get(hass)
    points: set[str] = set()
    for spec in specs:
        entity_id = registry.async_get_entity_id(
            spec.platform.value, DOMAIN, entity_unique_id(uid, spec.key)
        )
        entry = registry.async_get(entity_id) if entity_id else None
        enabled = spec.enabled_by_default if entry is None else not entry.disabled
        if enabled:
            points.update(spec.reads)
    return points | repair_points(profile)
