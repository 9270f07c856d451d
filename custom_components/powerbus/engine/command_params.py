"""Check the parameters of a device command: their kinds, ranges, steps, choices and lengths.

Pure functions, shared by the command runner (``commands``), which checks what a
user gives before anything is sent, and by the profile loader (``profile_switches``),
which checks the parameters a profile gives a command once, when the file is loaded.
Every refusal is a :class:`WriteValidationError` naming the command and the parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import math
from typing import Any

from .errors import WriteValidationError
from .models import Command, ParamKind, ParamSpec, Value

ParamValue = Value | list[int]
"""A checked parameter value: one value, or the integers of an ``int_list``."""


def validate_params(command: Command, given: Mapping[str, Any]) -> dict[str, ParamValue]:
    """Check and normalise the parameters of ``command``; WriteValidationError names the key."""
    known = {spec.key for spec in command.params}
    for key in given:
        if key not in known:
            raise WriteValidationError(f"{command.key}: unknown parameter '{key}'")
    values: dict[str, ParamValue] = {}
    for spec in command.params:
        if spec.key in given:
            values[spec.key] = _validate_param(command.key, spec, given[spec.key])
        elif spec.default is not None:
            values[spec.key] = _validate_param(command.key, spec, spec.default)
        else:
            raise WriteValidationError(f"{command.key}: parameter '{spec.key}' is required")
    return values


def _validate_param(command: str, spec: ParamSpec, value: Any) -> ParamValue:
    """One parameter, checked against its kind, range, choices and length."""
    where = f"{command}: parameter '{spec.key}'"
    if spec.kind is ParamKind.BOOL:
        if not isinstance(value, bool):
            raise WriteValidationError(f"{where} must be true or false")
        return value
    if spec.kind is ParamKind.CHOICE:
        if isinstance(value, str) and value in spec.choices:
            return spec.choices[value]
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and value in spec.choices.values()
        ):
            return value
        raise WriteValidationError(f"{where} must be one of {', '.join(spec.choices)}")
    if spec.kind is ParamKind.INT and spec.choices:
        named = _named_value(spec, value)
        if named is not None:
            return named
    if spec.kind is ParamKind.INT_LIST:
        if not isinstance(value, Sequence) or isinstance(value, str):
            raise WriteValidationError(f"{where} must be a list of {spec.length} integers")
        if len(value) != spec.length:
            raise WriteValidationError(
                f"{where} must hold exactly {spec.length} values, not {len(value)}"
            )
        return [
            int(_number(where, spec, item, integer=True, index=i)) for i, item in enumerate(value)
        ]
    integer = spec.kind is ParamKind.INT
    number = _number(where, spec, value, integer=integer)
    return int(number) if integer else float(number)


def _named_value(spec: ParamSpec, value: Any) -> int | None:
    """Return the value an int parameter names besides its range (by label or number), or None."""
    if isinstance(value, str):
        return spec.choices.get(value)
    if isinstance(value, int) and not isinstance(value, bool) and value in spec.choices.values():
        return value
    return None


def _number(
    where: str, spec: ParamSpec, value: Any, *, integer: bool, index: int | None = None
) -> int | float:
    """Check that a value is a number within the parameter's range (whole when ``integer``)."""
    label = where if index is None else f"{where}[{index}]"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise WriteValidationError(f"{label} must be a number, not {value!r}")
    if integer and value != int(value):
        raise WriteValidationError(f"{label} must be a whole number, not {value!r}")
    if spec.minimum is not None and value < spec.minimum:
        raise WriteValidationError(f"{label} is {value}, below the minimum {spec.minimum:g}")
    if spec.maximum is not None and value > spec.maximum:
        raise WriteValidationError(f"{label} is {value}, above the maximum {spec.maximum:g}")
    if spec.step is not None and not _is_multiple(value, spec.step):
        raise WriteValidationError(f"{label} is {value}, not a multiple of {spec.step:g}")
    return int(value) if integer else float(value)


def _is_multiple(value: float, step: float) -> bool:
    """Whether ``value`` is a whole multiple of ``step`` (tolerating float noise)."""
    quotient = value / step
    return math.isclose(quotient, round(quotient), rel_tol=0.0, abs_tol=1e-9)
