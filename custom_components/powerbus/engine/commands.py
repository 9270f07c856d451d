"""Run device commands: validated multi-step sequences of writes, waits and checks.

A command is validated as a whole before anything is sent: every parameter is
checked against its type, range and choices, every write is encoded, and a
dangerous command needs an explicit confirmation. Only then do the steps run, in
order. A check step reads back and either lets the command go on or ends it with
the outcome the device reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
import math
import time
from typing import Any

from .bus import Bus
from .codecs import decode_point, encode_point, to_signed16
from .command_params import ParamValue, validate_params
from .errors import CommandFailedError, ConfirmationRequiredError, WriteValidationError
from .models import (
    CheckStep,
    Command,
    Outcome,
    Point,
    Profile,
    Table,
    Value,
    ValueRef,
    WaitStep,
    WriteStep,
)
from .profile_addresses import document_number

Sleep = Callable[[float], Awaitable[None]]

_S16_MIN = -32768
_U16_MAX = 0xFFFF


@dataclass(frozen=True, kw_only=True, slots=True)
class _Write:
    """A fully encoded write."""

    table: Table
    address: int
    registers: tuple[int, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class _Check:
    """A read-back of a point or the register at ``address``, and what it must or may show."""

    step: CheckStep
    point: Point | None
    address: int | None
    expected: Value | None


_Operation = _Write | WaitStep | _Check


@dataclass(frozen=True, kw_only=True, slots=True)
class _Pacing:
    """How a running command waits and tells the time."""

    sleep: Sleep
    clock: Callable[[], float]
    started: float


@dataclass(frozen=True, kw_only=True, slots=True)
class CommandResult:
    """What a command did."""

    command: str
    outcome: str
    writes: int
    duration: float
    readback: Mapping[str, Value | None]


def plan_command(
    profile: Profile, command: Command, params: Mapping[str, ParamValue]
) -> list[_Operation]:
    """Resolve every step into an encoded operation; nothing is sent here."""
    operations: list[_Operation] = []
    for step in command.steps:
        if isinstance(step, WaitStep):
            operations.append(step)
        elif isinstance(step, WriteStep):
            operations.append(_plan_write(profile, command, step, params))
        else:
            point = profile.point(step.point) if step.point else None
            address = _raw_address(profile, step, params) if point is None else None
            expected = _resolve_scalar(command, step.equals, params) if step.equals else None
            operations.append(_Check(step=step, point=point, address=address, expected=expected))
    writes = [op for op in operations if isinstance(op, _Write)]
    for write in writes:
        if len(write.registers) > profile.limits.max_write_registers:
            raise WriteValidationError(
                f"{command.key}: a write of {len(write.registers)} registers exceeds the device's "
                f"limit of {profile.limits.max_write_registers}"
            )
    return operations


def _plan_write(
    profile: Profile, command: Command, step: WriteStep, params: Mapping[str, ParamValue]
) -> _Write:
    """Encode one write step."""
    if step.point is not None:
        point = profile.point(step.point)
        value = _resolve_scalar(command, step.values[0], params)
        return _Write(
            table=point.table, address=point.address, registers=tuple(encode_point(point, value))
        )
    registers: list[int] = []
    for ref in step.values:
        resolved = _resolve(ref, params)
        items = resolved if isinstance(resolved, list) else [resolved]
        registers.extend(_raw_register(command, item) for item in items)
    return _Write(
        table=step.table,
        address=_raw_address(profile, step, params),
        registers=tuple(registers),
    )


def _raw_address(
    profile: Profile, step: WriteStep | CheckStep, params: Mapping[str, ParamValue]
) -> int:
    """Return the PDU address of a raw step: its own, or that of the register its parameter names."""
    if step.address_param is None:
        assert step.address is not None  # guaranteed by the profile loader
        return step.address
    number = params[step.address_param]
    # An int parameter with a declared range (profile loader), validated before planning.
    assert isinstance(number, int)
    return profile.addressing.pdu_address(number)


def _resolve(ref: ValueRef, params: Mapping[str, ParamValue]) -> Value | list[int]:
    """Resolve a value reference against the parameters."""
    if ref.param is None:
        return ref.literal if ref.literal is not None else 0
    value = params[ref.param]
    if isinstance(value, list | str | bool) or ref.factor == 1:
        return value
    return value * ref.factor


def _resolve_scalar(command: Command, ref: ValueRef, params: Mapping[str, ParamValue]) -> Value:
    """Resolve a reference that must stand for one value."""
    value = _resolve(ref, params)
    if isinstance(value, list):
        raise WriteValidationError(
            f"{command.key}: a list parameter cannot be written to one point"
        )
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _raw_register(command: Command, value: Value) -> int:
    """Encode a value as one raw register (negative values as two's complement)."""
    if isinstance(value, str) or isinstance(value, float) and not value.is_integer():
        raise WriteValidationError(f"{command.key}: {value!r} is not a register value")
    number = int(value)
    if not _S16_MIN <= number <= _U16_MAX:
        raise WriteValidationError(f"{command.key}: {number} does not fit in one register")
    return number & _U16_MAX


async def run_command(
    bus: Bus,
    profile: Profile,
    unit: int,
    key: str,
    params: Mapping[str, Any] | None = None,
    *,
    confirm: bool = False,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> CommandResult:
    """Validate and run command ``key`` of ``profile`` on ``unit``.

    ``sleep`` waits out wait steps and check intervals, ``clock`` (monotonic seconds)
    times the checks; tests pass a fake pair.
    """
    try:
        command = profile.command(key)
    except KeyError:
        raise WriteValidationError(f"{profile.key} has no command '{key}'") from None
    values = validate_params(command, params or {})
    operations = plan_command(profile, command, values)
    if command.dangerous and not confirm:
        raise ConfirmationRequiredError(
            f"{command.key} is dangerous and needs an explicit confirmation"
        )
    pacing = _Pacing(sleep=sleep, clock=clock, started=clock())
    if command.session is None:
        return await _execute(bus, profile, unit, command, operations, pacing)
    async with bus.session(unit, command.session):
        return await _execute(bus, profile, unit, command, operations, pacing)


async def _execute(
    bus: Bus,
    profile: Profile,
    unit: int,
    command: Command,
    operations: Sequence[_Operation],
    pacing: _Pacing,
) -> CommandResult:
    """Send the operations in order; stop at the first check that fails."""
    writes = 0
    readback: dict[str, Value | None] = {}
    outcome = "done"
    for operation in operations:
        if isinstance(operation, WaitStep):
            await pacing.sleep(operation.seconds)
        elif isinstance(operation, _Write):
            if operation.table is Table.COIL:
                await bus.write_coils(
                    unit, operation.address, [bool(r) for r in operation.registers], profile.limits
                )
            else:
                await bus.write_registers(
                    unit, operation.address, list(operation.registers), profile.limits
                )
            writes += 1
        else:
            label, value, matched = await _check(bus, profile, unit, command, operation, pacing)
            readback[label] = value
            if matched is not None:
                outcome = matched.key
    return CommandResult(
        command=command.key,
        outcome=outcome,
        writes=writes,
        duration=pacing.clock() - pacing.started,
        readback=readback,
    )


async def _check(
    bus: Bus, profile: Profile, unit: int, command: Command, check: _Check, pacing: _Pacing
) -> tuple[str, Value | None, Outcome | None]:
    """Read back until the check is decided; raise CommandFailedError on failure."""
    step = check.step
    deadline = pacing.clock() + step.within
    while True:
        label, value = await _read_back(bus, profile, unit, check)
        outcome = next((o for o in step.outcomes if _same(value, o.value)), None)
        if outcome is not None:
            if not outcome.success:
                raise CommandFailedError(command.key, outcome.key, outcome.message or outcome.key)
            return label, value, outcome
        if not step.outcomes and _same(value, check.expected):
            return label, value, None
        if pacing.clock() >= deadline:
            break
        await pacing.sleep(step.interval)
    if step.outcomes:
        raise CommandFailedError(
            command.key, "unknown_status", f"{label} reads {value!r}, which is no known outcome"
        )
    raise CommandFailedError(
        command.key, "readback_mismatch", f"{label} reads {value!r}, expected {check.expected!r}"
    )


async def _read_back(
    bus: Bus, profile: Profile, unit: int, check: _Check
) -> tuple[str, Value | None]:
    """Read the register or point a check looks at."""
    if check.point is not None:
        words = await bus.read(
            unit, check.point.table, check.point.address, check.point.count, profile.limits
        )
        value = decode_point(check.point, [int(w) for w in words])
        if check.point.options:
            # Option points are written and checked by their raw number, not their label.
            value = next(
                (raw for raw, label in check.point.options.items() if label == value), value
            )
        return check.point.key, value
    assert check.address is not None  # planned for every check without a point
    (word,) = await bus.read(unit, check.step.table, check.address, 1, profile.limits)
    number = document_number(profile.addressing, check.step.table, check.address)
    return f"register {number}", to_signed16(int(word))


def _same(value: Value | None, expected: Value | None) -> bool:
    """Equality that tolerates float32 rounding of written floats."""
    if isinstance(value, float) or isinstance(expected, float):
        if isinstance(value, int | float) and isinstance(expected, int | float):
            return math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-9)
        return False
    return value == expected
