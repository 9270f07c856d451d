"""Home Assistant MQTT discovery payloads, built by pure functions from the engine's catalogue.

Nothing about an entity is decided here: key, platform, unit, device class, state
class, options, limits, category and "enabled by default" come from the engine's
:class:`~powerbus.EntitySpec`, and the unique id is the engine's
``entity_unique_id(device uid, key)``, the same the integration gives the entity.
This module only spells them in Home Assistant's discovery format, so that one
payload is valid on every supported release (2025.4 and 2026.x):

- device-based discovery (``<prefix>/device/<node>/config`` with ``dev``, ``o``
  and ``cmps``), or one message per component on request;
- at the top level only keys 2025.4 accepts (it refuses the whole message for an
  unknown one); in each component both ``object_id`` (2025.4) and
  ``default_entity_id`` (2026.x) name the entity id;
- availability is ``all`` of: the bridge's last will, the device's availability,
  and the entity's own presence in the state message (the engine leaves out an
  entity it calls unavailable), so every entity is available exactly when the
  engine says so;
- a switch that nothing reads back (an outlet switched by two commands) is
  optimistic: it has no state topic, and shows the state last asked for;
- sensors and binary sensors expire (``expire_after``) when no state arrives for a
  while, which only happens when the bridge stopped working without a last will.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
import json
from typing import Any

from powerbus import EntitySpec, Platform, Source, entity_unique_id

from .state import has_state
from .topics import Topics

ORIGIN_NAME = "powerbus-mqtt"
SUPPORT_URL = "https://github.com/powerbus/powerbus"
PAYLOAD_ON = "ON"
PAYLOAD_OFF = "OFF"
PAYLOAD_PRESS = "PRESS"
# The state message holds Python's JSON values; Jinja renders booleans as True/False.
STATE_TRUE = "True"
STATE_FALSE = "False"
EXPIRING = frozenset({Platform.SENSOR, Platform.BINARY_SENSOR})
COMMANDABLE = frozenset({Platform.SWITCH, Platform.SELECT, Platform.NUMBER, Platform.BUTTON})


def bridge_version() -> str:
    """Return the installed version of the bridge (the ``powerbus`` distribution)."""
    try:
        return metadata.version("powerbus")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True, kw_only=True, slots=True)
class Announcement:
    """What discovery says about one device: who it is and which of its entities it has."""

    device: str
    """The device id (its topic segment)."""
    name: str
    uid: str
    """The engine's device uid; entity unique ids derive from it."""
    manufacturer: str
    model: str
    profile: str
    serial: str | None
    firmware: str | None
    entities: tuple[EntitySpec, ...]
    enabled: frozenset[str]
    """The entities Home Assistant creates enabled (the others are created disabled)."""
    expire_after: int
    qos: int


def origin() -> dict[str, str]:
    """Return the ``o`` block: who publishes this discovery."""
    return {"name": ORIGIN_NAME, "sw": bridge_version(), "url": SUPPORT_URL}


def device_block(announcement: Announcement) -> dict[str, Any]:
    """Return the ``dev`` block of a device."""
    block: dict[str, Any] = {
        "ids": [announcement.uid],
        "name": announcement.name,
        "mf": announcement.manufacturer,
        "mdl": announcement.model,
        "mdl_id": announcement.profile,
    }
    if announcement.serial:
        block["sn"] = announcement.serial
    if announcement.firmware:
        block["sw"] = announcement.firmware
    return block


def device_config(topics: Topics, announcement: Announcement) -> tuple[str, dict[str, Any]]:
    """Return the device-based discovery topic and payload of one device."""
    payload: dict[str, Any] = {
        "dev": device_block(announcement),
        "o": origin(),
        "avty": _device_availability(topics, announcement.device),
        "avty_mode": "all",
        "qos": announcement.qos,
        "cmps": {spec.key: component(topics, announcement, spec) for spec in announcement.entities},
    }
    return topics.device_discovery(announcement.device), payload


def component_configs(
    topics: Topics, announcement: Announcement
) -> list[tuple[str, dict[str, Any]]]:
    """Return one discovery topic and payload per entity (the per-component form)."""
    shared = {
        "dev": device_block(announcement),
        "o": origin(),
        "avty": _device_availability(topics, announcement.device),
        "avty_mode": "all",
        "qos": announcement.qos,
    }
    configs = []
    for spec in announcement.entities:
        payload = {**shared, **component(topics, announcement, spec)}
        configs.append(
            (
                topics.component_discovery(spec.platform.value, announcement.device, spec.key),
                payload,
            )
        )
    return configs


def component(topics: Topics, announcement: Announcement, spec: EntitySpec) -> dict[str, Any]:
    """Return the configuration of one entity, as a ``cmps`` entry."""
    device = announcement.device
    object_id = f"{device}_{spec.key}"
    config: dict[str, Any] = {
        "p": spec.platform.value,
        "name": spec.name,
        "uniq_id": entity_unique_id(announcement.uid, spec.key),
        "object_id": object_id,
        "default_entity_id": f"{spec.platform.value}.{object_id}",
    }
    if spec.key not in announcement.enabled:
        config["en"] = False
    if spec.entity_category is not None:
        config["ent_cat"] = spec.entity_category.value
    if has_state(spec):
        state_topic = _state_topic(topics, device, spec)
        config["stat_t"] = state_topic
        config["val_tpl"] = f"{{{{ value_json.get('{spec.key}') }}}}"
        config["avty"] = [
            *_device_availability(topics, device, statistic=spec.source is Source.STATISTIC),
            {"t": state_topic, "val_tpl": _presence_template(spec.key)},
        ]
    elif spec.platform is not Platform.BUTTON:
        config["avty"] = _device_availability(topics, device)
        config["opt"] = True
    if spec.platform in EXPIRING:
        config["exp_aft"] = announcement.expire_after
    if spec.platform in COMMANDABLE:
        config["cmd_t"] = topics.set(device, spec.key)
    config.update(_platform_options(spec))
    return config


def removal(platform: Platform | str) -> dict[str, str]:
    """Return the ``cmps`` entry that removes a component from a device."""
    return {"p": str(platform)}


def encode(payload: dict[str, Any]) -> str:
    """Serialise a discovery payload compactly (key order kept, for readable diffs)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def _state_topic(topics: Topics, device: str, spec: EntitySpec) -> str:
    """Statistics have their own message (they change on every poll); the rest share one."""
    if spec.source is Source.STATISTIC:
        return topics.statistics(device)
    return topics.state(device)


def _device_availability(
    topics: Topics, device: str, *, statistic: bool = False
) -> list[dict[str, str]]:
    """Return the bridge's last will and the device's availability (statistics go on without it)."""
    entries = [{"t": topics.bridge_state}]
    if not statistic:
        entries.append({"t": topics.availability(device)})
    return entries


def _presence_template(key: str) -> str:
    """Available while the state message carries the entity."""
    return f"{{{{ 'online' if '{key}' in value_json else 'offline' }}}}"


def _platform_options(spec: EntitySpec) -> dict[str, Any]:
    """Return the options of the entity's platform: units, classes, payloads, limits."""
    options: dict[str, Any] = {}
    if spec.device_class is not None:
        options["dev_cla"] = spec.device_class
    if spec.platform is Platform.SENSOR:
        _put(options, "unit_of_meas", spec.unit)
        _put(options, "stat_cla", None if spec.state_class is None else spec.state_class.value)
        _put(options, "sug_dsp_prc", spec.precision)
        if spec.options:
            options["ops"] = list(spec.options)
    elif spec.platform is Platform.BINARY_SENSOR:
        options.update(pl_on=STATE_TRUE, pl_off=STATE_FALSE)
    elif spec.platform is Platform.SWITCH:
        options.update(pl_on=PAYLOAD_ON, pl_off=PAYLOAD_OFF)
        if not spec.assumed_state:
            options.update(stat_on=STATE_TRUE, stat_off=STATE_FALSE)
    elif spec.platform is Platform.SELECT:
        options["ops"] = list(spec.options)
    elif spec.platform is Platform.NUMBER:
        _put(options, "unit_of_meas", spec.unit)
        _put(options, "min", spec.minimum)
        _put(options, "max", spec.maximum)
        _put(options, "step", spec.step)
    elif spec.platform is Platform.BUTTON:
        options["pl_prs"] = PAYLOAD_PRESS
    return options


def _put(options: dict[str, Any], name: str, value: Any) -> None:
    """Set an option only when it has a value."""
    if value is not None:
        options[name] = value


def removed_components(
    previous: dict[str, Any] | None, current: Iterable[EntitySpec]
) -> dict[str, dict[str, str]]:
    """Return removal entries for components a previous device payload had and this one lacks."""
    if not previous or not isinstance(previous.get("cmps"), dict):
        return {}
    keys = {spec.key for spec in current}
    return {
        key: removal(str(entry.get("p", "")))
        for key, entry in previous["cmps"].items()
        if key not in keys and isinstance(entry, dict) and entry.get("p") and len(entry) > 1
    }
