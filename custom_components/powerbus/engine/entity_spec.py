"""What an entity is, independent of any front end: the entity catalogue's vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .models import CommandCall, EntityCategory, StateClass


class Platform(StrEnum):
    """The kind of entity, named as Home Assistant names its platforms."""

    SENSOR = "sensor"
    BINARY_SENSOR = "binary_sensor"
    SWITCH = "switch"
    SELECT = "select"
    NUMBER = "number"
    BUTTON = "button"


class Source(StrEnum):
    """Where an entity's state comes from."""

    POINT = "point"
    """One point of the profile."""
    COMMAND = "command"
    """Device commands: a button, or a switch that runs one command for on and one for off."""
    UPS = "ups"
    """Derived from a UPS's points in NUT's terms."""
    STATISTIC = "statistic"
    """The device's bus statistics."""


@dataclass(frozen=True, kw_only=True, slots=True)
class EntitySpec:
    """One entity of a device, in Home Assistant's terms, independent of any front end."""

    key: str
    """Unique within the device; the entity's unique id is ``<device uid>_<key>``."""
    platform: Platform
    source: Source
    name: str
    translation_key: str
    unit: str | None = None
    factor: float = 1.0
    """Multiply the point's value by this to get the entity's value in ``unit``."""
    device_class: str | None = None
    state_class: StateClass | None = None
    options: tuple[str, ...] = ()
    """Enum sensor and select options."""
    option_values: tuple[float, ...] = ()
    """For a select over a numeric point: the number behind each option."""
    entity_category: EntityCategory | None = None
    enabled_by_default: bool = True
    precision: int | None = None
    """Suggested display precision."""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    dangerous: bool = False
    point: str | None = None
    command: str | None = None
    covers: tuple[str, ...] = ()
    """The flag points a derived entity stands for; they are created disabled."""
    reads: tuple[str, ...] = ()
    """The points whose values the entity's state needs: poll these while it is enabled.

    A switch made of commands reads its state point here, if it has one.
    """
    turn_on: CommandCall | None = None
    """The command call that turns a switch made of commands on."""
    turn_off: CommandCall | None = None
    """The command call that turns a switch made of commands off."""
    assumed_state: bool = False
    """Nothing reads the entity's state: a front end shows the state last asked for."""
