"""One half of a BCPM board: 42 branch circuits of a small office panel.

Each channel carries a load of its own (every seventh breaker is spare and reads
0 A), varying slowly around its base current; power, apparent power and energy
follow from a 120 V branch voltage and the channel's power factor. Values are
stored the way the board stores them: an integer register and a per-channel
scale register holding a signed power of ten. Channels on 100 A sensors use a
scale of -1 (0.1 A), the others -2 (0.01 A), so a poll has to pair every value
with its own scale register. The maximum current and power of each channel are
tracked until they are reset over Modbus; the branch-numbering scheme can be
set over Modbus too. The board reports its serial number, firmware, model
(device id: model A with powers, model B for the current-only variants) and the
address on its DIP switches in the holding registers of its point map.

Where each value lies and which scale register scales it is stated here, from
Schneider's FAQ (seed 000) and the researched register list (devices/bcpm.md),
not taken from the engine's profile, which only tells which blocks a variant has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
import math

from ..codecs import to_signed16
from ..errors import DeviceExceptionError
from ..models import Point, Table, Value
from .profile_device import ILLEGAL_VALUE, ProfileDevice

CHANNELS_PER_HALF = 42
BRANCH_VOLTAGE = 120.0
SECONDS_PER_HOUR = 3600.0

# Register numbers of the register list (1-based); the image holds register N at N - 1, in the
# input registers. Where each quantity lies and which scale block scales it: devices/bcpm.md
# "Register layout" (S-FURLAN's BCPME map); seed 000's BCPM FAQ confirms the pair current 1336
# (channel 1) with scale register 1000, and value = raw x 10**scale.
SCALE_BLOCK_CURRENT = 1000
SCALE_BLOCK_POWER = 1042
SCALE_BLOCK_ENERGY = 1084


@dataclass(frozen=True, slots=True)
class _Block:
    """One block of per-channel values: first register, registers per channel, scale block."""

    first: int
    size: int
    scale_block: int


BLOCKS: dict[str, _Block] = {
    "energy": _Block(1168, 2, SCALE_BLOCK_ENERGY),  # kWh, int32 high word first
    "power": _Block(1252, 1, SCALE_BLOCK_POWER),  # kW
    "current": _Block(1336, 1, SCALE_BLOCK_CURRENT),  # A
    "max_power": _Block(1546, 1, SCALE_BLOCK_POWER),  # kW
    "max_current": _Block(1588, 1, SCALE_BLOCK_CURRENT),  # A
    "apparent_power": _Block(1630, 1, SCALE_BLOCK_POWER),  # kVA
}
# devices/bcpm.md: the power factor block 1294-1335 has a fixed scale of -3 (thousandths).
POWER_FACTOR_BLOCK = 1294
POWER_FACTOR_STEP = 0.001

# devices/bcpm.md "Other writes" (S-FURLAN): register 6 sets the branch-numbering scheme; 29877
# written to 1126-1167 resets the per-channel maxima.
NUMBERING_REGISTER = 6
MAX_RESET_FIRST_REGISTER = 1126
MAX_RESET_CODE = 29877
NUMBERING_SCHEMES = {0: "top_feed", 1: "bottom_feed", 2: "sequential", 3: "odd_even"}

# BCPMSC point map (devices/identity.md, "Veris BCPM"), holding registers read with function 03:
# 1-2 serial number (most significant word first), 3 reset-system firmware, 4 operating-system
# firmware, 5 device id (15170 model C, current only; 15171 model B, branch current and power on the
# aux inputs; 15172 model A, current and power everywhere), 60000 the address on the DIP switches.
# Both addresses of a board answer the same map, so both halves report these same values.
SERIAL_NUMBER_REGISTER = 1
FIRMWARE_RESET_SYSTEM_REGISTER = 3
FIRMWARE_REGISTER = 4
DEVICE_ID_REGISTER = 5
BOARD_ADDRESS_REGISTER = 60000
DEVICE_ID_MODEL_A = 15172
DEVICE_ID_MODEL_B = 15171
# The simulated board: its serial number, firmware revisions and DIP-switch address (unit id 1,
# so that its halves answer at the unit ids 1 and 2 that the profiles suggest).
SERIAL_NUMBER = 0x4A3B2C1D
FIRMWARE_RESET_SYSTEM = 1010
FIRMWARE = 1031
BOARD_ADDRESS = 1

# The exponents this simulated board uses (its sensors and ranges are a simulation choice).
CURRENT_SCALE = -2
LARGE_SENSOR_CURRENT_SCALE = -1
POWER_SCALE = -3
ENERGY_SCALE = -1

_INT16 = (-0x8000, 0x7FFF)
_INT32 = (-(1 << 31), (1 << 31) - 1)


@dataclass
class _Channel:
    """What one branch circuit draws, and the peaks seen since the last reset."""

    base_current: float
    power_factor: float
    large_sensor: bool
    energy: float
    current: float = 0.0
    power: float = 0.0
    max_current: float = 0.0
    max_power: float = 0.0


@dataclass
class BcpmBehaviour:
    """Moving branch values for the 42 channels of the half its profile serves."""

    speed: float = 1.0
    first_channel: int = 1
    branch_numbering: int = 0
    _start: float | None = None
    _last: float | None = None
    _channels: dict[int, _Channel] = field(default_factory=dict)
    _blocks: tuple[str, ...] = ()

    @property
    def channels(self) -> range:
        """The channel numbers this half of the board serves."""
        return range(self.first_channel, self.first_channel + CHANNELS_PER_HALF)

    @property
    def numbering_scheme(self) -> str:
        """The branch-numbering scheme last set, by name."""
        return NUMBERING_SCHEMES[self.branch_numbering]

    def advance(self, device: ProfileDevice, now: float) -> None:
        """Recompute every channel at ``now`` and integrate energy since the last call."""
        if self._start is None:
            self._start = self._last = now
            self._initialise(device)
        assert self._last is not None
        hours = (now - self._last) * self.speed / SECONDS_PER_HOUR
        self._last = now
        t = (now - self._start) * self.speed
        for number, channel in self._channels.items():
            channel.current = channel.base_current * (1.0 + 0.2 * math.sin(t / 20.0 + number))
            apparent = BRANCH_VOLTAGE * channel.current / 1000.0
            channel.power = apparent * channel.power_factor
            channel.energy += max(hours, 0.0) * channel.power
            channel.max_current = max(channel.max_current, channel.current)
            channel.max_power = max(channel.max_power, channel.power)
            self._publish(device, number, apparent)

    def on_write(
        self, device: ProfileDevice, table: Table, address: int, values: Sequence[int]
    ) -> bool:
        """Take writes to the numbering register and the maximum-reset registers."""
        if table is not Table.HOLDING_REGISTER:
            return False
        register = address + 1
        if register == NUMBERING_REGISTER and len(values) == 1:
            if values[0] not in NUMBERING_SCHEMES:
                raise DeviceExceptionError(ILLEGAL_VALUE)
            self.branch_numbering = values[0]
            return True
        offsets = range(
            register - MAX_RESET_FIRST_REGISTER, register - MAX_RESET_FIRST_REGISTER + len(values)
        )
        if offsets.start < 0 or offsets.stop > CHANNELS_PER_HALF:
            return False
        if any(value != MAX_RESET_CODE for value in values):
            raise DeviceExceptionError(ILLEGAL_VALUE)
        for offset in offsets:
            self._reset_maxima(device, self.first_channel + offset)
        return True

    def after_write(self, device: ProfileDevice, point: Point, value: Value | None) -> None:
        """No point of the profile is writable; nothing to follow up."""

    def _initialise(self, device: ProfileDevice) -> None:
        """Learn which half and which blocks the variant serves; give every channel its load."""
        upper = device.profile.has_point(f"channel_{CHANNELS_PER_HALF + 1}_current")
        self.first_channel = CHANNELS_PER_HALF + 1 if upper else 1
        first = self.first_channel
        self._blocks = tuple(
            name for name in BLOCKS if device.profile.has_point(f"channel_{first}_{name}")
        )
        has_power = "power" in self._blocks
        _put_identity(device, DEVICE_ID_MODEL_A if has_power else DEVICE_ID_MODEL_B)
        for number in self.channels:
            spare = number % 7 == 0
            channel = _Channel(
                base_current=0.0 if spare else 2.0 + (number * 37 % 150) / 10.0,
                power_factor=0.85 + (number * 13 % 15) / 100.0,
                large_sensor=number % 10 == 3,
                energy=0.0 if spare else 100.0 + 17.5 * number,
            )
            self._channels[number] = channel
            index = number - first
            current_scale = LARGE_SENSOR_CURRENT_SCALE if channel.large_sensor else CURRENT_SCALE
            _put(device, SCALE_BLOCK_CURRENT + index, [current_scale & 0xFFFF])
            if has_power:
                _put(device, SCALE_BLOCK_POWER + index, [POWER_SCALE & 0xFFFF])
                _put(device, SCALE_BLOCK_ENERGY + index, [ENERGY_SCALE & 0xFFFF])

    def _publish(self, device: ProfileDevice, number: int, apparent: float) -> None:
        """Store one channel's values as integer registers under its scale registers."""
        channel = self._channels[number]
        index = number - self.first_channel
        values = {
            "energy": channel.energy,
            "power": channel.power,
            "current": channel.current,
            "max_power": channel.max_power,
            "max_current": channel.max_current,
            "apparent_power": apparent,
        }
        for name in self._blocks:
            _put_scaled(device, BLOCKS[name], index, values[name])
        if "power" in self._blocks:
            step = round(channel.power_factor / POWER_FACTOR_STEP)
            _put(device, POWER_FACTOR_BLOCK + index, [step & 0xFFFF])

    def _reset_maxima(self, device: ProfileDevice, number: int) -> None:
        """Start the channel's peaks again from its present values."""
        channel = self._channels[number]
        channel.max_current, channel.max_power = channel.current, channel.power
        index = number - self.first_channel
        for name, value in (("max_current", channel.max_current), ("max_power", channel.max_power)):
            if name in self._blocks:
                _put_scaled(device, BLOCKS[name], index, value)


def _put(device: ProfileDevice, register: int, words: list[int]) -> None:
    """Store words from input register ``register`` (as the register list numbers it) on."""
    device.set_registers(Table.INPUT_REGISTER, register - 1, words)


def _put_identity(device: ProfileDevice, device_id: int) -> None:
    """Store the board's manufacturer registers and DIP-switch address (holding registers)."""
    for register, words in (
        (SERIAL_NUMBER_REGISTER, [SERIAL_NUMBER >> 16, SERIAL_NUMBER & 0xFFFF]),
        (FIRMWARE_RESET_SYSTEM_REGISTER, [FIRMWARE_RESET_SYSTEM]),
        (FIRMWARE_REGISTER, [FIRMWARE]),
        (DEVICE_ID_REGISTER, [device_id]),
        (BOARD_ADDRESS_REGISTER, [BOARD_ADDRESS]),
    ):
        device.set_registers(Table.HOLDING_REGISTER, register - 1, words)


def _put_scaled(device: ProfileDevice, block: _Block, index: int, value: float) -> None:
    """Store ``value`` as raw / 10**scale, with the scale its scale register holds now."""
    (scale_word,) = device.registers(Table.INPUT_REGISTER, block.scale_block + index - 1, 1)
    exponent = to_signed16(scale_word)
    low, high = _INT32 if block.size == 2 else _INT16
    raw = min(max(round(value / 10.0**exponent), low), high)
    words = [raw >> 16 & 0xFFFF, raw & 0xFFFF] if block.size == 2 else [raw & 0xFFFF]
    _put(device, block.first + block.size * index, words)
