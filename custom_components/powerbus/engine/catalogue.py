"""The entity catalogue: from a profile, the entities both front ends publish.

The Home Assistant integration and the MQTT bridge's discovery both build their
entities from :func:`catalogue`, so they can never disagree on which entities a
device has, their keys, units, classes or unique ids (``uid.py``).

Which platform a point becomes:

- a point that reads as a bool (a bool type or one bit) is a **binary sensor**; a
  writable one (a coil) is a **switch**;
- a writable point with named options is a **select**; a writable number is a
  **number** (minimum, maximum and step from the profile's write rules), or a
  **select** of its allowed values when the profile lists them;
- anything else is a **sensor** (an ``enum`` sensor when the point has named options).

Writable points whose writes the profile calls dangerous (a Modbus address, a baud
rate, a counter reset) stay read-only entities: they are written only through a
command with an explicit confirmation. A device command without required
parameters is a **button**; a dangerous one is created disabled and marked
``dangerous``, so that pressing it takes a deliberate step (enabling it) first.
A profile's **switch** made of two command calls (a UPS outlet: one command turns
it on, another off) is a switch entity carrying both calls; it is dangerous, and
created disabled, when either command is, it reads its state point when the
profile names one, and has an assumed state when it names none.
Commands with required parameters are reached through each front end's command
service or topic. A point in a read-only table (an input register, a discrete input)
is never a control, whatever its write rules say, and neither is a text point.

UPS profiles also get the derived entities of ``ups_entities.py``; every device gets
the link and device statistics as diagnostic sensors, disabled by default.

Units follow a Home Assistant :class:`~.vocabulary.Vocabulary`: a unit the release
refuses for its device class is converted to one it accepts (kVA to VA, say), and a
device class the release does not know is left out.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .entity_spec import EntitySpec, Platform, Source
from .models import Command, DataType, EntityCategory, Point, Profile, Switch, Table
from .ups_entities import STATISTICS, ups_specs
from .vocabulary import HA_2025_4, UNIT_CONVERSIONS, Vocabulary

_INTEGER_TYPES = frozenset(
    {
        DataType.U16,
        DataType.S16,
        DataType.U32,
        DataType.S32,
        DataType.U64,
        DataType.S64,
        DataType.BCD,
        DataType.MOD10,
    }
)
_TEXT_TYPES = frozenset({DataType.STRING, DataType.HEX})
_WRITABLE_TABLES = frozenset({Table.COIL, Table.HOLDING_REGISTER})
_SHOWN_ONLY = frozenset({Platform.SENSOR, Platform.BINARY_SENSOR})
_FLOAT_STEP = 0.001


def catalogue(profile: Profile, vocabulary: Vocabulary = HA_2025_4) -> tuple[EntitySpec, ...]:
    """Return every entity a device with ``profile`` has, for a Home Assistant release."""
    ups = ups_specs(profile)
    covered = {point for spec in ups for point in spec.covers}
    derived_names = {spec.name for spec in ups}
    specs = [
        _demoted(_point_spec(point, vocabulary, demoted=True), derived_names)
        if point.key in covered
        else _point_spec(point, vocabulary, demoted=False)
        for point in profile.points
    ]
    specs += [_button(command) for command in profile.commands if _is_button(command)]
    specs += [_switch(switch, profile) for switch in profile.switches]
    specs += ups
    specs += STATISTICS
    return tuple(specs)


def _demoted(spec: EntitySpec, derived_names: set[str]) -> EntitySpec:
    """Name a flag point a derived entity stands for apart from it, where their names are equal.

    "On battery" is both a Liebert's status bit and the derived entity every UPS has;
    the disabled bit is called "On battery (device flag)", so that an entity list never
    shows two entities of one name.
    """
    if spec.name not in derived_names:
        return spec
    return replace(spec, name=f"{spec.name} (device flag)")


def _point_spec(point: Point, vocabulary: Vocabulary, *, demoted: bool) -> EntitySpec:
    """Return the entity of one point."""
    base = EntitySpec(
        key=point.key,
        platform=Platform.SENSOR,
        source=Source.POINT,
        name=point.name,
        translation_key=point.key,
        entity_category=point.entity_category,
        enabled_by_default=point.enabled_by_default and not demoted,
        point=point.key,
        reads=(point.key,),
    )
    if point.bit is not None or point.data_type is DataType.BOOL:
        return _binary(point, base)
    if _settable(point) and point.data_type not in _TEXT_TYPES:
        if point.options:
            return _with(base, Platform.SELECT, options=_labels(point))
        if point.write is not None and point.write.choices:
            choices = point.write.choices
            return _with(
                base,
                Platform.SELECT,
                options=tuple(_number_label(c) for c in choices),
                option_values=choices,
                unit=point.unit,
            )
        return _number(point, base, vocabulary)
    if point.options:
        return _with(base, Platform.SENSOR, device_class="enum", options=_labels(point))
    return _sensor(point, base, vocabulary)


def _settable(point: Point) -> bool:
    """Whether a user may change the point from its entity: safely writable, in a writable table."""
    return (
        point.write is not None
        and not point.write.dangerous
        and point.table in _WRITABLE_TABLES
        and point.bit is None
    )


def _labels(point: Point) -> tuple[str, ...]:
    """Return a point's option labels, each once (two raw values may share a label)."""
    return tuple(dict.fromkeys(point.options.values()))


def _number_label(number: float) -> str:
    """Return the option label of an allowed value: the number itself, exactly."""
    return str(int(number)) if number.is_integer() else repr(number)


def _binary(point: Point, base: EntitySpec) -> EntitySpec:
    """Return a bool point's entity: a switch when it may be written, else a binary sensor."""
    writable = _settable(point)
    return _with(
        base,
        Platform.SWITCH if writable else Platform.BINARY_SENSOR,
        device_class=None if writable else point.device_class,
    )


def _sensor(point: Point, base: EntitySpec, vocabulary: Vocabulary) -> EntitySpec:
    """Return a read-only value with its unit, class and precision in the release's words."""
    unit, factor, device_class = _in_vocabulary(point.unit, point.device_class, vocabulary)
    return _with(
        base,
        Platform.SENSOR,
        unit=unit,
        factor=factor,
        device_class=device_class,
        state_class=point.state_class,
        precision=_precision(point.precision, factor),
    )


def _number(point: Point, base: EntitySpec, vocabulary: Vocabulary) -> EntitySpec:
    """Return a writable number with its limits and step."""
    assert point.write is not None  # only writable points reach here
    unit, factor, device_class = _in_vocabulary(point.unit, point.device_class, vocabulary)
    step = abs(point.scale) if point.data_type in _INTEGER_TYPES else _float_step(point)
    return _with(
        base,
        Platform.NUMBER,
        unit=unit,
        factor=factor,
        device_class=device_class,
        minimum=None if point.write.minimum is None else point.write.minimum * factor,
        maximum=None if point.write.maximum is None else point.write.maximum * factor,
        step=step * factor,
        precision=_precision(point.precision, factor),
    )


def _float_step(point: Point) -> float:
    """Return the step of a float setting: its display precision, or a thousandth."""
    return 10.0**-point.precision if point.precision is not None else _FLOAT_STEP


def _in_vocabulary(
    unit: str | None, device_class: str | None, vocabulary: Vocabulary
) -> tuple[str | None, float, str | None]:
    """Return (unit, factor, device class) as the release accepts them."""
    if device_class is None:
        return unit, 1.0, None
    if not vocabulary.knows(device_class):
        return unit, 1.0, None
    if vocabulary.accepts(device_class, unit):
        return unit, 1.0, device_class
    if unit is not None and unit in UNIT_CONVERSIONS:
        base_unit, factor = UNIT_CONVERSIONS[unit]
        if vocabulary.accepts(device_class, base_unit):
            return base_unit, factor, device_class
    return unit, 1.0, None


def _precision(precision: int | None, factor: float) -> int | None:
    """Keep the displayed significance when a value is converted to a smaller unit."""
    if precision is None or factor == 1.0:
        return precision
    shift = round(len(f"{factor:.0f}") - 1)
    return max(precision - shift, 0)


def _is_button(command: Command) -> bool:
    """Tell whether a command needs no parameter from the user."""
    return all(param.default is not None for param in command.params)


def _button(command: Command) -> EntitySpec:
    """Return the button that runs a command with its default parameters."""
    return EntitySpec(
        key=command.key,
        platform=Platform.BUTTON,
        source=Source.COMMAND,
        name=command.name,
        translation_key=command.key,
        entity_category=EntityCategory.CONFIG,
        enabled_by_default=not command.dangerous,
        dangerous=command.dangerous,
        command=command.key,
    )


def _switch(switch: Switch, profile: Profile) -> EntitySpec:
    """Return the switch that runs one command call to turn on and another to turn off."""
    dangerous = any(
        profile.command(call.command).dangerous for call in (switch.turn_on, switch.turn_off)
    )
    return EntitySpec(
        key=switch.key,
        platform=Platform.SWITCH,
        source=Source.COMMAND,
        name=switch.name,
        translation_key=switch.key,
        device_class=switch.device_class,
        enabled_by_default=not dangerous,
        dangerous=dangerous,
        reads=() if switch.state is None else (switch.state,),
        turn_on=switch.turn_on,
        turn_off=switch.turn_off,
        assumed_state=switch.state is None,
    )


def _with(base: EntitySpec, platform: Platform, **changes: Any) -> EntitySpec:
    """Return a copy of ``base`` on another platform with some fields changed.

    A setting shown on a platform that only shows (a sensor, a binary sensor) is
    diagnostic there: Home Assistant refuses such an entity in the config category.
    """
    spec = replace(base, platform=platform, **changes)
    if platform in _SHOWN_ONLY and spec.entity_category is EntityCategory.CONFIG:
        return replace(spec, entity_category=EntityCategory.DIAGNOSTIC)
    return spec
