"""The shape of a device family file: voluptuous schemas, and errors that name the spot.

The schema checks the structure and the type of every field and coerces names to
the engine's enums; what it cannot see (references between points and commands,
addresses, counts) is checked while the models are built (``profile_builder``).
A schema error becomes a :class:`ProfileError` that names the file, the point (or
command, or variant) and the field.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import voluptuous as vol

from .errors import ProfileError
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


def _one_of(*members: StrEnum) -> vol.All:
    """Accept the text of one of ``members`` and return that member.

    A value that names none of them fails with the list of the names allowed.
    """
    enum = type(members[0])
    return vol.All(vol.In([member.value for member in members]), vol.Coerce(enum))


_KEY = vol.Match(r"^[a-z][a-z0-9_]*$", msg="must be lower_snake_case")
_U16 = vol.All(int, vol.Range(min=0, max=0xFFFF))

_VALUE_REF = vol.Any(
    vol.Coerce(float),
    {vol.Required("param"): _KEY, vol.Optional("factor", default=1.0): vol.Coerce(float)},
)

_RANGE = {
    vol.Required("table"): vol.Coerce(Table),
    vol.Required("start"): vol.All(int, vol.Range(min=0)),
    vol.Required("end"): vol.All(int, vol.Range(min=0)),
}

_LIMITS = {
    vol.Optional("max_registers"): vol.All(int, vol.Range(min=1, max=125)),
    vol.Optional("max_bits"): vol.All(int, vol.Range(min=1, max=2000)),
    vol.Optional("max_gap"): vol.All(int, vol.Range(min=0, max=125)),
    vol.Optional("max_write_registers"): vol.All(int, vol.Range(min=1, max=123)),
    vol.Optional("readable"): [_RANGE],
    vol.Optional("min_spacing"): vol.All(vol.Coerce(float), vol.Range(min=0, max=60)),
    vol.Optional("min_scan_interval"): vol.All(vol.Coerce(float), vol.Range(min=0, max=3600)),
    vol.Optional("timeout"): vol.All(vol.Coerce(float), vol.Range(min=0.01, max=60)),
    vol.Optional("timeout_per_register"): vol.All(vol.Coerce(float), vol.Range(min=0, max=10)),
}

_TRANSPORT = {
    vol.Optional("unit_id"): vol.All(int, vol.Range(min=0, max=255)),
    vol.Optional("baudrate"): vol.In([1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]),
    vol.Optional("parity"): vol.In(["N", "E", "O"]),
    vol.Optional("stopbits"): vol.In([1, 2]),
    vol.Optional("bytesize"): vol.In([7, 8]),
    vol.Optional("port"): vol.All(int, vol.Range(min=1, max=65535)),
}

_WRITE = {
    vol.Optional("min"): vol.Coerce(float),
    vol.Optional("max"): vol.Coerce(float),
    vol.Optional("choices"): [vol.Coerce(float)],
    vol.Optional("dangerous", default=False): bool,
}

_POINT = {
    vol.Required("key"): _KEY,
    vol.Required("name"): str,
    vol.Required("address"): vol.All(int, vol.Range(min=0)),
    vol.Optional("table"): vol.Coerce(Table),
    vol.Optional("data_type"): vol.Coerce(DataType),
    vol.Optional("count"): vol.All(int, vol.Range(min=1, max=125)),
    vol.Optional("word_order"): vol.Coerce(WordOrder),
    vol.Optional("scale"): vol.Coerce(float),
    vol.Optional("offset"): vol.Coerce(float),
    vol.Optional("scale_point"): _KEY,
    vol.Optional("unit"): str,
    vol.Optional("device_class"): _KEY,
    vol.Optional("state_class"): _one_of(*StateClass),
    vol.Optional("precision"): vol.All(int, vol.Range(min=0, max=6)),
    vol.Optional("options"): {int: _KEY},
    vol.Optional("bit"): vol.All(int, vol.Range(min=0, max=15)),
    vol.Optional("bit_field"): vol.All(
        [vol.All(int, vol.Range(min=0, max=15))], vol.Length(min=2, max=2)
    ),
    vol.Optional("sentinels"): [int],
    vol.Optional("group"): vol.Coerce(PollGroup),
    vol.Optional("entity_category"): _one_of(*EntityCategory),
    vol.Optional("enabled_by_default"): bool,
    vol.Optional("write"): _WRITE,
    vol.Optional("confidence"): vol.Coerce(Confidence),
    vol.Optional("source"): str,
}

_DEFAULTS = {
    vol.Optional(k): v
    for k, v in _POINT.items()
    if str(k) in ("table", "data_type", "word_order", "group", "confidence", "source")
}

_PROBE = {
    vol.Optional("table", default=Table.HOLDING_REGISTER.value): vol.Coerce(Table),
    vol.Required("address"): vol.All(int, vol.Range(min=0)),
    vol.Optional("count", default=1): vol.All(int, vol.Range(min=1, max=125)),
    vol.Optional("expect", default=ProbeExpectation.ANSWER.value): vol.Any(
        _one_of(ProbeExpectation.ANSWER, ProbeExpectation.EXCEPTION), [_U16]
    ),
}

_PARAM = {
    vol.Required("key"): _KEY,
    vol.Required("name"): str,
    vol.Required("kind"): _one_of(*ParamKind),
    vol.Optional("min"): vol.Coerce(float),
    vol.Optional("max"): vol.Coerce(float),
    vol.Optional("choices"): {_KEY: int},
    vol.Optional("length"): vol.All(int, vol.Range(min=1, max=123)),
    vol.Optional("default"): vol.Any(int, float, str, bool),
    vol.Optional("unit"): str,
    vol.Optional("step"): vol.All(vol.Coerce(float), vol.Range(min=0, min_included=False)),
}

_OUTCOME = {
    vol.Required("value"): int,
    vol.Required("key"): _KEY,
    vol.Optional("success", default=False): bool,
    vol.Optional("message", default=""): str,
}

_TARGET = {
    vol.Exclusive("point", "target"): _KEY,
    vol.Exclusive("address", "target"): vol.Any(
        vol.All(int, vol.Range(min=0)), {vol.Required("param"): _KEY}
    ),
    vol.Optional("table"): vol.Coerce(Table),
}

_STEP = vol.Any(
    {
        vol.Required("write"): {
            **_TARGET,
            vol.Exclusive("value", "payload"): _VALUE_REF,
            vol.Exclusive("values", "payload"): [_VALUE_REF],
        }
    },
    {vol.Required("wait"): vol.All(vol.Coerce(float), vol.Range(min=0, max=600))},
    {
        vol.Required("check"): {
            **_TARGET,
            vol.Optional("outcomes"): [_OUTCOME],
            vol.Optional("equals"): _VALUE_REF,
            vol.Optional("within", default=0.0): vol.All(
                vol.Coerce(float), vol.Range(min=0, max=600)
            ),
            vol.Optional("interval", default=0.2): vol.All(
                vol.Coerce(float), vol.Range(min=0.01, max=60)
            ),
        }
    },
    msg="a step is one of 'write', 'wait' or 'check'",
)

_COMMAND = {
    vol.Required("key"): _KEY,
    vol.Required("name"): str,
    vol.Optional("description", default=""): str,
    vol.Optional("dangerous", default=False): bool,
    vol.Optional("session"): _KEY,
    vol.Optional("params", default=list): [_PARAM],
    vol.Required("steps"): vol.All([_STEP], vol.Length(min=1)),
    vol.Optional("confidence"): vol.Coerce(Confidence),
    vol.Optional("source"): str,
}

_VARIANT = {
    vol.Required("key"): _KEY,
    vol.Required("name"): str,
    vol.Optional("models", default=list): [str],
    vol.Optional("firmware"): str,
    vol.Optional("detect", default=list): [_PROBE],
    vol.Optional("serial_point"): _KEY,
    vol.Optional("firmware_point"): _KEY,
    vol.Required("point_sets"): vol.All([_KEY], vol.Length(min=1)),
    vol.Optional("commands", default=list): [_KEY],
    vol.Optional("transport", default=dict): _TRANSPORT,
    vol.Optional("limits", default=dict): _LIMITS,
    vol.Optional("notes", default=list): [str],
}

FAMILY_SCHEMA = vol.Schema(
    {
        vol.Required("family"): _KEY,
        vol.Required("manufacturer"): str,
        vol.Optional("addressing", default=Addressing.PDU.value): vol.Coerce(Addressing),
        vol.Optional("sources", default=list): [str],
        vol.Optional("notes", default=list): [str],
        vol.Optional("transport", default=dict): _TRANSPORT,
        vol.Optional("limits", default=dict): _LIMITS,
        vol.Optional("defaults", default=dict): _DEFAULTS,
        vol.Required("point_sets"): {_KEY: [_POINT]},
        vol.Optional("commands", default=list): [_COMMAND],
        vol.Required("variants"): vol.All([_VARIANT], vol.Length(min=1)),
    }
)


def validate_family(file_name: str, raw: dict[str, Any]) -> dict[str, Any]:
    """Check the mapping of the family file ``file_name`` against the schema; return it completed.

    Defaults are filled in and names become enums. The first mistake raises a
    ProfileError naming point and field.
    """
    try:
        family: dict[str, Any] = FAMILY_SCHEMA(raw)
    except vol.MultipleInvalid as err:
        raise _schema_error(file_name, raw, err) from err
    return family


def _schema_error(file_name: str, raw: dict[str, Any], err: vol.MultipleInvalid) -> ProfileError:
    """Turn the first schema error into a ProfileError naming point and field."""
    first = err.errors[0]
    path = list(first.path)
    point: str | None = None
    field: str | None = None
    node: Any = raw
    walked: list[str] = []
    for index, step in enumerate(path):
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            field = str(step)
            break
        if isinstance(node, dict) and "key" in node and index + 1 < len(path):
            point = str(node["key"])
        walked.append(str(step))
    else:
        field = str(path[-1]) if path else None
    if point is None and walked:
        field = ".".join(walked) if field is None else ".".join([*walked[:-1], field])
    return ProfileError(file_name, first.error_message or str(first), point=point, field=field)
