"""An APC Smart-UPS 1500 that runs a small server rack, on either register map.

The UPS is one state machine; what a master reads depends on the map it is served
with. The native Modbus map (SMT/SRT/SMX) gets every status bit-field register,
the binary fixed-point measurements and the command registers. The AP9622 card map
gets the plain-unit candidate registers; the card has no command registers.

What happens over time:

* With input power the UPS is online, charges its battery and counts energy.
* When the input fails (:meth:`ApcUpsBehaviour.fail_input`) it goes on battery;
  the charge drains with the load, the runtime estimate falls, and below
  :data:`LOW_RUNTIME` seconds "shutdown imminent" is signalled. An empty battery
  switches the output off. When the input returns
  (:meth:`ApcUpsBehaviour.restore_input`) the UPS is online again, restarts an
  output the battery ran out on, and recharges.
* A load above 100 % raises the overload error; a battery warmer than
  :data:`HOT_BATTERY` degrees raises the over-temperature error.

Commands written to the native command registers act as the register map
describes: battery test (refused below 90 % charge, on battery or with the output
off; fails when the battery was flagged weak), runtime calibration (needs a full
battery; runs the load on battery down to 25 %), output on/off/reboot/shutdown
with the configured delays, cancel, bypass in/out, clear faults, mute, cancel mute
and the indicator test. A shutdown returns the output when the input returns, or
after the reboot duration if the input never failed. A command value with no
command bit, two command bits or bits the map does not define is refused with
"illegal data value"; a write that covers only part of a command register pair is
refused with "illegal data address".

Register addresses, bit positions, codes and binary fixed-point steps are stated
here from the researched maps in ``devices/apc.md`` (APC's 990-9840 register map
and AN176 as NUT and apcupsd implement them; the AP9622 candidate map), not taken
from the engine's profile: no seed document describes these registers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
import math

from ..errors import DeviceExceptionError
from ..models import Point, Table, Value
from .profile_device import ILLEGAL_ADDRESS, ILLEGAL_VALUE, ProfileDevice

SECONDS_PER_HOUR = 3600.0
LOW_RUNTIME = 150.0
HOT_BATTERY = 50.0
TEST_DURATION = 10.0
INDICATOR_TEST_DURATION = 2.0
CHARGE_PER_SECOND = 100.0 / (3 * SECONDS_PER_HOUR)
CALIBRATION_END_CHARGE = 25.0
TEST_MINIMUM_CHARGE = 90.0

IDENTITY: dict[str, Value] = {
    "firmware_version": "UPS 15.5",
    "model": "Smart-UPS 1500",
    "serial_number": "AS1234567890",
    "nominal_power": 1500,
    "nominal_real_power": 1000,
    "ups_name": "rack-ups",
    "input_transfer_high_voltage": 253,
    "input_transfer_low_voltage": 196,
    "main_outlets_off_delay": 90,
    "main_outlets_on_delay": 0,
    "main_outlets_reboot_duration": 8,
}

# devices/apc.md "Dynamic block": (PDU address, fraction bits) of the binary fixed-point values
# (value = register / 2**bits), and the 32-bit values (high word first).
BATTERY_CHARGE = (130, 9)
BATTERY_VOLTAGE = (131, 5)
BATTERY_TEMPERATURE = (135, 7)
LOAD = (136, 8)
APPARENT_LOAD = (138, 8)
OUTPUT_CURRENT = (140, 5)
OUTPUT_VOLTAGE = (142, 6)
OUTPUT_FREQUENCY = (144, 7)
INPUT_VOLTAGE = (151, 6)
RUNTIME_SECONDS = 128
OUTPUT_ENERGY = 145
STAY_OFF_COUNTDOWN = 157
NOT_ACTIVE = -1  # a countdown with nothing pending
# devices/apc.md (A): AP9622 line quality, 0x00FF acceptable and 0x0000 unacceptable.
LINE_ACCEPTABLE = 0x00FF
LINE_UNACCEPTABLE = 0x0000

# devices/apc.md "Command registers": native command registers (PDU addresses), how many
# registers each takes, and their bits.
UPS_COMMAND = 1536
OUTLET_COMMAND = 1538
BATTERY_TEST_COMMAND = 1541
CALIBRATION_COMMAND = 1542
USER_INTERFACE_COMMAND = 1543
_COMMAND_SIZES = {
    UPS_COMMAND: 2,
    OUTLET_COMMAND: 2,
    BATTERY_TEST_COMMAND: 1,
    CALIBRATION_COMMAND: 1,
    USER_INTERFACE_COMMAND: 1,
}
_COMMAND_AREA = range(UPS_COMMAND, USER_INTERFACE_COMMAND + 1)

_BYPASS_IN, _BYPASS_OUT, _CLEAR_FAULTS = 1 << 4, 1 << 5, 1 << 9
_UPS_SOURCE_BITS = 1 << 29 | 1 << 30
_OUTLET_CANCEL, _OUTLET_ON, _OUTLET_OFF, _OUTLET_SHUTDOWN, _OUTLET_REBOOT = (
    1 << bit for bit in range(5)
)
_OUTLET_COMMAND_BITS = 0b11111
_COLD_BOOT, _USE_ON_DELAY, _USE_OFF_DELAY = 1 << 5, 1 << 6, 1 << 7
_MAIN_OUTLETS = 1 << 8
_OUTLET_SOURCE_BITS = sum(1 << bit for bit in range(12, 19))
_OUTLET_KNOWN_BITS = (
    _OUTLET_COMMAND_BITS
    | _COLD_BOOT
    | _USE_ON_DELAY
    | _USE_OFF_DELAY
    | _MAIN_OUTLETS
    | _OUTLET_SOURCE_BITS
)
_START, _ABORT = 1, 2
_UI_SHORT_TEST, _UI_CONTINUOUS_TEST, _UI_MUTE, _UI_CANCEL_MUTE = 1, 2, 4, 8
_UI_KNOWN_BITS = 0b1101111

# devices/apc.md "Status block" 23/24: result, source and modifier bits of the test and
# calibration status registers.
_FROM_PROTOCOL = 1 << 6
_INVALID_STATE = 1 << 9
_CHARGE_NOT_ACCEPTABLE = 1 << 11


class Result(IntEnum):
    """The one-hot result bits of the battery test and calibration status registers (23, 24)."""

    NONE = 0
    PENDING = 1
    IN_PROGRESS = 2
    PASSED = 4
    FAILED = 8
    REFUSED = 16
    ABORTED = 32


class Cause(IntEnum):
    """Status-change causes the simulated UPS reports (register 2, devices/apc.md)."""

    SYSTEM_INITIALIZATION = 0
    LOW_INPUT_VOLTAGE = 2
    ACCEPTABLE_INPUT = 8
    TEST_ENDED = 10
    PROTOCOL_COMMAND = 12
    LOW_BATTERY_VOLTAGE = 13
    AUTOMATIC_RESTART = 18


@dataclass
class _Procedure:
    """A battery test or calibration: its result bits and when a running one ends."""

    result: Result = Result.NONE
    modifiers: int = 0
    ends_at: float | None = None

    @property
    def running(self) -> bool:
        """Whether the procedure is in progress."""
        return self.result is Result.IN_PROGRESS

    def register(self) -> int:
        """Return the status register: result, source (protocol) and modifier bits."""
        if self.result is Result.NONE:
            return 0
        return int(self.result) | _FROM_PROTOCOL | self.modifiers


@dataclass
class ApcUpsBehaviour:
    """A Smart-UPS 1500 with a 35 % load, served with the register map of its profile."""

    speed: float = 1.0
    native: bool = True
    load_percent: float = 35.0
    battery_capacity_wh: float = 220.0
    charge: float = 100.0
    battery_temperature: float = 27.0
    weak_battery: bool = False
    replace_battery: bool = False
    input_ok: bool = True
    output_on: bool = True
    bypass: bool = False
    muted: bool = False
    cause: Cause = Cause.SYSTEM_INITIALIZATION
    battery_test: _Procedure = field(default_factory=_Procedure)
    calibration: _Procedure = field(default_factory=_Procedure)
    output_energy: float = 48_200.0
    _now: float = 0.0
    _start: float | None = None
    _pending_on: float | None = None
    _pending_off: float | None = None
    _return_with_input: bool = False
    _exhausted: bool = False
    _indicator_test_until: float = -1.0

    # -- what a test does to the UPS ---------------------------------------------------------

    def fail_input(self) -> None:
        """Fail the utility input: the UPS carries the load on battery."""
        self.input_ok = False
        self.cause = Cause.LOW_INPUT_VOLTAGE

    def restore_input(self) -> None:
        """Bring the utility input back: the UPS goes online and restarts an output it had to drop."""
        self.input_ok = True
        self.cause = Cause.ACCEPTABLE_INPUT
        if self._exhausted or self._return_with_input:
            self._exhausted = self._return_with_input = False
            self.output_on = True
            self.cause = Cause.AUTOMATIC_RESTART

    # -- Behaviour protocol ------------------------------------------------------------------

    def advance(self, device: ProfileDevice, now: float) -> None:
        """Run the UPS up to ``now``: drain or charge, finish timed actions, publish registers."""
        if self._start is None:
            self._start = self._now = now
            self._initialise(device)
        elapsed = max(now - self._now, 0.0) * self.speed
        self._now = now
        self._run_timers()
        self._flow_energy(elapsed)
        self._publish(device)

    def on_write(
        self, device: ProfileDevice, table: Table, address: int, values: Sequence[int]
    ) -> bool:
        """Carry out writes to the native command registers; leave every other write to the image."""
        if not self.native or table is not Table.HOLDING_REGISTER:
            return False
        touched = range(address, address + len(values))
        if not set(touched) & set(_COMMAND_AREA):
            return False
        if _COMMAND_SIZES.get(address) != len(values):
            raise DeviceExceptionError(ILLEGAL_ADDRESS)
        word = 0
        for value in values:
            word = word << 16 | value
        {
            UPS_COMMAND: self._ups_command,
            OUTLET_COMMAND: self._outlet_command,
            BATTERY_TEST_COMMAND: self._battery_test_command,
            CALIBRATION_COMMAND: self._calibration_command,
            USER_INTERFACE_COMMAND: self._user_interface_command,
        }[address](word)
        self._publish(device)
        return True

    def after_write(self, device: ProfileDevice, point: Point, value: Value | None) -> None:
        """No point of either map is writable; nothing to follow up."""

    # -- state ------------------------------------------------------------------------------

    @property
    def on_battery(self) -> bool:
        """Whether the battery carries the load."""
        return (
            self.output_on and not self.bypass and (not self.input_ok or self.calibration.running)
        )

    @property
    def online(self) -> bool:
        """Whether the inverter carries the load from the utility input."""
        return self.output_on and not self.bypass and not self.on_battery

    @property
    def load_watts(self) -> float:
        """The real power drawn by the load now."""
        return (
            self.load_percent / 100.0 * float(IDENTITY["nominal_real_power"])
            if self.output_on
            else 0.0
        )

    @property
    def runtime(self) -> float:
        """Seconds the battery would carry the present load."""
        watts = max(self.load_watts, 10.0)
        return self.charge / 100.0 * self.battery_capacity_wh / watts * SECONDS_PER_HOUR

    @property
    def shutdown_imminent(self) -> bool:
        """Whether the UPS warns that the battery is about to run out."""
        return self.on_battery and self.runtime < LOW_RUNTIME

    def _run_timers(self) -> None:
        """Finish pending output actions, tests and calibrations whose time has come."""
        now = self._now
        if self._pending_off is not None and now >= self._pending_off:
            self._pending_off = None
            self.output_on = False
        if self._pending_on is not None and now >= self._pending_on:
            self._pending_on = None
            self.output_on = True
            self._return_with_input = False
        test = self.battery_test
        if test.running and test.ends_at is not None and now >= test.ends_at:
            test.result, test.ends_at = (
                (Result.FAILED if self.weak_battery else Result.PASSED),
                None,
            )
            self.replace_battery = self.replace_battery or self.weak_battery
            self.cause = Cause.TEST_ENDED

    def _flow_energy(self, seconds: float) -> None:
        """Drain or charge the battery over ``seconds`` and count the output energy."""
        if seconds <= 0:
            return
        self.output_energy += self.load_watts * seconds / SECONDS_PER_HOUR
        if self.on_battery:
            used = self.load_watts * seconds / SECONDS_PER_HOUR / self.battery_capacity_wh * 100.0
            self.charge = max(self.charge - used, 0.0)
            if self.calibration.running and self.charge <= CALIBRATION_END_CHARGE:
                self.calibration.result = Result.PASSED
            if self.charge <= 0.0:
                self.output_on = False
                self._exhausted = True
                self.cause = Cause.LOW_BATTERY_VOLTAGE
        elif self.input_ok:
            self.charge = min(self.charge + CHARGE_PER_SECOND * seconds, 100.0)

    # -- commands ---------------------------------------------------------------------------

    def _ups_command(self, word: int) -> None:
        """UPSCommand_BF: bypass in or out, clear faults."""
        command = word & ~_UPS_SOURCE_BITS
        if command not in (_BYPASS_IN, _BYPASS_OUT, _CLEAR_FAULTS):
            raise DeviceExceptionError(ILLEGAL_VALUE)
        self.cause = Cause.PROTOCOL_COMMAND
        if command == _BYPASS_IN and self.input_ok:
            self.bypass = True
        elif command == _BYPASS_OUT:
            self.bypass = False

    def _outlet_command(self, word: int) -> None:
        """OutletCommand_BF for the main outlet group, with its delays."""
        command = word & _OUTLET_COMMAND_BITS
        if word & ~_OUTLET_KNOWN_BITS or not word & _MAIN_OUTLETS or command.bit_count() != 1:
            raise DeviceExceptionError(ILLEGAL_VALUE)
        self.cause = Cause.PROTOCOL_COMMAND
        on_delay = float(IDENTITY["main_outlets_on_delay"]) if word & _USE_ON_DELAY else 0.0
        off_delay = float(IDENTITY["main_outlets_off_delay"]) if word & _USE_OFF_DELAY else 0.0
        stay_off = float(IDENTITY["main_outlets_reboot_duration"])
        if command == _OUTLET_CANCEL:
            self._pending_on = self._pending_off = None
            self._return_with_input = False
        elif command == _OUTLET_ON:
            self._pending_off = None
            self._schedule_on(on_delay)
        elif command == _OUTLET_OFF:
            self._pending_on = None
            self._schedule_off(off_delay)
        elif command == _OUTLET_REBOOT:
            self._schedule_off(off_delay)
            self._pending_on = self._now + (off_delay + stay_off + on_delay) / self.speed
        else:
            self._schedule_off(off_delay)
            if self.input_ok:
                self._pending_on = self._now + (off_delay + stay_off) / self.speed
            else:
                self._return_with_input = True

    def _schedule_on(self, delay: float) -> None:
        """Switch the output on now, or after ``delay`` seconds of device time."""
        if delay:
            self._pending_on = self._now + delay / self.speed
        else:
            self.output_on = True

    def _schedule_off(self, delay: float) -> None:
        """Switch the output off now, or after ``delay`` seconds of device time."""
        if delay:
            self._pending_off = self._now + delay / self.speed
        else:
            self.output_on = False

    def _battery_test_command(self, word: int) -> None:
        """ReplaceBatteryTestCommand_BF: start or abort the self-test."""
        test = self.battery_test
        if word == _START:
            if not self.input_ok or not self.output_on:
                test.result, test.modifiers = Result.REFUSED, _INVALID_STATE
            elif self.charge < TEST_MINIMUM_CHARGE:
                test.result, test.modifiers = Result.REFUSED, _CHARGE_NOT_ACCEPTABLE
            else:
                test.result, test.modifiers = Result.IN_PROGRESS, 0
                test.ends_at = self._now + TEST_DURATION / self.speed
        elif word == _ABORT:
            if test.running:
                test.result, test.ends_at = Result.ABORTED, None
        else:
            raise DeviceExceptionError(ILLEGAL_VALUE)

    def _calibration_command(self, word: int) -> None:
        """RunTimeCalibrationCommand_BF: start or abort the runtime calibration."""
        calibration = self.calibration
        if word == _START:
            if not self.input_ok or not self.output_on:
                calibration.result, calibration.modifiers = Result.REFUSED, _INVALID_STATE
            elif self.charge < 100.0:
                calibration.result, calibration.modifiers = Result.REFUSED, _CHARGE_NOT_ACCEPTABLE
            else:
                calibration.result, calibration.modifiers = Result.IN_PROGRESS, 0
        elif word == _ABORT:
            if calibration.running:
                calibration.result = Result.ABORTED
        else:
            raise DeviceExceptionError(ILLEGAL_VALUE)

    def _user_interface_command(self, word: int) -> None:
        """UserInterfaceCommand_BF: indicator tests, mute and cancel mute, acknowledgements."""
        if not word or word & ~_UI_KNOWN_BITS or (word & _UI_MUTE and word & _UI_CANCEL_MUTE):
            raise DeviceExceptionError(ILLEGAL_VALUE)
        if word & _UI_MUTE:
            self.muted = True
        if word & _UI_CANCEL_MUTE:
            self.muted = False
        if word & (_UI_SHORT_TEST | _UI_CONTINUOUS_TEST):
            self._indicator_test_until = self._now + INDICATOR_TEST_DURATION / self.speed

    # -- registers --------------------------------------------------------------------------

    def _initialise(self, device: ProfileDevice) -> None:
        """Learn the register map and write the identity and configuration the UPS ships with."""
        self.native = device.profile.has_point("ups_status_flags")
        for key, value in IDENTITY.items():
            if not device.profile.has_point(key):
                continue
            if isinstance(value, str):
                value = value.ljust(2 * device.profile.point(key).count)
            device.set_value(key, value)

    def _publish(self, device: ProfileDevice) -> None:
        """Store the state in the registers of the map the device is served with."""
        t = (self._now - (self._start or 0.0)) * self.speed
        input_voltage = 230.0 + 2.0 * math.sin(t / 30.0) if self.input_ok else 0.0
        load = self.load_percent * (1.0 + 0.02 * math.sin(t / 11.0)) if self.output_on else 0.0
        output_voltage = (input_voltage if self.bypass else 230.0) if self.output_on else 0.0
        apparent_load = load / 0.9
        output_current = apparent_load / 100.0 * float(IDENTITY["nominal_power"]) / 230.0
        battery_voltage = 24.0 + 3.0 * self.charge / 100.0 + (0.3 if self.input_ok else -0.6)
        readings = _Readings(
            input_voltage, load, apparent_load, output_voltage, output_current, battery_voltage
        )
        if self.native:
            self._publish_native(device, readings)
        else:
            self._publish_ap9622(device, readings)

    def _publish_native(self, device: ProfileDevice, readings: _Readings) -> None:
        """Store the native SMT/SRT/SMX registers."""
        overload = self.load_percent > 100.0 and self.output_on
        hot = self.battery_temperature > HOT_BATTERY
        status = (
            self.online << 1
            | self.on_battery << 2
            | self.bypass << 3
            | (not self.output_on) << 4
            | (overload or hot) << 5
            | (not self.input_ok) << 6
            | self.battery_test.running << 7
            | (self._pending_on is not None) << 8
            | (self._pending_off is not None) << 9
        )
        device.set_registers(Table.HOLDING_REGISTER, 0, [overload << 5, status])
        device.set_registers(Table.HOLDING_REGISTER, 2, [int(self.cause)])
        rebooting = self._pending_on is not None and not self.output_on
        outlets = (
            self.output_on
            | (not self.output_on) << 1
            | rebooting << 2
            | (self._pending_off is not None) << 3
            | (self._pending_on is not None) << 8
            | (self._pending_off is not None) << 9
        )
        device.set_registers(Table.HOLDING_REGISTER, 3, [0, outlets])
        device.set_registers(
            Table.HOLDING_REGISTER, 18, [(not self.input_ok) | self.shutdown_imminent << 1, 0]
        )
        device.set_registers(Table.HOLDING_REGISTER, 20, [0, overload | hot << 4])
        device.set_registers(Table.HOLDING_REGISTER, 22, [self.replace_battery << 2])
        device.set_registers(
            Table.HOLDING_REGISTER, 23, [self.battery_test.register(), self.calibration.register()]
        )
        alarm = (self.on_battery or overload or hot or self.replace_battery) and not self.muted
        indicator_test = self._now < self._indicator_test_until
        device.set_registers(
            Table.HOLDING_REGISTER,
            25,
            [4 if self.replace_battery else 1, indicator_test | alarm << 1 | self.muted << 2],
        )
        _put_32(device, RUNTIME_SECONDS, round(self.runtime))
        fixed_point = {
            BATTERY_CHARGE: self.charge,
            BATTERY_VOLTAGE: readings.battery_voltage,
            BATTERY_TEMPERATURE: self.battery_temperature,
            LOAD: readings.load,
            APPARENT_LOAD: readings.apparent_load,
            OUTPUT_CURRENT: readings.output_current,
            OUTPUT_VOLTAGE: readings.output_voltage,
            OUTPUT_FREQUENCY: 50.0 if self.output_on else 0.0,
            INPUT_VOLTAGE: readings.input_voltage,
        }
        for (address, fraction_bits), value in fixed_point.items():
            device.set_registers(
                Table.HOLDING_REGISTER, address, [round(value * (1 << fraction_bits)) & 0xFFFF]
            )
        _put_32(device, OUTPUT_ENERGY, round(self.output_energy))
        device.set_registers(Table.HOLDING_REGISTER, 150, [self.input_ok])
        device.set_registers(Table.HOLDING_REGISTER, 154, [self._efficiency_word(readings)])
        countdowns = (self._countdown(self._pending_off), self._countdown(self._pending_on))
        device.set_registers(Table.HOLDING_REGISTER, 155, [word & 0xFFFF for word in countdowns])
        _put_32(device, STAY_OFF_COUNTDOWN, NOT_ACTIVE)

    def _publish_ap9622(self, device: ProfileDevice, readings: _Readings) -> None:
        """Store the candidate AP9622 registers, in plain units."""
        values: dict[str, Value] = {
            "line_quality": LINE_ACCEPTABLE if self.input_ok else LINE_UNACCEPTABLE,
            "battery_charge": round(self.charge),
            "battery_runtime": round(self.runtime / 60.0),
            "battery_voltage": round(readings.battery_voltage),
            "load_current": round(readings.output_current),
            "bad_battery_packs": int(self.replace_battery),
            "battery_packs": 1,
            "load": round(readings.load),
            "input_voltage_max": round(readings.input_voltage + 1.0) if self.input_ok else 0,
            "input_voltage_min": round(readings.input_voltage - 1.0) if self.input_ok else 0,
            "battery_voltage_nominal": 24,
            "battery_voltage_actual": round(readings.battery_voltage),
            "input_frequency": 50 if self.input_ok else 0,
            "input_voltage_l1": round(readings.input_voltage),
            "input_current_l1": round(readings.output_current) if self.input_ok else 0,
            "bypass_voltage_l1": round(readings.input_voltage),
            "load_l1": round(readings.apparent_load),
            "load_redundant_l1": round(readings.apparent_load),
            "output_apparent_power_l1": round(readings.apparent_load / 100.0 * 1.5),
            "output_voltage_l1": round(readings.output_voltage),
            "output_current_l1": round(readings.output_current),
            "output_peak_current_l1": round(readings.output_current * 1.4),
        }
        for key, value in values.items():
            device.set_value(key, value)
        device.set_registers(Table.HOLDING_REGISTER, 10, [round(self.battery_temperature) & 0xFF])

    def _efficiency_word(self, readings: _Readings) -> int:
        """Efficiency in 1/128 %, or the negative code that says why there is none."""
        if not self.output_on:
            return -3 & 0xFFFF
        if self.on_battery:
            return -4 & 0xFFFF
        if self.bypass:
            return -5 & 0xFFFF
        if readings.load < 10.0:
            return -2 & 0xFFFF
        return round((92.0 + readings.load / 50.0) * 128)

    def _countdown(self, due: float | None) -> int:
        """Whole seconds of device time until ``due``, or -1 when nothing is pending."""
        if due is None:
            return -1
        return max(math.ceil((due - self._now) * self.speed), 0)


@dataclass(frozen=True, slots=True)
class _Readings:
    """The electrical values of one moment, shared by both register maps."""

    input_voltage: float
    load: float
    apparent_load: float
    output_voltage: float
    output_current: float
    battery_voltage: float


def _put_32(device: ProfileDevice, address: int, value: int) -> None:
    """Store a 32-bit value (two's complement when negative) high word first from ``address``."""
    word = value & 0xFFFFFFFF
    device.set_registers(Table.HOLDING_REGISTER, address, [word >> 16, word & 0xFFFF])
