"""The state of each catalogue entity from a device snapshot, and what a user's action does.

Both front ends call :func:`entity_states` to show entities and :func:`operate` to act
on them, so "available", the value shown and the write a switch or number makes are
decided once:

- An entity of a point is available when the device answers and the point was read
  validly in its last poll; otherwise it is unavailable (never an old value shown as
  fresh). Its value is the point's value times the entity's unit factor; a select
  over a numeric point shows the option of its number, and a value that is none of
  an entity's options (a raw value the profile does not name) is unknown (None).
- A derived UPS entity and a button are available when the device answers; a derived
  value that the points cannot tell is unknown (None).
- A switch made of commands is available when the device answers; its value is its
  state point's (None when the point was not read validly), and None when it has no
  state point: the front ends show the state last asked for (an assumed state).
- Statistics are always available: they describe the bus even while the device is down.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import math

from .commands import CommandResult
from .entity_spec import EntitySpec, Platform, Source
from .errors import WriteValidationError
from .models import Profile, Reading, Value, WriteSpec
from .session import DeviceSession
from .snapshot import DeviceSnapshot
from .ups_entities import STATISTIC_PREFIX, is_ups, ups_values


@dataclass(frozen=True, kw_only=True, slots=True)
class EntityState:
    """What an entity shows now."""

    available: bool
    value: Value | None


def entity_states(
    profile: Profile, specs: Iterable[EntitySpec], snapshot: DeviceSnapshot
) -> dict[str, EntityState]:
    """Return the state of every entity in ``specs``, keyed by entity key."""
    derived = ups_values(profile, snapshot.values()) if is_ups(profile) else {}
    states: dict[str, EntityState] = {}
    for spec in specs:
        if spec.source is Source.STATISTIC:
            key = spec.key.removeprefix(STATISTIC_PREFIX)
            states[spec.key] = EntityState(available=True, value=snapshot.stats.get(key))
        elif spec.source is Source.UPS:
            value = derived.get(spec.key) if snapshot.available else None
            states[spec.key] = EntityState(available=snapshot.available, value=value)
        elif spec.source is Source.COMMAND:
            state = snapshot.value(spec.reads[0]) if spec.reads and snapshot.available else None
            states[spec.key] = EntityState(available=snapshot.available, value=state)
        else:
            states[spec.key] = _point_state(spec, snapshot)
    return states


def _point_state(spec: EntitySpec, snapshot: DeviceSnapshot) -> EntityState:
    """Return the state of a point's entity: its valid value, in the entity's unit."""
    value = snapshot.value(spec.point or spec.key) if snapshot.available else None
    if value is None:
        return EntityState(available=False, value=None)
    if spec.options and not spec.option_values:
        # Home Assistant refuses an enum state outside the options: an unlisted one is unknown.
        return EntityState(available=True, value=value if value in spec.options else None)
    if spec.option_values and isinstance(value, int | float) and not isinstance(value, bool):
        option = next(
            (
                o
                for o, n in zip(spec.options, spec.option_values, strict=True)
                if math.isclose(n, value)
            ),
            None,
        )
        return EntityState(available=True, value=option)
    if spec.factor != 1.0 and isinstance(value, int | float) and not isinstance(value, bool):
        return EntityState(available=True, value=round(value * spec.factor, 9))
    return EntityState(available=True, value=value)


async def operate(
    session: DeviceSession, spec: EntitySpec, value: Value | None = None
) -> Reading | CommandResult:
    """Do what a user asked of an entity: switch, select, set a number or press a button.

    The value is checked and converted back to the point's unit here, and then by
    the session against the profile's write rules, before anything is sent. A
    switch made of commands runs its on or off call, checked whole by the session
    before anything is sent. A dangerous button or switch runs with the
    confirmation its enabling gave.
    """
    if spec.platform is Platform.BUTTON and spec.command is not None:
        return await session.run_command(spec.command, confirm=spec.dangerous)
    if spec.turn_on is not None and spec.turn_off is not None:
        if not isinstance(value, bool):
            raise WriteValidationError(f"{spec.key}: a switch takes true or false, not {value!r}")
        call = spec.turn_on if value else spec.turn_off
        return await session.run_command(call.command, call.params, confirm=spec.dangerous)
    if spec.point is None or spec.platform not in (
        Platform.SWITCH,
        Platform.SELECT,
        Platform.NUMBER,
    ):
        raise WriteValidationError(f"{spec.key} cannot be changed")
    profile = session.profile
    write = profile.point(spec.point).write if profile.has_point(spec.point) else None
    return await session.write_point(spec.point, _to_point(spec, value, write))


def _to_point(spec: EntitySpec, value: Value | None, write: WriteSpec | None) -> Value:
    """Return the value to write to the point behind an entity, from the entity's value."""
    if spec.platform is Platform.SWITCH:
        if not isinstance(value, bool):
            raise WriteValidationError(f"{spec.key}: a switch takes true or false, not {value!r}")
        return value
    if spec.platform is Platform.SELECT:
        if value not in spec.options:
            raise WriteValidationError(
                f"{spec.key}: {value!r} is not one of {', '.join(spec.options)}"
            )
        if spec.option_values:
            return spec.option_values[spec.options.index(str(value))]
        return str(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise WriteValidationError(f"{spec.key}: {value!r} is not a number")
    below = spec.minimum is not None and value < spec.minimum
    above = spec.maximum is not None and value > spec.maximum
    if below or above:
        raise WriteValidationError(
            f"{spec.key}: {value} is outside {spec.minimum:g}..{spec.maximum:g}"
            if spec.minimum is not None and spec.maximum is not None
            else f"{spec.key}: {value} is out of range"
        )
    if spec.factor == 1.0:
        return value
    return _within(value / spec.factor, write)


def _within(value: float, write: WriteSpec | None) -> float:
    """Keep a converted value inside the point's limits.

    The value was checked against the entity's limits (the point's, converted), so a
    value past a point limit is past it only by the rounding of the conversion: the
    maximum of a slider in VA must not land a hair above the maximum in kVA.
    """
    if write is None:
        return value
    if write.maximum is not None:
        value = min(value, write.maximum)
    if write.minimum is not None:
        value = max(value, write.minimum)
    return value
