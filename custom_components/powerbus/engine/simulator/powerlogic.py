"""A PowerLogic meter (CM2000, CM3000, CM4000 or PM800) on a three-phase feeder, command interface included.

Values move as on a loaded feeder: three phases with slowly varying voltage and
load, two phases lagging and one leading (a capacitor bank), so power factors of
both signs appear. Integer currents, voltages and powers are stored with the
exponent held in their scale-group register, as the meter does; energies are
integrated into seven MOD10 counters that survive everything but a preset.

The command interface follows the manuals and FAQs (register numbers as they
write them; the image is addressed at register - 1):

* 8000 takes a command code and runs it at once; 8001-8015 hold parameters,
  8017/8018/8019 the status, results and data pointers into the user area
  8020-8149. After each command the status register (if its pointer is set)
  receives 0 and the results register the result: 0 done, 81 invalid command,
  82 invalid parameters.
* 9020 opens the setup session. A second 9020 while it is open is refused with
  exception 0x06 (server busy): one session at a time. 9021 closes it, saving the
  staged setup registers if 8001 holds 1 and discarding them otherwise; then the
  meter restarts. The session ends without saving after ``setup_timeout``
  seconds without a write. 9021 without an open session answers 81.
* 1110 inside a setup session restarts the meter (staged changes are lost);
  outside a session it answers 81.
* 6209 presets the seven energies from the 28 registers at the data pointer, in
  the order of 1700-1727; 82 if the pointer leaves no room for them or any
  register is outside -9999..9999, and then nothing changes.
* Setup registers (PM800 1443 and 3248, CM3000 6426, CM4000 3239, and the
  EN50160 pass/fail limits 3900-3950 of all three) accept writes only inside a
  session (exception 0x02 otherwise) and take effect on save; the CM3000/CM4000
  float switch 3248 takes a plain write at any time. The limits start at -32768
  (test disabled) and take 0..32767 or -32768 (exception 0x03 otherwise).
* With the float switch on, the float block (PM800 11700, CM3000/CM4000 57600)
  is readable and follows the values; before it was ever switched on, reading it
  is refused. On a CM4000 with 3239 = 11, 1080 holds the 100 ms frequency.

What the sources leave open (the exception codes, what the status register
holds, the restart taking no time) is modelled plainly and listed in
docs/devices/powerlogic.md.
"""

from __future__ import annotations

import cmath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
import math
import time

from ..codecs import encode_value
from ..energy_transfer import PRESET_ORDER, PRESET_REGISTERS
from ..errors import ConfigError, DeviceExceptionError
from ..models import DataType, Point, Profile, Table, Value, WordOrder
from ..profile import get_profile
from .profile_device import ILLEGAL_ADDRESS, ILLEGAL_VALUE, ProfileDevice

SECONDS_PER_HOUR = 3600.0
SETUP_TIMEOUT = 120.0
SERVER_BUSY = 0x06
NOT_AVAILABLE = -32768
INT16_LIMIT = 32767
MOD10_BASE = 10_000
MOD10_PART_LIMIT = 9999

COMMAND_REGISTER = 8000
SAVE_FLAG = 8001
STATUS_POINTER = 8017
RESULTS_POINTER = 8018
DATA_POINTER = 8019
COMMAND_AREA = range(8000, 8150)
USER_AREA = range(8020, 8150)
FLOAT_SWITCH = 3248
FAST_FREQUENCY_MODE = 3239
FAST_FREQUENCY_ON = 11
FAST_FREQUENCY = 1080
FIRMWARE = 7001
NOMINAL_FREQUENCY = 3208
SCALE_REGISTERS = (3209, 3210, 3211, 3212, 3213, 3214)
EN50160_LIMITS = range(3900, 3951)


_PHASES = ("l1", "l2", "l3")
_PHASE_ANGLES = (0.0, -2 * math.pi / 3, 2 * math.pi / 3)
_ANY_WORD = range(0x10000)
_SWITCH = range(2)
_LIMIT_WORDS = range(0x8001)  # 0..32767, and 0x8000: -32768, the test disabled
_EN50160_SETUP = dict.fromkeys(EN50160_LIMITS, _LIMIT_WORDS)
_EN50160_DEFAULTS = dict.fromkeys(EN50160_LIMITS, NOT_AVAILABLE)


class Code(IntEnum):
    """Command codes written to 8000."""

    ENTER_SETUP = 9020
    EXIT_SETUP = 9021
    RESTART = 1110
    PRESET_ENERGIES = 6209


class Result(IntEnum):
    """What the results register reports after a command."""

    DONE = 0
    INVALID_COMMAND = 81
    INVALID_PARAMETERS = 82


@dataclass(frozen=True, kw_only=True, slots=True)
class Model:
    """What sets one PowerLogic model apart in the simulation."""

    setup_registers: Mapping[int, range]
    direct_registers: Mapping[int, range]
    defaults: Mapping[int, int]
    float_variant: str | None
    has_setup_session: bool
    has_fast_frequency: bool
    scales: tuple[int, int, int, int, int, int]
    phase_current: float
    firmware: int | None = None


MODELS: dict[str, Model] = {
    "pm800": Model(
        setup_registers={1443: _ANY_WORD, FLOAT_SWITCH: _SWITCH, **_EN50160_SETUP},
        direct_registers={},
        defaults={1443: 1, FLOAT_SWITCH: 0, **_EN50160_DEFAULTS},
        float_variant="pm800_float",
        has_setup_session=True,
        has_fast_frequency=False,
        scales=(-1, -1, -1, -1, -1, -2),
        phase_current=85.0,
        firmware=11900,
    ),
    "cm3000": Model(
        setup_registers={6426: range(4), **_EN50160_SETUP},
        direct_registers={FLOAT_SWITCH: _SWITCH},
        defaults={6426: 3, FLOAT_SWITCH: 0, **_EN50160_DEFAULTS},
        float_variant="cm3000_float",
        has_setup_session=True,
        has_fast_frequency=False,
        scales=(0, -1, -1, 0, -1, -1),
        phase_current=420.0,
    ),
    "cm4000": Model(
        setup_registers={FAST_FREQUENCY_MODE: range(0x8000), **_EN50160_SETUP},
        direct_registers={FLOAT_SWITCH: _SWITCH},
        defaults={FAST_FREQUENCY_MODE: 0, FLOAT_SWITCH: 0, **_EN50160_DEFAULTS},
        float_variant="cm4000_float",
        has_setup_session=True,
        has_fast_frequency=True,
        scales=(0, 0, 0, 0, -1, 1),
        phase_current=1450.0,
    ),
    "cm2000": Model(
        setup_registers={},
        direct_registers={},
        defaults={},
        float_variant=None,
        has_setup_session=False,
        has_fast_frequency=False,
        scales=(-1, -1, -1, 0, -1, -1),
        phase_current=160.0,
    ),
}

# Which model each profile variant simulates; the float variants start with floats on.
VARIANT_MODELS = {
    "pm800": "pm800",
    "pm800_float": "pm800",
    "cm3000": "cm3000",
    "cm3000_float": "cm3000",
    "cm4000": "cm4000",
    "cm4000_float": "cm4000",
    "cm2000": "cm2000",
}

# Counters of a meter that has run for some years (Wh, varh, VAh); reactive out exceeds
# reactive in, so the signed reactive total is negative.
INITIAL_ENERGY: dict[str, int] = {
    "import_active_energy": 8_204_517_336,
    "import_reactive_energy": 2_113_870_045,
    "export_active_energy": 15_230_118,
    "export_reactive_energy": 2_250_004_871,
    "active_energy": 8_204_517_336 - 15_230_118,
    "reactive_energy": 2_113_870_045 - 2_250_004_871,
    "apparent_energy": 9_120_336_470,
}


@dataclass(frozen=True, slots=True)
class PhaseState:
    """One phase: line-to-neutral voltage (V), current (A) and the angle the current lags by (rad)."""

    voltage: float
    current: float
    lag: float

    @property
    def apparent(self) -> float:
        """Apparent power in kVA."""
        return self.voltage * self.current / 1000.0

    @property
    def active(self) -> float:
        """Active power in kW."""
        return self.apparent * math.cos(self.lag)

    @property
    def reactive(self) -> float:
        """Reactive power in kvar, positive when the current lags."""
        return self.apparent * math.sin(self.lag)

    @property
    def power_factor(self) -> float:
        """Power factor, lagging positive and leading negative, in whole thousandths."""
        return _signed_power_factor(self.active, self.apparent, self.reactive)


@dataclass(frozen=True, slots=True)
class FeederState:
    """The feeder at one moment."""

    phases: tuple[PhaseState, PhaseState, PhaseState]
    frequency: float

    @property
    def active(self) -> float:
        """Total active power in kW."""
        return sum(phase.active for phase in self.phases)

    @property
    def reactive(self) -> float:
        """Total reactive power in kvar."""
        return sum(phase.reactive for phase in self.phases)

    @property
    def apparent(self) -> float:
        """Total apparent power in kVA (arithmetic sum of the phases)."""
        return sum(phase.apparent for phase in self.phases)

    def values(self) -> dict[str, float]:
        """Every real-time quantity by point key, in the integer units (A, V, kW, kvar, kVA, %)."""
        voltages = [p.voltage for p in self.phases]
        currents = [p.current for p in self.phases]
        line = [
            abs(
                cmath.rect(voltages[i], _PHASE_ANGLES[i])
                - cmath.rect(voltages[j], _PHASE_ANGLES[j])
            )
            for i, j in ((0, 1), (1, 2), (2, 0))
        ]
        neutral = abs(
            sum(
                cmath.rect(p.current, angle - p.lag)
                for p, angle in zip(self.phases, _PHASE_ANGLES, strict=True)
            )
        )
        values: dict[str, float] = {
            "current_n": neutral,
            "current_ground": 0.4,
            "current_avg": sum(currents) / 3,
            "voltage_l1_l2": line[0],
            "voltage_l2_l3": line[1],
            "voltage_l3_l1": line[2],
            "voltage_ll_avg": sum(line) / 3,
            "voltage_n_ground": 0.8,
            "voltage_ln_avg": sum(voltages) / 3,
            "active_power": self.active,
            "reactive_power": self.reactive,
            "apparent_power": self.apparent,
            "power_factor": _signed_power_factor(self.active, self.apparent, self.reactive),
            "frequency": self.frequency,
        }
        for name, phase in zip(_PHASES, self.phases, strict=True):
            values[f"current_{name}"] = phase.current
            values[f"voltage_{name}"] = phase.voltage
            values[f"active_power_{name}"] = phase.active
            values[f"reactive_power_{name}"] = phase.reactive
            values[f"apparent_power_{name}"] = phase.apparent
            values[f"power_factor_{name}"] = phase.power_factor
        for prefix, readings in (("current", currents), ("voltage", voltages)):
            deviations = _unbalance(readings)
            for name, deviation in zip(_PHASES, deviations, strict=True):
                values[f"{prefix}_unbalance_{name}"] = deviation
        line_deviations = _unbalance(line)
        for name, deviation in zip(("l1_l2", "l2_l3", "l3_l1"), line_deviations, strict=True):
            values[f"voltage_unbalance_{name}"] = deviation
        values["current_unbalance_max"] = max(_unbalance(currents))
        values["voltage_unbalance_ln_max"] = max(_unbalance(voltages))
        values["voltage_unbalance_ll_max"] = max(line_deviations)
        return values


@dataclass
class SetupSession:
    """An open setup session: the staged setup registers and the time of the last write."""

    last_write: float
    staged: dict[int, int] = field(default_factory=dict)


class PowerLogicBehaviour:
    """Moving values and the command interface of one PowerLogic meter.

    ``speed`` > 1 makes time (and energy) run faster; ``setup_timeout`` is how many
    seconds a setup session survives without a write; ``energy_preset`` False plays a
    firmware without command 6209 (it answers 81); ``clock`` times the session.
    The model (PM800, CM3000, CM4000 or CM2000) follows the profile variant of the
    device the behaviour is attached to.
    """

    def __init__(
        self,
        *,
        speed: float = 1.0,
        setup_timeout: float = SETUP_TIMEOUT,
        energy_preset: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare the behaviour; the model is taken from the device's profile on the first advance."""
        self.speed = speed
        self.setup_timeout = setup_timeout
        self.energy_preset = energy_preset
        self.restarts = 0
        self.events: list[str] = []
        self._clock = clock
        self._model: Model | None = None
        self._floats_from_start = False
        self._float_points: tuple[Point, ...] = ()
        self._float_block_exists = False
        self._session: SetupSession | None = None
        self._energy: dict[str, float] = {
            key: float(value) for key, value in INITIAL_ENERGY.items()
        }
        self._start: float | None = None
        self._last = 0.0
        self._state: FeederState | None = None

    @property
    def model(self) -> Model:
        """The model being simulated (known once the device has first advanced)."""
        if self._model is None:
            raise ConfigError("model", "the behaviour has not been attached to a device yet")
        return self._model

    # -- Behaviour protocol ---------------------------------------------------------------

    def advance(self, device: ProfileDevice, now: float) -> None:
        """Recompute the feeder at ``now``, publish it and integrate energy since the last call."""
        if self._start is None:
            self._start = self._last = now
            self._attach(device.profile)
            self._initialise(device)
        elapsed = (now - self._last) * self.speed
        self._last = now
        self._state = self._feeder((now - self._start) * self.speed)
        self._publish_realtime(device, self._state)
        if elapsed > 0:
            self._integrate(self._state, elapsed / SECONDS_PER_HOUR)
        self._publish_energy(device)
        self._expire_session(self._clock())

    def on_write(
        self, device: ProfileDevice, table: Table, address: int, values: Sequence[int]
    ) -> bool:
        """Take over writes to the command interface and the setup registers."""
        if table is not Table.HOLDING_REGISTER:
            return False
        now = self._clock()
        self._expire_session(now)
        registers = range(address + 1, address + 1 + len(values))
        words = [_to_signed(value) for value in values]
        if registers[0] in COMMAND_AREA and registers[-1] in COMMAND_AREA:
            self._write_command_area(device, registers, words, now)
            return True
        known = [
            r
            for r in registers
            if r in self.model.setup_registers or r in self.model.direct_registers
        ]
        if not known:
            return False
        self._write_setup_registers(device, registers, words, now)
        return True

    def after_write(self, device: ProfileDevice, point: Point, value: Value | None) -> None:
        """Do nothing: on_write takes over every write this meter accepts."""

    # -- Values ---------------------------------------------------------------------------

    def _attach(self, profile: Profile) -> None:
        """Take the model (and whether floats start switched on) from the profile variant."""
        if profile.key not in VARIANT_MODELS:
            raise ConfigError(
                "profile", f"'{profile.key}' is not a PowerLogic variant this simulator knows"
            )
        self._model = MODELS[VARIANT_MODELS[profile.key]]
        self._floats_from_start = profile.key == self._model.float_variant
        self._float_points = self._float_points_of(profile)
        self._float_block_exists = self._floats_from_start

    def _initialise(self, device: ProfileDevice) -> None:
        """Scale groups, setup registers and identity as the meter ships them."""
        _set(device, NOMINAL_FREQUENCY, 50)
        for register, exponent in zip(SCALE_REGISTERS, self.model.scales, strict=True):
            _set(device, register, exponent)
        for register, value in self.model.defaults.items():
            _set(device, register, value)
        if self._floats_from_start:
            _set(device, FLOAT_SWITCH, 1)
        if self.model.firmware is not None:
            _set(device, FIRMWARE, self.model.firmware)

    def _feeder(self, t: float) -> FeederState:
        """Compute the feeder ``t`` simulated seconds after the start."""
        rated = self.model.phase_current
        phases = (
            PhaseState(
                _wave(230.0, 2.5, t, 40.0, 0.0),
                _wave(rated, 0.2 * rated, t, 20.0, 0.0),
                math.acos(0.92),
            ),
            PhaseState(
                _wave(231.0, 2.0, t, 37.0, 2.1),
                _wave(0.85 * rated, 0.15 * rated, t, 23.0, 1.0),
                math.acos(0.87),
            ),
            PhaseState(
                _wave(229.0, 2.2, t, 43.0, 4.2),
                _wave(0.7 * rated, 0.1 * rated, t, 29.0, 2.0),
                -math.acos(0.95),
            ),
        )
        return FeederState(phases=phases, frequency=_wave(50.0, 0.03, t, 7.0, 0.0))

    def _publish_realtime(self, device: ProfileDevice, state: FeederState) -> None:
        """Write every real-time point the profile has, and the float block and 1080 if on."""
        for key, value in state.values().items():
            if not device.profile.has_point(key):
                continue
            point = device.profile.point(key)
            if point.data_type is DataType.F32:
                continue
            if point.scale_point is not None:
                _set_scaled(device, point, value)
            else:
                device.set_value(key, _quantise(point, value))
        self._publish_floats(device, state)
        self._publish_fast_frequency(device, state)

    def _publish_floats(self, device: ProfileDevice, state: FeederState) -> None:
        """Fill the float block while the float switch is on (NaN once it is switched off again)."""
        if not self._float_points:
            return
        on = _get(device, FLOAT_SWITCH) == 1
        if not on and not self._float_block_exists:
            return
        self._float_block_exists = True
        values = state.values()
        for point in self._float_points:
            number = values[point.key] * (1000.0 if point.unit in ("W", "var", "VA") else 1.0)
            device.set_registers(
                point.table,
                point.address,
                encode_value(DataType.F32, number if on else math.nan, WordOrder.ABCD, 2),
            )

    def _publish_fast_frequency(self, device: ProfileDevice, state: FeederState) -> None:
        """Publish the CM4000's 100 ms frequency in 1080 (0.01 Hz) once 3239 holds 11."""
        if not self.model.has_fast_frequency:
            return
        on = _get(device, FAST_FREQUENCY_MODE) == FAST_FREQUENCY_ON
        _set(device, FAST_FREQUENCY, round(state.frequency * 100) if on else NOT_AVAILABLE)

    def _integrate(self, state: FeederState, hours: float) -> None:
        """Add the energy of ``hours`` at ``state`` to the counters (kW x h x 1000 = Wh)."""
        active, reactive = state.active * 1000 * hours, state.reactive * 1000 * hours
        active_key = "import_active_energy" if active >= 0 else "export_active_energy"
        reactive_key = "import_reactive_energy" if reactive >= 0 else "export_reactive_energy"
        self._energy[active_key] += abs(active)
        self._energy[reactive_key] += abs(reactive)
        self._energy["active_energy"] += active
        self._energy["reactive_energy"] += reactive
        self._energy["apparent_energy"] += state.apparent * 1000 * hours

    def _publish_energy(self, device: ProfileDevice) -> None:
        """Write the seven counters as whole MOD10 values."""
        for key, value in self._energy.items():
            device.set_value(key, int(value))

    def _float_points_of(self, profile: Profile) -> tuple[Point, ...]:
        """Return the float points this meter can publish: its own, or those of its float variant."""
        if self.model.float_variant is None:
            return ()
        source = profile if self._floats_from_start else get_profile(self.model.float_variant)
        return tuple(p for p in source.points if p.data_type is DataType.F32)

    # -- Command interface ----------------------------------------------------------------

    def _write_command_area(
        self, device: ProfileDevice, registers: range, words: list[int], now: float
    ) -> None:
        """Store a write to 8000-8149; run the command when it covers 8000."""
        code = words[registers.index(COMMAND_REGISTER)] if COMMAND_REGISTER in registers else None
        if code == Code.ENTER_SETUP and self._session is not None:
            raise DeviceExceptionError(SERVER_BUSY)
        device.set_registers(Table.HOLDING_REGISTER, registers[0] - 1, [w & 0xFFFF for w in words])
        if self._session is not None:
            self._session.last_write = now
        if code is not None:
            result = self._run(device, code, now)
            self._report(device, result)

    def _write_setup_registers(
        self, device: ProfileDevice, registers: range, words: list[int], now: float
    ) -> None:
        """Stage setup registers in the open session, or store registers that take plain writes."""
        for register, word in zip(registers, words, strict=True):
            if register in self.model.setup_registers:
                if self._session is None:
                    raise DeviceExceptionError(ILLEGAL_ADDRESS)
                allowed = self.model.setup_registers[register]
            elif register in self.model.direct_registers:
                allowed = self.model.direct_registers[register]
            else:
                raise DeviceExceptionError(ILLEGAL_ADDRESS)
            if word & 0xFFFF not in allowed:
                raise DeviceExceptionError(ILLEGAL_VALUE)
        for register, word in zip(registers, words, strict=True):
            if register in self.model.setup_registers and self._session is not None:
                self._session.staged[register] = word
            else:
                _set(device, register, word)
        if self._session is not None:
            self._session.last_write = now
        self._publish_derived(device)

    def _run(self, device: ProfileDevice, code: int, now: float) -> Result:
        """Run command ``code`` and return its result."""
        if code == Code.PRESET_ENERGIES and self.energy_preset:
            return self._preset_energies(device)
        if not self.model.has_setup_session:
            return Result.INVALID_COMMAND
        if code == Code.ENTER_SETUP:
            self._session = SetupSession(last_write=now)
            self.events.append("setup opened")
            return Result.DONE
        if code not in (Code.EXIT_SETUP, Code.RESTART) or self._session is None:
            return Result.INVALID_COMMAND
        session, self._session = self._session, None
        if code == Code.EXIT_SETUP and _get(device, SAVE_FLAG) == 1:
            for register, word in session.staged.items():
                _set(device, register, word)
            self.events.append("setup saved")
        else:
            self.events.append("setup discarded")
        self.restarts += 1
        self.events.append("restart")
        self._publish_derived(device)
        return Result.DONE

    def _preset_energies(self, device: ProfileDevice) -> Result:
        """Command 6209: load the 28 buffer registers at the data pointer into the counters."""
        start = _get(device, DATA_POINTER)
        if start not in USER_AREA or start + PRESET_REGISTERS - 1 not in USER_AREA:
            return Result.INVALID_PARAMETERS
        data = [_get(device, register) for register in range(start, start + PRESET_REGISTERS)]
        if any(abs(word) > MOD10_PART_LIMIT for word in data):
            return Result.INVALID_PARAMETERS
        for index, key in enumerate(PRESET_ORDER):
            parts = data[4 * index : 4 * index + 4]
            self._energy[key] = float(
                sum(part * MOD10_BASE**position for position, part in enumerate(parts))
            )
        self._publish_energy(device)
        return Result.DONE

    def _report(self, device: ProfileDevice, result: Result) -> None:
        """Write 0 to the status register and the result to the results register, where pointed."""
        status, results = _get(device, STATUS_POINTER), _get(device, RESULTS_POINTER)
        if status in USER_AREA:
            _set(device, status, 0)
        if results in USER_AREA:
            _set(device, results, int(result))

    def _publish_derived(self, device: ProfileDevice) -> None:
        """Bring the float block and 1080 in line with the setup registers at once."""
        if self._state is not None:
            self._publish_floats(device, self._state)
            self._publish_fast_frequency(device, self._state)

    def _expire_session(self, now: float) -> None:
        """End the setup session without saving once it has had no write for ``setup_timeout``."""
        if self._session is not None and now - self._session.last_write > self.setup_timeout:
            self._session = None
            self.events.append("setup timed out")


def _wave(mean: float, swing: float, t: float, period: float, phase: float) -> float:
    """Wander slowly and sinusoidally around ``mean``."""
    return mean + swing * math.sin(t / period + phase)


def _signed_power_factor(active: float, apparent: float, reactive: float) -> float:
    """|P|/S in whole thousandths, positive when lagging (reactive >= 0), negative when leading."""
    if apparent == 0:
        return 1.0
    magnitude = round(abs(active) / apparent, 3)
    return magnitude if reactive >= 0 or magnitude == 1 else -magnitude


def _unbalance(readings: Sequence[float]) -> list[float]:
    """Each reading's deviation from the average, in percent of the average."""
    average = sum(readings) / len(readings)
    return [abs(reading - average) / average * 100 for reading in readings]


def _quantise(point: Point, value: float) -> float:
    """Round the value to what the point's registers can hold."""
    if point.data_type is DataType.PF_SIGNED_MAGNITUDE:
        return round(value, 3)
    return round(value / point.scale) * point.scale


def _set_scaled(device: ProfileDevice, point: Point, value: float) -> None:
    """Store ``value`` as the meter does: divided by 10**exponent of the point's scale group."""
    assert point.scale_point is not None  # only scaled points come here
    scale_point = device.profile.point(point.scale_point)
    exponent = _to_signed(device.registers(scale_point.table, scale_point.address, 1)[0])
    raw = round(value * 10 ** (-exponent)) if exponent <= 0 else round(value / 10**exponent)
    raw = max(-INT16_LIMIT, min(INT16_LIMIT, raw))
    device.set_registers(point.table, point.address, [raw & 0xFFFF])


def _get(device: ProfileDevice, register: int) -> int:
    """Register ``register`` (as the manuals number it) read as a signed int16."""
    return _to_signed(device.registers(Table.HOLDING_REGISTER, register - 1, 1)[0])


def _set(device: ProfileDevice, register: int, value: int) -> None:
    """Store a signed int16 in register ``register`` (as the manuals number it)."""
    device.set_registers(Table.HOLDING_REGISTER, register - 1, [value & 0xFFFF])


def _to_signed(word: int) -> int:
    """Read a register as a two's-complement int16."""
    return word - 0x10000 if word & 0x8000 else word
