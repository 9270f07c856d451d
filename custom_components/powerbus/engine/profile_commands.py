"""Build the commands of a family file, checking every step against its variant.

A command is a list of steps (write, wait, check) with typed parameters. While it
is built for one variant, every point a step names must exist in that variant
(and be writable when written), every parameter a value refers to must be
declared, a raw write must aim at a writable table, and a register named by a
parameter must lie in one table for the whole range of the parameter. Every
mistake is noted in the file's :class:`ProblemLog`, naming the command and the
step.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
import math
from types import MappingProxyType
from typing import Any

from .errors import ProblemLog
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
from .profile_addresses import AddressError, AddressResolver

_READ_ONLY_TABLES = {
    Table.INPUT_REGISTER: "input registers",
    Table.DISCRETE_INPUT: "discrete inputs",
}


class CommandBuilder:
    """Turns the validated command mappings of one family file into commands."""

    def __init__(
        self, addresses: AddressResolver, log: ProblemLog, refused: Collection[str]
    ) -> None:
        """Resolve step addresses with ``addresses``; note problems in ``log``.

        A step naming a point in ``refused`` (already reported) is not reported again.
        """
        self.addresses = addresses
        self.log = log
        self.refused = refused

    def build(self, raw: dict[str, Any], points: Mapping[str, Point]) -> Command:
        """Build one command, checking its steps against the variant's points and params."""
        key = raw["key"]
        params = tuple(
            self._param(key, f"params[{index}]", param) for index, param in enumerate(raw["params"])
        )
        by_key = {p.key: p for p in params}
        built = (
            self._step(key, f"steps[{index}]", step, points, by_key)
            for index, step in enumerate(raw["steps"])
        )
        return Command(
            key=key,
            name=raw["name"],
            description=raw["description"],
            params=params,
            steps=tuple(step for step in built if step is not None),
            dangerous=raw["dangerous"],
            session=raw.get("session"),
            confidence=raw.get("confidence", Confidence.CONFIRMED),
            source=raw.get("source"),
        )

    def _param(self, command: str, field: str, raw: dict[str, Any]) -> ParamSpec:
        """Build one command parameter (at ``field``), noting the fields that do not fit its kind."""
        kind: ParamKind = raw["kind"]
        if kind is ParamKind.CHOICE and not raw.get("choices"):
            self.log.add("a choice parameter needs choices", command=command, field=field)
        if kind is ParamKind.INT_LIST and "length" not in raw:
            self.log.add("an int_list parameter needs a length", command=command, field=field)
        if raw.get("choices") and kind not in (ParamKind.CHOICE, ParamKind.INT):
            self.log.add(
                "only choice and int parameters take choices", command=command, field=field
            )
        if raw.get("min", -math.inf) > raw.get("max", math.inf):
            self.log.add("min is above max", command=command, field=f"{field}.min")
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
        place: str,
        raw: dict[str, Any],
        points: Mapping[str, Point],
        params: Mapping[str, ParamSpec],
    ) -> Step | None:
        """Build one command step at ``place``; None (its problems noted) if it is wrong."""
        if "wait" in raw:
            return WaitStep(seconds=raw["wait"])
        writes = "write" in raw
        field = f"{place}.write" if writes else f"{place}.check"
        body = raw["write"] if writes else raw["check"]
        found = self.log.reported
        point_key = body.get("point")
        table: Table = body.get("table", Table.HOLDING_REGISTER)
        address: int | None = None
        address_param: str | None = None
        if point_key is not None:
            point = points.get(point_key)
            if point is None:
                if point_key not in self.refused:
                    self.log.add(
                        f"names no point of the variant: '{point_key}'",
                        command=command,
                        field=field,
                    )
            else:
                if writes and not point.writable:
                    self.log.add(
                        f"point '{point_key}' is not writable", command=command, field=field
                    )
                table = point.table
        elif isinstance(body.get("address"), dict):
            address_param = body["address"]["param"]
            table = self._address_param_table(
                command, address_param, params, body.get("table", table), f"{field}.address"
            )
        elif "address" in body:
            try:
                table, address = self.addresses.resolve(
                    body["address"], body.get("table", table), f"{field}.address"
                )
            except AddressError as err:
                self.log.add(str(err), command=command, field=err.field)
        else:
            self.log.add("a step needs a point or an address", command=command, field=field)
        if writes and point_key is None and table in _READ_ONLY_TABLES:
            self.log.add(
                f"{_READ_ONLY_TABLES[table]} are read-only",
                command=command,
                field=f"{field}.table",
            )
        refs = self._refs(body)
        for ref in refs:
            if ref.param is not None and ref.param not in params:
                self.log.add(f"names no parameter: '{ref.param}'", command=command, field=field)
        if writes and not refs:
            self.log.add("a write needs a value or values", command=command, field=field)
        if address is not None and address + max(len(refs), 1) - 1 > 0xFFFF:
            self.log.add("the step runs past address 65535", command=command, field=field)
        if not writes and not body.get("outcomes") and "equals" not in body:
            self.log.add("a check needs outcomes or equals", command=command, field=field)
        if self.log.reported > found:
            return None
        if writes:
            return WriteStep(
                point=point_key,
                table=table,
                address=address,
                address_param=address_param,
                values=refs,
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
        fallback = table or Table.HOLDING_REGISTER
        spec = params.get(key)
        if spec is None:
            self.log.add(f"names no parameter: '{key}'", command=command, field=field)
            return fallback
        if (
            spec.kind is not ParamKind.INT
            or spec.minimum is None
            or spec.maximum is None
            or spec.choices
        ):
            self.log.add(
                f"parameter '{key}' names a register, so it must be an int with min and max "
                "and no choices",
                command=command,
                field=field,
            )
            return fallback
        try:
            low_table, low = self.addresses.resolve(math.ceil(spec.minimum), table, field)
            high_table, high = self.addresses.resolve(math.floor(spec.maximum), table, field)
        except AddressError as err:
            self.log.add(str(err), command=command, field=err.field)
            return fallback
        if low_table is not high_table or low < 0 or high > 0xFFFF:
            self.log.add(
                f"the range of parameter '{key}' must resolve to PDU addresses 0-65535 "
                "of one table",
                command=command,
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
