"""Tests for the register and point codecs."""

from __future__ import annotations

import math
import struct
from typing import Any

from hypothesis import example, given, strategies as st
import pytest

from powerbus.codecs import (
    decode_point,
    decode_registers,
    encode_point,
    encode_value,
    exponent_from_register,
    to_signed16,
)
from powerbus.errors import DecodeError, WriteValidationError
from powerbus.models import DataType, Point, Table, WordOrder, WriteSpec

pytestmark = pytest.mark.hardware_free

word_orders = st.sampled_from(list(WordOrder))

INTEGER_RANGES = {
    DataType.U16: (1, 0, 2**16 - 1),
    DataType.S16: (1, -(2**15), 2**15 - 1),
    DataType.U32: (2, 0, 2**32 - 1),
    DataType.S32: (2, -(2**31), 2**31 - 1),
    DataType.U64: (4, 0, 2**64 - 1),
    DataType.S64: (4, -(2**63), 2**63 - 1),
}


def u16(value: int) -> int:
    """Return the register that holds the int16 ``value``."""
    return value & 0xFFFF


def make_point(**fields: Any) -> Point:
    """Build a holding-register u16 point ``meter_setting`` with ``fields`` set."""
    defaults: dict[str, Any] = {
        "key": "meter_setting",
        "name": "Meter setting",
        "table": Table.HOLDING_REGISTER,
        "address": 0,
        "data_type": DataType.U16,
        "count": 1,
    }
    return Point(**(defaults | fields))


def round_trip(data_type: DataType, value: Any, order: WordOrder, count: int) -> Any:
    """Encode ``value`` and decode the registers again."""
    registers = encode_value(data_type, value, order, count)
    assert len(registers) == count
    assert all(0 <= register <= 0xFFFF for register in registers)
    return decode_registers(data_type, registers, order)


# Round trips over every type and word order


@pytest.mark.parametrize("data_type", list(INTEGER_RANGES))
@given(data=st.data(), order=word_orders)
def test_integer_round_trip(data_type: DataType, data: st.DataObject, order: WordOrder) -> None:
    """Every integer in a type's range survives encoding in every word order."""
    count, low, high = INTEGER_RANGES[data_type]
    value = data.draw(st.integers(low, high))
    assert round_trip(data_type, value, order, count) == value


@given(value=st.floats(width=32, allow_nan=False), order=word_orders)
@example(value=3.4028234663852886e38, order=WordOrder.ABCD)  # rounds past float32's maximum
def test_f32_round_trip_keeps_the_bit_pattern(value: float, order: WordOrder) -> None:
    """A float32 value, signed zeros and infinities included, comes back bit for bit."""
    decoded = round_trip(DataType.F32, value, order, 2)
    assert struct.pack(">f", decoded) == struct.pack(">f", value)


@given(
    value=st.decimals(
        min_value=-99999, max_value=99999, places=3, allow_nan=False, allow_infinity=False
    ),
    order=word_orders,
)
def test_f32_reads_back_the_decimal_that_was_sent(value: Any, order: WordOrder) -> None:
    """A short decimal sent as float32 reads back as that decimal, without float32 noise."""
    sent = float(value)
    decoded = round_trip(DataType.F32, sent, order, 2)
    if len(str(abs(value)).replace(".", "").lstrip("0")) <= 6:
        assert decoded == sent
    assert struct.pack(">f", decoded) == struct.pack(">f", sent)


def test_f32_voltage_reads_as_the_meter_meant_it() -> None:
    """230.1 V arrives as 0x4366 0x199A and reads as 230.1, not 230.10000610351562."""
    assert decode_registers(DataType.F32, [0x4366, 0x199A], WordOrder.ABCD) == 230.1


@given(value=st.floats(allow_nan=False), order=word_orders)
def test_f64_round_trip_keeps_the_bit_pattern(value: float, order: WordOrder) -> None:
    """A float64 value comes back bit for bit."""
    decoded = round_trip(DataType.F64, value, order, 4)
    assert struct.pack(">d", decoded) == struct.pack(">d", value)


@given(
    count=st.integers(1, 8),
    data=st.data(),
    order=word_orders,
)
def test_string_round_trip(count: int, data: st.DataObject, order: WordOrder) -> None:
    """ASCII text comes back without its trailing NUL and space padding."""
    text = data.draw(st.text(st.characters(max_codepoint=0x7F), max_size=2 * count))
    assert round_trip(DataType.STRING, text, order, count) == text.rstrip("\x00 ")


@given(count=st.integers(1, 4), data=st.data(), order=word_orders)
def test_hex_round_trip(count: int, data: st.DataObject, order: WordOrder) -> None:
    """Hex digits come back as written (uppercase)."""
    digits = data.draw(st.text("0123456789ABCDEF", min_size=4 * count, max_size=4 * count))
    assert round_trip(DataType.HEX, digits, order, count) == digits


@given(count=st.sampled_from([1, 2]), data=st.data(), order=word_orders)
def test_bcd_round_trip(count: int, data: st.DataObject, order: WordOrder) -> None:
    """Every decimal number with up to four digits per register survives."""
    value = data.draw(st.integers(0, 10 ** (4 * count) - 1))
    assert round_trip(DataType.BCD, value, order, count) == value


@given(value=st.integers(-(10**16) + 1, 10**16 - 1), order=word_orders)
def test_mod10_round_trip(value: int, order: WordOrder) -> None:
    """Signed MOD10 values up to 16 decimal digits survive."""
    assert round_trip(DataType.MOD10, value, order, 4) == value


@given(thousandths=st.integers(-999, 1000), order=word_orders)
def test_power_factor_round_trip(thousandths: int, order: WordOrder) -> None:
    """Every power factor in thousandths, leading or lagging, survives.

    Unity has no direction, so -1.0 is left out: it reads back as 1.0.
    """
    value = thousandths / 1000
    assert round_trip(DataType.PF_SIGNED_MAGNITUDE, value, order, 1) == value


@given(value=st.booleans(), order=word_orders)
def test_bool_round_trip(value: bool, order: WordOrder) -> None:  # noqa: FBT001
    """A bool survives."""
    assert round_trip(DataType.BOOL, value, order, 1) is value


# Word and byte orders on the wire


@pytest.mark.parametrize(
    ("data_type", "value", "order", "registers"),
    [
        # PRO380 sends 16 A as 41 80 00 00 (ABCD).
        (DataType.F32, 16.0, WordOrder.ABCD, [0x4180, 0x0000]),
        (DataType.F32, 16.0, WordOrder.CDAB, [0x0000, 0x4180]),
        (DataType.F32, 16.0, WordOrder.BADC, [0x8041, 0x0000]),
        (DataType.F32, 16.0, WordOrder.DCBA, [0x0000, 0x8041]),
        (DataType.U32, 0x12345678, WordOrder.ABCD, [0x1234, 0x5678]),
        (DataType.U32, 0x12345678, WordOrder.CDAB, [0x5678, 0x1234]),
        (DataType.U32, 0x12345678, WordOrder.BADC, [0x3412, 0x7856]),
        (DataType.U32, 0x12345678, WordOrder.DCBA, [0x7856, 0x3412]),
        (
            DataType.U64,
            0x0102030405060708,
            WordOrder.CDAB,
            [0x0708, 0x0506, 0x0304, 0x0102],
        ),
        (
            DataType.U64,
            0x0102030405060708,
            WordOrder.DCBA,
            [0x0807, 0x0605, 0x0403, 0x0201],
        ),
        (DataType.S32, -2, WordOrder.ABCD, [0xFFFF, 0xFFFE]),
        (DataType.S32, -2, WordOrder.CDAB, [0xFFFE, 0xFFFF]),
        (DataType.U16, 0x1234, WordOrder.ABCD, [0x1234]),
        (DataType.U16, 0x1234, WordOrder.CDAB, [0x1234]),
        (DataType.U16, 0x1234, WordOrder.BADC, [0x3412]),
        (DataType.U16, 0x1234, WordOrder.DCBA, [0x3412]),
        (DataType.S16, -2, WordOrder.ABCD, [0xFFFE]),
        (DataType.STRING, "ABCD", WordOrder.BADC, [0x4241, 0x4443]),
        # MOD10 is least significant register first in its natural (ABCD) layout.
        (DataType.MOD10, 1234567, WordOrder.CDAB, [0, 0, 123, 4567]),
    ],
)
def test_wire_layout(
    data_type: DataType, value: Any, order: WordOrder, registers: list[int]
) -> None:
    """Values sit on the wire in the documented word and byte order."""
    assert encode_value(data_type, value, order, len(registers)) == registers
    assert decode_registers(data_type, registers, order) == value


# Worked examples from device register maps


def test_pro380_serial_number_is_the_hex_digits() -> None:
    """The PRO380 serial 0x2209 0x1039 reads as the printed serial 22091039."""
    assert decode_registers(DataType.HEX, [0x2209, 0x1039], WordOrder.ABCD) == "22091039"


def test_hex_is_uppercase_and_zero_padded() -> None:
    """Each register gives four uppercase digits, and lowercase input is accepted."""
    assert decode_registers(DataType.HEX, [0x00AB], WordOrder.ABCD) == "00AB"
    assert encode_value(DataType.HEX, "00ab", WordOrder.ABCD, 1) == [0x00AB]


def test_pro380_lcd_cycle_time_is_bcd() -> None:
    """The LCD cycle time register 0x0025 means 25 s, and 25 s writes 0x0025."""
    assert decode_registers(DataType.BCD, [0x0025], WordOrder.ABCD) == 25
    assert encode_value(DataType.BCD, 25, WordOrder.ABCD, 1) == [0x0025]


def test_two_register_bcd_puts_the_high_digits_first() -> None:
    """Two BCD registers read as one eight-digit decimal number."""
    assert decode_registers(DataType.BCD, [0x0012, 0x3456], WordOrder.ABCD) == 123456


def test_pro380_current_direction_is_ascii() -> None:
    """The current direction register 0x3146 reads as "1F"."""
    assert decode_registers(DataType.STRING, [0x3146], WordOrder.ABCD) == "1F"


def test_string_padding_is_stripped_and_written_as_nuls() -> None:
    """Space and NUL padding is dropped on read; writes pad with NULs."""
    assert decode_registers(DataType.STRING, [0x5550, 0x5320, 0x2000], WordOrder.ABCD) == "UPS"
    assert encode_value(DataType.STRING, "UPS", WordOrder.ABCD, 3) == [
        0x5550,
        0x5300,
        0x0000,
    ]


def test_powerlogic_mod10_energy() -> None:
    """PowerLogic 1700..1703 = 4567, 123, 0, 0 is 1 234 567 Wh."""
    assert decode_registers(DataType.MOD10, [4567, 123, 0, 0], WordOrder.ABCD) == 1234567


def test_mod10_negative_energy_is_signed_per_register() -> None:
    """A negative net energy has every non-zero register negative."""
    registers = [u16(-4567), u16(-123), 0, 0]
    assert decode_registers(DataType.MOD10, registers, WordOrder.ABCD) == -1234567
    assert encode_value(DataType.MOD10, -1234567, WordOrder.ABCD, 4) == registers


@pytest.mark.parametrize(
    ("raw", "power_factor"),
    [
        (-31794, 0.974),  # 974 thousandths, lagging
        (-32767, 0.001),
        (500, -0.5),  # leading
        (1, -0.001),
        (1000, 1.0),  # unity, plain
        (-31768, 1.0),  # unity with the lagging bit
        (0, 0.0),
    ],
)
def test_powerlogic_power_factor(raw: int, power_factor: float) -> None:
    """Signed-magnitude power factors decode lagging positive, leading negative."""
    decoded = decode_registers(DataType.PF_SIGNED_MAGNITUDE, [u16(raw)], WordOrder.ABCD)
    assert decoded == power_factor


def test_power_factor_lagging_writes_the_top_bit() -> None:
    """0.974 lagging is written as -31794; unity (either sign) as plain 1000."""
    assert encode_value(DataType.PF_SIGNED_MAGNITUDE, 0.974, WordOrder.ABCD, 1) == [u16(-31794)]
    assert encode_value(DataType.PF_SIGNED_MAGNITUDE, 1.0, WordOrder.ABCD, 1) == [1000]
    assert encode_value(DataType.PF_SIGNED_MAGNITUDE, -1.0, WordOrder.ABCD, 1) == [1000]
    assert encode_value(DataType.PF_SIGNED_MAGNITUDE, -0.5, WordOrder.ABCD, 1) == [500]


def test_bool_from_register_or_bit() -> None:
    """A non-zero register or a set bit is True."""
    assert decode_registers(DataType.BOOL, [0x0100], WordOrder.ABCD) is True
    assert decode_registers(DataType.BOOL, [0], WordOrder.ABCD) is False
    assert decode_registers(DataType.BOOL, [True], WordOrder.ABCD) is True


def test_f32_nan_and_infinity_are_returned_as_floats() -> None:
    """The register layer hands NaN and infinity on unchanged."""
    nan = decode_registers(DataType.F32, [0x7FC0, 0x0000], WordOrder.ABCD)
    assert isinstance(nan, float)
    assert math.isnan(nan)
    assert decode_registers(DataType.F32, [0xFF80, 0x0000], WordOrder.ABCD) == -math.inf


# Register-layer refusals


@pytest.mark.parametrize(
    ("data_type", "registers"),
    [
        (DataType.BCD, [0x002A]),  # nibble A is not a decimal digit
        (DataType.BCD, [0x0001, 0x0002, 0x0003]),  # BCD spans one or two registers
        (DataType.STRING, [0x41C3]),  # not ASCII
        (DataType.STRING, []),
        (DataType.MOD10, [10000, 0, 0, 0]),
        (DataType.MOD10, [0, u16(-10000), 0, 0]),
        (DataType.PF_SIGNED_MAGNITUDE, [1001]),
        (DataType.PF_SIGNED_MAGNITUDE, [u16(-500)]),
        (DataType.PF_SIGNED_MAGNITUDE, [u16(-31767)]),
        (DataType.U32, [1]),
        (DataType.U16, [0x10000]),
        (DataType.U16, [-1]),
    ],
)
def test_undecodable_registers_raise_decode_error(
    data_type: DataType, registers: list[int]
) -> None:
    """Registers that cannot hold a value of the type are refused."""
    with pytest.raises(DecodeError):
        decode_registers(data_type, registers, WordOrder.ABCD)


@pytest.mark.parametrize(
    ("data_type", "value", "count", "named"),
    [
        (DataType.U16, 65536, 1, "u16"),
        (DataType.U16, -1, 1, "u16"),
        (DataType.S16, 32768, 1, "s16"),
        (DataType.U32, 2**32, 2, "u32"),
        (DataType.S64, -(2**63) - 1, 4, "s64"),
        (DataType.U16, 1.5, 1, "u16"),
        (DataType.U16, "12", 1, "u16"),
        (DataType.U16, 1, 2, "u16"),
        (DataType.F32, 1e39, 2, "f32"),
        (DataType.F32, "1.0", 2, "f32"),
        (DataType.BCD, 10000, 1, "bcd"),
        (DataType.BCD, -1, 1, "bcd"),
        (DataType.MOD10, 10**16, 4, "mod10"),
        (DataType.MOD10, 0.5, 4, "mod10"),
        (DataType.STRING, "ABC", 1, "ABC"),
        (DataType.STRING, "Grüße", 4, "Grüße"),
        (DataType.HEX, "2209", 2, "2209"),
        (DataType.HEX, "22G9", 1, "22G9"),
        (DataType.HEX, 0x2209, 1, "8713"),
        (DataType.PF_SIGNED_MAGNITUDE, 1.5, 1, "1.5"),
        (DataType.PF_SIGNED_MAGNITUDE, 0.9745, 1, "0.9745"),
        (DataType.BOOL, 2, 1, "2"),
    ],
)
def test_unencodable_values_raise_write_validation_error(
    data_type: DataType, value: Any, count: int, named: str
) -> None:
    """Values that do not fit the type are refused, naming value or type."""
    with pytest.raises(WriteValidationError, match=named):
        encode_value(data_type, value, WordOrder.ABCD, count)


def test_integral_float_is_accepted_for_integer_types() -> None:
    """A float without a fractional part encodes like the int."""
    assert encode_value(DataType.U16, 230.0, WordOrder.ABCD, 1) == [230]


# Point layer: reading


def test_bcpm_scale_register() -> None:
    """BCPM current 8000 with scale register 65534 (-2) reads 80.00 A."""
    point = make_point(data_type=DataType.S16, scale_point="current_scale")
    assert exponent_from_register(65534) == -2
    assert decode_point(point, [8000], scale_exponent=-2) == 80.0


@pytest.mark.parametrize(("raw", "exponent"), [(0, 0), (3, 3), (0x7FFF, 32767), (0x8000, -32768)])
def test_exponent_is_a_signed_int16(raw: int, exponent: int) -> None:
    """Scale registers hold two's-complement exponents."""
    assert exponent_from_register(raw) == exponent


@given(st.integers(min_value=0, max_value=0xFFFF))
@example(0x7FFF)
@example(0x8000)
@example(0xFFFF)
def test_to_signed16_reads_a_register_as_int16(word: int) -> None:
    """Any register reads as the int16 with the same bits, as the s16 type decodes it."""
    signed = to_signed16(word)
    assert signed == struct.unpack(">h", struct.pack(">H", word))[0]
    assert u16(signed) == word
    assert signed == decode_registers(DataType.S16, [word], WordOrder.ABCD)


def test_positive_exponent_multiplies() -> None:
    """A PowerLogic power scale of 1 multiplies by ten."""
    point = make_point(data_type=DataType.S16)
    assert decode_point(point, [u16(-1234)], scale_exponent=1) == -12340.0


def test_implausible_exponent_is_a_decode_error() -> None:
    """A scale register holding nonsense does not turn into a huge number."""
    point = make_point(key="current_a")
    with pytest.raises(DecodeError, match="current_a"):
        decode_point(point, [8000], scale_exponent=exponent_from_register(30000))


@pytest.mark.parametrize("sentinel", [-32768, 0x8000])
def test_sentinel_reads_as_unavailable(sentinel: int) -> None:
    """-32768 marks a PowerLogic value as not available, however it is listed."""
    point = make_point(data_type=DataType.S16, sentinels=(sentinel,))
    assert decode_point(point, [0x8000]) is None
    assert decode_point(point, [0x7FFF]) == 32767


def test_power_factor_sentinel_reads_as_unavailable() -> None:
    """A power factor of -32768 is not available rather than zero."""
    point = make_point(data_type=DataType.PF_SIGNED_MAGNITUDE, sentinels=(-32768,))
    assert decode_point(point, [0x8000]) is None
    assert decode_point(point, [u16(-31794)]) == 0.974


def test_multi_register_sentinel_matches_before_decoding() -> None:
    """A sentinel on a two-register value is checked on its raw integer first."""
    point = make_point(
        data_type=DataType.BCD,
        count=2,
        word_order=WordOrder.CDAB,
        sentinels=(0xFFFFFFFF,),
    )
    assert decode_point(point, [0xFFFF, 0xFFFF]) is None
    u32 = make_point(data_type=DataType.U32, count=2, sentinels=(0x80000000,))
    assert decode_point(u32, [0x8000, 0x0000]) is None
    assert decode_point(u32, [0x0000, 0x8000]) == 0x8000


@pytest.mark.parametrize("registers", [[0x7FC0, 0x0000], [0x7F80, 0x0000], [0xFF80, 0x0000]])
def test_nan_and_infinity_read_as_unavailable(registers: list[int]) -> None:
    """A float point reading NaN or infinity has no value."""
    point = make_point(data_type=DataType.F32, count=2)
    assert decode_point(point, registers) is None


def test_bit_selection() -> None:
    """Bit n of the register (0 = least significant) reads as a bool."""
    status = [0b0000_0000_0000_1000]
    assert decode_point(make_point(bit=3), status) is True
    assert decode_point(make_point(bit=2), status) is False
    assert decode_point(make_point(bit=15, data_type=DataType.S16), [0x8000]) is True


def test_bit_field_selection() -> None:
    """Bits 4..7 of 0x12A5 hold 0xA."""
    assert decode_point(make_point(bit_field=(4, 7)), [0x12A5]) == 0xA


def test_options_label_the_raw_value() -> None:
    """An option point reads as its label, and unlisted values say so."""
    point = make_point(options={0: "normal", 1: "on battery", 2: "bypass"})
    assert decode_point(point, [1]) == "on battery"
    assert decode_point(point, [7]) == "unknown (7)"


def test_options_label_a_bit_field() -> None:
    """A bit field with options reads as its label."""
    point = make_point(bit_field=(8, 9), options={0: "off", 3: "on"})
    assert decode_point(point, [0x0300]) == "on"


def test_coil_reads_as_bool() -> None:
    """A coil point reads the bit it is given."""
    point = make_point(table=Table.COIL, data_type=DataType.BOOL)
    assert decode_point(point, [True]) is True
    assert decode_point(point, [False]) is False


def test_unscaled_integers_stay_integers() -> None:
    """Without scale, offset or exponent an integer reading stays an int."""
    value = decode_point(make_point(), [230])
    assert value == 230
    assert isinstance(value, int)


@pytest.mark.parametrize(
    ("fields", "registers", "expected"),
    [
        ({"scale": 0.1}, [2301], 230.1),
        ({"scale": 0.1}, [3], 0.3),
        ({"scale": 0.01, "data_type": DataType.S16}, [u16(-7)], -0.07),
        ({"scale": 0.1, "offset": -40.0}, [653], 25.3),
        (
            {"scale": 0.001, "data_type": DataType.U32, "count": 2},
            [0x0001, 0x0000],
            65.536,
        ),
        ({"scale": 10.0}, [5], 50.0),
    ],
)
def test_scaled_values_are_exact_decimals(
    fields: dict[str, Any], registers: list[int], expected: float
) -> None:
    """Scaled readings come out as the decimal a person would write, no float noise."""
    value = decode_point(make_point(**fields), registers)
    assert isinstance(value, float)
    assert value == expected


def test_exponent_zero_gives_a_float() -> None:
    """A point with a scale register reads as a float whatever the exponent."""
    value = decode_point(make_point(), [8000], scale_exponent=0)
    assert value == 8000.0
    assert isinstance(value, float)


def test_text_points_are_not_scaled() -> None:
    """A string point reads as its text."""
    point = make_point(data_type=DataType.STRING, count=2, scale=0.1)
    assert decode_point(point, [0x5053, 0x3338]) == "PS38"


def test_decode_error_names_the_point() -> None:
    """A decode failure says which point it happened on."""
    point = make_point(key="lcd_cycle_time", data_type=DataType.BCD)
    with pytest.raises(DecodeError, match="lcd_cycle_time"):
        decode_point(point, [0x00FF])
    with pytest.raises(DecodeError, match="lcd_cycle_time"):
        decode_point(point, [0x0001, 0x0002, 0x0003])


# Point layer: writing


def test_write_bcd_point() -> None:
    """Writing 25 s to the PRO380 LCD cycle time sends 0x0025."""
    point = make_point(data_type=DataType.BCD, write=WriteSpec(minimum=1, maximum=30))
    assert encode_point(point, 25) == [0x0025]


def test_write_with_scale_exponent() -> None:
    """80.00 A with exponent -2 is written as 8000."""
    point = make_point(data_type=DataType.S16, write=WriteSpec())
    assert encode_point(point, 80.0, scale_exponent=-2) == [8000]


def test_write_scaled_and_offset_point() -> None:
    """25.3 °C on a 0.1-step point with a -40 offset is written as 653."""
    point = make_point(scale=0.1, offset=-40.0, write=WriteSpec())
    assert encode_point(point, 25.3) == [653]


def test_write_float_point() -> None:
    """A float32 point takes the value as is."""
    point = make_point(data_type=DataType.F32, count=2, write=WriteSpec())
    assert encode_point(point, 16.0) == [0x4180, 0x0000]


def test_write_option_point_by_label_or_raw_value() -> None:
    """An option point takes its label or the raw integer behind it."""
    point = make_point(options={0: "T1", 1: "T2"}, write=WriteSpec())
    assert encode_point(point, "T2") == [1]
    assert encode_point(point, 0) == [0]


def test_write_text_and_bool_points() -> None:
    """String, hex and bool points are written as given."""
    text = make_point(data_type=DataType.STRING, count=2, write=WriteSpec())
    assert encode_point(text, "AB") == [0x4142, 0x0000]
    coil = make_point(table=Table.COIL, data_type=DataType.BOOL, write=WriteSpec())
    assert encode_point(coil, True) == [1]  # noqa: FBT003


@given(
    raw=st.integers(0, 0xFFFF),
    scale=st.sampled_from([1.0, 0.1, 0.01, 0.001, 10.0, 0.5]),
    offset=st.sampled_from([0.0, -40.0, 273.15]),
    exponent=st.one_of(st.none(), st.integers(-3, 3)),
)
# An offset far larger than the step: decoding's float rounding must not refuse the write-back.
@example(raw=1, scale=0.01, offset=273.15, exponent=-3)
def test_encode_point_inverts_decode_point(
    raw: int, scale: float, offset: float, exponent: int | None
) -> None:
    """Writing back any value read from a scaled point sends the same register."""
    point = make_point(scale=scale, offset=offset, write=WriteSpec())
    value = decode_point(point, [raw], scale_exponent=exponent)
    assert value is not None
    assert encode_point(point, value, scale_exponent=exponent) == [raw]


@given(raw=st.integers(-(2**31), 2**31 - 1), exponent=st.integers(-3, 3))
def test_encode_point_inverts_decode_point_for_s32(raw: int, exponent: int) -> None:
    """The same holds for two-register signed values with a scale register."""
    point = make_point(data_type=DataType.S32, count=2, write=WriteSpec())
    registers = encode_value(DataType.S32, raw, WordOrder.ABCD, 2)
    value = decode_point(point, registers, scale_exponent=exponent)
    assert value is not None
    assert encode_point(point, value, scale_exponent=exponent) == registers


@pytest.mark.parametrize(
    ("fields", "value", "reason"),
    [
        ({"write": None}, 1, "not writable"),
        ({"write": WriteSpec(minimum=1, maximum=30)}, 31, "maximum"),
        ({"write": WriteSpec(minimum=1, maximum=30)}, 0, "minimum"),
        ({"write": WriteSpec(choices=(10.0, 2.0, 1.0))}, 5, "not one of"),
        ({"write": WriteSpec(), "scale": 0.1}, 23.45, "step 0.1"),
        ({"write": WriteSpec()}, 2.5, "step"),
        ({"write": WriteSpec()}, 70000, "u16"),
        ({"write": WriteSpec()}, math.nan, "finite"),
        ({"write": WriteSpec()}, "12", "finite"),
        ({"write": WriteSpec(), "bit": 3}, 1, "bit"),
        ({"write": WriteSpec(), "bit_field": (0, 3)}, 1, "bit"),
        ({"write": WriteSpec(), "options": {0: "T1", 1: "T2"}}, "T3", "T1, T2"),
        ({"write": WriteSpec(), "options": {0: "T1", 1: "T2"}}, 2, "T1, T2"),
        (
            {"write": WriteSpec(choices=(0.0,)), "options": {0: "T1", 1: "T2"}},
            "T2",
            "not one of",
        ),
        ({"write": WriteSpec(), "data_type": DataType.HEX}, 1234, "hex"),
    ],
)
def test_refused_writes_name_the_point(fields: dict[str, Any], value: Any, reason: str) -> None:
    """Every refused write raises WriteValidationError naming the point and why."""
    point = make_point(key="lcd_cycle_time", **fields)
    with pytest.raises(WriteValidationError, match="lcd_cycle_time") as caught:
        encode_point(point, value)
    assert reason in str(caught.value)
