"""Register numbers as a device's own document writes them, for what ``powerbus`` prints and takes.

A profile numbers registers as its source document does (its ``addressing``):
zero-based PDU addresses, register numbers from 1, or Modicon references such as
40001. What the tool shows of a profile's registers, and the addresses ``read --raw``
takes with a profile, follow that numbering; the PDU address is shown beside it.
"""

from __future__ import annotations

from ..errors import ConfigError
from ..models import Addressing, Profile, Table
from ..profile_addresses import AddressError, AddressResolver, document_number, with_article
from .arguments import RawSpan

_NUMBERING = {
    Addressing.PDU: "zero-based PDU addresses",
    Addressing.REGISTER_NUMBER: "register numbers from 1 (register 1 is PDU address 0)",
    Addressing.MODICON: (
        "Modicon references (40001 is holding register 1 at PDU address 0, "
        "30001 input register 1, 10001 discrete input 1, 1 coil 1)"
    ),
}
_LAST_ADDRESS = 0xFFFF
# Six-digit Modicon references (400001-465536) number registers past the 9999th of a table;
# those of coils (000001-065536) are the plain coil numbers.
_FIVE_DIGITS = 10_000
_SIX_DIGITS = 100_000
_SIX_DIGIT_TABLES = {
    0: Table.COIL,
    1: Table.DISCRETE_INPUT,
    3: Table.INPUT_REGISTER,
    4: Table.HOLDING_REGISTER,
}


def describe_numbering(addressing: Addressing) -> str:
    """Say in words how a document numbers its registers."""
    return _NUMBERING[addressing]


def register_number(profile: Profile, table: Table, address: int) -> int:
    """Return the number the profile's document gives the register at PDU ``address``."""
    return document_number(profile.addressing, table, address)


def raw_addresses(span: RawSpan, profile: Profile | None) -> tuple[Table, int]:
    """Return the table and the PDU address of ``--raw``'s first register.

    Without a profile the address is a PDU address; with one it is numbered as
    the profile's document numbers registers, and a number that does not fit that
    numbering is refused, saying how the document numbers them.
    """
    table, address = span.table, span.address
    if profile is not None and profile.addressing is not Addressing.PDU:
        resolver = AddressResolver(file=profile.key, addressing=profile.addressing)
        try:
            if profile.addressing is Addressing.MODICON and _six_digits(span):
                table, address = _six_digit_reference(span.address, span.table)
            else:
                table, address = resolver.resolve(span.address, span.table, "--raw")
        except AddressError as err:
            raise ConfigError(
                "--raw",
                f"{err} ({profile.key} numbers registers as its document does: "
                f"{describe_numbering(profile.addressing)})",
            ) from None
    if address + span.count - 1 > _LAST_ADDRESS:
        raise ConfigError(
            "--raw", f"PDU addresses {address}..{address + span.count - 1} lie outside 0..65535"
        )
    if profile is not None and span.count > profile.limits.max_items(table):
        raise ConfigError(
            "--raw",
            f"one read of a {table.value} table of {profile.key} is at most "
            f"{profile.limits.max_items(table)} items",
        )
    return table, address


def _six_digits(span: RawSpan) -> bool:
    """Whether a Modicon number is a six-digit reference (a coil's from 10000 on)."""
    return span.address >= _SIX_DIGITS or (
        span.table is Table.COIL and span.address >= _FIVE_DIGITS
    )


def _six_digit_reference(number: int, table: Table) -> tuple[Table, int]:
    """Resolve a six-digit Modicon reference such as 410000 (holding register 10000)."""
    digit, offset = divmod(number, _SIX_DIGITS)
    implied = _SIX_DIGIT_TABLES.get(digit)
    if implied is None or offset == 0:
        raise AddressError(f"{number} is not a Modicon reference", "--raw")
    if implied is not table:
        raise AddressError(
            f"reference {number} is {with_article(implied.value)}, not {with_article(table.value)}",
            "--raw",
        )
    return implied, offset - 1
