"""Carry the energy counters of a PowerLogic meter over to the meter that replaces it.

Schneider's procedure for CM2000, CM3000, CM4000 and PM800 meters: read the 28
MOD10 energy registers of the old meter, write them to the preset buffer
8022-8049 of the new one in a single block, point the status, results and data
pointers (8017-8019) at 8020, 8021 and 8022, write command 6209 to 8000, read the
result from 8021 (0 done, 81 invalid command, 82 invalid parameters), and read
1700-1727 of the new meter back to see that the values arrived.

The buffer takes the energies in the order of 1700-1727 (:data:`PRESET_ORDER`).
A CM2000 keeps the same seven energies at 1601-1628 in another order; the
registers are therefore picked by point key from each meter's profile, which
reorders them whichever model is old and which is new. Every value is checked
(an integer in -9999..9999, 28 of them) before anything is written; the writes
themselves are the profile command ``preset_energies``, which is dangerous and
needs an explicit confirmation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from .bus import Bus
from .codecs import decode_point, decode_registers, to_signed16
from .commands import CommandResult, run_command
from .errors import CommandFailedError, ConfirmationRequiredError, WriteValidationError
from .models import DataType, Point, Profile, WordOrder
from .planner import plan_reads

_T = TypeVar("_T")

PRESET_COMMAND = "preset_energies"
PRESET_BUFFER_START = 8022
REGISTERS_PER_VALUE = 4
MOD10_PART_LIMIT = 9999

# The seven energies in the order of registers 1700-1727, which the preset buffer 8022-8049 mirrors.
PRESET_ORDER = (
    "import_active_energy",
    "import_reactive_energy",
    "export_active_energy",
    "export_reactive_energy",
    "active_energy",
    "reactive_energy",
    "apparent_energy",
)
PRESET_REGISTERS = REGISTERS_PER_VALUE * len(PRESET_ORDER)

# Counters that only grow: the new meter may have counted on since the preset, never back.
# The signed totals (in minus out) may move either way.
ONLY_GROWING = frozenset(
    {
        "import_active_energy",
        "import_reactive_energy",
        "export_active_energy",
        "export_reactive_energy",
        "apparent_energy",
    }
)

# How far (Wh, varh, VAh) a counter of the new meter may have moved between the preset and the
# read-back: 10 kWh is a 3.6 MW load for 10 s.
DEFAULT_TOLERANCE = 10_000


@dataclass(frozen=True, kw_only=True, slots=True)
class QuantityCheck:
    """One energy of the new meter: what was preset, what it read back, and the difference."""

    key: str
    unit: str | None
    written: int
    read_back: int

    @property
    def delta(self) -> int:
        """How far the new meter has counted since the preset (read back minus written)."""
        return self.read_back - self.written


@dataclass(frozen=True, kw_only=True, slots=True)
class EnergyTransferResult:
    """What a transfer wrote, what the new meter reads back, and the command's report."""

    written: tuple[int, ...]
    read_back: tuple[int, ...]
    quantities: tuple[QuantityCheck, ...]
    command: CommandResult

    def quantity(self, key: str) -> QuantityCheck:
        """Return the check of energy ``key``; KeyError if there is none."""
        for check in self.quantities:
            if check.key == key:
                return check
        raise KeyError(key)


def energy_points(profile: Profile) -> tuple[Point, ...]:
    """Return the profile's seven MOD10 energy points, in preset order.

    Raises:
        WriteValidationError: the profile lacks one of them or has it in another type.

    """
    points: list[Point] = []
    for key in PRESET_ORDER:
        if not profile.has_point(key) or profile.point(key).data_type is not DataType.MOD10:
            raise WriteValidationError(f"{profile.key} has no MOD10 energy point '{key}'")
        points.append(profile.point(key))
    return tuple(points)


def block_order(profile: Profile) -> tuple[str, ...]:
    """Return the energy keys in the order the meter lays them out (by address)."""
    return tuple(
        point.key for point in sorted(energy_points(profile), key=lambda point: point.address)
    )


def to_preset_order(profile: Profile, registers: Sequence[_T]) -> tuple[_T, ...]:
    """Reorder the 28 registers of ``profile``'s energy block (in address order) into preset order.

    For a CM2000 the block is 1601-1628, apparent energy before the totals; for the
    other models it is 1700-1727 and the order stays as it is.

    Raises:
        WriteValidationError: there are not exactly 28 registers.

    """
    if len(registers) != PRESET_REGISTERS:
        raise WriteValidationError(
            f"an energy transfer needs exactly {PRESET_REGISTERS} registers, not {len(registers)}"
        )
    by_key = {
        key: tuple(registers[REGISTERS_PER_VALUE * index : REGISTERS_PER_VALUE * (index + 1)])
        for index, key in enumerate(block_order(profile))
    }
    return tuple(register for key in PRESET_ORDER for register in by_key[key])


def validate_preset(registers: Sequence[object]) -> tuple[int, ...]:
    """Check 28 registers in preset order: each an integer in -9999..9999.

    Raises:
        WriteValidationError: the count is wrong, or a value is not such an integer;
            the message names its index, its buffer register and its quantity.

    """
    if len(registers) != PRESET_REGISTERS:
        raise WriteValidationError(
            f"an energy transfer needs exactly {PRESET_REGISTERS} registers, not {len(registers)}"
        )
    checked: list[int] = []
    for index, value in enumerate(registers):
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MOD10_PART_LIMIT:
            key = PRESET_ORDER[index // REGISTERS_PER_VALUE]
            word = index % REGISTERS_PER_VALUE + 1
            raise WriteValidationError(
                f"value {index} ({key}, register {word} of {REGISTERS_PER_VALUE}, for buffer register "
                f"{PRESET_BUFFER_START + index}) is {value!r}; each must be an integer in "
                f"-{MOD10_PART_LIMIT}..{MOD10_PART_LIMIT}"
            )
        checked.append(value)
    return tuple(checked)


async def read_energy_block(bus: Bus, profile: Profile, unit: int) -> tuple[int, ...]:
    """Read a meter's 28 energy registers, as signed values, in the order it lays them out."""
    points = sorted(energy_points(profile), key=lambda point: point.address)
    plan = plan_reads(points, profile.limits)
    if plan.unplannable:
        raise WriteValidationError(
            f"{profile.key}: its energy registers cannot be read in one piece"
        )
    words: dict[str, tuple[int, ...]] = {}
    for block in plan.blocks:
        values = await bus.read(unit, block.table, block.start, block.count, profile.limits)
        for point in block.points:
            offset = point.address - block.start
            words[point.key] = tuple(int(v) for v in values[offset : offset + point.count])
    return tuple(to_signed16(word) for point in points for word in words[point.key])


async def transfer_energy(
    bus: Bus,
    target: Profile,
    target_unit: int,
    *,
    source: Profile,
    source_unit: int | None = None,
    registers: Sequence[object] | None = None,
    source_bus: Bus | None = None,
    confirm: bool = False,
    tolerance: int = DEFAULT_TOLERANCE,
) -> EnergyTransferResult:
    """Preset the energy counters of ``target`` (the new meter) with those of ``source``.

    The old meter's registers are read from ``source_unit`` (on ``source_bus``, by
    default the same bus), or given as ``registers``: the 28 values as noted from
    the old meter's energy block, in its address order (1601-1628 for a CM2000,
    1700-1727 otherwise). Nothing is written unless ``confirm`` is true and every
    value passes :func:`validate_preset`.

    After the preset each energy of the new meter is read back. A counter that only
    grows must read at least what was written and at most ``tolerance`` more; a
    signed total must be within ``tolerance`` either way.

    Raises:
        ConfirmationRequiredError: ``confirm`` is not true (nothing is read or written).
        WriteValidationError: a value, the count, the source or the profiles are wrong
            (nothing is written).
        CommandFailedError: the meter reports 81 (``invalid_command``) or 82
            (``invalid_parameters``), or the read-back does not match
            (``verification_failed``).

    """
    if not confirm:
        raise ConfirmationRequiredError(
            "an energy transfer overwrites the new meter's counters and needs an explicit confirmation"
        )
    if (source_unit is None) == (registers is None):
        raise WriteValidationError(
            "give either the old meter's unit or its noted registers, not both or neither"
        )
    if tolerance < 0:
        raise WriteValidationError(f"the tolerance must not be negative, not {tolerance}")
    try:
        target.command(PRESET_COMMAND)
    except KeyError:
        raise WriteValidationError(f"{target.key} has no command '{PRESET_COMMAND}'") from None
    target_points = energy_points(target)
    if registers is None:
        assert source_unit is not None  # exactly one of the two is given, checked above
        registers = await read_energy_block(source_bus or bus, source, source_unit)
    written = validate_preset(to_preset_order(source, registers))
    report = await run_command(
        bus, target, target_unit, PRESET_COMMAND, {"values": list(written)}, confirm=True
    )
    read_back = to_preset_order(target, await read_energy_block(bus, target, target_unit))
    checks = tuple(
        QuantityCheck(
            key=point.key,
            unit=point.unit,
            written=_mod10(written, index),
            read_back=_read_value(point, read_back, index),
        )
        for index, point in enumerate(target_points)
    )
    problems = _problems(checks, tolerance)
    if problems:
        raise CommandFailedError(PRESET_COMMAND, "verification_failed", "; ".join(problems))
    return EnergyTransferResult(
        written=written, read_back=read_back, quantities=checks, command=report
    )


def _problems(checks: Sequence[QuantityCheck], tolerance: int) -> list[str]:
    """Describe every energy whose read-back does not fit the preset."""
    problems: list[str] = []
    for check in checks:
        unit = f" {check.unit}" if check.unit else ""
        if check.key in ONLY_GROWING and not 0 <= check.delta <= tolerance:
            problems.append(
                f"{check.key} reads {check.read_back}{unit} after a preset of {check.written}{unit} "
                f"(expected 0..{tolerance} more)"
            )
        elif check.key not in ONLY_GROWING and abs(check.delta) > tolerance:
            problems.append(
                f"{check.key} reads {check.read_back}{unit} after a preset of {check.written}{unit} "
                f"(expected within {tolerance})"
            )
    return problems


def _mod10(registers: Sequence[int], index: int) -> int:
    """Decode quantity ``index`` of a preset-order register list as a MOD10 value."""
    words = [word & 0xFFFF for word in _quantity(registers, index)]
    value = decode_registers(DataType.MOD10, words, WordOrder.ABCD)
    assert isinstance(value, int)  # MOD10 always decodes to an int
    return value


def _read_value(point: Point, registers: Sequence[int], index: int) -> int:
    """Decode quantity ``index`` of the new meter's read-back as its profile point says."""
    value = decode_point(point, [word & 0xFFFF for word in _quantity(registers, index)])
    if not isinstance(value, int):
        raise CommandFailedError(
            PRESET_COMMAND, "verification_failed", f"{point.key} reads {value!r}"
        )
    return value


def _quantity(registers: Sequence[int], index: int) -> Sequence[int]:
    """Return the four registers of quantity ``index``."""
    return registers[REGISTERS_PER_VALUE * index : REGISTERS_PER_VALUE * (index + 1)]
