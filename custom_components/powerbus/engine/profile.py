"""Load and validate device profiles (YAML data files) into frozen models.

Validation runs in two layers. The voluptuous schema checks the shape and the type
of every field; the semantic pass then checks what the schema cannot see: unique
keys, references between points and commands, counts that match data types, and
points that fall outside the declared readable ranges. Either layer fails with a
:class:`ProfileError` that names the file, the point and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from importlib import resources
import math
from pathlib import Path
from types import MappingProxyType
from typing import Any

import voluptuous as vol
import yaml

from .errors import ProfileError
from .models import (
    Addressing,
    AddressRange,
    BusLimits,
    CheckStep,
    Command,
    Confidence,
    DataType,
    Outcome,
    ParamSpec,
    Point,
    PollGroup,
    Probe,
    Profile,
    Step,
    Table,
    TransportDefaults,
    ValueRef,
    WaitStep,
    WordOrder,
    WriteSpec,
    WriteStep,
)

# Found relative to this package, whatever name it is imported under.
PROFILE_PACKAGE = f"{__package__}.profiles"
# libyaml's safe loader when PyYAML was built with it: about five times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PARAM_KINDS = ("int", "float", "bool", "choice", "int_list")
ENTITY_CATEGORIES = ("diagnostic", "config")
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
    vol.Optional("state_class"): vol.In(["measurement", "total", "total_increasing"]),
    vol.Optional("precision"): vol.All(int, vol.Range(min=0, max=6)),
    vol.Optional("options"): {int: _KEY},
    vol.Optional("bit"): vol.All(int, vol.Range(min=0, max=15)),
    vol.Optional("bit_field"): vol.All(
        [vol.All(int, vol.Range(min=0, max=15))], vol.Length(min=2, max=2)
    ),
    vol.Optional("sentinels"): [int],
    vol.Optional("group"): vol.Coerce(PollGroup),
    vol.Optional("entity_category"): vol.In(ENTITY_CATEGORIES),
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
    vol.Optional("expect", default="answer"): vol.Any(vol.In(["answer", "exception"]), [_U16]),
}

_PARAM = {
    vol.Required("key"): _KEY,
    vol.Required("name"): str,
    vol.Required("kind"): vol.In(PARAM_KINDS),
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

_INTEGER_TYPES = frozenset(
    {
        DataType.U16,
        DataType.S16,
        DataType.U32,
        DataType.S32,
        DataType.U64,
        DataType.S64,
        DataType.BCD,
    }
)
_MODICON_TABLES = {
    0: Table.COIL,
    1: Table.DISCRETE_INPUT,
    3: Table.INPUT_REGISTER,
    4: Table.HOLDING_REGISTER,
}


def load_profile_file(path: Path | str) -> dict[str, Profile]:
    """Load one family file and return its variants as profiles, keyed by variant key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ProfileError(str(path), f"cannot read the file: {err.strerror}") from err
    return parse_profile_text(text, path.name)


def parse_profile_text(text: str, file_name: str) -> dict[str, Profile]:
    """Validate the YAML text of a family file named ``file_name``."""
    try:
        raw = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader, C or Python
    except yaml.YAMLError as err:
        raise ProfileError(file_name, f"not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ProfileError(file_name, "the file must hold a mapping at the top level")
    try:
        family = FAMILY_SCHEMA(raw)
    except vol.MultipleInvalid as err:
        raise _schema_error(file_name, raw, err) from err
    return _FamilyBuilder(file_name, family).build()


@cache
def builtin_profiles() -> Mapping[str, Profile]:
    """Every profile shipped with the engine, keyed by variant key."""
    profiles: dict[str, Profile] = {}
    for entry in sorted(resources.files(PROFILE_PACKAGE).iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        for key, profile in parse_profile_text(entry.read_text("utf-8"), entry.name).items():
            if key in profiles:
                raise ProfileError(
                    entry.name,
                    f"variant key '{key}' is also defined in {profiles[key].source_file}",
                )
            profiles[key] = profile
    return MappingProxyType(profiles)


def get_profile(key: str) -> Profile:
    """Return the shipped profile with variant key ``key``."""
    try:
        return builtin_profiles()[key]
    except KeyError:
        known = ", ".join(sorted(builtin_profiles()))
        raise ProfileError("shipped profiles", f"no profile '{key}' (known: {known})") from None


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


class _FamilyBuilder:
    """Turns one validated family mapping into resolved profiles."""

    def __init__(self, file_name: str, family: dict[str, Any]) -> None:
        """Keep the validated data and the file name for error messages."""
        self.file = file_name
        self.family = family
        self.addressing: Addressing = family["addressing"]

    def build(self) -> dict[str, Profile]:
        """Resolve every variant into a profile."""
        point_sets = {
            name: tuple(self._point(raw) for raw in points)
            for name, points in self.family["point_sets"].items()
        }
        commands: dict[str, dict[str, Any]] = {}
        for raw in self.family["commands"]:
            if raw["key"] in commands:
                raise ProfileError(
                    self.file, "command key is used twice", field=f"commands.{raw['key']}"
                )
            commands[raw["key"]] = raw
        profiles: dict[str, Profile] = {}
        for variant in self.family["variants"]:
            if variant["key"] in profiles:
                raise ProfileError(
                    self.file, "variant key is used twice", field=f"variants.{variant['key']}"
                )
            profiles[variant["key"]] = self._variant(variant, point_sets, commands)
        return profiles

    def _variant(
        self,
        variant: dict[str, Any],
        point_sets: Mapping[str, tuple[Point, ...]],
        commands: Mapping[str, dict[str, Any]],
    ) -> Profile:
        """Resolve one variant: its point sets, commands, limits and identity."""
        where = f"variants.{variant['key']}"
        points: list[Point] = []
        for set_name in variant["point_sets"]:
            if set_name not in point_sets:
                raise ProfileError(
                    self.file, f"unknown point set '{set_name}'", field=f"{where}.point_sets"
                )
            points.extend(point_sets[set_name])
        by_key: dict[str, Point] = {}
        for point in points:
            if point.key in by_key:
                raise ProfileError(
                    self.file,
                    f"key is used twice in variant '{variant['key']}'",
                    point=point.key,
                    field="key",
                )
            by_key[point.key] = point
        limits = BusLimits(**self._limits({**self.family["limits"], **variant["limits"]}))
        self._check_points(by_key, limits)
        for ref in ("serial_point", "firmware_point"):
            if variant.get(ref) is not None and variant[ref] not in by_key:
                raise ProfileError(
                    self.file,
                    f"names no point of this variant: '{variant[ref]}'",
                    field=f"{where}.{ref}",
                )
        resolved_commands: list[Command] = []
        for command_key in variant["commands"]:
            if command_key not in commands:
                raise ProfileError(
                    self.file, f"unknown command '{command_key}'", field=f"{where}.commands"
                )
            resolved_commands.append(self._command(commands[command_key], by_key))
        return Profile(
            key=variant["key"],
            family=self.family["family"],
            name=variant["name"],
            manufacturer=self.family["manufacturer"],
            models=tuple(variant["models"]),
            firmware=variant.get("firmware"),
            source_file=self.file,
            addressing=self.addressing,
            transport=TransportDefaults(**{**self.family["transport"], **variant["transport"]}),
            limits=limits,
            points=tuple(points),
            commands=tuple(resolved_commands),
            detect=tuple(self._probe(raw) for raw in variant["detect"]),
            serial_point=variant.get("serial_point"),
            firmware_point=variant.get("firmware_point"),
            sources=tuple(self.family["sources"]),
            notes=(*self.family["notes"], *variant["notes"]),
        )

    def _limits(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Bus limits with readable ranges resolved to PDU addresses."""
        limits = dict(raw)
        if "readable" in limits:
            limits["readable"] = tuple(
                AddressRange(
                    table=r["table"],
                    start=self._pdu_address(r["start"], r["table"], "limits.readable")[1],
                    end=self._pdu_address(r["end"], r["table"], "limits.readable")[1],
                )
                for r in limits["readable"]
            )
        return limits

    def _pdu_address(
        self, address: int, table: Table | None, field: str, point: str | None = None
    ) -> tuple[Table, int]:
        """Resolve a documented address to (table, zero-based PDU address)."""
        if self.addressing is Addressing.MODICON:
            kind, offset = divmod(address, 10000)
            if kind not in _MODICON_TABLES or offset == 0:
                raise ProfileError(
                    self.file,
                    f"{address} is not a Modicon reference (0xxxx/1xxxx/3xxxx/4xxxx)",
                    point=point,
                    field=field,
                )
            implied = _MODICON_TABLES[kind]
            if table is not None and table is not implied:
                raise ProfileError(
                    self.file,
                    f"reference {address} is a {implied.value}, not a {table.value}",
                    point=point,
                    field="table",
                )
            return implied, self.addressing.pdu_address(address)
        if table is None:
            raise ProfileError(self.file, "a table is required", point=point, field="table")
        if self.addressing is Addressing.REGISTER_NUMBER and address == 0:
            raise ProfileError(self.file, "register numbers start at 1", point=point, field=field)
        return table, self.addressing.pdu_address(address)

    def _point(self, raw: dict[str, Any]) -> Point:
        """Build one point, applying the family defaults and checking field combinations."""
        merged = {**self.family["defaults"], **raw}
        key = merged["key"]
        table, address = self._pdu_address(merged["address"], merged.get("table"), "address", key)
        data_type: DataType = merged.get(
            "data_type", DataType.BOOL if table.is_bit else DataType.U16
        )
        fixed = data_type.fixed_count
        count = merged.get("count", fixed)
        if count is None:
            raise ProfileError(
                self.file, f"type {data_type.value} needs a count", point=key, field="count"
            )
        if fixed is not None and count != fixed:
            raise ProfileError(
                self.file,
                f"type {data_type.value} occupies {fixed} register(s), not {count}",
                point=key,
                field="count",
            )
        if table.is_bit and data_type is not DataType.BOOL:
            raise ProfileError(
                self.file, f"{table.value} points must be bool", point=key, field="data_type"
            )
        if address + count - 1 > 0xFFFF:
            raise ProfileError(
                self.file, "point runs past address 65535", point=key, field="address"
            )
        if ("bit" in merged or "bit_field" in merged) and (table.is_bit or count != 1):
            raise ProfileError(
                self.file, "bit selection needs a one-register point", point=key, field="bit"
            )
        if "bit_field" in merged and merged["bit_field"][0] > merged["bit_field"][1]:
            raise ProfileError(self.file, "bit_field is [low, high]", point=key, field="bit_field")
        if ("bit" in merged or "bit_field" in merged) and "write" in merged:
            raise ProfileError(
                self.file, "a bit selection cannot be written on its own", point=key, field="write"
            )
        if merged.get("scale") == 0:
            raise ProfileError(
                self.file, "scale 0 would erase every value", point=key, field="scale"
            )
        if "options" in merged and data_type not in _INTEGER_TYPES:
            raise ProfileError(
                self.file,
                f"options need an integer type, not {data_type.value}",
                point=key,
                field="options",
            )
        if data_type is DataType.BCD and count > 2:
            raise ProfileError(
                self.file, "bcd values hold 1 or 2 registers", point=key, field="count"
            )
        return Point(
            key=key,
            name=merged["name"],
            table=table,
            address=address,
            data_type=data_type,
            count=count,
            word_order=merged.get("word_order", WordOrder.ABCD),
            scale=merged.get("scale", 1.0),
            offset=merged.get("offset", 0.0),
            scale_point=merged.get("scale_point"),
            unit=merged.get("unit"),
            device_class=merged.get("device_class"),
            state_class=merged.get("state_class"),
            precision=merged.get("precision"),
            options=MappingProxyType(dict(merged.get("options", {}))),
            bit=merged.get("bit"),
            bit_field=tuple(merged["bit_field"]) if "bit_field" in merged else None,
            sentinels=tuple(merged.get("sentinels", ())),
            group=merged.get("group", PollGroup.NORMAL),
            entity_category=merged.get("entity_category"),
            enabled_by_default=merged.get("enabled_by_default", True),
            write=self._write_spec(merged["write"]) if "write" in merged else None,
            confidence=merged.get("confidence", Confidence.CONFIRMED),
            source=merged.get("source"),
        )

    @staticmethod
    def _write_spec(raw: dict[str, Any]) -> WriteSpec:
        """Build the write permissions of a point."""
        return WriteSpec(
            minimum=raw.get("min"),
            maximum=raw.get("max"),
            choices=tuple(raw.get("choices", ())),
            dangerous=raw["dangerous"],
        )

    def _check_points(self, by_key: Mapping[str, Point], limits: BusLimits) -> None:
        """Check references and readability of a variant's points."""
        for point in by_key.values():
            if point.scale_point is not None and point.scale_point not in by_key:
                raise ProfileError(
                    self.file,
                    f"names no point of the variant: '{point.scale_point}'",
                    point=point.key,
                    field="scale_point",
                )
            if limits.readable_range(point.table, point.address, point.count) is None:
                raise ProfileError(
                    self.file,
                    "lies outside every readable range of its variant",
                    point=point.key,
                    field="address",
                )
            if point.count > limits.max_items(point.table):
                raise ProfileError(
                    self.file, "is larger than one read may be", point=point.key, field="count"
                )

    def _probe(self, raw: dict[str, Any]) -> Probe:
        """Build one detection probe."""
        table, address = self._pdu_address(raw["address"], raw["table"], "detect.address")
        expect = raw["expect"]
        return Probe(
            table=table,
            address=address,
            count=raw["count"],
            expect=tuple(expect) if isinstance(expect, list) else expect,
        )

    def _command(self, raw: dict[str, Any], points: Mapping[str, Point]) -> Command:
        """Build one command and check its steps against the variant's points and params."""
        key = raw["key"]
        params = tuple(self._param(key, p) for p in raw["params"])
        by_key = {p.key: p for p in params}
        steps = tuple(self._step(key, s, points, by_key) for s in raw["steps"])
        return Command(
            key=key,
            name=raw["name"],
            description=raw["description"],
            params=params,
            steps=steps,
            dangerous=raw["dangerous"],
            session=raw.get("session"),
            confidence=raw.get("confidence", Confidence.CONFIRMED),
            source=raw.get("source"),
        )

    def _param(self, command: str, raw: dict[str, Any]) -> ParamSpec:
        """Build one command parameter."""
        if raw["kind"] == "choice" and not raw.get("choices"):
            raise ProfileError(
                self.file,
                "a choice parameter needs choices",
                point=command,
                field=f"params.{raw['key']}",
            )
        if raw["kind"] == "int_list" and "length" not in raw:
            raise ProfileError(
                self.file,
                "an int_list parameter needs a length",
                point=command,
                field=f"params.{raw['key']}",
            )
        if raw.get("choices") and raw["kind"] not in ("choice", "int"):
            raise ProfileError(
                self.file,
                "only choice and int parameters take choices",
                point=command,
                field=f"params.{raw['key']}",
            )
        return ParamSpec(
            key=raw["key"],
            name=raw["name"],
            kind=raw["kind"],
            minimum=raw.get("min"),
            maximum=raw.get("max"),
            choices=MappingProxyType(dict(raw.get("choices", {}))),
            length=raw.get("length"),
            default=raw.get("default"),
            unit=raw.get("unit"),
            step=raw.get("step"),
        )

    def _step(
        self,
        command: str,
        raw: dict[str, Any],
        points: Mapping[str, Point],
        params: Mapping[str, ParamSpec],
    ) -> Step:
        """Build one command step, resolving addresses and checking references."""
        if "wait" in raw:
            return WaitStep(seconds=raw["wait"])
        kind = "write" if "write" in raw else "check"
        body = raw[kind]
        field = f"steps.{kind}"
        point_key = body.get("point")
        table: Table = body.get("table", Table.HOLDING_REGISTER)
        address: int | None = None
        address_param: str | None = None
        if point_key is not None:
            point = points.get(point_key)
            if point is None:
                raise ProfileError(
                    self.file,
                    f"names no point of the variant: '{point_key}'",
                    point=command,
                    field=field,
                )
            if kind == "write" and not point.writable:
                raise ProfileError(
                    self.file, f"point '{point_key}' is not writable", point=command, field=field
                )
            table = point.table
        elif isinstance(body.get("address"), dict):
            address_param = body["address"]["param"]
            table = self._address_param_table(
                command, address_param, params, body.get("table", table), f"{field}.address"
            )
        elif "address" in body:
            table, address = self._pdu_address(
                body["address"], body.get("table", table), f"{field}.address", command
            )
        else:
            raise ProfileError(
                self.file, "a step needs a point or an address", point=command, field=field
            )
        refs = self._refs(body)
        for ref in refs:
            if ref.param is not None and ref.param not in params:
                raise ProfileError(
                    self.file, f"names no parameter: '{ref.param}'", point=command, field=field
                )
        if kind == "write":
            if not refs:
                raise ProfileError(
                    self.file, "a write needs a value or values", point=command, field=field
                )
            return WriteStep(
                point=point_key,
                table=table,
                address=address,
                address_param=address_param,
                values=refs,
            )
        if not body.get("outcomes") and "equals" not in body:
            raise ProfileError(
                self.file, "a check needs outcomes or equals", point=command, field=field
            )
        return CheckStep(
            point=point_key,
            table=table,
            address=address,
            address_param=address_param,
            outcomes=tuple(Outcome(**o) for o in body.get("outcomes", ())),
            equals=self._ref(body["equals"]) if "equals" in body else None,
            within=body["within"],
            interval=body["interval"],
        )

    def _address_param_table(
        self,
        command: str,
        key: str,
        params: Mapping[str, ParamSpec],
        table: Table | None,
        field: str,
    ) -> Table:
        """Check a parameter that names a step's register; return the table its range lies in.

        It must be an int with a declared range and no choices, and both ends of the
        range must resolve through the file's addressing to PDU addresses of one table,
        so the step reaches only registers the profile declares.
        """
        spec = params.get(key)
        if spec is None:
            raise ProfileError(
                self.file, f"names no parameter: '{key}'", point=command, field=field
            )
        if spec.kind != "int" or spec.minimum is None or spec.maximum is None or spec.choices:
            raise ProfileError(
                self.file,
                f"parameter '{key}' names a register, so it must be an int with min and max "
                "and no choices",
                point=command,
                field=field,
            )
        low_table, low = self._pdu_address(math.ceil(spec.minimum), table, field, command)
        high_table, high = self._pdu_address(math.floor(spec.maximum), table, field, command)
        if low_table is not high_table or low < 0 or high > 0xFFFF:
            raise ProfileError(
                self.file,
                f"the range of parameter '{key}' must resolve to PDU addresses 0-65535 "
                "of one table",
                point=command,
                field=field,
            )
        return low_table

    def _refs(self, body: Mapping[str, Any]) -> tuple[ValueRef, ...]:
        """All value references of a step body."""
        if "value" in body:
            return (self._ref(body["value"]),)
        if "values" in body:
            return tuple(self._ref(v) for v in body["values"])
        if "equals" in body:
            return (self._ref(body["equals"]),)
        return ()

    @staticmethod
    def _ref(raw: float | dict[str, Any]) -> ValueRef:
        """Build a value reference from a literal or a {param, factor} mapping."""
        if isinstance(raw, dict):
            return ValueRef(param=raw["param"], factor=raw["factor"])
        return ValueRef(literal=raw)


def with_limits(profile: Profile, **changes: Any) -> Profile:
    """Return a copy of ``profile`` with some bus limits changed (user overrides, tests)."""
    return replace(profile, limits=replace(profile.limits, **changes))
