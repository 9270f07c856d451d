"""Build profiles from a validated family file, checking what the schema cannot see.

One family file holds point sets, commands and variants; each variant becomes
one :class:`Profile` with its point sets joined, its limits and transport merged
over the family's, and every address resolved to a PDU address. While building,
the checks the schema cannot make are made: keys used once, references that
name existing points and commands, counts that match data types, field
combinations that make sense, and points that lie inside the declared readable
ranges. A mistake fails with a :class:`ProfileError` naming file, point and field.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .errors import ProfileError
from .models import (
    Addressing,
    AddressRange,
    BusLimits,
    Command,
    Confidence,
    DataType,
    Point,
    PollGroup,
    Probe,
    ProbeExpectation,
    Profile,
    TransportDefaults,
    WordOrder,
    WriteSpec,
)
from .profile_addresses import AddressResolver
from .profile_commands import CommandBuilder

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


class FamilyBuilder:
    """Turns one validated family mapping into resolved profiles."""

    def __init__(self, file_name: str, family: dict[str, Any]) -> None:
        """Keep the validated data and the file name for error messages."""
        self.file = file_name
        self.family = family
        self.addressing: Addressing = family["addressing"]
        self.addresses = AddressResolver(file=file_name, addressing=self.addressing)
        self.commands = CommandBuilder(self.addresses)

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
            if command_key in by_key:
                raise ProfileError(
                    self.file,
                    f"a point and a command of variant '{variant['key']}' share the key; "
                    "their entities would share a unique id",
                    point=command_key,
                    field="key",
                )
            resolved_commands.append(self.commands.build(commands[command_key], by_key))
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
                    start=self.addresses.resolve(r["start"], r["table"], "limits.readable")[1],
                    end=self.addresses.resolve(r["end"], r["table"], "limits.readable")[1],
                )
                for r in limits["readable"]
            )
        return limits

    def _point(self, raw: dict[str, Any]) -> Point:
        """Build one point, applying the family defaults and checking field combinations."""
        merged = {**self.family["defaults"], **raw}
        key = merged["key"]
        table, address = self.addresses.resolve(
            merged["address"], merged.get("table"), "address", key
        )
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
        table, address = self.addresses.resolve(raw["address"], raw["table"], "detect.address")
        expect = raw["expect"]
        listed = isinstance(expect, list)
        return Probe(
            table=table,
            address=address,
            count=raw["count"],
            expect=ProbeExpectation.VALUES if listed else expect,
            values=tuple(expect) if listed else (),
        )
