"""Build the commands of a family file, checking every step against its variant.

A command is a list of steps (write, wait, check) with typed parameters. While it
is built for one variant, every point a step names must exist in that variant
(and be writable when written), every parameter a value refers to must be
declared, and a register named by a parameter must lie in one table for the whole
range of the parameter. A mistake fails with a :class:`ProfileError` that names
the command and the step.
"""

from __future__ import annotations

from collections.abc import Mapping
import math
from types import MappingProxyType
from typing import Any

from .errors import ProfileError
from .models import (
    CheckStep,
    Command,
    Confidence,
    Outcome,
    ParamKind,
    ParamSpec,
    Point,
    Step,
    Table,
    ValueRef,
    WaitStep,
    WriteStep,
)
from .profile_addresses import AddressResolver


class CommandBuilder:
    """Turns the validated command mappings of one family file into commands."""

    def __init__(self, addresses: AddressResolver) -> None:
        """Resolve step addresses with ``addresses``, which also names the file in errors."""
        self.addresses = addresses
        self.file = addresses.file

    def build(self, raw: dict[str, Any], points: Mapping[str, Point]) -> Command:
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
        kind: ParamKind = raw["kind"]
        if kind is ParamKind.CHOICE and not raw.get("choices"):
            raise ProfileError(
                self.file,
                "a choice parameter needs choices",
                point=command,
                field=f"params.{raw['key']}",
            )
        if kind is ParamKind.INT_LIST and "length" not in raw:
            raise ProfileError(
                self.file,
                "an int_list parameter needs a length",
                point=command,
                field=f"params.{raw['key']}",
            )
        if raw.get("choices") and kind not in (ParamKind.CHOICE, ParamKind.INT):
            raise ProfileError(
                self.file,
                "only choice and int parameters take choices",
                point=command,
                field=f"params.{raw['key']}",
            )
        return ParamSpec(
            key=raw["key"],
            name=raw["name"],
            kind=kind,
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
        writes = "write" in raw
        field = "steps.write" if writes else "steps.check"
        body = raw["write"] if writes else raw["check"]
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
            if writes and not point.writable:
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
            table, address = self.addresses.resolve(
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
        if writes:
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
        if (
            spec.kind is not ParamKind.INT
            or spec.minimum is None
            or spec.maximum is None
            or spec.choices
        ):
            raise ProfileError(
                self.file,
                f"parameter '{key}' names a register, so it must be an int with min and max "
                "and no choices",
                point=command,
                field=field,
            )
        low_table, low = self.addresses.resolve(math.ceil(spec.minimum), table, field, command)
        high_table, high = self.addresses.resolve(math.floor(spec.maximum), table, field, command)
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
