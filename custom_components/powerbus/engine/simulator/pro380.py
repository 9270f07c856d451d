"""A PRO380-Mod that behaves like one on a house connection with solar on two phases.

Three phases with slowly varying voltage and load; phases 2 and 3 export for part
of every cycle (negative current and power, as the real meter reports export),
energy registers integrate the powers per phase, direction and tariff, the total
follows the combination code, and the day counter counts imported energy until it
is reset. Identity values are those of a real meter's register dump.

Codes come from the inepro PRO380 user manual (seed 004, ``004_60de73c32b8104cb.txt``)
and, where its register appendix is missing, from the researched map
``devices/pro380.md``; they are restated here, not taken from the engine's profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
import math

from ..models import Point, Table, Value
from .profile_device import ProfileDevice

SECONDS_PER_HOUR = 3600.0
EXPORT_CYCLE = 60.0


class CombinationCode(IntEnum):
    """How the meter forms its total energy (seed 004, 6.10 "Setting the total energy calculation")."""

    FORWARD = 1  # C-01 "Forward only"
    REVERSE = 4  # C-04 "Reverse only"
    FORWARD_PLUS_REVERSE = 5  # C-05 "Forward + Reverse"
    REVERSE_MINUS_FORWARD = 6  # C-06 "Reverse - Forward"
    FORWARD_MINUS_REVERSE = 9  # C-09 "Forward - Reverse"
    FORWARD_MINUS_REVERSE_LOCKED = 10  # C-10, which cannot be changed once set
    FORWARD_MINUS_REVERSE_ALT = 11  # C-11


class Tariff(IntEnum):
    """The active tariff in 0x6048 (devices/pro380.md: 1 = T1, 2 = T2; seed 004 6.3 shows T1/T2)."""

    T1 = 1
    T2 = 2


# devices/pro380.md: parity register 0x4011 (1 = even) and CT mode 0x401F (5 = 5 A secondary).
PARITY_EVEN = 1
CT_MODE_FIVE_AMP = 5

# A real meter's register dump (devices/pro380.md "Sample values"), as raw codes.
IDENTITY: dict[str, Value] = {
    "serial_number": "22091039",
    "meter_code": "0102",
    "modbus_id": 1,
    "baud_rate": 9600,
    "protocol_version": 3.2,
    "software_version": 2.18,
    "hardware_version": 1.32,
    "meter_amps": 100,
    "ct_ratio": 0,
    "s0_rate": 1000.0,
    "combination_code": CombinationCode.FORWARD,
    "lcd_cycle_time": 10,
    "parity": PARITY_EVEN,
    "error_code": 0,
    "power_down_counter": 12,
    "checksum": "0D012D35",
    "status_word": "00110111",
    "ct_mode": CT_MODE_FIVE_AMP,
    "tariff": Tariff.T1,
}

_PHASES = ("l1", "l2", "l3")


@dataclass
class Pro380Behaviour:
    """Moving values for a PRO380; ``speed`` > 1 makes time (and energy) run faster."""

    speed: float = 1.0
    base_current: tuple[float, float, float] = (6.0, 3.5, 4.5)
    power_factor: tuple[float, float, float] = (0.97, 0.92, 0.99)
    export_current: tuple[float, float, float] = (0.0, 7.0, 6.0)
    _start: float | None = None
    _last: float | None = None
    _energy: dict[str, float] = field(default_factory=dict)

    def advance(self, device: ProfileDevice, now: float) -> None:
        """Recompute instantaneous values at ``now`` and integrate energy since the last call."""
        if self._start is None:
            self._start = self._last = now
            self._initialise(device)
        assert self._last is not None
        elapsed = (now - self._last) * self.speed
        self._last = now
        t = (now - self._start) * self.speed
        phases = [self._phase(i, t) for i in range(3)]
        self._publish_instantaneous(device, phases, t)
        if device.unit_id is not None:
            device.set_value("modbus_id", device.unit_id)
        if elapsed > 0:
            self._integrate(device, phases, elapsed / SECONDS_PER_HOUR)

    def on_write(
        self, device: ProfileDevice, table: Table, address: int, values: Sequence[int]
    ) -> bool:
        """Leave every write to the image checks: the PRO380 has no command registers."""
        return False

    def after_write(self, device: ProfileDevice, point: Point, value: Value | None) -> None:
        """Keep the integrated day counter in step with a reset written over Modbus."""
        if point.key == "day_counter_energy" and isinstance(value, int | float):
            self._energy["day_counter_energy"] = float(value)
        elif point.key == "combination_code":
            self._publish_totals(device)
        elif point.key == "modbus_id" and isinstance(value, int) and device.unit_id is not None:
            # The meter answers on its new address at once (the profile's set_modbus_id says so).
            device.unit_id = value

    def _initialise(self, device: ProfileDevice) -> None:
        """Identity and configuration from a real meter; counters from a used one."""
        for key, value in IDENTITY.items():
            device.set_value(key, value)
        for index, phase in enumerate(_PHASES):
            self._energy[f"import_active_energy_{phase}_t1"] = 3200.0 + 410.0 * index
            self._energy[f"import_active_energy_{phase}_t2"] = 1500.0 + 220.0 * index
            self._energy[f"export_active_energy_{phase}_t1"] = 150.0 * index
            self._energy[f"export_active_energy_{phase}_t2"] = 40.0 * index
            self._energy[f"import_reactive_energy_{phase}_t1"] = 420.0 + 30.0 * index
            self._energy[f"import_reactive_energy_{phase}_t2"] = 180.0 + 12.0 * index
            self._energy[f"export_reactive_energy_{phase}_t1"] = 25.0 * index
            self._energy[f"export_reactive_energy_{phase}_t2"] = 8.0 * index
        self._energy["day_counter_energy"] = 7.25
        self._publish_totals(device)

    def _phase(self, index: int, t: float) -> tuple[float, float, float]:
        """(voltage V, current A signed, power factor) of a phase at ``t`` seconds."""
        voltage = 230.0 + 3.0 * math.sin(t / 40.0 + index * 2.1)
        load = self.base_current[index] * (1.0 + 0.25 * math.sin(t / 15.0 + index))
        export_share = max(0.0, math.sin(2 * math.pi * t / EXPORT_CYCLE + index))
        current = load - self.export_current[index] * export_share
        return voltage, current, self.power_factor[index]

    def _publish_instantaneous(
        self, device: ProfileDevice, phases: list[tuple[float, float, float]], t: float
    ) -> None:
        """Write voltages, currents, powers and power factors for every phase and the totals.

        ``t`` is the simulated time in seconds since the meter started.
        """
        totals = {"active_power": 0.0, "reactive_power": 0.0, "apparent_power": 0.0}
        for phase, (voltage, current, pf) in zip(_PHASES, phases, strict=True):
            apparent = voltage * abs(current) / 1000.0
            active = math.copysign(apparent * pf, current)
            reactive = math.copysign(apparent * math.sqrt(1 - pf * pf), current)
            values = {
                f"voltage_{phase}": voltage,
                f"current_{phase}": current,
                f"active_power_{phase}": active,
                f"reactive_power_{phase}": reactive,
                f"apparent_power_{phase}": apparent,
                f"power_factor_{phase}": pf,
            }
            for key, value in values.items():
                device.set_value(key, round(value, 4))
            totals["active_power"] += active
            totals["reactive_power"] += reactive
            totals["apparent_power"] += apparent
            # devices/pro380.md 0x4012-0x4014: ASCII "1F" forward, "1R" reverse (from a real dump).
            device.set_value(f"direction_{phase}", f"{phase[1]}{'F' if current >= 0 else 'R'}")
        for key, value in totals.items():
            device.set_value(key, round(value, 4))
        total_pf = (
            abs(totals["active_power"]) / totals["apparent_power"]
            if totals["apparent_power"]
            else 1.0
        )
        device.set_value("power_factor", round(total_pf, 4))
        device.set_value("frequency", round(50.0 + 0.03 * math.sin(t / 7.0), 3))
        device.set_value("voltage", 0.0)
        device.set_value("current", 0.0)

    def _integrate(
        self, device: ProfileDevice, phases: list[tuple[float, float, float]], hours: float
    ) -> None:
        """Add the energy of ``hours`` to the counters of the active tariff."""
        tariff = "t1" if _raw(device, "tariff", Tariff.T1) == Tariff.T1 else "t2"
        for phase, (voltage, current, pf) in zip(_PHASES, phases, strict=True):
            apparent = voltage * abs(current) / 1000.0
            direction = "import" if current >= 0 else "export"
            self._energy[f"{direction}_active_energy_{phase}_{tariff}"] += apparent * pf * hours
            self._energy[f"{direction}_reactive_energy_{phase}_{tariff}"] += (
                apparent * math.sqrt(1 - pf * pf) * hours
            )
            if direction == "import":
                self._energy["day_counter_energy"] += apparent * pf * hours
        self._publish_totals(device)

    def _publish_totals(self, device: ProfileDevice) -> None:
        """Derive every energy register from the per-phase, per-tariff counters."""
        code = _raw(device, "combination_code", CombinationCode.FORWARD)
        for kind in ("active", "reactive"):
            for tariff in ("t1", "t2", None):
                for phase in (*_PHASES, None):
                    imported = self._sum(f"import_{kind}_energy", phase, tariff)
                    exported = self._sum(f"export_{kind}_energy", phase, tariff)
                    suffix = "".join(f"_{part}" for part in (tariff, phase) if part is not None)
                    if tariff is not None and phase is not None:
                        continue
                    device.set_value(f"import_{kind}_energy{suffix}", round(imported, 3))
                    device.set_value(f"export_{kind}_energy{suffix}", round(exported, 3))
                    device.set_value(
                        f"{kind}_energy{suffix}", round(_combine(code, imported, exported), 3)
                    )
        device.set_value("day_counter_energy", round(self._energy["day_counter_energy"], 3))

    def _sum(self, prefix: str, phase: str | None, tariff: str | None) -> float:
        """Sum the counters of one direction over the phases and tariffs not fixed."""
        return sum(
            self._energy[f"{prefix}_{p}_{t}"]
            for p in ((phase,) if phase else _PHASES)
            for t in ((tariff,) if tariff else ("t1", "t2"))
        )


def _raw(device: ProfileDevice, key: str, default: int) -> int:
    """Return the register of the one-register point ``key`` as the meter holds it.

    An early-firmware map without the point gives ``default``, the meter's factory setting.
    """
    if not device.profile.has_point(key):
        return default
    point = device.profile.point(key)
    (word,) = device.registers(point.table, point.address, 1)
    return word


def _combine(code: int, imported: float, exported: float) -> float:
    """Total energy as the combination code forms it (seed 004, 6.10).

    The manual's worked example (forward 10 kWh, reverse 12 kWh) gives the totals
    10, -12, 22, -22, -2, -2 and -2 for C-01, C-04, C-05, C-06, C-09, C-10 and
    C-11: reverse energy counts negative in C-04 and C-06. C-10 also nets the
    phases before counting forward and reverse; its total is the same.
    """
    if code == CombinationCode.REVERSE:
        return -exported
    if code == CombinationCode.FORWARD_PLUS_REVERSE:
        return imported + exported
    if code == CombinationCode.REVERSE_MINUS_FORWARD:
        return -exported - imported
    if code in (
        CombinationCode.FORWARD_MINUS_REVERSE,
        CombinationCode.FORWARD_MINUS_REVERSE_LOCKED,
        CombinationCode.FORWARD_MINUS_REVERSE_ALT,
    ):
        return imported - exported
    return imported
