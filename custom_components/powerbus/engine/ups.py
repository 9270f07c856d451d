"""One vocabulary for every UPS, whatever its register map, and its status in NUT's terms.

Point keys
    Every UPS profile names its points with the keys below wherever the meaning is
    the same, so that the integration, the MQTT bridge and :func:`derive_status`
    work on any UPS without knowing its family. A family keeps its own keys for
    what has no common meaning (a Liebert Nx "rectifier fuse fail", say). Flags
    are bools (true = the condition holds); measurements are in the unit named
    next to the constant. The keys and labels are a stable API: add to them,
    never rename them.

Status
    :func:`derive_status` turns the latest values (point key to value, ``None``
    for a value that could not be read) into the status tokens of Network UPS
    Tools (``ups.status``: ``OL``, ``OB``, ``LB`` ...), the active alarms and the
    shutdown-imminent flag. It is driven by two tables, :data:`TOKEN_RULES` and
    :data:`ALARM_RULES`; a rule only fires on a value that is known, so a missing
    or unreadable point never invents a token.

Choices made where NUT leaves room:

* ``CAL`` means a runtime calibration (the :data:`CALIBRATING` flag) and nothing
  else. A plain battery test has no token: ``TEST`` is not in NUT's list of
  status tokens and NUT clients (Home Assistant's ``nut`` integration among them)
  do not know it. A running test shows in :attr:`UpsStatus.battery_test_running`.
* ``FSD`` is set by NUT's ``upsmon``, not by a driver; a UPS that announces its
  own imminent shutdown sets ``LB`` and :attr:`UpsStatus.shutdown_imminent`.
* ``OL`` needs :data:`ON_BATTERY` to be known false; an output reported off or
  an input reported failed rules it out, an unknown one does not (many maps have
  no such point at all).
* A UPS on battery is discharging, so ``OB`` brings ``DISCHRG`` even when the
  map has no charge status; ``CHRG`` never shows together with ``DISCHRG``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from .models import Profile, Value

# --- Status flags (bool) ------------------------------------------------------------------------
ON_BATTERY = "on_battery"
"""The load runs from the battery (NUT ``OB``)."""
SHUTDOWN_IMMINENT = "shutdown_imminent"
"""The UPS announces that it will shut down soon: battery low (NUT ``LB``)."""
LOW_BATTERY = "low_battery"
"""The battery is low without an announced shutdown (NUT ``LB``)."""
HIGH_BATTERY = "high_battery"
"""The battery voltage is too high (NUT ``HB``)."""
REPLACE_BATTERY = "replace_battery"
"""The battery needs replacing (NUT ``RB``)."""
BATTERY_UNDER_TEST = "battery_under_test"
"""A battery test is running."""
CALIBRATING = "calibrating"
"""A runtime calibration is running (NUT ``CAL``)."""
CHARGING = "charging"
"""The battery is being charged (NUT ``CHRG``)."""
DISCHARGING = "discharging"
"""The battery is being discharged (NUT ``DISCHRG``)."""
ON_BYPASS = "on_bypass"
"""The load is fed through the bypass (NUT ``BYPASS``)."""
ON_INVERTER = "on_inverter"
"""The load is fed by the inverter."""
OUTPUT_OVERLOAD = "output_overload"
"""The output is overloaded (NUT ``OVER``)."""
OVER_TEMPERATURE = "over_temperature"
"""The UPS warns of over-temperature."""
INPUT_FAIL = "input_fail"
"""The input (utility) power has failed."""
FAN_FAIL = "fan_fail"
"""A fan has failed."""
CHARGER_FAILED = "charger_failed"
"""The battery charger has failed."""
BATTERY_FAULT = "battery_fault"
"""The UPS reports a battery fault."""
OUTPUT_OFF = "output_is_off"
"""The UPS output is off (NUT ``OFF``)."""
TRIMMING = "buck_mode"
"""The UPS lowers a high input voltage (NUT ``TRIM``)."""
BOOSTING = "boost_mode"
"""The UPS raises a low input voltage (NUT ``BOOST``)."""

STATUS_FLAGS: tuple[str, ...] = (
    ON_BATTERY,
    SHUTDOWN_IMMINENT,
    LOW_BATTERY,
    HIGH_BATTERY,
    REPLACE_BATTERY,
    BATTERY_UNDER_TEST,
    CALIBRATING,
    CHARGING,
    DISCHARGING,
    ON_BYPASS,
    ON_INVERTER,
    OUTPUT_OVERLOAD,
    OVER_TEMPERATURE,
    INPUT_FAIL,
    FAN_FAIL,
    CHARGER_FAILED,
    BATTERY_FAULT,
    OUTPUT_OFF,
    TRIMMING,
    BOOSTING,
)
"""Every canonical flag key."""

# --- Measurements and states --------------------------------------------------------------------
BATTERY_CHARGE = "battery_charge"
"""Battery charge, %."""
BATTERY_RUNTIME = "battery_runtime"
"""Estimated runtime on battery, min."""
BATTERY_VOLTAGE = "battery_voltage"
"""Battery voltage, V."""
BATTERY_CURRENT = "battery_current"
"""Battery current, A (negative while discharging where the map is signed)."""
BATTERY_TEMPERATURE = "battery_temperature"
"""Battery temperature, °C."""
BATTERY_CHARGE_STATUS = "battery_charge_status"
"""What the charger does, as a :class:`ChargeStatus` label."""
BATTERY_TEST_RESULT = "battery_test_result"
"""Outcome of the last battery test, as a :class:`BatteryTestResult` label."""
LOW_BATTERY_WARNING_TIME = "low_battery_warning_time"
"""Runtime left at which the UPS announces low battery, min."""
LOAD = "load"
"""Output load relative to capacity, %."""
LOAD_POWER = "load_power"
"""Output real power, W."""
LOAD_APPARENT_POWER = "load_apparent_power"
"""Output apparent power, VA."""
NOMINAL_POWER = "nominal_power"
"""Rated output apparent power, VA."""
INPUT_FREQUENCY = "input_frequency"
"""Input frequency, Hz."""
OUTPUT_FREQUENCY = "output_frequency"
"""Output frequency, Hz."""
BYPASS_FREQUENCY = "bypass_frequency"
"""Bypass frequency, Hz."""
AMBIENT_TEMPERATURE = "ambient_temperature"
"""Ambient temperature, °C."""
BLACKOUT_COUNT = "blackout_count"
"""Input black-outs counted since the statistics were reset."""
BROWNOUT_COUNT = "brownout_count"
"""Input brown-outs counted since the statistics were reset."""

# Per-phase quantities: combine with :func:`phase_key` (``input_voltage_l1`` ...).
INPUT_VOLTAGE = "input_voltage"
"""Input voltage of a phase, V."""
INPUT_CURRENT = "input_current"
"""Input current of a phase, A."""
BYPASS_VOLTAGE = "bypass_voltage"
"""Bypass voltage of a phase, V."""
BYPASS_CURRENT = "bypass_current"
"""Bypass current of a phase, A."""
OUTPUT_VOLTAGE = "output_voltage"
"""Output voltage of a phase, V."""
OUTPUT_CURRENT = "output_current"
"""Output current of a phase, A."""


def phase_key(quantity: str, phase: int) -> str:
    """Return the key of ``quantity`` on phase ``phase`` (1-based): ``input_voltage_l2``."""
    return f"{quantity}_l{phase}"


class ChargeStatus(StrEnum):
    """Labels of :data:`BATTERY_CHARGE_STATUS`."""

    FULLY_CHARGED = "fully_charged"
    NOT_FULLY_CHARGED = "not_fully_charged"
    CHARGING = "charging"
    DISCHARGING = "discharging"
    FLOAT_CHARGING = "float_charging"
    EQUALIZE_CHARGING = "equalize_charging"


class BatteryTestResult(StrEnum):
    """Labels of :data:`BATTERY_TEST_RESULT`."""

    UNKNOWN = "unknown"
    PASSED = "passed"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"
    SYSTEM_FAILURE = "system_failure"
    INHIBITED = "inhibited"


# --- Commands -----------------------------------------------------------------------------------
COMMANDS: Mapping[str, str | None] = MappingProxyType(
    {
        "silence_alarm": "beeper.mute",
        "start_battery_test": "test.battery.start",
        "stop_battery_test": "test.battery.stop",
        "output_off": "load.off.delay",
        "output_on": "load.on.delay",
        "output_reboot": "shutdown.reboot",
        "transfer_to_bypass": "bypass.start",
        "transfer_to_inverter": "bypass.stop",
        "reset_statistics": None,
        "outlets_on": None,
        "outlets_off": None,
    }
)
"""Command keys UPS profiles share, with the NUT instant command each one matches (if any)."""


# --- Rules --------------------------------------------------------------------------------------
class Condition(Protocol):
    """A test on the latest values that holds only on known values."""

    def holds(self, values: Mapping[str, Value | None]) -> bool:
        """Whether the condition holds for ``values``."""


@dataclass(frozen=True, slots=True)
class FlagIs:
    """Flag ``key`` is known and equals ``expected``."""

    key: str
    expected: bool = True

    def holds(self, values: Mapping[str, Value | None]) -> bool:
        """Whether the flag reads ``expected``."""
        return _flag(values.get(self.key)) is self.expected


@dataclass(frozen=True, slots=True)
class FlagNot:
    """Flag ``key`` is not known to be ``vetoed`` (an unknown flag does not veto)."""

    key: str
    vetoed: bool = True

    def holds(self, values: Mapping[str, Value | None]) -> bool:
        """Whether the flag does not read ``vetoed``."""
        return _flag(values.get(self.key)) is not self.vetoed


@dataclass(frozen=True, slots=True)
class LabelIn:
    """The option label of ``key`` is one of ``labels``."""

    key: str
    labels: frozenset[str]

    def holds(self, values: Mapping[str, Value | None]) -> bool:
        """Whether the point reads one of the labels."""
        value = values.get(self.key)
        return isinstance(value, str) and value in self.labels


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one of ``conditions`` holds."""

    conditions: tuple[Condition, ...]

    def holds(self, values: Mapping[str, Value | None]) -> bool:
        """Whether any condition holds."""
        return any(condition.holds(values) for condition in self.conditions)


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every one of ``conditions`` holds."""

    conditions: tuple[Condition, ...]

    def holds(self, values: Mapping[str, Value | None]) -> bool:
        """Whether every condition holds."""
        return all(condition.holds(values) for condition in self.conditions)


@dataclass(frozen=True, slots=True)
class NoneOf:
    """None of ``conditions`` holds."""

    conditions: tuple[Condition, ...]

    def holds(self, values: Mapping[str, Value | None]) -> bool:
        """Whether no condition holds."""
        return not any(condition.holds(values) for condition in self.conditions)


def _flag(value: Value | None) -> bool | None:
    """Return a flag value as a bool, or None when it is unknown or not a flag."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return None


_DISCHARGING = AnyOf(
    (
        FlagIs(ON_BATTERY),
        FlagIs(DISCHARGING),
        LabelIn(BATTERY_CHARGE_STATUS, frozenset({ChargeStatus.DISCHARGING})),
    )
)
_CHARGING = AnyOf(
    (
        FlagIs(CHARGING),
        LabelIn(
            BATTERY_CHARGE_STATUS,
            frozenset({ChargeStatus.CHARGING, ChargeStatus.EQUALIZE_CHARGING}),
        ),
    )
)
_SHUTDOWN_IMMINENT = FlagIs(SHUTDOWN_IMMINENT)

TOKEN_RULES: tuple[tuple[str, Condition], ...] = (
    ("OL", AllOf((FlagIs(ON_BATTERY, expected=False), FlagNot(OUTPUT_OFF), FlagNot(INPUT_FAIL)))),
    ("OB", FlagIs(ON_BATTERY)),
    ("LB", AnyOf((_SHUTDOWN_IMMINENT, FlagIs(LOW_BATTERY)))),
    ("HB", FlagIs(HIGH_BATTERY)),
    ("RB", FlagIs(REPLACE_BATTERY)),
    ("CHRG", AllOf((_CHARGING, NoneOf((_DISCHARGING,))))),
    ("DISCHRG", _DISCHARGING),
    ("BYPASS", FlagIs(ON_BYPASS)),
    ("OVER", FlagIs(OUTPUT_OVERLOAD)),
    ("TRIM", FlagIs(TRIMMING)),
    ("BOOST", FlagIs(BOOSTING)),
    ("CAL", FlagIs(CALIBRATING)),
    ("OFF", FlagIs(OUTPUT_OFF)),
)
"""NUT status tokens in the order they are reported, each with the condition that sets it.

``ALARM`` follows them whenever an alarm is active.
"""

ALARM_RULES: tuple[tuple[str, Condition], ...] = (
    (REPLACE_BATTERY, FlagIs(REPLACE_BATTERY)),
    (OUTPUT_OVERLOAD, FlagIs(OUTPUT_OVERLOAD)),
    (OVER_TEMPERATURE, FlagIs(OVER_TEMPERATURE)),
    (FAN_FAIL, FlagIs(FAN_FAIL)),
    (CHARGER_FAILED, FlagIs(CHARGER_FAILED)),
    (BATTERY_FAULT, FlagIs(BATTERY_FAULT)),
    (
        "battery_test_failed",
        LabelIn(BATTERY_TEST_RESULT, frozenset({BatteryTestResult.FAILED})),
    ),
)
"""Canonical alarms in the order they are reported, each with the condition that raises it."""

ALARM_DESCRIPTIONS: Mapping[str, str] = MappingProxyType(
    {
        REPLACE_BATTERY: "Replace battery",
        OUTPUT_OVERLOAD: "Output overload",
        OVER_TEMPERATURE: "Over temperature",
        FAN_FAIL: "Fan failure",
        CHARGER_FAILED: "Charger failure",
        BATTERY_FAULT: "Battery fault",
        "battery_test_failed": "Battery test failed",
    }
)
"""Human text of each canonical alarm, for NUT's ``ups.alarm``."""

_PROBLEM = "problem"


@dataclass(frozen=True, kw_only=True, slots=True)
class UpsStatus:
    """What a UPS's latest values say, in Network UPS Tools' terms."""

    tokens: tuple[str, ...]
    """``ups.status`` tokens in :data:`TOKEN_RULES` order, then ``ALARM``."""
    alarms: tuple[str, ...]
    """Keys of the active alarms: canonical ones first, then the extra ones asked for."""
    shutdown_imminent: bool
    """The UPS announced that it will shut down (treat like NUT's ``FSD``)."""
    battery_test_running: bool
    """A battery test is in progress (no NUT token; see the module notes)."""

    @property
    def text(self) -> str:
        """The status as NUT prints it: ``"OB DISCHRG"``."""
        return " ".join(self.tokens)

    @property
    def alarm_text(self) -> str:
        """The active alarms as NUT's ``ups.alarm`` text (empty when there are none)."""
        return " ".join(
            f"{ALARM_DESCRIPTIONS.get(key, key.replace('_', ' ').capitalize())}."
            for key in self.alarms
        )


def derive_status(
    values: Mapping[str, Value | None], *, extra_alarms: Iterable[str] = ()
) -> UpsStatus:
    """Derive the NUT status of a UPS from its latest values (point key to value or None).

    ``extra_alarms`` names further flags that count as alarms when true, e.g. the
    family-specific problem bits of a profile (see :func:`problem_flags`).
    """
    alarms = [key for key, condition in ALARM_RULES if condition.holds(values)]
    alarms += [key for key in extra_alarms if key not in alarms and FlagIs(key).holds(values)]
    tokens = [token for token, condition in TOKEN_RULES if condition.holds(values)]
    if alarms:
        tokens.append("ALARM")
    return UpsStatus(
        tokens=tuple(tokens),
        alarms=tuple(alarms),
        shutdown_imminent=_SHUTDOWN_IMMINENT.holds(values),
        battery_test_running=AnyOf(
            (
                FlagIs(BATTERY_UNDER_TEST),
                LabelIn(BATTERY_TEST_RESULT, frozenset({BatteryTestResult.IN_PROGRESS})),
            )
        ).holds(values),
    )


def problem_flags(profile: Profile) -> tuple[str, ...]:
    """Keys of a profile's own problem flags (device class ``problem``), in profile order.

    Canonical flags are left out: the rule tables already decide what they mean
    (an input failure, for one, is ``OB``, not an alarm). Pass the result to
    :func:`derive_status` as ``extra_alarms`` so that a family's own fault bits
    raise ``ALARM`` too.
    """
    canonical = {*STATUS_FLAGS, *(key for key, _ in ALARM_RULES)}
    return tuple(
        point.key
        for point in profile.points
        if point.device_class == _PROBLEM and point.key not in canonical
    )
