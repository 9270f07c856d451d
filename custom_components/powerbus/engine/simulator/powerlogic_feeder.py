"""The feeder a simulated PowerLogic meter measures: three phases that wander slowly.

Two phases lag and one leads (a capacitor bank), so power factors of both signs
appear. :meth:`FeederState.values` gives every real-time quantity in the units
of the meter's integer map (A, V, kW, kvar, kVA, %, Hz), by point key.
"""

from __future__ import annotations

import cmath
from collections.abc import Sequence
from dataclasses import dataclass
import math

_PHASES = ("l1", "l2", "l3")
_PHASE_ANGLES = (0.0, -2 * math.pi / 3, 2 * math.pi / 3)


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


def feeder_at(t: float, rated_current: float) -> FeederState:
    """Compute the feeder ``t`` simulated seconds after the start, phase 1 at ``rated_current``."""
    phases = (
        PhaseState(
            _wave(230.0, 2.5, t, 40.0, 0.0),
            _wave(rated_current, 0.2 * rated_current, t, 20.0, 0.0),
            math.acos(0.92),
        ),
        PhaseState(
            _wave(231.0, 2.0, t, 37.0, 2.1),
            _wave(0.85 * rated_current, 0.15 * rated_current, t, 23.0, 1.0),
            math.acos(0.87),
        ),
        PhaseState(
            _wave(229.0, 2.2, t, 43.0, 4.2),
            _wave(0.7 * rated_current, 0.1 * rated_current, t, 29.0, 2.0),
            -math.acos(0.95),
        ),
    )
    return FeederState(phases=phases, frequency=_wave(50.0, 0.03, t, 7.0, 0.0))


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
