"""A PowerLogic meter (CM2000, CM3000, CM4000 or PM800) on a three-phase feeder, command interface included.

Values move as on a loaded feeder: three phases with slowly varying voltage and
load, two phases lagging and one leading (a capacitor bank), so power factors of
both signs appear. Integer currents, voltages and powers are stored with the
exponent held in their scale-group register, as the meter does; energies are
integrated into seven MOD10 counters that survive everything but a preset.

Every register number, code and storage rule comes from :mod:`.powerlogic_map`,
which names the seed document or researched source of each; the engine's profile
only tells which variant is served. The command interface follows the manuals
and FAQs (register numbers as they write them; the image is addressed at
register - 1):

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

from collections.abc import Sequence
from dataclasses import dataclass, field
import math
import struct

from ..codecs import to_signed16
from ..errors import ConfigError, DeviceExceptionError
from ..models import Point, Table, Value
from . import powerlogic_map as pmap
from .powerlogic_feeder import FeederState, feeder_at
from .profile_device import ILLEGAL_ADDRESS, ILLEGAL_VALUE, ProfileDevice

SECONDS_PER_HOUR = 3600.0
# The sources leave open how a meter refuses a second setup session; "server busy" is assumed.
SERVER_BUSY = 0x06

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


@dataclass
class SetupSession:
    """An open setup session: the staged setup registers and the time of the last write."""

    last_write: float
    staged: dict[int, int] = field(default_factory=dict)


class PowerLogicBehaviour:
    """Moving values and the command interface of one PowerLogic meter.

    ``speed`` > 1 makes time (and energy) run faster; ``setup_timeout`` is how many
    seconds of simulated time a setup session survives without a write;
    ``energy_preset`` False plays a firmware without command 6209 (it answers 81).
    The model (PM800, CM3000, CM4000 or CM2000) follows the profile variant of the
    device the behaviour is attached to.
    """

    def __init__(
        self,
        *,
        speed: float = 1.0,
        setup_timeout: float = pmap.SETUP_TIMEOUT,
        energy_preset: bool = True,
    ) -> None:
        """Prepare the behaviour; the model is taken from the device's profile on the first advance."""
        self.speed = speed
        self.setup_timeout = setup_timeout
        self.energy_preset = energy_preset
        self.restarts = 0
        self.events: list[str] = []
        self._model: pmap.Model | None = None
        self._floats_from_start = False
        self._float_block_exists = False
        self._session: SetupSession | None = None
        self._energy: dict[str, float] = {
            key: float(value) for key, value in INITIAL_ENERGY.items()
        }
        self._start: float | None = None
        self._last = 0.0
        self._state: FeederState | None = None

    @property
    def model(self) -> pmap.Model:
        """The model being simulated (known once the device has first advanced)."""
        if self._model is None:
            raise ConfigError("model", "the behaviour has not been attached to a device yet")
        return self._model

    # -- Behaviour protocol ---------------------------------------------------------------

    def advance(self, device: ProfileDevice, now: float) -> None:
        """Recompute the feeder at ``now``, publish it and integrate energy since the last call."""
        if self._start is None:
            self._start = self._last = now
            self._attach(device.profile.key)
            self._initialise(device)
        elapsed = (now - self._last) * self.speed
        self._last = now
        self._state = feeder_at((now - self._start) * self.speed, self.model.phase_current)
        self._publish_realtime(device, self._state)
        if elapsed > 0:
            self._integrate(self._state, elapsed / SECONDS_PER_HOUR)
        self._publish_energy(device)
        self._expire_session(now)

    def on_write(
        self, device: ProfileDevice, table: Table, address: int, values: Sequence[int]
    ) -> bool:
        """Take over writes to the command interface and the setup registers."""
        if table is not Table.HOLDING_REGISTER:
            return False
        now = device.clock()
        self._expire_session(now)
        registers = range(address + 1, address + 1 + len(values))
        words = [to_signed16(value) for value in values]
        if registers[0] in pmap.COMMAND_AREA and registers[-1] in pmap.COMMAND_AREA:
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

    def _attach(self, variant: str) -> None:
        """Take the model (and whether floats start switched on) from the profile variant."""
        if variant not in pmap.VARIANT_MODELS:
            raise ConfigError(
                "profile", f"'{variant}' is not a PowerLogic variant this simulator knows"
            )
        model, floats_on = pmap.VARIANT_MODELS[variant]
        self._model = pmap.MODELS[model]
        self._floats_from_start = self._float_block_exists = floats_on

    def _initialise(self, device: ProfileDevice) -> None:
        """Scale groups, setup registers and identity as the meter ships them."""
        _set(device, pmap.NOMINAL_FREQUENCY, 50)
        for register, exponent in zip(pmap.SCALE_REGISTERS, self.model.scales, strict=True):
            _set(device, register, exponent)
        for register, value in self.model.defaults.items():
            _set(device, register, value)
        if self._floats_from_start:
            _set(device, pmap.FLOAT_SWITCH, 1)
        if self.model.firmware is not None:
            _set(device, pmap.PM800_FIRMWARE, self.model.firmware)
        serial = self.model.serial
        device.set_registers(
            Table.HOLDING_REGISTER, self.model.serial_register - 1, [serial & 0xFFFF, serial >> 16]
        )

    def _publish_realtime(self, device: ProfileDevice, state: FeederState) -> None:
        """Write the integer real-time registers, and the float block and 1080 if switched on."""
        values = state.values()
        for key, (register, scale_register) in pmap.SCALED_REGISTERS.items():
            _set(device, register, _scaled_word(values[key], _get(device, scale_register)))
        for key, (register, step) in pmap.FIXED_STEP_REGISTERS.items():
            _set(device, register, round(values[key] / step))
        for key, register in pmap.POWER_FACTOR_REGISTERS.items():
            device.set_registers(
                Table.HOLDING_REGISTER, register - 1, [_power_factor_word(values[key])]
            )
        self._publish_floats(device, state)
        self._publish_fast_frequency(device, state)

    def _publish_floats(self, device: ProfileDevice, state: FeederState) -> None:
        """Fill the float block while the float switch is on (NaN once it is switched off again)."""
        base = self.model.float_base
        if base is None:
            return
        on = _get(device, pmap.FLOAT_SWITCH) == 1
        if not on and not self._float_block_exists:
            return
        self._float_block_exists = True
        values = state.values()
        for index, key in enumerate(pmap.FLOAT_LAYOUT):
            number = (
                values[key] * (1000.0 if key in pmap.FLOAT_IN_WATTS else 1.0) if on else math.nan
            )
            high_word, low_word = struct.unpack(">HH", struct.pack(">f", number))
            device.set_registers(
                Table.HOLDING_REGISTER, base + 2 * index - 1, [high_word, low_word]
            )

    def _publish_fast_frequency(self, device: ProfileDevice, state: FeederState) -> None:
        """Publish the CM4000's 100 ms frequency in 1080 (0.01 Hz) once 3239 holds 11."""
        if not self.model.has_fast_frequency:
            return
        on = _get(device, pmap.CM4000_FREQUENCY_MODE) == pmap.CM4000_FAST_FREQUENCY_ON
        fast = (
            round(state.frequency / pmap.CM4000_FAST_FREQUENCY_STEP) if on else pmap.NOT_AVAILABLE
        )
        _set(device, pmap.CM4000_FAST_FREQUENCY, fast)

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
        """Write the seven counters as whole MOD10 values where the model keeps them."""
        for key, register in self.model.energy_registers.items():
            device.set_registers(
                Table.HOLDING_REGISTER, register - 1, _mod10_words(round(self._energy[key]))
            )

    # -- Command interface ----------------------------------------------------------------

    def _write_command_area(
        self, device: ProfileDevice, registers: range, words: list[int], now: float
    ) -> None:
        """Store a write to 8000-8149; run the command when it covers 8000."""
        code = (
            words[registers.index(pmap.COMMAND_REGISTER)]
            if pmap.COMMAND_REGISTER in registers
            else None
        )
        if code == pmap.Code.ENTER_SETUP and self._session is not None:
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

    def _run(self, device: ProfileDevice, code: int, now: float) -> pmap.Result:
        """Run command ``code`` and return its result."""
        if code == pmap.Code.PRESET_ENERGIES and self.energy_preset:
            return self._preset_energies(device)
        if not self.model.has_setup_session:
            return pmap.Result.INVALID_COMMAND
        if code == pmap.Code.ENTER_SETUP:
            self._session = SetupSession(last_write=now)
            self.events.append("setup opened")
            return pmap.Result.DONE
        if code not in (pmap.Code.EXIT_SETUP, pmap.Code.RESTART) or self._session is None:
            return pmap.Result.INVALID_COMMAND
        session, self._session = self._session, None
        if code == pmap.Code.EXIT_SETUP and _get(device, pmap.SAVE_FLAG) == 1:
            for register, word in session.staged.items():
                _set(device, register, word)
            self.events.append("setup saved")
        else:
            self.events.append("setup discarded")
        self.restarts += 1
        self.events.append("restart")
        self._publish_derived(device)
        return pmap.Result.DONE

    def _preset_energies(self, device: ProfileDevice) -> pmap.Result:
        """Command 6209: load the 28 buffer registers at the data pointer into the counters."""
        start = _get(device, pmap.DATA_POINTER)
        if start not in pmap.USER_AREA or start + pmap.PRESET_REGISTERS - 1 not in pmap.USER_AREA:
            return pmap.Result.INVALID_PARAMETERS
        data = [_get(device, register) for register in range(start, start + pmap.PRESET_REGISTERS)]
        if any(abs(word) > pmap.MOD10_PART_LIMIT for word in data):
            return pmap.Result.INVALID_PARAMETERS
        for index, key in enumerate(pmap.PRESET_ORDER):
            first = pmap.REGISTERS_PER_ENERGY * index
            parts = data[first : first + pmap.REGISTERS_PER_ENERGY]
            self._energy[key] = float(
                sum(part * pmap.MOD10_BASE**position for position, part in enumerate(parts))
            )
        self._publish_energy(device)
        return pmap.Result.DONE

    def _report(self, device: ProfileDevice, result: pmap.Result) -> None:
        """Write 0 to the status register and the result to the results register, where pointed."""
        status, results = _get(device, pmap.STATUS_POINTER), _get(device, pmap.RESULTS_POINTER)
        if status in pmap.USER_AREA:
            _set(device, status, 0)
        if results in pmap.USER_AREA:
            _set(device, results, int(result))

    def _publish_derived(self, device: ProfileDevice) -> None:
        """Bring the float block and 1080 in line with the setup registers at once."""
        if self._state is not None:
            self._publish_floats(device, self._state)
            self._publish_fast_frequency(device, self._state)

    def _expire_session(self, now: float) -> None:
        """End the setup session without saving once it has had no write for ``setup_timeout``.

        The timeout is in simulated seconds: ``speed`` shortens it as it shortens everything else.
        """
        session = self._session
        if session is not None and (now - session.last_write) * self.speed > self.setup_timeout:
            self._session = None
            self.events.append("setup timed out")


def _scaled_word(value: float, exponent: int) -> int:
    """Store ``value`` as the meter does: divided by 10**exponent of its scale group, clamped."""
    factor = 10.0 ** abs(exponent)
    raw = round(value * factor) if exponent <= 0 else round(value / factor)
    return max(-pmap.INT16_LIMIT, min(pmap.INT16_LIMIT, raw))


def _power_factor_word(power_factor: float) -> int:
    """Signed magnitude: thousandths, bit 15 set when lagging (positive here); unity is plain 1000."""
    magnitude = round(abs(power_factor) * pmap.POWER_FACTOR_UNITY)
    lagging = power_factor > 0 and magnitude != pmap.POWER_FACTOR_UNITY
    return magnitude | pmap.LAGGING_BIT if lagging else magnitude


def _mod10_words(value: int) -> list[int]:
    """Four registers of 0..9999, least significant first, each carrying the sign of ``value``."""
    sign, magnitude = (-1 if value < 0 else 1), abs(value)
    parts = [magnitude // pmap.MOD10_BASE**position % pmap.MOD10_BASE for position in range(4)]
    return [(sign * part) & 0xFFFF for part in parts]


def _get(device: ProfileDevice, register: int) -> int:
    """Register ``register`` (as the manuals number it) read as a signed int16."""
    return to_signed16(device.registers(Table.HOLDING_REGISTER, register - 1, 1)[0])


def _set(device: ProfileDevice, register: int, value: int) -> None:
    """Store a signed int16 in register ``register`` (as the manuals number it)."""
    device.set_registers(Table.HOLDING_REGISTER, register - 1, [value & 0xFFFF])
