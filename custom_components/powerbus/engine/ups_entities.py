"""Entities derived from a device's points rather than read: a UPS's status, and bus statistics.

A UPS profile (one with an ``on_battery`` point) gets, whatever its family:

- ``ups_status``: an enum sensor of :class:`UpsState` (online, on battery, low
  battery, on bypass, output off, calibrating), from NUT's status tokens;
- ``ups_status_text``: NUT's ``ups.status`` as text (``"OB DISCHRG"``), diagnostic;
- ``ups_alarms``: the active alarms as NUT's ``ups.alarm`` text;
- binary sensors on battery, low battery, replace battery, overload, on bypass and
  alarm. Each stands for the family's own flag points (``covers``), which are then
  created disabled so that a flag is not shown twice.

Every device gets its bus statistics as diagnostic sensors, disabled by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from . import ups
from .entity_spec import EntitySpec, Platform, Source
from .models import EntityCategory, Profile, StateClass, Value


class UpsState(StrEnum):
    """The one-word state of a UPS (the ``ups_status`` enum)."""

    ONLINE = "online"
    ON_BATTERY = "on_battery"
    LOW_BATTERY = "low_battery"
    ON_BYPASS = "on_bypass"
    OUTPUT_OFF = "output_off"
    CALIBRATING = "calibrating"


def ups_state(status: ups.UpsStatus) -> UpsState | None:
    """Reduce NUT's status tokens to one state; None when the values say nothing."""
    tokens = set(status.tokens)
    if "OFF" in tokens:
        return UpsState.OUTPUT_OFF
    if "OB" in tokens:
        return UpsState.LOW_BATTERY if "LB" in tokens else UpsState.ON_BATTERY
    for token, state in (
        ("BYPASS", UpsState.ON_BYPASS),
        ("CAL", UpsState.CALIBRATING),
        ("OL", UpsState.ONLINE),
    ):
        if token in tokens:
            return state
    return None


@dataclass(frozen=True, kw_only=True, slots=True)
class _Flag:
    """A derived binary sensor: its key, class, the token that sets it, the points it needs."""

    key: str
    name: str
    device_class: str | None
    token: str
    points: tuple[str, ...]


_FLAGS = (
    _Flag(
        key="ups_on_battery",
        name="On battery",
        device_class=None,
        token="OB",
        points=(ups.ON_BATTERY,),
    ),
    _Flag(
        key="ups_low_battery",
        name="Low battery",
        device_class="battery",
        token="LB",
        points=(ups.LOW_BATTERY, ups.SHUTDOWN_IMMINENT),
    ),
    _Flag(
        key="ups_replace_battery",
        name="Replace battery",
        device_class="problem",
        token="RB",
        points=(ups.REPLACE_BATTERY,),
    ),
    _Flag(
        key="ups_overload",
        name="Overload",
        device_class="problem",
        token="OVER",
        points=(ups.OUTPUT_OVERLOAD,),
    ),
    _Flag(
        key="ups_on_bypass",
        name="On bypass",
        device_class=None,
        token="BYPASS",
        points=(ups.ON_BYPASS,),
    ),
)
UPS_STATUS = "ups_status"
UPS_STATUS_TEXT = "ups_status_text"
UPS_ALARMS = "ups_alarms"
UPS_ALARM = "ups_alarm"
_ALARM_POINTS = tuple(
    condition.key
    for _, condition in ups.ALARM_RULES
    if isinstance(condition, ups.FlagIs | ups.LabelIn)
)
"""The points the canonical alarms are read from."""
_STATUS_POINTS = (*ups.STATUS_FLAGS, ups.BATTERY_CHARGE_STATUS, ups.BATTERY_TEST_RESULT)
"""The points NUT's status tokens are derived from."""


def is_ups(profile: Profile) -> bool:
    """Whether the profile describes a UPS (it reports whether the load runs on battery)."""
    return profile.has_point(ups.ON_BATTERY)


def ups_specs(profile: Profile) -> list[EntitySpec]:
    """Return the derived entities of a UPS profile; none for other devices."""
    if not is_ups(profile):
        return []
    status_points = _present(profile, _STATUS_POINTS)
    alarm_points = _present(profile, (*_ALARM_POINTS, *ups.problem_flags(profile)))
    specs = [
        _spec(
            UPS_STATUS,
            "Status",
            Platform.SENSOR,
            device_class="enum",
            options=tuple(UpsState),
            reads=status_points,
        ),
        _spec(
            UPS_STATUS_TEXT,
            "NUT status",
            Platform.SENSOR,
            diagnostic=True,
            enabled=False,
            reads=_present(profile, status_points + alarm_points),
        ),
        _spec(UPS_ALARMS, "Active alarms", Platform.SENSOR, reads=alarm_points),
    ]
    for flag in _FLAGS:
        present = tuple(key for key in flag.points if profile.has_point(key))
        if present:
            specs.append(
                _spec(
                    flag.key,
                    flag.name,
                    Platform.BINARY_SENSOR,
                    device_class=flag.device_class,
                    covers=present,
                    reads=present,
                )
            )
    specs.append(
        _spec(
            UPS_ALARM, "Alarm", Platform.BINARY_SENSOR, device_class="problem", reads=alarm_points
        )
    )
    return specs


def _present(profile: Profile, keys: tuple[str, ...]) -> tuple[str, ...]:
    """Return those of ``keys`` the profile has, once each, in order."""
    return tuple(dict.fromkeys(key for key in keys if profile.has_point(key)))


def ups_values(profile: Profile, values: Mapping[str, Value | None]) -> dict[str, Value | None]:
    """Return the values of a UPS's derived entities from its points' latest values."""
    problems = ups.problem_flags(profile)
    status = ups.derive_status(values, extra_alarms=problems)
    state = ups_state(status)
    alarms_known = bool(status.alarms) or any(
        values.get(key) is not None for key in (*_ALARM_POINTS, *problems)
    )
    derived: dict[str, Value | None] = {
        UPS_STATUS: None if state is None else state.value,
        UPS_STATUS_TEXT: status.text or None,
        UPS_ALARMS: status.alarm_text if alarms_known else None,
        UPS_ALARM: bool(status.alarms) if alarms_known else None,
    }
    for flag in _FLAGS:
        known = any(values.get(key) is not None for key in flag.points)
        derived[flag.key] = (flag.token in status.tokens) if known else None
    return derived


def _spec(
    key: str,
    name: str,
    platform: Platform,
    *,
    device_class: str | None = None,
    options: tuple[str, ...] = (),
    covers: tuple[str, ...] = (),
    reads: tuple[str, ...] = (),
    diagnostic: bool = False,
    enabled: bool = True,
) -> EntitySpec:
    """Build a derived UPS entity."""
    return EntitySpec(
        key=key,
        platform=platform,
        source=Source.UPS,
        name=name,
        translation_key=key,
        device_class=device_class,
        options=options,
        covers=covers,
        reads=reads,
        entity_category=EntityCategory.DIAGNOSTIC if diagnostic else None,
        enabled_by_default=enabled,
    )


# --- Statistics -----------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, slots=True)
class _Statistic:
    """A bus statistic of a device, and the entity that shows it."""

    key: str
    name: str
    unit: str | None
    device_class: str | None
    state_class: StateClass | None


_STATISTICS = (
    _Statistic(
        key="requests",
        name="Requests",
        unit=None,
        device_class=None,
        state_class=StateClass.TOTAL_INCREASING,
    ),
    _Statistic(
        key="errors",
        name="Errors",
        unit=None,
        device_class=None,
        state_class=StateClass.TOTAL_INCREASING,
    ),
    _Statistic(
        key="timeouts",
        name="Timeouts",
        unit=None,
        device_class=None,
        state_class=StateClass.TOTAL_INCREASING,
    ),
    _Statistic(
        key="latency",
        name="Latency",
        unit="ms",
        device_class="duration",
        state_class=StateClass.MEASUREMENT,
    ),
    _Statistic(
        key="last_success",
        name="Last answer",
        unit=None,
        device_class="timestamp",
        state_class=None,
    ),
    _Statistic(
        key="interval_asked",
        name="Poll interval asked",
        unit="s",
        device_class="duration",
        state_class=None,
    ),
    _Statistic(
        key="interval_achieved",
        name="Poll interval achieved",
        unit="s",
        device_class="duration",
        state_class=StateClass.MEASUREMENT,
    ),
)
STATISTIC_PREFIX = "bus_"

STATISTICS: tuple[EntitySpec, ...] = tuple(
    EntitySpec(
        key=f"{STATISTIC_PREFIX}{stat.key}",
        platform=Platform.SENSOR,
        source=Source.STATISTIC,
        name=stat.name,
        translation_key=f"{STATISTIC_PREFIX}{stat.key}",
        unit=stat.unit,
        device_class=stat.device_class,
        state_class=stat.state_class,
        entity_category=EntityCategory.DIAGNOSTIC,
        enabled_by_default=False,
        precision=1 if stat.unit in ("ms", "s") else None,
    )
    for stat in _STATISTICS
)
"""The statistics entities every device has (``last_success`` is a POSIX timestamp)."""
