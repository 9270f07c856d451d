"""Resolve the register addresses of a family file to zero-based PDU addresses.

A file numbers registers as its source document does (its ``addressing``): as PDU
addresses, as register numbers from 1, or as Modicon references such as 40001
that also name the table. Every address a profile model holds is already
resolved; a number that does not fit the convention fails with a
:class:`ProfileError` naming the file, the point and the field.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ProfileError
from .models import Addressing, Table

_MODICON_SPAN = 10000
_MODICON_TABLES = {
    0: Table.COIL,
    1: Table.DISCRETE_INPUT,
    3: Table.INPUT_REGISTER,
    4: Table.HOLDING_REGISTER,
}


@dataclass(frozen=True, kw_only=True, slots=True)
class AddressResolver:
    """Resolves the addresses of one family file, numbered as its ``addressing`` says."""

    file: str
    addressing: Addressing

    def resolve(
        self, address: int, table: Table | None, field: str, point: str | None = None
    ) -> tuple[Table, int]:
        """Resolve a documented address to (table, zero-based PDU address).

        ``table`` is the table the file names, if any; a Modicon reference implies
        its own and must agree with it. ``field`` and ``point`` say where the
        address stands, for the error message.
        """
        if self.addressing is Addressing.MODICON:
            table_digit, offset = divmod(address, _MODICON_SPAN)
            if table_digit not in _MODICON_TABLES or offset == 0:
                raise ProfileError(
                    self.file,
                    f"{address} is not a Modicon reference (0xxxx/1xxxx/3xxxx/4xxxx)",
                    point=point,
                    field=field,
                )
            implied = _MODICON_TABLES[table_digit]
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
