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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from .. import ups
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
DELAY_RESOLUTION = 10


class CommandRegister(IntEnum):
    """PDU addresses of the command holding registers (40101 is PDU 100)."""

    SILENCE_ALARM = 100
    BATTERY_TEST = 101
    OUTPUT_OFF = 103
    OUTPUT_REBOOT = 104
    OUTPUT_ON = 105
    TO_BYPASS = 106
    TO_INVERTER = 107
    RESET_STATISTICS = 110
    OUTLETS_ON = 111
    OUTLETS_OFF = 112


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
    test_result: str = ups.BatteryTestResult.PASSED
    _scenario: bool = True
    _rating: _Rating = _SINGLE_PHASE
    _time: float = 0.0
    _last: float | None = None
    _test_ends: float | None = None
    _result_before_test: str = ups.BatteryTestResult.PASSED
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
        if value not in (0, 1):
            raise DeviceExceptionError(ILLEGAL_VALUE)
        if value == 0:
            if self.battery_test_running:
                self._test_ends = None
                self.test_result = self._result_before_test
            return
        if self.battery_test_running:
            return
        if not self.input_ok:
            self.test_result = ups.BatteryTestResult.INHIBITED
            return
        self._result_before_test = self.test_result
        self.test_result = ups.BatteryTestResult.IN_PROGRESS
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
            self.test_result = ups.BatteryTestResult.PASSED

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
        """Pick the rating from the map and fill in what never changes."""
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
            ups.NOMINAL_POWER: rating.apparent_power,
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
            ups.LOW_BATTERY_WARNING_TIME: DEFAULT_LOW_BATTERY_MINUTES,
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
            ups.ON_BATTERY: self.on_battery,
            ups.SHUTDOWN_IMMINENT: self.on_battery
            and self.runtime_minutes <= _low_battery_minutes(device),
            ups.INPUT_FAIL: not self.input_ok,
            ups.ON_INVERTER: powered and not self.on_bypass,
            ups.ON_BYPASS: self.on_bypass,
            ups.OUTPUT_OFF: not powered,
            ups.BATTERY_UNDER_TEST: self.battery_test_running,
            "output_off_pending": any(action == "off" for _, action in self._pending),
            "battery_charger_on": self.input_ok and self.charge < 100.0,
            "dc_dc_converter_on": self.on_battery,
            ups.LOAD: round(load),
            ups.LOAD_APPARENT_POWER: round(apparent),
            ups.LOAD_POWER: round(real),
            ups.INPUT_FREQUENCY: frequency,
            ups.OUTPUT_FREQUENCY: 50.0 if powered else 0.0,
            ups.BYPASS_FREQUENCY: frequency,
            ups.BATTERY_CHARGE_STATUS: self._charge_status(),
            ups.BATTERY_VOLTAGE: round(
                rating.battery_voltage * (1.0 + 0.125 * self.charge / 100.0)
            ),
            ups.BATTERY_CURRENT: round(battery_current),
            ups.BATTERY_RUNTIME: self.runtime_minutes,
            ups.BATTERY_CHARGE: round(self.charge),
            ups.BATTERY_TEMPERATURE: 27,
            "pfc_temperature": 38,
            ups.AMBIENT_TEMPERATURE: 24,
            ups.BATTERY_TEST_RESULT: self.test_result,
            ups.BLACKOUT_COUNT: self.blackouts,
            ups.BROWNOUT_COUNT: self.brownouts,
        }
        for circuit in range(1, 17):
            values[f"load_circuit_{circuit}"] = powered and bool(self.outlets >> (circuit - 1) & 1)
        for phase in range(1, rating.phases + 1):
            values.update(
                {
                    ups.phase_key(ups.INPUT_VOLTAGE, phase): input_voltage,
                    ups.phase_key(ups.INPUT_CURRENT, phase): round(input_current),
                    ups.phase_key(ups.BYPASS_VOLTAGE, phase): input_voltage,
                    ups.phase_key(ups.BYPASS_CURRENT, phase): round(output_current)
                    if self.on_bypass
                    else 0,
                    ups.phase_key(ups.OUTPUT_VOLTAGE, phase): output_voltage,
                    ups.phase_key(ups.OUTPUT_CURRENT, phase): round(output_current)
                    if powered
                    else 0,
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

    def _charge_status(self) -> str:
        """Return the battery charge status label."""
        if self.on_battery:
            return ups.ChargeStatus.DISCHARGING
        if self.charge >= 100.0:
            return ups.ChargeStatus.FULLY_CHARGED
        return ups.ChargeStatus.CHARGING if self.input_ok else ups.ChargeStatus.NOT_FULLY_CHARGED

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
    if device.profile.has_point(ups.LOW_BATTERY_WARNING_TIME):
        setting = device.get_value(ups.LOW_BATTERY_WARNING_TIME)
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
