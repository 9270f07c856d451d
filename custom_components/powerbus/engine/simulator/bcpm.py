"""One half of a BCPM board: 42 branch circuits of a small office panel.

Each channel carries a load of its own (every seventh breaker is spare and reads
0 A), varying slowly around its base current; power, apparent power and energy
follow from a 120 V branch voltage and the channel's power factor. Values are
stored the way the board stores them: an integer register and a per-channel
scale register holding a signed power of ten. Channels on 100 A sensors use a
scale of -1 (0.1 A), the others -2 (0.01 A), so a poll has to pair every value
with its own scale register. The maximum current and power of each channel are
tracked until they are reset over Modbus; the branch-numbering scheme can be
set over Modbus too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
import math

from ..errors import DeviceExceptionError
from ..models import DataType, Point, Table, Value
from .profile_device import ILLEGAL_VALUE, ProfileDevice

CHANNELS_PER_HALF = 42
BRANCH_VOLTAGE = 120.0
SECONDS_PER_HOUR = 3600.0

# Register numbers of the register list; PDU addresses are one lower.
NUMBERING_REGISTER = 6
MAX_RESET_FIRST_REGISTER = 1126
MAX_RESET_CODE = 29877
NUMBERING_SCHEMES = {0: "top_feed", 1: "bottom_feed", 2: "sequential", 3: "odd_even"}

CURRENT_SCALE = -2
LARGE_SENSOR_CURRENT_SCALE = -1
POWER_SCALE = -3
ENERGY_SCALE = -1

_REGISTER_LIMITS = {DataType.S16: (-0x8000, 0x7FFF), DataType.S32: (-(1 << 31), (1 << 31) - 1)}


@dataclass
class _Channel:
    """What one branch circuit draws, and the peaks seen since the last reset."""

    base_current: float
    power_factor: float
    large_sensor: bool
    energy: float
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
            current = channel.base_current * (1.0 + 0.2 * math.sin(t / 20.0 + number))
            apparent = BRANCH_VOLTAGE * current / 1000.0
            power = apparent * channel.power_factor
            channel.energy += max(hours, 0.0) * power
            channel.max_current = max(channel.max_current, current)
            channel.max_power = max(channel.max_power, power)
            self._publish(device, number, current, power, apparent)

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
        """Learn which half the profile serves, give every channel its load, sensor size and energy."""
        upper = device.profile.has_point(f"channel_{CHANNELS_PER_HALF + 1}_current")
        self.first_channel = CHANNELS_PER_HALF + 1 if upper else 1
        for number in self.channels:
            spare = number % 7 == 0
            channel = _Channel(
                base_current=0.0 if spare else 2.0 + (number * 37 % 150) / 10.0,
                power_factor=0.85 + (number * 13 % 15) / 100.0,
                large_sensor=number % 10 == 3,
                energy=0.0 if spare else 100.0 + 17.5 * number,
            )
            self._channels[number] = channel
            current_scale = LARGE_SENSOR_CURRENT_SCALE if channel.large_sensor else CURRENT_SCALE
            device.set_value(f"channel_{number}_current_scale", current_scale)
            device.set_value(f"channel_{number}_power_scale", POWER_SCALE)
            device.set_value(f"channel_{number}_energy_scale", ENERGY_SCALE)

    def _publish(
        self, device: ProfileDevice, number: int, current: float, power: float, apparent: float
    ) -> None:
        """Store one channel's values as integer registers under its scale registers."""
        channel = self._channels[number]
        prefix = f"channel_{number}_"
        self._set_scaled(device, prefix + "current", current)
        self._set_scaled(device, prefix + "max_current", channel.max_current)
        self._set_scaled(device, prefix + "power", power)
        self._set_scaled(device, prefix + "max_power", channel.max_power)
        self._set_scaled(device, prefix + "apparent_power", apparent)
        self._set_scaled(device, prefix + "energy", channel.energy)
        device.set_value(prefix + "power_factor", round(channel.power_factor, 3))

    def _reset_maxima(self, device: ProfileDevice, number: int) -> None:
        """Start the channel's peaks again from its present values."""
        channel = self._channels[number]
        prefix = f"channel_{number}_"
        channel.max_current = _value_or_zero(device, prefix + "current")
        channel.max_power = _value_or_zero(device, prefix + "power")
        self._set_scaled(device, prefix + "max_current", channel.max_current)
        self._set_scaled(device, prefix + "max_power", channel.max_power)

    @staticmethod
    def _set_scaled(device: ProfileDevice, key: str, value: float) -> None:
        """Store ``value`` in point ``key`` as raw / 10**scale, with the scale the image holds now."""
        if not device.profile.has_point(key):
            return
        point = device.profile.point(key)
        assert point.scale_point is not None  # every scaled point of the profile names one
        scale_point = device.profile.point(point.scale_point)
        (scale_word,) = device.registers(scale_point.table, scale_point.address, 1)
        exponent = scale_word - 0x10000 if scale_word & 0x8000 else scale_word
        low, high = _REGISTER_LIMITS[point.data_type]
        raw = min(max(round(value / 10.0**exponent), low), high)
        device.set_registers(point.table, point.address, device.encode(point, raw))


def _value_or_zero(device: ProfileDevice, key: str) -> float:
    """Return the decoded value of ``key``, or 0 when the profile lacks it."""
    value = device.get_value(key)
    return float(value) if isinstance(value, int | float) else 0.0
