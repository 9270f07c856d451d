"""The shape of a device family file: voluptuous schemas of its fields and items.

The schemas check the structure and the type of every field and turn names into
the engine's enums; what they cannot see (references between points and commands,
addresses, counts) is checked while the models are built (``profile_builder``).
The file's own fields, and each point, command, step, switch and variant, have a
schema of their own, so that ``profile_reader`` can check them one by one. Numbers
must be finite, whole numbers must be integers (``true`` is not a number), and a
mistake is described in the words of a profile file, never a Python type's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
import math
from typing import Any

import voluptuous as vol

from .models import (
    Addressing,
    Confidence,
    DataType,
    EntityCategory,
    ParamKind,
    PollGroup,
    ProbeExpectation,
    StateClass,
    Table,
    WordOrder,
)

Validator = Callable[[Any], Any]


def _one_of(*members: StrEnum) -> vol.All:
    """Accept the text of one of ``members`` and return that member.

    A value that names none of them fails with the list of the names allowed.
    """
    enum = type(members[0])
    return vol.All(vol.In([member.value for member in members]), vol.Coerce(enum))


def _integer(minimum: int | None = None, maximum: int | None = None) -> Validator:
    """Accept a whole number (not ``true`` or ``false``) within the bounds given."""

    def validate(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise vol.Invalid("expected an integer")
        if minimum is not None and value < minimum:
            raise vol.Invalid(f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise vol.Invalid(f"must be at most {maximum}")
        return value

    return validate


def _number(minimum: float | None = None, maximum: float | None = None) -> Validator:
    """Accept a finite number within the bounds given, as a float.

    Numbers YAML reads as text (``1e-3``) are accepted; ``.nan``, ``.inf`` and a
    number too large for a float are not.
    """

    def validate(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise vol.Invalid("expected a number")
        try:
            number = float(value)
        except ValueError:
            raise vol.Invalid("expected a number") from None
        except OverflowError:
            raise vol.Invalid("is too large a number") from None
        if not math.isfinite(number):
            raise vol.Invalid(f"must be a finite number, not {value}")
        if minimum is not None and number < minimum:
            raise vol.Invalid(f"must be at least {minimum:g}")
        if maximum is not None and number > maximum:
            raise vol.Invalid(f"must be at most {maximum:g}")
        return number

    return validate


def _mapping(keys: Validator, values: Validator, what: str) -> Validator:
    """Accept a mapping whose keys and values pass their validators (``what`` in errors)."""

    def validate(value: Any) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise vol.Invalid(f"expected a mapping of {what}")
        checked: dict[Any, Any] = {}
        for key, item in value.items():
            try:
                checked[keys(key)] = values(item)
            except (vol.Invalid, ValueError) as err:
                message = err.msg if isinstance(err, vol.Invalid) else "not a valid value"
                raise vol.Invalid(f"{key!r}: {message}") from None
        return checked

    return validate


_KEY = vol.Match(r"^[a-z][a-z0-9_]*$", msg="must be lower_snake_case")
_TEXT = vol.All(str, msg="expected text")
_FLAG = vol.All(bool, msg="expected true or false")
_ADDRESS = _integer(0)
_U16 = _integer(0, 0xFFFF)
# A raw value of any data type: options, sentinels, outcomes, parameter choices.
_RAW = _integer(-(2**63), 2**64 - 1)

_PARAM_REF = vol.Schema(
    {vol.Required("param"): _KEY, vol.Optional("factor", default=1.0): _number()}
)


def _value_ref(value: Any) -> Any:
    """Accept a value in a step: a number, or ``{param: KEY, factor: NUMBER}``."""
    return _PARAM_REF(value) if isinstance(value, dict) else _number()(value)


def _param_default(value: Any) -> Any:
    """Accept a parameter's default: true/false, an integer, a finite number or text."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return _RAW(value)
    return _number()(value) if isinstance(value, float) else _TEXT(value)


def _a_list(what: str) -> Validator:
    """Accept a list (of ``what``, checked elsewhere)."""

    def validate(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise vol.Invalid(f"expected a list of {what}")
        return value

    return validate


_RANGE = {
    vol.Required("table"): _one_of(*Table),
    vol.Required("start"): _ADDRESS,
    vol.Required("end"): _ADDRESS,
}

_LIMITS = {
    vol.Optional("max_registers"): _integer(1, 125),
    vol.Optional("max_bits"): _integer(1, 2000),
    vol.Optional("max_gap"): _integer(0, 125),
    vol.Optional("max_write_registers"): _integer(1, 123),
    vol.Optional("readable"): [_RANGE],
    vol.Optional("min_spacing"): _number(0, 60),
    vol.Optional("min_scan_interval"): _number(0, 3600),
    vol.Optional("timeout"): _number(0.01, 60),
    vol.Optional("timeout_per_register"): _number(0, 10),
    vol.Optional("split_at_holes"): _FLAG,
}

_TRANSPORT = {
    vol.Optional("unit_id"): _integer(0, 255),
    vol.Optional("baudrate"): vol.In([1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]),
    vol.Optional("parity"): vol.In(["N", "E", "O"]),
    vol.Optional("stopbits"): vol.In([1, 2]),
    vol.Optional("bytesize"): vol.In([7, 8]),
    vol.Optional("port"): _integer(1, 65535),
}

_WRITE = {
    vol.Optional("min"): _number(),
    vol.Optional("max"): _number(),
    vol.Optional("choices"): [_number()],
    vol.Optional("dangerous", default=False): _FLAG,
}

# Fields a family's ``defaults`` may give every point.
_DEFAULTS: dict[vol.Marker, Any] = {
    vol.Optional("table"): _one_of(*Table),
    vol.Optional("data_type"): _one_of(*DataType),
    vol.Optional("word_order"): _one_of(*WordOrder),
    vol.Optional("group"): _one_of(*PollGroup),
    vol.Optional("confidence"): _one_of(*Confidence),
    vol.Optional("source"): _TEXT,
}

POINT_SCHEMA = vol.Schema(
    {
        **_DEFAULTS,
        vol.Required("key"): _KEY,
        vol.Required("name"): _TEXT,
        vol.Required("address"): _ADDRESS,
        vol.Optional("count"): _integer(1, 125),
        vol.Optional("scale"): _number(),
        vol.Optional("offset"): _number(),
        vol.Optional("scale_point"): _KEY,
        vol.Optional("view_of"): _KEY,
        vol.Optional("unit"): _TEXT,
        vol.Optional("device_class"): _KEY,
        vol.Optional("state_class"): _one_of(*StateClass),
        vol.Optional("precision"): _integer(0, 6),
        vol.Optional("options"): _mapping(_RAW, _KEY, "raw values to labels"),
        vol.Optional("bit"): _integer(0, 15),
        vol.Optional("bit_field"): vol.All(
            [_integer(0, 15)], vol.Length(min=2, max=2, msg="is [low, high]")
        ),
        vol.Optional("sentinels"): [_RAW],
        vol.Optional("entity_category"): _one_of(*EntityCategory),
        vol.Optional("enabled_by_default"): _FLAG,
        vol.Optional("write"): _WRITE,
    }
)

# What a detection probe expects of the value it reads (its registers as one number).
_VALUE_TEST = vol.Schema(
    vol.Any(
        {vol.Required(ProbeExpectation.ONE_OF.value): vol.All([_RAW], vol.Length(min=1))},
        {
            vol.Required(ProbeExpectation.RANGE.value): vol.All(
                [_RAW], vol.Length(min=2, max=2, msg="is [lowest, highest]")
            )
        },
        {vol.Required(ProbeExpectation.UNIT_ID.value): _integer(-255, 255)},
        msg="expected {in: [values]}, {range: [lowest, highest]} or {unit_id_plus: number}",
    )
)

_PROBE = vol.Schema(
    {
        vol.Optional("table"): _one_of(*Table),
        vol.Required("address"): _ADDRESS,
        vol.Optional("count", default=1): _integer(1, 125),
        vol.Optional("expect", default=ProbeExpectation.ANSWER.value): vol.Any(
            _one_of(ProbeExpectation.ANSWER, ProbeExpectation.EXCEPTION),
            [_U16],
            _VALUE_TEST,
            msg="expected 'answer', 'exception', a list of register values, {in: [...]}, "
            "{range: [lowest, highest]} or {unit_id_plus: number}",
        ),
    }
)


def _detect_rule(value: Any) -> Any:
    """Accept one detection rule: a probe, ``{unit_ids: [...]}``, ``{any: [...]}`` or ``{all: [...]}``."""
    if isinstance(value, dict):
        for kind, schema in _RULE_GROUPS.items():
            if kind in value:
                return schema(value)
    return _PROBE(value)


_RULE_GROUPS: Mapping[str, vol.Schema] = {
    "unit_ids": vol.Schema(
        {vol.Required("unit_ids"): vol.All([_integer(0, 255)], vol.Length(min=1))}
    ),
    "any": vol.Schema(
        {
            vol.Required("any"): vol.All(
                [_detect_rule], vol.Length(min=2, msg="needs at least two rules")
            )
        }
    ),
    "all": vol.Schema(
        {vol.Required("all"): vol.All([_detect_rule], vol.Length(min=1, msg="needs a rule"))}
    ),
}
_DETECT = [_detect_rule]

_PARAM = {
    vol.Required("key"): _KEY,
    vol.Required("name"): _TEXT,
    vol.Required("kind"): _one_of(*ParamKind),
    vol.Optional("min"): _number(),
    vol.Optional("max"): _number(),
    vol.Optional("choices"): _mapping(_KEY, _RAW, "labels to values"),
    vol.Optional("length"): _integer(1, 123),
    vol.Optional("default"): _param_default,
    vol.Optional("unit"): _TEXT,
    vol.Optional("step"): vol.All(_number(), vol.Range(min=0, min_included=False)),
}

_OUTCOME = {
    vol.Required("value"): _RAW,
    vol.Required("key"): _KEY,
    vol.Optional("success", default=False): _FLAG,
    vol.Optional("message", default=""): _TEXT,
}

_BOTH_TARGETS = "a step names a point or an address, not both"
_TARGET = {
    vol.Exclusive("point", "target", msg=_BOTH_TARGETS): _KEY,
    vol.Exclusive("address", "target", msg=_BOTH_TARGETS): vol.Any(
        _ADDRESS,
        {vol.Required("param"): _KEY},
        msg="expected a register address or {param: KEY}",
    ),
    vol.Optional("table"): _one_of(*Table),
}

STEP_SCHEMAS: Mapping[str, vol.Schema] = {
    "write": vol.Schema(
        {
            vol.Required("write"): {
                **_TARGET,
                vol.Exclusive("value", "payload", msg="a write has a value or values"): _value_ref,
                vol.Exclusive("values", "payload", msg="a write has a value or values"): [
                    _value_ref
                ],
            }
        }
    ),
    "wait": vol.Schema({vol.Required("wait"): _number(0, 600)}),
    "check": vol.Schema(
        {
            vol.Required("check"): {
                **_TARGET,
                vol.Optional("outcomes"): [_OUTCOME],
                vol.Optional("equals"): _value_ref,
                vol.Optional("within", default=0.0): _number(0, 600),
                vol.Optional("interval", default=0.2): _number(0.01, 60),
            }
        }
    ),
}
"""The schema of each kind of command step, by the field that names the kind."""

COMMAND_SCHEMA = vol.Schema(
    {
        vol.Required("key"): _KEY,
        vol.Required("name"): _TEXT,
        vol.Optional("description", default=""): _TEXT,
        vol.Optional("dangerous", default=False): _FLAG,
        vol.Optional("session"): _KEY,
        vol.Optional("params", default=list): [_PARAM],
        vol.Required("steps"): vol.All(
            _a_list("steps"), vol.Length(min=1, msg="needs at least one step")
        ),
        vol.Optional("confidence"): _one_of(*Confidence),
        vol.Optional("source"): _TEXT,
    }
)

_CALL = {
    vol.Required("command"): _KEY,
    vol.Optional("params", default=dict): {_KEY: object},
}

_SWITCH_FIELDS = vol.Schema(
    {
        vol.Required("key"): _KEY,
        vol.Required("name"): _TEXT,
        vol.Required("turn_on"): _CALL,
        vol.Required("turn_off"): _CALL,
        vol.Optional("state"): _KEY,
        vol.Optional("device_class"): vol.In(["outlet", "switch"]),
        vol.Optional("confidence"): _one_of(*Confidence),
        vol.Optional("source"): _TEXT,
    }
)


def _switch(value: Any) -> Any:
    """Accept a switch; a bare ``on:`` or ``off:`` key (YAML's true and false) is named as such."""
    if isinstance(value, dict) and any(isinstance(key, bool) for key in value):
        raise vol.Invalid("YAML reads a bare on or off as true or false: write turn_on, turn_off")
    return _SWITCH_FIELDS(value)


SWITCH_SCHEMA = vol.Schema(_switch)
"""A switch made of two command calls; the parameters are checked against the commands later."""

VARIANT_SCHEMA = vol.Schema(
    {
        vol.Required("key"): _KEY,
        vol.Required("name"): _TEXT,
        vol.Optional("models", default=list): [_TEXT],
        vol.Optional("firmware"): _TEXT,
        vol.Optional("detect", default=list): _DETECT,
        vol.Optional("serial_point"): _KEY,
        vol.Optional("firmware_point"): _KEY,
        vol.Required("point_sets"): vol.All(
            [_KEY], vol.Length(min=1, msg="needs at least one point set")
        ),
        vol.Optional("commands", default=list): [_KEY],
        vol.Optional("switches", default=list): [_KEY],
        vol.Optional("transport", default=dict): _TRANSPORT,
        vol.Optional("limits", default=dict): _LIMITS,
        vol.Optional("notes", default=list): [_TEXT],
    }
)

_FILE_FIELDS = {
    vol.Optional("detect", default=list): _DETECT,
    vol.Required("family"): _KEY,
    vol.Required("manufacturer"): _TEXT,
    vol.Optional("addressing", default=Addressing.PDU.value): _one_of(*Addressing),
    vol.Optional("sources", default=list): [_TEXT],
    vol.Optional("notes", default=list): [_TEXT],
    vol.Optional("transport", default=dict): _TRANSPORT,
    vol.Optional("limits", default=dict): _LIMITS,
    vol.Optional("defaults", default=dict): _DEFAULTS,
}

FILE_SCHEMA = vol.Schema(
    {
        **_FILE_FIELDS,
        vol.Required("point_sets"): _mapping(_KEY, _a_list("points"), "point set names to points"),
        vol.Optional("commands", default=list): _a_list("commands"),
        vol.Optional("switches", default=list): _a_list("switches"),
        vol.Required("variants"): vol.All(
            _a_list("variants"), vol.Length(min=1, msg="needs a variant")
        ),
    }
)
"""The file's own fields; its points, commands, switches and variants are checked one by one."""

FAMILY_SCHEMA = vol.Schema(
    {
        **_FILE_FIELDS,
        vol.Required("point_sets"): {_KEY: [POINT_SCHEMA]},
        vol.Optional("commands", default=list): [
            COMMAND_SCHEMA.extend({vol.Required("steps"): [vol.Any(*STEP_SCHEMAS.values())]})
        ],
        vol.Optional("switches", default=list): [SWITCH_SCHEMA],
        vol.Required("variants"): vol.All([VARIANT_SCHEMA], vol.Length(min=1)),
    }
)
"""A whole family file at once, completed with its defaults (for tools reading its items).

It stops at the first mistake in a list; the loader checks item by item instead.
"""
