"""Typed, frozen models of device profiles, commands and readings.

Profiles are data (YAML files under ``profiles/``); ``profile.py`` loads them, and
``profile_schema.py`` and ``profile_builder.py`` validate them and build these
models. Every address held here is already a zero-based PDU address: the
addressing convention of the source document is resolved at load time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias

Value: TypeAlias = int | float | str | bool


class Table(StrEnum):
    """The four Modbus data tables."""

    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    INPUT_REGISTER = "input_register"
    HOLDING_REGISTER = "holding_register"

    @property
    def is_bit(self) -> bool:
        """Whether the table holds single bits rather than 16-bit registers."""
        return self in (Table.COIL, Table.DISCRETE_INPUT)

    @property
    def read_function(self) -> int:
        """The Modbus function code that reads this table."""
        return _READ_FUNCTION[self]


_READ_FUNCTION = {
    Table.COIL: 1,
    Table.DISCRETE_INPUT: 2,
    Table.HOLDING_REGISTER: 3,
    Table.INPUT_REGISTER: 4,
}


class DataType(StrEnum):
    """How the raw registers (or bits) of a point turn into a value."""

    BOOL = "bool"
    U16 = "u16"
    S16 = "s16"
    U32 = "u32"
    S32 = "s32"
    U64 = "u64"
    S64 = "s64"
    F32 = "f32"
    F64 = "f64"
    STRING = "string"
    HEX = "hex"
    BCD = "bcd"
    MOD10 = "mod10"
    PF_SIGNED_MAGNITUDE = "pf_signed_magnitude"

    @property
    def fixed_count(self) -> int | None:
        """Registers the type always occupies, or None when the profile says."""
        return _FIXED_COUNT.get(self)


_FIXED_COUNT = {
    DataType.BOOL: 1,
    DataType.U16: 1,
    DataType.S16: 1,
    DataType.U32: 2,
    DataType.S32: 2,
    DataType.U64: 4,
    DataType.S64: 4,
    DataType.F32: 2,
    DataType.F64: 4,
    DataType.MOD10: 4,
    DataType.PF_SIGNED_MAGNITUDE: 1,
}


class WordOrder(StrEnum):
    """Order of words and bytes in a multi-register value (A = most significant byte)."""

    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"


class Addressing(StrEnum):
    """How a source document numbers registers."""

    PDU = "pdu"
    REGISTER_NUMBER = "register_number"
    MODICON = "modicon"

    def pdu_address(self, number: int) -> int:
        """Return the PDU address of register ``number``, numbered as this convention numbers it.

        A Modicon reference also names its table; only its offset is used here.
        """
        if self is Addressing.MODICON:
            return number % _MODICON_SPAN - 1
        if self is Addressing.REGISTER_NUMBER:
            return number - 1
        return number


_MODICON_SPAN = 10000


class PollGroup(StrEnum):
    """How often a point is read."""

    FAST = "fast"
    NORMAL = "normal"
    SLOW = "slow"
    ONCE = "once"


class EntityCategory(StrEnum):
    """Where Home Assistant files a point that is not one of the device's main values."""

    CONFIG = "config"
    DIAGNOSTIC = "diagnostic"


class StateClass(StrEnum):
    """How Home Assistant keeps statistics of a numeric point."""

    MEASUREMENT = "measurement"
    TOTAL = "total"
    TOTAL_INCREASING = "total_increasing"


class Confidence(StrEnum):
    """How well a fact in a profile is backed by sources."""

    CONFIRMED = "C2"
    SINGLE_SOURCE = "C1"
    INFERRED = "INF"


class PointState(StrEnum):
    """What a reading is worth."""

    VALID = "valid"
    UNAVAILABLE = "unavailable"
    ERROR = "error"


class ProbeExpectation(StrEnum):
    """What a detection probe expects of the device it reads."""

    ANSWER = "answer"
    """Any normal answer."""
    EXCEPTION = "exception"
    """An exception response: the device must refuse the read."""
    VALUES = "values"
    """An answer with exactly the probe's register values."""
    ONE_OF = "in"
    """An answer whose value is one of the probe's ``values``."""
    RANGE = "range"
    """An answer whose value lies from ``minimum`` to ``maximum``."""
    UNIT_ID = "unit_id_plus"
    """An answer whose value is the unit id the device answers at, plus ``offset``."""


class ParamKind(StrEnum):
    """The type of value a command parameter takes."""

    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    CHOICE = "choice"
    """One of the parameter's labelled values, given by label or by number."""
    INT_LIST = "int_list"
    """A fixed number of integers, one register each."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AddressRange:
    """An inclusive range of readable PDU addresses in one table."""

    table: Table
    start: int
    end: int

    def contains(self, table: Table, start: int, count: int) -> bool:
        """Whether ``count`` items from ``start`` in ``table`` lie inside the range."""
        return table is self.table and self.start <= start and start + count - 1 <= self.end


@dataclass(frozen=True, kw_only=True, slots=True)
class BusLimits:
    """What a device (or the card in front of it) tolerates on the bus.

    ``split_at_holes``: a device expected to refuse every address it does not list;
    when it refuses a read through holes, the read's runs between the holes are read
    at once and no read crosses those holes again (``refusals.py``).
    """

    max_registers: int = 125
    max_bits: int = 2000
    max_gap: int = 10
    max_write_registers: int = 123
    readable: tuple[AddressRange, ...] = ()
    min_spacing: float = 0.0
    min_scan_interval: float = 0.0
    timeout: float = 1.0
    timeout_per_register: float = 0.0
    split_at_holes: bool = False

    def max_items(self, table: Table) -> int:
        """Return the most registers (or bits) one read of ``table`` may ask for."""
        return self.max_bits if table.is_bit else self.max_registers

    def request_timeout(self, count: int) -> float:
        """Seconds to wait for the answer to a request for ``count`` registers."""
        return self.timeout + self.timeout_per_register * count

    def readable_range(self, table: Table, start: int, count: int) -> AddressRange | None:
        """Return the declared range holding the span, or None if there is none.

        When a profile declares no range for a table, the whole table is readable
        and a synthetic range covering it is returned.
        """
        declared = [r for r in self.readable if r.table is table]
        if not declared:
            return AddressRange(table=table, start=0, end=0xFFFF)
        for candidate in declared:
            if candidate.contains(table, start, count):
                return candidate
        return None


@dataclass(frozen=True, kw_only=True, slots=True)
class TransportDefaults:
    """Serial settings and unit id a device ships with."""

    unit_id: int = 1
    baudrate: int = 9600
    parity: str = "E"
    stopbits: int = 1
    bytesize: int = 8
    port: int = 502


@dataclass(frozen=True, kw_only=True, slots=True)
class WriteSpec:
    """What may be written to a writable point, in user units."""

    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[float, ...] = ()
    dangerous: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Point:
    """One value a device exposes, and how to read (and maybe write) it.

    ``view_of`` names the point whose registers (or bits) this one reads again in
    another way: a flag of a status register, say. Points of one table overlap
    only when one is a view of the other, or both are views of the same point.
    """

    key: str
    name: str
    table: Table
    address: int
    data_type: DataType
    count: int
    word_order: WordOrder = WordOrder.ABCD
    scale: float = 1.0
    offset: float = 0.0
    scale_point: str | None = None
    unit: str | None = None
    device_class: str | None = None
    state_class: StateClass | None = None
    precision: int | None = None
    options: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    bit: int | None = None
    bit_field: tuple[int, int] | None = None
    view_of: str | None = None
    sentinels: tuple[int, ...] = ()
    group: PollGroup = PollGroup.NORMAL
    entity_category: EntityCategory | None = None
    enabled_by_default: bool = True
    write: WriteSpec | None = None
    confidence: Confidence = Confidence.CONFIRMED
    source: str | None = None

    @property
    def end(self) -> int:
        """The last address the point occupies."""
        return self.address + self.count - 1

    @property
    def writable(self) -> bool:
        """Whether the profile allows writing this point."""
        return self.write is not None


@dataclass(frozen=True, kw_only=True, slots=True)
class Probe:
    """One read used to recognise a device.

    ``expect`` says what the device must do; with :attr:`ProbeExpectation.VALUES`,
    the registers it answers with must equal ``values``. The other expectations
    judge the answer's value: its registers as one unsigned number, high word
    first (a bit reads as 0 or 1).
    """

    table: Table
    address: int
    count: int
    expect: ProbeExpectation = ProbeExpectation.ANSWER
    values: tuple[int, ...] = ()
    minimum: int = 0
    maximum: int = 0
    offset: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class UnitIds:
    """A detection rule that holds when the device answers at one of ``units``."""

    units: tuple[int, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class AnyOf:
    """A detection rule that holds when one of its ``rules`` holds."""

    rules: tuple[DetectRule, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class AllOf:
    """A detection rule that holds when every one of its ``rules`` holds."""

    rules: tuple[DetectRule, ...]


DetectRule: TypeAlias = Probe | UnitIds | AnyOf | AllOf
"""One rule of a profile's ``detect`` list: a read, a unit id, or a group of rules."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ParamSpec:
    """A typed, validated parameter of a device command.

    ``choices`` are the labelled values of a ``choice`` parameter; on an ``int``
    parameter they name values it takes besides its range (a "disabled" marker).
    """

    key: str
    name: str
    kind: ParamKind
    minimum: float | None = None
    maximum: float | None = None
    choices: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    length: int | None = None
    default: Value | None = None
    unit: str | None = None
    step: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ValueRef:
    """A value in a command step: a literal, or a parameter times a factor."""

    literal: float | None = None
    param: str | None = None
    factor: float = 1.0


@dataclass(frozen=True, kw_only=True, slots=True)
class WriteStep:
    """Write a point (encoded by its type) or raw registers/coils.

    Raw values go to ``address``, or, with ``address_param``, to the register that
    int parameter names, numbered as the profile's source document numbers them.
    """

    point: str | None = None
    table: Table = Table.HOLDING_REGISTER
    address: int | None = None
    address_param: str | None = None
    values: tuple[ValueRef, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class WaitStep:
    """Leave the device alone for a while."""

    seconds: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """What a value read back by a check step means."""

    value: int
    key: str
    success: bool
    message: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckStep:
    """Read back a register or point and judge the command by it.

    With ``outcomes``, the read value must be one of them; a success outcome lets
    the command go on, any other ends it with that outcome. With ``equals``, the
    read value must equal the given value. The read is repeated every
    ``interval`` seconds until a listed outcome appears or ``within`` runs out.
    A register is read at ``address``, or at the one ``address_param`` names.
    """

    point: str | None = None
    table: Table = Table.HOLDING_REGISTER
    address: int | None = None
    address_param: str | None = None
    outcomes: tuple[Outcome, ...] = ()
    equals: ValueRef | None = None
    within: float = 0.0
    interval: float = 0.2


Step: TypeAlias = WriteStep | WaitStep | CheckStep


@dataclass(frozen=True, kw_only=True, slots=True)
class Command:
    """A named multi-step device action."""

    key: str
    name: str
    params: tuple[ParamSpec, ...] = ()
    steps: tuple[Step, ...] = ()
    dangerous: bool = False
    session: str | None = None
    description: str = ""
    confidence: Confidence = Confidence.CONFIRMED
    source: str | None = None


CallValue: TypeAlias = Value | tuple[int, ...]
"""A parameter value of a command call: one value, or the integers of an ``int_list``."""


@dataclass(frozen=True, kw_only=True, slots=True)
class CommandCall:
    """A command of the profile and the parameters it runs with (checked when loaded)."""

    command: str
    params: Mapping[str, CallValue] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, kw_only=True, slots=True)
class Switch:
    """An on/off control made of two command calls, such as the outlets of a UPS.

    ``state`` names the bool point that reads whether it is on; without one, front
    ends show the state last asked for (an assumed state).
    """

    key: str
    name: str
    turn_on: CommandCall
    turn_off: CommandCall
    state: str | None = None
    device_class: str | None = None
    confidence: Confidence = Confidence.CONFIRMED
    source: str | None = None


@dataclass(frozen=True, kw_only=True)
class Profile:
    """One device variant, resolved from its family file, ready to poll.

    ``family_detect`` (the family file's ``detect``) recognises the family, and
    ``detect`` tells this variant from the family's others; in a family without
    family rules, ``detect`` alone recognises the variant (``identify.py``).
    """

    key: str
    family: str
    name: str
    manufacturer: str
    models: tuple[str, ...]
    firmware: str | None
    source_file: str
    addressing: Addressing
    transport: TransportDefaults
    limits: BusLimits
    points: tuple[Point, ...]
    commands: tuple[Command, ...] = ()
    switches: tuple[Switch, ...] = ()
    detect: tuple[DetectRule, ...] = ()
    family_detect: tuple[DetectRule, ...] = ()
    serial_point: str | None = None
    firmware_point: str | None = None
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    _by_key: Mapping[str, Point] = field(init=False, repr=False, compare=False)
    _commands_by_key: Mapping[str, Command] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index points and commands by key."""
        object.__setattr__(self, "_by_key", MappingProxyType({p.key: p for p in self.points}))
        object.__setattr__(
            self, "_commands_by_key", MappingProxyType({c.key: c for c in self.commands})
        )

    def point(self, key: str) -> Point:
        """Return the point with ``key``; KeyError if the profile has none."""
        return self._by_key[key]

    def has_point(self, key: str) -> bool:
        """Whether the profile defines a point with ``key``."""
        return key in self._by_key

    @property
    def recognisable(self) -> bool:
        """Whether detection rules can recognise a device of this profile."""
        return bool(self.detect or self.family_detect)

    def command(self, key: str) -> Command:
        """Return the command with ``key``; KeyError if the profile has none."""
        return self._commands_by_key[key]


@dataclass(frozen=True, kw_only=True, slots=True)
class Reading:
    """The outcome of reading one point in one poll."""

    key: str
    value: Value | None
    state: PointState
    timestamp: float
    raw: tuple[int, ...] = ()
    error: str | None = None
