"""Build the detection rules of a family file and of its variants, checking what the schema cannot.

A family file may give ``detect`` rules of its own (they recognise the family) and
each variant its own (they tell the variant from the family's others). A rule is a
probe (one read and what the device must answer), ``{unit_ids: [...]}``, or a group:
``{any: [...]}`` holds when one of its rules holds, ``{all: [...]}`` when every one
does. While building, each probe's address is resolved to a PDU address, and its
expectation is checked against its read: a list of values has one value per
register, and a value test (``in``, ``range``, ``unit_id_plus``) reads at most four
registers (or one bit), with unsigned values and a range from low to high. A
probe without a table reads holding registers (a Modicon reference names its own
table). Every
mistake is noted in the file's :class:`ProblemLog`; a wrong rule is left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ProblemLog
from .models import Addressing, AllOf, AnyOf, DetectRule, Probe, ProbeExpectation, Table, UnitIds
from .profile_addresses import AddressError, AddressResolver

_LAST_ADDRESS = 0xFFFF
_VALUE_TEST_REGISTERS = 4
"""A value test reads the registers as one unsigned number, of 64 bits at most."""


class DetectBuilder:
    """Turns the validated ``detect`` lists of one family file into rules."""

    def __init__(self, addresses: AddressResolver, log: ProblemLog) -> None:
        """Resolve addresses with ``addresses``; note problems in ``log``."""
        self.addresses = addresses
        self.log = log

    def rules(
        self, raw_rules: Sequence[Mapping[str, Any]], where: Mapping[str, str], field: str
    ) -> tuple[DetectRule, ...]:
        """Build a list of rules; ``where`` names the variant (or nothing, for the file's own)."""
        built = (self._rule(raw, where, f"{field}[{index}]") for index, raw in enumerate(raw_rules))
        return tuple(rule for rule in built if rule is not None)

    def _rule(
        self, raw: Mapping[str, Any], where: Mapping[str, str], field: str
    ) -> DetectRule | None:
        """Build one rule; None (its problem noted) when it is wrong."""
        if "unit_ids" in raw:
            return UnitIds(units=tuple(raw["unit_ids"]))
        for kind, group in (("any", AnyOf), ("all", AllOf)):
            if kind in raw:
                found = self.log.reported
                rules = self.rules(raw[kind], where, f"{field}.{kind}")
                return group(rules=rules) if self.log.reported == found else None
        return self._probe(raw, where, field)

    def _probe(self, raw: Mapping[str, Any], where: Mapping[str, str], field: str) -> Probe | None:
        """Build one probe; None (its problem noted) when its read or expectation is wrong."""
        table = raw.get("table")
        if table is None and self.addresses.addressing is not Addressing.MODICON:
            table = Table.HOLDING_REGISTER
        try:
            table, address = self.addresses.resolve(raw["address"], table, "address")
        except AddressError as err:
            self.log.add_in(where, str(err), field=f"{field}.{err.field}")
            return None
        count: int = raw["count"]
        if address + count - 1 > _LAST_ADDRESS:
            self.log.add_in(where, "the read runs past address 65535", field=field)
            return None
        expect = raw["expect"]
        if isinstance(expect, list):
            if len(expect) != count:
                self.log.add_in(
                    where,
                    f"lists {len(expect)} values for a read of {count}",
                    field=f"{field}.expect",
                )
                return None
            return Probe(
                table=table,
                address=address,
                count=count,
                expect=ProbeExpectation.VALUES,
                values=tuple(expect),
            )
        if not isinstance(expect, Mapping):
            return Probe(table=table, address=address, count=count, expect=expect)
        if not self._value_test_fits(expect, count, table.is_bit, where, f"{field}.expect"):
            return None
        if ProbeExpectation.ONE_OF.value in expect:
            values = tuple(expect[ProbeExpectation.ONE_OF.value])
            return Probe(
                table=table,
                address=address,
                count=count,
                expect=ProbeExpectation.ONE_OF,
                values=values,
            )
        if ProbeExpectation.RANGE.value in expect:
            lowest, highest = expect[ProbeExpectation.RANGE.value]
            return Probe(
                table=table,
                address=address,
                count=count,
                expect=ProbeExpectation.RANGE,
                minimum=lowest,
                maximum=highest,
            )
        return Probe(
            table=table,
            address=address,
            count=count,
            expect=ProbeExpectation.UNIT_ID,
            offset=expect[ProbeExpectation.UNIT_ID.value],
        )

    def _value_test_fits(
        self,
        expect: Mapping[str, Any],
        count: int,
        bits: bool,
        where: Mapping[str, str],
        field: str,
    ) -> bool:
        """Check a value test against the read it judges; note what does not fit."""
        found = self.log.reported
        if count > (1 if bits else _VALUE_TEST_REGISTERS):
            what = "one bit" if bits else f"{_VALUE_TEST_REGISTERS} registers"
            self.log.add_in(where, f"a value test reads at most {what}", field=field)
        values = [
            *expect.get(ProbeExpectation.ONE_OF.value, ()),
            *expect.get(ProbeExpectation.RANGE.value, ()),
        ]
        if any(value < 0 for value in values):
            self.log.add_in(where, "the value read is unsigned: no value is negative", field=field)
        lowest, highest = expect.get(ProbeExpectation.RANGE.value, (0, 0))
        if lowest > highest:
            self.log.add_in(where, "a range runs from lowest to highest", field=field)
        return self.log.reported == found
