"""Build profiles from a validated family file, checking what the schema cannot see.

One family file holds point sets, commands, switches and variants; each variant
becomes one :class:`Profile` with its point sets joined, its limits and transport merged
over the family's, and every address resolved to a PDU address. While building,
the checks the schema cannot make are made: keys used once, references that
name existing points and commands, counts that match data types, field
combinations that make sense (no writes to a read-only table, a write range from
low to high), points that lie inside the declared readable ranges, and points
that overlap only where one is declared a view of the other. Every mistake is
noted in the file's :class:`ProblemLog`, naming file, point (or command, or
variant) and field; a reference to an item that was already refused is not
reported again.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .errors import ProblemLog
from .models import (
    Addressing,
    AddressRange,
    BusLimits,
    Command,
    Confidence,
    DataType,
    Point,
    PollGroup,
    Profile,
    Switch,
    Table,
    TransportDefaults,
    WordOrder,
    WriteSpec,
)
from .profile_addresses import AddressError, AddressResolver, check_overlaps, check_views
from .profile_commands import CommandBuilder
from .profile_detect import DetectBuilder
from .profile_reader import ValidatedFamily
from .profile_switches import SwitchBuilder

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
_TEXT_TYPES = frozenset({DataType.STRING, DataType.HEX})
_READ_ONLY_TABLES = {
    Table.INPUT_REGISTER: "input registers",
    Table.DISCRETE_INPUT: "discrete inputs",
}


class FamilyBuilder:
    """Turns one validated family file into resolved profiles, noting every problem."""

    def __init__(self, family: ValidatedFamily, log: ProblemLog) -> None:
        """Keep the validated data, and the log that names the file in problems."""
        self.family = family
        self.fields = family.fields
        self.log = log
        self.addressing: Addressing = self.fields["addressing"]
        self.addresses = AddressResolver(file=log.file, addressing=self.addressing)
        self.refused = set(family.refused)
        self.commands = CommandBuilder(self.addresses, log, self.refused)
        self.switches = SwitchBuilder(log, self.refused)
        self.detection = DetectBuilder(self.addresses, log)
        self.family_detect = self.detection.rules(self.fields["detect"], {}, "detect")

    def build(self) -> dict[str, Profile]:
        """Resolve every variant into a profile."""
        point_sets: dict[str, tuple[Point, ...]] = {}
        for name, raw_points in self.family.point_sets.items():
            built = (self._point(raw) for raw in raw_points)
            point_sets[name] = tuple(point for point in built if point is not None)
        commands: dict[str, dict[str, Any]] = {}
        for raw in self.family.commands:
            if raw["key"] in commands:
                self.log.add("command key is used twice", command=raw["key"], field="key")
            else:
                commands[raw["key"]] = raw
        switches: dict[str, dict[str, Any]] = {}
        for raw in self.family.switches:
            if raw["key"] in switches:
                self.log.add("switch key is used twice", switch=raw["key"], field="key")
            else:
                switches[raw["key"]] = raw
        profiles: dict[str, Profile] = {}
        for variant in self.family.variants:
            if variant["key"] in profiles:
                self.log.add("variant key is used twice", variant=variant["key"], field="key")
            else:
                profiles[variant["key"]] = self._variant(variant, point_sets, commands, switches)
        return profiles

    def _variant(
        self,
        variant: dict[str, Any],
        point_sets: Mapping[str, tuple[Point, ...]],
        commands: Mapping[str, dict[str, Any]],
        switches: Mapping[str, dict[str, Any]],
    ) -> Profile:
        """Resolve one variant: its point sets, commands, switches, limits and identity."""
        key = variant["key"]
        points: list[Point] = []
        for set_name in variant["point_sets"]:
            if set_name in point_sets:
                points.extend(point_sets[set_name])
            elif set_name not in self.refused:
                self.log.add(f"unknown point set '{set_name}'", variant=key, field="point_sets")
        by_key: dict[str, Point] = {}
        for point in points:
            if point.key in by_key:
                self.log.add(f"key is used twice in variant '{key}'", point=point.key, field="key")
            by_key[point.key] = point
        limits = BusLimits(**self._limits({**self.fields["limits"], **variant["limits"]}, key))
        self._check_points(by_key, limits)
        for ref in ("serial_point", "firmware_point"):
            named = variant.get(ref)
            if named is not None and named not in by_key and named not in self.refused:
                self.log.add(f"names no point of this variant: '{named}'", variant=key, field=ref)
        resolved_commands: list[Command] = []
        for command_key in variant["commands"]:
            if command_key in by_key:
                self.log.add(
                    f"a point and a command of variant '{key}' share the key; "
                    "their entities would share a unique id",
                    point=command_key,
                    field="key",
                )
            if command_key in commands:
                resolved_commands.append(self.commands.build(commands[command_key], by_key))
            elif command_key not in self.refused:
                self.log.add(f"unknown command '{command_key}'", variant=key, field="commands")
        by_command = {command.key: command for command in resolved_commands}
        resolved_switches: list[Switch] = []
        for switch_key in variant["switches"]:
            if switch_key in switches:
                switch = self.switches.build(switches[switch_key], by_key, by_command)
                resolved_switches += [switch] if switch is not None else []
            elif switch_key not in self.refused:
                self.log.add(f"unknown switch '{switch_key}'", variant=key, field="switches")
        return Profile(
            key=key,
            family=self.fields["family"],
            name=variant["name"],
            manufacturer=self.fields["manufacturer"],
            models=tuple(variant["models"]),
            firmware=variant.get("firmware"),
            source_file=self.log.file,
            addressing=self.addressing,
            transport=TransportDefaults(**{**self.fields["transport"], **variant["transport"]}),
            limits=limits,
            points=tuple(points),
            commands=tuple(resolved_commands),
            switches=tuple(resolved_switches),
            detect=self.detection.rules(variant["detect"], {"variant": key}, "detect"),
            family_detect=self.family_detect,
            serial_point=variant.get("serial_point"),
            firmware_point=variant.get("firmware_point"),
            sources=tuple(self.fields["sources"]),
            notes=(*self.fields["notes"], *variant["notes"]),
        )

    def _limits(self, raw: dict[str, Any], variant: str) -> dict[str, Any]:
        """Bus limits with readable ranges resolved to PDU addresses."""
        limits = dict(raw)
        if "readable" in limits:
            ranges = []
            for index, declared in enumerate(limits["readable"]):
                field = f"limits.readable[{index}]"
                try:
                    table, start = self.addresses.resolve(
                        declared["start"], declared["table"], field
                    )
                    _, end = self.addresses.resolve(declared["end"], declared["table"], field)
                except AddressError as err:
                    self.log.add(str(err), variant=variant, field=err.field)
                    continue
                if start > end:
                    self.log.add(
                        "a readable range runs from start to end, not backwards",
                        variant=variant,
                        field=field,
                    )
                    continue
                ranges.append(AddressRange(table=table, start=start, end=end))
            limits["readable"] = tuple(ranges)
        return limits

    def _point(self, raw: dict[str, Any]) -> Point | None:
        """Build one point with the family defaults; None (its problems noted) if it is wrong."""
        merged = {**self.fields["defaults"], **raw}
        key = merged["key"]
        found = self.log.reported
        try:
            table, address = self.addresses.resolve(
                merged["address"], merged.get("table"), "address"
            )
        except AddressError as err:
            self.log.add(str(err), point=key, field=err.field)
            self.refused.add(key)
            return None
        data_type: DataType = merged.get(
            "data_type", DataType.BOOL if table.is_bit else DataType.U16
        )
        count = merged.get("count", data_type.fixed_count)
        if count is None:
            self.log.add(f"type {data_type.value} needs a count", point=key, field="count")
            count = 1
        self._check_shape(key, merged, table, address, data_type, count)
        if "write" in merged:
            self._check_write(key, merged, table, data_type)
        if self.log.reported > found:
            self.refused.add(key)
            return None
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
            view_of=merged.get("view_of"),
            sentinels=tuple(merged.get("sentinels", ())),
            group=merged.get("group", PollGroup.NORMAL),
            entity_category=merged.get("entity_category"),
            enabled_by_default=merged.get("enabled_by_default", True),
            write=self._write_spec(merged["write"]) if "write" in merged else None,
            confidence=merged.get("confidence", Confidence.CONFIRMED),
            source=merged.get("source"),
        )

    def _check_shape(
        self,
        key: str,
        merged: Mapping[str, Any],
        table: Table,
        address: int,
        data_type: DataType,
        count: int,
    ) -> None:
        """Check that type, count, bits, scale and options of a point fit together."""
        fixed = data_type.fixed_count
        if fixed is not None and count != fixed:
            self.log.add(
                f"type {data_type.value} occupies {fixed} register(s), not {count}",
                point=key,
                field="count",
            )
        if table.is_bit and data_type is not DataType.BOOL:
            self.log.add(f"{table.value} points must be bool", point=key, field="data_type")
        if address + count - 1 > 0xFFFF:
            self.log.add("point runs past address 65535", point=key, field="address")
        selects_bits = "bit" in merged or "bit_field" in merged
        if selects_bits and (table.is_bit or count != 1):
            self.log.add("bit selection needs a one-register point", point=key, field="bit")
        if "bit" in merged and "bit_field" in merged:
            self.log.add("give bit or bit_field, not both", point=key, field="bit_field")
        if "bit_field" in merged and merged["bit_field"][0] > merged["bit_field"][1]:
            self.log.add("bit_field is [low, high]", point=key, field="bit_field")
        if merged.get("scale") == 0:
            self.log.add("scale 0 would erase every value", point=key, field="scale")
        if "options" in merged and data_type not in _INTEGER_TYPES:
            self.log.add(
                f"options need an integer type, not {data_type.value}", point=key, field="options"
            )
        if data_type is DataType.BCD and count > 2:
            self.log.add("bcd values hold 1 or 2 registers", point=key, field="count")
        if merged.get("view_of") == key:
            self.log.add("a point cannot be a view of itself", point=key, field="view_of")

    def _check_write(
        self, key: str, merged: Mapping[str, Any], table: Table, data_type: DataType
    ) -> None:
        """Check that a point's write rules can be kept: table, selection, type and range."""
        write = merged["write"]
        if table in _READ_ONLY_TABLES:
            self.log.add(f"{_READ_ONLY_TABLES[table]} are read-only", point=key, field="write")
        if "bit" in merged or "bit_field" in merged:
            self.log.add("a bit selection cannot be written on its own", point=key, field="write")
        if data_type in _TEXT_TYPES:
            for limit in ("min", "max", "choices"):
                if limit in write:
                    self.log.add(
                        f"a {data_type.value} point takes no {limit}",
                        point=key,
                        field=f"write.{limit}",
                    )
        if write.get("min", -float("inf")) > write.get("max", float("inf")):
            self.log.add("min is above max", point=key, field="write.min")

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
        """Check references, readability and overlaps of a variant's points."""
        for point in by_key.values():
            scale_point = point.scale_point
            if scale_point is not None and scale_point not in by_key:
                if scale_point not in self.refused:
                    self.log.add(
                        f"names no point of the variant: '{scale_point}'",
                        point=point.key,
                        field="scale_point",
                    )
            if limits.readable_range(point.table, point.address, point.count) is None:
                self.log.add(
                    "lies outside every readable range of its variant",
                    point=point.key,
                    field="address",
                )
            if point.count > limits.max_items(point.table):
                self.log.add("is larger than one read may be", point=point.key, field="count")
        check_views(by_key, self.refused, self.log)
        check_overlaps(by_key.values(), self.log)
