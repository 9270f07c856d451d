"""A Liebert UPS behind an OpenComms-485 card, for every variant of the ``liebert`` family.

The UPS is one state machine; each variant publishes the part of it its register
map has (a PowerSure Interactive has no battery current, a Series 600 no input
frequency). Single-phase models (no L2 points) are a 3 kVA tower, three-phase
models a 40 kVA unit.

What happens over time:

* With input power the load runs on the inverter and the battery charges.
* When the input fails (:meth:`LiebertUpsBehaviour.fail_input`) the load goes on
  battery: charge and runtime fall, the battery current turns negative, and once
  the runtime is down to the UPS's low-battery warning time (30053) it reports
  "low battery - shutdown imminent". An empty battery switches the output off.
  When the input returns (:meth:`LiebertUpsBehaviour.restore_input`) the UPS is
  back on line, charging, and restarts an output the battery ran out on.
* With ``speed`` > 1 and no hand-made input change, the input fails by itself
  once every :data:`SCENARIO_CYCLE` seconds of simulated time, for long enough to
  reach low battery.

The command registers (40101-40113) exist on models whose profile has commands.
A write to one acts as the guide describes; delays are in seconds with the last
digit ignored; the register then reads back the value written, as on the card.

The card answers the rows its model's table lists and refuses every other
address with "illegal data address", a read that crosses an unlisted one
included: that is how the real card is assumed to behave, and the worst case for
a poller that reads through holes.

Codes and command registers are those of Liebert's OC-485 Modbus reference (seed
003, ``003_131a8a0507ef6898.txt``), restated here rather than taken from the
engine; the engine's profile only tells which points a variant has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from ..errors import DeviceExceptionError
from ..models import DataType, Point, Table, Value
from .profile_device import ILLEGAL_VALUE, ProfileDevice

FULL_RUNTIME_MINUTES = 40.0
RECHARGE_SECONDS = 4 * 3600.0
BATTERY_TEST_SECONDS = 10.0
REBOOT_OFF_SECONDS = 10.0
SCENARIO_CYCLE = 4 * 3600.0
SCENARIO_OUTAGE_START = 600.0
SCENARIO_OUTAGE_SECONDS = 37 * 60.0
DEFAULT_LOW_BATTERY_MINUTES = 5
CHARGING_CURRENT = 2.0
LOAD_FRACTION = 0.45
# Seed 003, Series 600 commands 40104-40106: "Delay time in Second, last digit will be ignored".
DELAY_RESOLUTION = 10
# Seed 003, Series 600 "Battery Start 40102": "1=Start, 0=Abort".
BATTERY_TEST_START, BATTERY_TEST_ABORT = 1, 0


class ChargeStatus(IntEnum):
    """Battery Charge Status, input register 30112 (seed 003, every UPS family's table)."""

    FULLY_CHARGED = 1  # "1 - 100% Charged"
    NOT_FULLY_CHARGED = 2  # "2 - Less than 100% Charged"
    CHARGING = 3  # "3 - Charging"
    DISCHARGING = 4  # "4 - Discharging"
    FLOAT_CHARGING = 5  # "5 - Float Charging"
    EQUALIZE_CHARGING = 6  # "6 - Equalize Charging"


class BatteryTestResult(IntEnum):
    """Battery Test Result, input register 30130 (seed 003, Liebert Nx and Series 600 tables)."""

    UNKNOWN = 1  # "1 - Unknown"
    PASSED = 2  # "2 - Passed"
    FAILED = 3  # "3 - Failed"
    IN_PROGRESS = 4  # "4 - In Progress"
    SYSTEM_FAILURE = 5  # "5 - System Failure"
    INHIBITED = 6  # "6 - Inhibited"


class CommandRegister(IntEnum):
    """PDU addresses of the command holding registers (seed 003, Series 600: 40101 is PDU 100)."""

    SILENCE_ALARM = 100  # 40101 Silent Audible Alarm, any value
    BATTERY_TEST = 101  # 40102 Battery Start, 1 start, 0 abort
    OUTPUT_OFF = 103  # 40104 Open UPS Output Switch, delay in seconds
    OUTPUT_REBOOT = 104  # 40105 Reboot UPS Output Switch, delay in seconds
    OUTPUT_ON = 105  # 40106 Close UPS Output Switch, delay in seconds
    TO_BYPASS = 106  # 40107 Transfer Load to Bypass, any value
    TO_INVERTER = 107  # 40108 Transfer Load to Inverter, any value
    RESET_STATISTICS = 110  # 40111 Reset UPS Statistic data, any value
    OUTLETS_ON = 111  # 40112 Turn UPS Outlets On, bitmap of outlets 1-16
    OUTLETS_OFF = 112  # 40113 Turn UPS Outlets Off, bitmap of outlets 1-16


# Seed 003, PowerSure Interactive table: its result list ends "5 - System Failure, 7 - Inhibited".
POWERSURE_INHIBITED = 7
_POWERSURE_VARIANTS = frozenset({"liebert_psi"})


@dataclass(frozen=True, slots=True)
class _Rating:
    """Nameplate of the simulated unit."""

    phases: int
    apparent_power: int
    voltage: int
    line_voltage: int
    input_current: int
    battery_voltage: int
    circuits: int


_SINGLE_PHASE = _Rating(
    phases=1,
    apparent_power=3000,
    voltage=230,
    line_voltage=230,
    input_current=15,
    battery_voltage=72,
    circuits=8,
)
_THREE_PHASE = _Rating(
    phases=3,
    apparent_power=40000,
    voltage=230,
    line_voltage=400,
    input_current=64,
    battery_voltage=480,
    circuits=4,
)


@dataclass
class LiebertUpsBehaviour:
    """A Liebert UPS that can lose its input, drain, warn and recharge; ``speed`` scales time."""

    speed: float = 1.0
    charge: float = 100.0
    input_ok: bool = True
    output_on: bool = True
    on_bypass: bool = False
    alarm_silenced: bool = False
    outlets: int = 0
    blackouts: int = 3
    brownouts: int = 7
    test_result: BatteryTestResult = BatteryTestResult.PASSED
    _scenario: bool = True
    _rating: _Rating = _SINGLE_PHASE
    _time: float = 0.0
    _last: float | None = None
    _test_ends: float | None = None
    _result_before_test: BatteryTestResult = BatteryTestResult.PASSED
    _pending: list[tuple[float, str]] = field(default_factory=list)
    _extremes: dict[str, float] = field(default_factory=dict)

    # --- Hands-on control ------------------------------------------------------------------------
    def fail_input(self) -> None:
        """Cut the input power (and stop the time-driven scenario)."""
        self._scenario = False
        self._set_input(ok=False)

    def restore_input(self) -> None:
        """Bring the input power back (and stop the time-driven scenario)."""
        self._scenario = False
        self._set_input(ok=True)

    @property
    def on_battery(self) -> bool:
        """Whether the load runs from the battery."""
        return self.output_on and not self.input_ok

    @property
    def battery_test_running(self) -> bool:
        """Whether a battery test is running."""
        return self._test_ends is not None

    @property
    def runtime_minutes(self) -> int:
        """Estimated runtime left at the present load, whole minutes."""
        return round(self.charge / 100.0 * FULL_RUNTIME_MINUTES)

    # --- Behaviour protocol ----------------------------------------------------------------------
    def advance(self, device: ProfileDevice, now: float) -> None:
        """Move the UPS to ``now``: input scenario, due actions, battery; then publish."""
        if self._last is None:
            self._last = now
            self._initialise(device)
        elapsed = max(0.0, now - self._last) * self.speed
        self._last = now
        self._time += elapsed
        if self._scenario and self.speed > 1:
            phase = self._time % SCENARIO_CYCLE
            outage = (
                SCENARIO_OUTAGE_START <= phase < SCENARIO_OUTAGE_START + SCENARIO_OUTAGE_SECONDS
            )
            self._set_input(ok=not outage)
        self._run_due_actions()
        self._move_battery(elapsed)
        self._publish(device)

    def on_write(
        self, device: ProfileDevice, table: Table, address: int, values: Sequence[int]
    ) -> bool:
        """Carry out a write to a command register of a model that has them."""
        if table is not Table.HOLDING_REGISTER or not device.profile.commands:
            return False
        try:
            register = CommandRegister(address)
        except ValueError:
            return False
        if len(values) != 1:
            raise DeviceExceptionError(ILLEGAL_VALUE)
        self._commands()[register](values[0])
        device.set_registers(Table.HOLDING_REGISTER, address, [values[0]])
        self._run_due_actions()
        self._publish(device)
        return True

    def after_write(self, device: ProfileDevice, point: Point, value: Value | None) -> None:
        """No point of the map is writable; nothing to follow up."""

    # --- Commands --------------------------------------------------------------------------------
    def _commands(self) -> dict[CommandRegister, Callable[[int], None]]:
        """Map each command register to what it does with the value written to it."""
        return {
            CommandRegister.SILENCE_ALARM: self._silence_alarm,
            CommandRegister.BATTERY_TEST: self._battery_test,
            CommandRegister.OUTPUT_OFF: lambda value: self._schedule(value, ("off",)),
            CommandRegister.OUTPUT_REBOOT: lambda value: self._schedule(value, ("off", "on")),
            CommandRegister.OUTPUT_ON: lambda value: self._schedule(value, ("on",)),
            CommandRegister.TO_BYPASS: lambda _value: self._transfer(to_bypass=True),
            CommandRegister.TO_INVERTER: lambda _value: self._transfer(to_bypass=False),
            CommandRegister.RESET_STATISTICS: self._reset_statistics,
            CommandRegister.OUTLETS_ON: lambda mask: self._switch_outlets(mask, on=True),
            CommandRegister.OUTLETS_OFF: lambda mask: self._switch_outlets(mask, on=False),
        }

    def _silence_alarm(self, _value: int) -> None:
        """Silence the audible alarm."""
        self.alarm_silenced = True

    def _battery_test(self, value: int) -> None:
        """1 starts a battery test, 0 aborts it; a test on battery is inhibited."""
        if value not in (BATTERY_TEST_START, BATTERY_TEST_ABORT):
            raise DeviceExceptionError(ILLEGAL_VALUE)
        if value == BATTERY_TEST_ABORT:
            if self.battery_test_running:
                self._test_ends = None
                self.test_result = self._result_before_test
            return
        if self.battery_test_running:
            return
        if not self.input_ok:
            self.test_result = BatteryTestResult.INHIBITED
            return
        self._result_before_test = self.test_result
        self.test_result = BatteryTestResult.IN_PROGRESS
        self._test_ends = self._time + BATTERY_TEST_SECONDS

    def _schedule(self, delay: int, actions: tuple[str, ...]) -> None:
        """Queue output actions after ``delay`` seconds (last digit ignored), reboot's 'on' later."""
        due = self._time + delay - delay % DELAY_RESOLUTION
        for index, action in enumerate(actions):
            self._pending.append((due + index * REBOOT_OFF_SECONDS, action))
        self._pending.sort()

    def _transfer(self, *, to_bypass: bool) -> None:
        """Move the load to the bypass (needs input power and a live output) or back."""
        self.on_bypass = to_bypass and self.input_ok and self.output_on

    def _reset_statistics(self, _value: int) -> None:
        """Clear the black-out and brown-out counts."""
        self.blackouts = 0
        self.brownouts = 0

    def _switch_outlets(self, mask: int, *, on: bool) -> None:
        """Switch the outlets of ``mask`` on or off."""
        self.outlets = self.outlets | mask if on else self.outlets & ~mask

    # --- Time ------------------------------------------------------------------------------------
    def _set_input(self, *, ok: bool) -> None:
        """Change the input state; a failure counts a black-out and leaves the bypass."""
        if ok == self.input_ok:
            return
        self.input_ok = ok
        if not ok:
            self.blackouts += 1
            self.on_bypass = False
        elif not self.output_on and self.charge <= 0:
            self.output_on = True

    def _run_due_actions(self) -> None:
        """Carry out queued output actions and finish a battery test whose time is up."""
        while self._pending and self._pending[0][0] <= self._time:
            _, action = self._pending.pop(0)
            self.output_on = action == "on"
            if not self.output_on:
                self.on_bypass = False
        if self._test_ends is not None and self._test_ends <= self._time:
            self._test_ends = None
            self.test_result = BatteryTestResult.PASSED

    def _move_battery(self, seconds: float) -> None:
        """Drain the battery on battery, charge it on line; an empty battery ends the output."""
        if self.on_battery:
            self.charge = max(0.0, self.charge - seconds / (FULL_RUNTIME_MINUTES * 60.0) * 100.0)
            if self.charge <= 0:
                self.output_on = False
        elif self.input_ok:
            self.charge = min(100.0, self.charge + seconds / RECHARGE_SECONDS * 100.0)

    # --- Publishing ------------------------------------------------------------------------------
    def _initialise(self, device: ProfileDevice) -> None:
        """Answer only the listed rows; pick the rating from the map and fill in what never changes."""
        device.refuse_unlisted()
        self._rating = (
            _THREE_PHASE if device.profile.has_point("input_voltage_l2") else _SINGLE_PHASE
        )
        rating = self._rating
        self.outlets = (1 << rating.circuits) - 1
        lines = {"input_line_count": rating.phases, "output_line_count": rating.phases}
        lines["bypass_line_count"] = rating.phases
        _put_bit_fields(device, lines)
        fixed: dict[str, Value] = {
            "submodule_count": 1,
            "load_circuits_present": (1 << rating.circuits) - 1,
            "battery_cabinet_type": 1,
            "battery_cabinet_count": 1,
            "battery_capacity": 9,
            "nominal_power": rating.apparent_power,
            "nominal_input_voltage": rating.voltage,
            "nominal_output_voltage": rating.voltage,
            "nominal_bypass_voltage": rating.voltage,
            "nominal_input_current": rating.input_current,
            "nominal_input_frequency": 50.0,
            "nominal_output_frequency": 50.0,
            "nominal_power_factor": 0.9,
            "nominal_battery_voltage": rating.battery_voltage,
            "nominal_dc_bus_1_voltage": 400,
            "nominal_dc_bus_2_voltage": 400,
            "nominal_battery_float_voltage": round(rating.battery_voltage * 1.125),
            "load_bus_sync_mode": 0,
            "auto_restart_delay": 10,
            "low_battery_warning_time": DEFAULT_LOW_BATTERY_MINUTES,
            "ambient_temperature_warning": 40,
            "over_temperature_limit": 50,
            "parallel_load_source": 0,
            "rotary_breaker": 0,
            "audible_alarm_enabled": True,
            "automatic_battery_test_enabled": True,
            "inverter_ready": True,
            "pfc_on": True,
        }
        _put_all(device, fixed)

    def _publish(self, device: ProfileDevice) -> None:
        """Write the state into every point the variant's map has."""
        rating = self._rating
        powered = self.output_on
        load = LOAD_FRACTION * 100.0 if powered else 0.0
        apparent = rating.apparent_power * load / 100.0
        real = apparent * 0.9
        output_voltage = rating.voltage if powered else 0
        output_current = apparent / rating.phases / rating.voltage
        input_voltage = rating.voltage if self.input_ok else 0
        input_current = (
            apparent / rating.phases / rating.voltage * 1.05 if self.input_ok and powered else 0.0
        )
        frequency = 50.0 if self.input_ok else 0.0
        battery_current = self._battery_current(real)
        values: dict[str, Value] = {
            "on_battery": self.on_battery,
            "shutdown_imminent": self.on_battery
            and self.runtime_minutes <= _low_battery_minutes(device),
            "input_fail": not self.input_ok,
            "on_inverter": powered and not self.on_bypass,
            "on_bypass": self.on_bypass,
            "output_is_off": not powered,
            "battery_under_test": self.battery_test_running,
            "output_off_pending": any(action == "off" for _, action in self._pending),
            "battery_charger_on": self.input_ok and self.charge < 100.0,
            "dc_dc_converter_on": self.on_battery,
            "load": round(load),
            "load_apparent_power": round(apparent),
            "load_power": round(real),
            "input_frequency": frequency,
            "output_frequency": 50.0 if powered else 0.0,
            "bypass_frequency": frequency,
            "battery_charge_status": self._charge_status(),
            "battery_voltage": round(rating.battery_voltage * (1.0 + 0.125 * self.charge / 100.0)),
            "battery_current": round(battery_current),
            "battery_runtime": self.runtime_minutes,
            "battery_charge": round(self.charge),
            "battery_temperature": 27,
            "pfc_temperature": 38,
            "ambient_temperature": 24,
            "battery_test_result": self._test_result_code(device),
            "blackout_count": self.blackouts,
            "brownout_count": self.brownouts,
        }
        for circuit in range(1, 17):
            values[f"load_circuit_{circuit}"] = powered and bool(self.outlets >> (circuit - 1) & 1)
        for phase in range(1, rating.phases + 1):
            values.update(
                {
                    f"input_voltage_l{phase}": input_voltage,
                    f"input_current_l{phase}": round(input_current),
                    f"bypass_voltage_l{phase}": input_voltage,
                    f"bypass_current_l{phase}": round(output_current) if self.on_bypass else 0,
                    f"output_voltage_l{phase}": output_voltage,
                    f"output_current_l{phase}": round(output_current) if powered else 0,
                    f"input_power_factor_l{phase}": 0.99 if self.input_ok else 0.0,
                    f"output_load_l{phase}": round(load),
                    f"output_power_factor_l{phase}": 0.9 if powered else 0.0,
                    f"output_apparent_power_l{phase}": round(apparent / rating.phases),
                    f"output_reactive_power_l{phase}": round(apparent / rating.phases * 0.436),
                    f"output_power_l{phase}": round(real / rating.phases),
                    f"output_current_crest_factor_l{phase}": 3,
                }
            )
        for pair in ("l1_l2", "l2_l3", "l3_l1"):
            values[f"input_voltage_{pair}"] = rating.line_voltage if self.input_ok else 0
        values.update(self._voltage_extremes(input_voltage, output_voltage))
        _put_all(device, values)

    def _test_result_code(self, device: ProfileDevice) -> int:
        """Return the code of the last test result as the variant's map numbers it."""
        if (
            self.test_result is BatteryTestResult.INHIBITED
            and device.profile.key in _POWERSURE_VARIANTS
        ):
            return POWERSURE_INHIBITED
        return int(self.test_result)

    def _charge_status(self) -> ChargeStatus:
        """Return the battery charge status code."""
        if self.on_battery:
            return ChargeStatus.DISCHARGING
        if self.charge >= 100.0:
            return ChargeStatus.FULLY_CHARGED
        return ChargeStatus.CHARGING if self.input_ok else ChargeStatus.NOT_FULLY_CHARGED

    def _battery_current(self, real_power: float) -> float:
        """Battery current: negative while it feeds the load, positive while it charges."""
        if self.on_battery:
            return -real_power / self._rating.battery_voltage
        if self.input_ok and self.charge < 100.0:
            return CHARGING_CURRENT
        return 0.0

    def _voltage_extremes(self, input_voltage: float, output_voltage: float) -> dict[str, Value]:
        """Highest and lowest voltages seen per phase, kept while the UPS runs."""
        seen = {"input": input_voltage, "output": output_voltage}
        values: dict[str, Value] = {}
        for phase in range(1, self._rating.phases + 1):
            for side, voltage in seen.items():
                for extreme, pick in (("max", max), ("min", min)):
                    key = f"{side}_voltage_{extreme}_l{phase}"
                    self._extremes[key] = pick(self._extremes.get(key, voltage), voltage)
                    values[key] = round(self._extremes[key])
        return values


def _low_battery_minutes(device: ProfileDevice) -> float:
    """Return the runtime at which the UPS announces low battery: its own setting (30053)."""
    if device.profile.has_point("low_battery_warning_time"):
        setting = device.get_value("low_battery_warning_time")
        if isinstance(setting, int | float) and not isinstance(setting, bool):
            return setting
    return DEFAULT_LOW_BATTERY_MINUTES


def _put_all(device: ProfileDevice, values: dict[str, Value]) -> None:
    """Store each value whose point the variant's map has."""
    for key, value in values.items():
        if device.profile.has_point(key):
            device.set_value(key, _as_register_value(device.profile.point(key), value))


def _as_register_value(point: Point, value: Value) -> Value:
    """Round a number for an unscaled integer register to a whole number."""
    integer = point.data_type not in (DataType.F32, DataType.F64, DataType.BOOL)
    if isinstance(value, float) and integer and point.scale == 1 and not point.options:
        return round(value)
    return value


def _put_bit_fields(device: ProfileDevice, values: dict[str, int]) -> None:
    """Pack bit-field values that share a register into it (other bits stay zero)."""
    packed: dict[tuple[Table, int], int] = {}
    for key, value in values.items():
        if not device.profile.has_point(key):
            continue
        point = device.profile.point(key)
        assert point.bit_field is not None  # only bit-field points are packed
        low, _high = point.bit_field
        where = (point.table, point.address)
        packed[where] = packed.get(where, 0) | value << low
    for (table, address), word in packed.items():
        device.set_registers(table, address, [word])
