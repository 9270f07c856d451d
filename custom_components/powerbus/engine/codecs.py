"""Turn raw Modbus registers into values and values back into registers.

Two layers, both free of I/O:

* The register layer (:func:`decode_registers`, :func:`encode_value`) knows data
  types and word orders and nothing about profiles.
* The point layer (:func:`decode_point`, :func:`encode_point`) applies what a
  profile says about one point: sentinels, bit selection, option labels, scale,
  offset, a power-of-ten exponent read from a scale register, and write limits.

Registers are ints in 0..65535 as they arrive on the wire. Word orders name the
bytes of a value from most to least significant (A first): ``ABCD`` is big-endian
with the high word first, ``CDAB`` puts the low word first, ``BADC`` swaps the two
bytes inside each word and ``DCBA`` is fully little-endian. Every type follows the
word order; for a one-register type only the byte swap of ``BADC`` and ``DCBA``
has an effect. ``ABCD`` is each type's natural layout, described at its decoder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import math
import string
import struct
import sys

from .errors import DecodeError, WriteValidationError
from .models import DataType, Point, Value, WordOrder, WriteSpec

_WORD_MAX = 0xFFFF
_WORD_SIGN = 0x8000
_WORD_SPAN = 0x10000
_WORD_REVERSED = frozenset({WordOrder.CDAB, WordOrder.DCBA})
_BYTES_SWAPPED = frozenset({WordOrder.BADC, WordOrder.DCBA})

_INTEGER_SIGNED = {
    DataType.U16: False,
    DataType.S16: True,
    DataType.U32: False,
    DataType.S32: True,
    DataType.U64: False,
    DataType.S64: True,
}
_FLOAT_FORMAT = {DataType.F32: ">f", DataType.F64: ">d"}

_MOD10_BASE = 10_000
_MOD10_LIMIT = _MOD10_BASE**4 - 1
_PF_LAGGING_BELOW = -1000
_PF_UNITY = 1000
_BCD_COUNTS = (1, 2)
_HEX_DIGITS = frozenset(string.hexdigits)

# Scale registers seen in register maps hold exponents of a few units; anything
# beyond this is a misread register, not a meaningful power of ten.
_MAX_EXPONENT = 10
# Decoded values are rounded to 10 decimals (half of 1e-10 at most); see _raw_tolerance.
_DECODE_ROUNDING = 5e-11
_MIN_RAW_TOLERANCE = 1e-9
_MAX_RAW_TOLERANCE = 1e-3

# Types whose raw value must be a whole number when a point is written.
_WHOLE_RAW_TYPES = frozenset({*_INTEGER_SIGNED, DataType.BCD, DataType.MOD10})
# Types whose values are written as given, without limits or scaling.
_UNSCALED_TYPES = frozenset({DataType.STRING, DataType.HEX, DataType.BOOL})


# ---------------------------------------------------------------------------
# Register layer
# ---------------------------------------------------------------------------


def decode_registers(data_type: DataType, registers: Sequence[int], word_order: WordOrder) -> Value:
    """Decode the registers of one value of ``data_type``.

    Floats are returned as decoded, NaN and infinities included. For a bit table
    ``registers`` is a one-item sequence holding the bit.

    Raises:
        DecodeError: the register count does not fit the type, a register is not
            a 16-bit value, or the content is not valid for the type.

    """
    _check_decode_count(data_type, len(registers))
    words = _reorder(_checked_registers(registers), word_order)
    if data_type in _INTEGER_SIGNED:
        return int.from_bytes(_to_bytes(words), "big", signed=_INTEGER_SIGNED[data_type])
    if data_type in _FLOAT_FORMAT:
        number: float = struct.unpack(_FLOAT_FORMAT[data_type], _to_bytes(words))[0]
        if data_type is DataType.F32:
            return _shortest_single(number)
        return number
    return _DECODERS[data_type](words)


def _shortest_single(number: float) -> float:
    """Return the shortest decimal that is the same single-precision float as ``number``.

    A meter that sends 230.1 as a float32 means 230.1, not 230.10000610351562:
    the nearest double of the shortest round-tripping decimal says what was sent.
    """
    if not math.isfinite(number):
        return number
    packed = struct.pack(">f", number)
    # Six significant digits always fit a float32, and "g" drops trailing zeros, so a
    # shorter decimal that round-trips is found at six already; nine always round-trip.
    for digits in range(6, 10):
        candidate = float(f"{number:.{digits}g}")
        try:
            if struct.pack(">f", candidate) == packed:
                return candidate
        except OverflowError:  # rounded past the largest float32
            continue
    return number


def encode_value(data_type: DataType, value: Value, word_order: WordOrder, count: int) -> list[int]:
    """Encode ``value`` as ``count`` registers of ``data_type`` (inverse of decoding).

    Integer types take ints or floats with no fractional part. ``STRING`` pads
    with NULs, ``HEX`` takes exactly four hex digits per register, ``BCD`` and
    ``MOD10`` take non-negative (``MOD10``: signed) whole numbers that fit.

    Raises:
        WriteValidationError: the value has the wrong kind, does not fit the type
            or ``count`` registers, or ``count`` does not suit the type.

    """
    _check_encode_count(data_type, count)
    if data_type in _INTEGER_SIGNED:
        words = _encode_integer(data_type, value, count)
    elif data_type in _FLOAT_FORMAT:
        words = _encode_float(data_type, value)
    else:
        words = _ENCODERS[data_type](value, count)
    return _reorder(words, word_order)


def to_signed16(word: int) -> int:
    """Read one register (0..65535) as a two's-complement int16: 0xFFFE is -2."""
    return word - _WORD_SPAN if word & _WORD_SIGN else word


def _check_decode_count(data_type: DataType, count: int) -> None:
    """Refuse a register count that the type cannot occupy."""
    if not _count_fits(data_type, count):
        msg = f"{data_type} cannot be decoded from {count} registers"
        raise DecodeError(msg)


def _check_encode_count(data_type: DataType, count: int) -> None:
    """Refuse a register count that the type cannot occupy."""
    if not _count_fits(data_type, count):
        msg = f"{data_type} cannot be encoded into {count} registers"
        raise WriteValidationError(msg)


def _count_fits(data_type: DataType, count: int) -> bool:
    """Whether a value of ``data_type`` can occupy ``count`` registers."""
    if data_type.fixed_count is not None:
        return count == data_type.fixed_count
    if data_type is DataType.BCD:
        return count in _BCD_COUNTS
    return count >= 1


def _checked_registers(registers: Sequence[int]) -> list[int]:
    """Return the registers as a list, refusing any that is not a 16-bit value."""
    for register in registers:
        if not 0 <= register <= _WORD_MAX:
            msg = f"register value {register} is not a 16-bit value"
            raise DecodeError(msg)
    return [int(register) for register in registers]


def _reorder(words: list[int], word_order: WordOrder) -> list[int]:
    """Convert between wire order and the natural (``ABCD``) order.

    Reversing the words and swapping the bytes are each their own inverse, so the
    same conversion serves both directions.
    """
    ordered = words[::-1] if word_order in _WORD_REVERSED else words
    if word_order in _BYTES_SWAPPED:
        return [(word >> 8) | ((word & 0xFF) << 8) for word in ordered]
    return list(ordered)


def _to_bytes(words: Sequence[int]) -> bytes:
    """Join words in natural order into big-endian bytes."""
    return b"".join(word.to_bytes(2, "big") for word in words)


def _from_bytes(data: bytes) -> list[int]:
    """Split big-endian bytes (an even number of them) into words."""
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _decode_string(words: list[int]) -> str:
    """Decode ASCII, two characters per register, first character in the high byte.

    Trailing NULs and spaces are padding and are removed.
    """
    data = _to_bytes(words)
    if not data.isascii():
        msg = f"registers {_hex_words(words)} are not ASCII text"
        raise DecodeError(msg)
    return data.decode("ascii").rstrip("\x00 ")


def _decode_hex(words: list[int]) -> str:
    """Return the hex digits of the registers, four per register, uppercase.

    A meter that prints its serial as 22091039 sends 0x2209 0x1039.
    """
    return "".join(f"{word:04X}" for word in words)


def _decode_bcd(words: list[int]) -> int:
    """Read the hex digits of the registers as a decimal number (0x0025 is 25)."""
    digits = _decode_hex(words)
    if not digits.isdigit():
        msg = f"registers {_hex_words(words)} are not binary-coded decimal"
        raise DecodeError(msg)
    return int(digits)


def _decode_mod10(words: list[int]) -> int:
    """Decode four signed registers of 0..9999 each, least significant first.

    value = R4 * 10000**3 + R3 * 10000**2 + R2 * 10000 + R1; a negative total
    has every non-zero register negative.
    """
    parts = [to_signed16(word) for word in words]
    if any(abs(part) >= _MOD10_BASE for part in parts):
        msg = f"registers {parts} are not a MOD10 value (each must be -9999..9999)"
        raise DecodeError(msg)
    return sum(part * _MOD10_BASE**position for position, part in enumerate(parts))


def _decode_power_factor(words: list[int]) -> float:
    """Decode a signed-magnitude power factor in thousandths, lagging positive.

    The register, read as int16, is ``raw``. Below -1000 the top bit marks a
    lagging power factor of magnitude ``raw + 32768``; otherwise it is leading
    with magnitude ``raw``. Lagging returns ``+magnitude / 1000``, leading
    ``-magnitude / 1000``, and a magnitude of 1000 is unity (1.0) either way.
    -31794 is 0.974 lagging; 500 is 0.5 leading and decodes to -0.5. Any other
    magnitude (above 1000, or a raw value in -1000..-1) is not a power factor.
    The not-available marker -32768 decodes to 0.0; profiles declare it as a
    sentinel.
    """
    raw = to_signed16(words[0])
    lagging = raw < _PF_LAGGING_BELOW
    magnitude = raw + 0x8000 if lagging else raw
    if not 0 <= magnitude <= _PF_UNITY:
        msg = f"register value {raw} is not a signed-magnitude power factor"
        raise DecodeError(msg)
    if magnitude in (0, _PF_UNITY):
        return magnitude / _PF_UNITY
    return magnitude / _PF_UNITY if lagging else -magnitude / _PF_UNITY


def _decode_bool(words: list[int]) -> bool:
    """Return True when the register (or bit) is not zero."""
    return words[0] != 0


def _hex_words(words: Sequence[int]) -> str:
    """Write registers as hex for error messages."""
    return " ".join(f"0x{word:04X}" for word in words)


_DECODERS: Mapping[DataType, Callable[[list[int]], Value]] = {
    DataType.STRING: _decode_string,
    DataType.HEX: _decode_hex,
    DataType.BCD: _decode_bcd,
    DataType.MOD10: _decode_mod10,
    DataType.PF_SIGNED_MAGNITUDE: _decode_power_factor,
    DataType.BOOL: _decode_bool,
}


def _whole_number(data_type: DataType, value: Value) -> int:
    """Return ``value`` as an int, refusing text and numbers with a fractional part."""
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    msg = f"value {value!r} is not a whole number, as {data_type} requires"
    raise WriteValidationError(msg)


def _out_of_range(data_type: DataType, value: Value, low: int, high: int) -> None:
    """Refuse ``value`` for lying outside ``low..high``."""
    msg = f"value {value!r} is out of range for {data_type} ({low}..{high})"
    raise WriteValidationError(msg)


def _encode_integer(data_type: DataType, value: Value, count: int) -> list[int]:
    """Encode a two's-complement or unsigned integer over ``count`` registers."""
    number = _whole_number(data_type, value)
    bits = 16 * count
    signed = _INTEGER_SIGNED[data_type]
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not low <= number <= high:
        _out_of_range(data_type, value, low, high)
    return _from_bytes(number.to_bytes(2 * count, "big", signed=signed))


def _encode_float(data_type: DataType, value: Value) -> list[int]:
    """Encode IEEE-754 binary32 or binary64, rounded to the nearest such value."""
    if isinstance(value, (str, bool)):
        msg = f"value {value!r} is not a number, as {data_type} requires"
        raise WriteValidationError(msg)
    try:
        data = struct.pack(_FLOAT_FORMAT[data_type], value)
    except OverflowError:
        msg = f"value {value!r} is too large for {data_type}"
        raise WriteValidationError(msg) from None
    return _from_bytes(data)


def _encode_string(value: Value, count: int) -> list[int]:
    """Encode ASCII text padded with NULs to ``count`` registers."""
    if not isinstance(value, str) or not value.isascii():
        msg = f"value {value!r} is not ASCII text"
        raise WriteValidationError(msg)
    capacity = 2 * count
    if len(value) > capacity:
        msg = f"text {value!r} is longer than {capacity} characters"
        raise WriteValidationError(msg)
    return _from_bytes(value.encode("ascii").ljust(capacity, b"\x00"))


def _encode_hex(value: Value, count: int) -> list[int]:
    """Encode exactly four hex digits per register, either case."""
    digits = 4 * count
    if not (isinstance(value, str) and len(value) == digits and set(value) <= _HEX_DIGITS):
        msg = f"value {value!r} is not {digits} hex digits"
        raise WriteValidationError(msg)
    return [int(value[i : i + 4], 16) for i in range(0, digits, 4)]


def _encode_bcd(value: Value, count: int) -> list[int]:
    """Write a non-negative whole number digit by digit into the nibbles."""
    number = _whole_number(DataType.BCD, value)
    digits = 4 * count
    high = 10**digits - 1
    if not 0 <= number <= high:
        _out_of_range(DataType.BCD, value, 0, high)
    text = f"{number:0{digits}d}"
    return [int(text[i : i + 4], 16) for i in range(0, digits, 4)]


def _encode_mod10(value: Value, _count: int) -> list[int]:
    """Split into four registers of 0..9999, least significant first, signed alike."""
    number = _whole_number(DataType.MOD10, value)
    if not -_MOD10_LIMIT <= number <= _MOD10_LIMIT:
        _out_of_range(DataType.MOD10, value, -_MOD10_LIMIT, _MOD10_LIMIT)
    sign = -1 if number < 0 else 1
    magnitude = abs(number)
    words = []
    for _ in range(4):
        magnitude, part = divmod(magnitude, _MOD10_BASE)
        words.append((sign * part) & _WORD_MAX)
    return words


def _encode_power_factor(value: Value, _count: int) -> list[int]:
    """Encode a power factor in -1.0..1.0, lagging positive, as signed-magnitude.

    Unity is written as plain 1000; lagging values set the top bit.
    """
    if isinstance(value, (str, bool)) or not -1 <= value <= 1:
        msg = f"value {value!r} is not a power factor between -1 and 1"
        raise WriteValidationError(msg)
    thousandths = value * _PF_UNITY
    magnitude = abs(round(thousandths))
    if not math.isclose(thousandths, round(thousandths), abs_tol=1e-9):
        msg = f"value {value!r} is not a whole number of thousandths"
        raise WriteValidationError(msg)
    lagging = value > 0 and magnitude != _PF_UNITY
    return [magnitude | _WORD_SIGN if lagging else magnitude]


def _encode_bool(value: Value, _count: int) -> list[int]:
    """Encode true as 1 and false as 0."""
    if isinstance(value, str) or value not in (0, 1):
        msg = f"value {value!r} is not a boolean"
        raise WriteValidationError(msg)
    return [int(value)]


_ENCODERS: Mapping[DataType, Callable[[Value, int], list[int]]] = {
    DataType.STRING: _encode_string,
    DataType.HEX: _encode_hex,
    DataType.BCD: _encode_bcd,
    DataType.MOD10: _encode_mod10,
    DataType.PF_SIGNED_MAGNITUDE: _encode_power_factor,
    DataType.BOOL: _encode_bool,
}


# ---------------------------------------------------------------------------
# Point layer
# ---------------------------------------------------------------------------


def exponent_from_register(raw: int) -> int:
    """Return the signed power of ten a scale register holds (65534 means -2).

    Raises:
        DecodeError: ``raw`` is not a 16-bit register value.

    """
    (word,) = _checked_registers([raw])
    return to_signed16(word)


def decode_point(
    point: Point, words: Sequence[int], scale_exponent: int | None = None
) -> Value | None:
    """Return the user value of ``point`` from its registers, or None if unavailable.

    ``words`` holds the point's registers, or for a bit table a one-item sequence
    with the bit. In order:

    1. A raw value listed in ``point.sentinels`` gives None. The raw value is the
       point's registers (in its word order) read as one unsigned and as one
       two's-complement integer, so 0x8000 and -32768 both match 0x8000.
    2. A NaN or infinite float gives None.
    3. ``point.bit`` selects one bit of the unsigned raw value (0 = least
       significant) as a bool; ``point.bit_field`` (low, high, inclusive)
       selects an unsigned int.
    4. With ``point.options`` the result is the label of the integer value, or
       ``"unknown (<value>)"`` for an unlisted one.
    5. Otherwise numbers become ``value * 10**scale_exponent * point.scale +
       point.offset``. Without scale, offset or exponent an int stays an int;
       scaled results are floats rounded to 10 decimals to shed binary noise.

    Raises:
        DecodeError: the registers do not decode; the message names the point.

    """
    try:
        return _decode_point(point, words, scale_exponent)
    except DecodeError as err:
        msg = f"{point.key}: {err}"
        raise DecodeError(msg) from err


def _decode_point(point: Point, words: Sequence[int], scale_exponent: int | None) -> Value | None:
    """Decode ``point``; see :func:`decode_point`."""
    if len(words) != point.count:
        msg = f"expected {point.count} registers, got {len(words)}"
        raise DecodeError(msg)
    registers = _checked_registers(words)
    unsigned = int.from_bytes(_to_bytes(_reorder(registers, point.word_order)), "big")
    if point.sentinels and _is_sentinel(unsigned, point.count, point.sentinels):
        return None
    value = decode_registers(point.data_type, registers, point.word_order)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if point.bit is not None:
        value = bool(unsigned >> point.bit & 1)
    elif point.bit_field is not None:
        low, high = point.bit_field
        value = unsigned >> low & ((1 << (high - low + 1)) - 1)
    if point.options:
        return _option_label(point.options, value)
    return _scaled(value, point, scale_exponent)


def _is_sentinel(unsigned: int, count: int, sentinels: tuple[int, ...]) -> bool:
    """Whether the raw value, read unsigned or two's-complement, is a sentinel."""
    bits = 16 * count
    signed = unsigned - (1 << bits) if unsigned >> (bits - 1) else unsigned
    return unsigned in sentinels or signed in sentinels


def _option_label(options: Mapping[int, str], value: Value) -> str:
    """Return the label ``options`` gives the integer ``value``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    label = options.get(value) if isinstance(value, int) else None
    return label if label is not None else f"unknown ({value})"


def _scaled(value: Value, point: Point, exponent: int | None) -> Value:
    """Convert a decoded number to user units; text and bools pass through."""
    if isinstance(value, (str, bool)):
        return value
    if exponent is None and point.scale == 1 and point.offset == 0:
        return value
    number = _shift_decimal(value, exponent or 0) * point.scale + point.offset
    return round(float(number), 10)


def _shift_decimal(number: float, exponent: int) -> float:
    """Return ``number * 10**exponent``, dividing for negative exponents to stay exact.

    Raises:
        DecodeError: the exponent is not a plausible scale.

    """
    if abs(exponent) > _MAX_EXPONENT:
        msg = f"scale exponent {exponent} is outside -{_MAX_EXPONENT}..{_MAX_EXPONENT}"
        raise DecodeError(msg)
    factor: int = 10 ** abs(exponent)
    return number * factor if exponent >= 0 else number / factor


def encode_point(point: Point, value: Value, scale_exponent: int | None = None) -> list[int]:
    """Return the registers that write ``value`` (in user units) to ``point``.

    The inverse of :func:`decode_point`. The value is checked against
    ``point.write`` (minimum, maximum and choices, in user units); an option
    point takes a label or a listed raw integer. Offset, scale and exponent are
    then reversed, and a type that stores whole numbers must land within 1e-9
    (relative) of one. Text and bool points are written as given.

    Raises:
        WriteValidationError: the point is not writable, is a bit or bit field,
            or the value is refused; the message names the point.
        DecodeError: ``scale_exponent`` is not a plausible scale.

    """
    try:
        return _encode_point(point, value, scale_exponent)
    except WriteValidationError as err:
        msg = f"{point.key}: {err}"
        raise WriteValidationError(msg) from err


def _encode_point(point: Point, value: Value, scale_exponent: int | None) -> list[int]:
    """Encode ``value`` for ``point``; see :func:`encode_point`."""
    if point.write is None:
        msg = "not writable"
        raise WriteValidationError(msg)
    if point.bit is not None or point.bit_field is not None:
        msg = "a bit or bit field cannot be written on its own"
        raise WriteValidationError(msg)
    raw: Value
    if point.options:
        raw = _option_raw(point.options, value)
        _check_limits(point.write, raw)
    elif point.data_type in _UNSCALED_TYPES:
        raw = value
    else:
        raw = _raw_number(point, point.write, value, scale_exponent)
    return encode_value(point.data_type, raw, point.word_order, point.count)


def _option_raw(options: Mapping[int, str], value: Value) -> int:
    """Return the raw integer for an option label, or a raw integer that has a label."""
    for raw, label in options.items():
        if value == label or (not isinstance(value, str) and value == raw):
            return raw
    msg = f"value {value!r} is not one of {', '.join(options.values())}"
    raise WriteValidationError(msg)


def _raw_number(point: Point, spec: WriteSpec, value: Value, exponent: int | None) -> int | float:
    """Return the raw number that decodes to ``value``, after checking the limits."""
    if isinstance(value, (str, bool)) or not math.isfinite(value):
        msg = f"value {value!r} is not a finite number"
        raise WriteValidationError(msg)
    _check_limits(spec, value)
    if exponent is None and point.scale == 1 and point.offset == 0:
        raw: int | float = value
    else:
        raw = _shift_decimal((value - point.offset) / point.scale, -(exponent or 0))
    if point.data_type not in _WHOLE_RAW_TYPES or isinstance(raw, int):
        return raw
    whole = round(raw)
    step = abs(_shift_decimal(point.scale, exponent or 0))
    if not math.isclose(raw, whole, rel_tol=1e-9, abs_tol=_raw_tolerance(value, point, step)):
        msg = f"value {value!r} is not a multiple of the step {round(step, 10)}"
        raise WriteValidationError(msg)
    return whole


def _raw_tolerance(value: float, point: Point, step: float) -> float:
    """How far from a whole raw number a value read back from the device may land.

    Decoding rounds to 10 decimals and adds the offset in floating point; both errors
    are divided by the step on the way back. The bound stays far below half a step,
    so a value between two steps is still refused.
    """
    noise = _DECODE_ROUNDING + 4 * sys.float_info.epsilon * (abs(value) + abs(point.offset))
    return min(max(_MIN_RAW_TOLERANCE, noise / step), _MAX_RAW_TOLERANCE)


def _check_limits(spec: WriteSpec, value: float) -> None:
    """Refuse a value outside the minimum/maximum or not among the choices."""
    if spec.minimum is not None and value < spec.minimum:
        msg = f"value {value!r} is below the minimum {spec.minimum}"
        raise WriteValidationError(msg)
    if spec.maximum is not None and value > spec.maximum:
        msg = f"value {value!r} is above the maximum {spec.maximum}"
        raise WriteValidationError(msg)
    if spec.choices and not any(
        math.isclose(value, choice, rel_tol=1e-9, abs_tol=1e-9) for choice in spec.choices
    ):
        allowed = ", ".join(f"{choice:g}" for choice in spec.choices)
        msg = f"value {value!r} is not one of {allowed}"
        raise WriteValidationError(msg)
