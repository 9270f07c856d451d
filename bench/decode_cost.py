"""What decoding costs per point: ``decode_point`` against a hand-written struct.unpack.

Run from the repository root, in an environment where the project is installed:

    python bench/decode_cost.py [--decodes 20000]

For every shipped profile, the registers of every point are taken from a
simulated device of that profile (its family's behaviour fills in realistic
values), then decoded over and over: best of 5 repeats, each of about
``--decodes`` point decodes, reported in microseconds per point.

The baseline is what an integration written by hand for one device does: a
``struct`` format fixed per point when it is set up, one ``struct.unpack`` per
point, times the scale. It knows no sentinels, no NaN check, no option labels,
no shortest-decimal rounding of float32 values and no validation of its input;
``decode_point`` does all of that, so the ratio is the price of those checks.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
import math
import platform
import struct
import timeit

from wiretime import plan_time

from powerbus.codecs import decode_point, exponent_from_register
from powerbus.errors import DecodeError
from powerbus.models import DataType, Point, Profile, Value, WordOrder
from powerbus.planner import plan_reads
from powerbus.profile import builtin_profiles, get_profile
from powerbus.simulator.behaviours import simulated_device

REPEATS = 5

NaiveDecoder = Callable[[Sequence[int], int | None], Value]

_STRUCT_CODES = {
    DataType.U16: "H",
    DataType.S16: "h",
    DataType.U32: "I",
    DataType.S32: "i",
    DataType.U64: "Q",
    DataType.S64: "q",
    DataType.F32: "f",
    DataType.F64: "d",
}
_WORDS_REVERSED = (WordOrder.CDAB, WordOrder.DCBA)
_BYTES_SWAPPED = (WordOrder.BADC, WordOrder.DCBA)


@dataclass(frozen=True, kw_only=True, slots=True)
class Case:
    """One point, its registers as the device holds them, and its scale exponent."""

    point: Point
    words: tuple[int, ...]
    exponent: int | None
    naive: NaiveDecoder


def naive_decoder(point: Point) -> NaiveDecoder:
    """Build the decoder a hand-written integration would use for ``point``."""
    pack = struct.Struct(
        ("<" if point.word_order in _BYTES_SWAPPED else ">") + "H" * point.count
    ).pack
    reverse = point.word_order in _WORDS_REVERSED
    scale, offset = point.scale, point.offset

    def raw_bytes(words: Sequence[int]) -> bytes:
        """Pack the registers, in the point's word and byte order, into big-endian bytes."""
        return pack(*(words[::-1] if reverse else words))

    if point.table.is_bit:
        return lambda words, _exponent: bool(words[0])
    if point.bit is not None:
        bit = point.bit
        return lambda words, _exponent: bool(words[0] >> bit & 1)
    code = _STRUCT_CODES.get(point.data_type)
    if code is not None:
        unpack = struct.Struct(">" + code).unpack

        def number(words: Sequence[int], exponent: int | None) -> Value:
            """Unpack the number and scale it."""
            value: float = unpack(raw_bytes(words))[0]
            if exponent is not None:
                value *= 10.0**exponent
            if point.options:
                return point.options.get(int(value), str(value))
            return value * scale + offset

        return number
    if point.data_type is DataType.STRING:
        return lambda words, _exponent: raw_bytes(words).decode("ascii", "replace").rstrip("\0 ")
    if point.data_type is DataType.HEX:
        return lambda words, _exponent: raw_bytes(words).hex().upper()
    if point.data_type is DataType.BCD:
        return lambda words, _exponent: int(raw_bytes(words).hex()) * scale
    if point.data_type is DataType.MOD10:
        return lambda words, _exponent: sum(
            word * 10_000**power for power, word in enumerate(reversed(words))
        )
    signed = struct.Struct(">h").unpack
    return lambda words, _exponent: signed(raw_bytes(words))[0] / 1000


def cases_of(profile: Profile) -> tuple[list[Case], list[str]]:
    """Every point of ``profile`` that decodes from the simulator's registers; and those that do not."""
    device = simulated_device(profile)
    cases: list[Case] = []
    undecodable: list[str] = []
    for point in profile.points:
        words = tuple(device.registers(point.table, point.address, point.count))
        exponent = None
        if point.scale_point is not None:
            scale_point = profile.point(point.scale_point)
            exponent = exponent_from_register(
                device.registers(scale_point.table, scale_point.address, 1)[0]
            )
        try:
            decode_point(point, words, exponent)
        except DecodeError:
            undecodable.append(point.key)
            continue
        cases.append(Case(point=point, words=words, exponent=exponent, naive=naive_decoder(point)))
    return cases, undecodable


def ours(cases: Sequence[Case]) -> None:
    """Decode every case with the engine's codec."""
    for case in cases:
        decode_point(case.point, case.words, case.exponent)


def baseline(cases: Sequence[Case]) -> None:
    """Decode every case with the hand-written decoders."""
    for case in cases:
        case.naive(case.words, case.exponent)


def per_point(
    decode: Callable[[Sequence[Case]], None], cases: Sequence[Case], decodes: int
) -> float:
    """Microseconds per point decode: best of ``REPEATS`` repeats of about ``decodes`` decodes."""
    loops = max(1, math.ceil(decodes / len(cases)))
    best = min(timeit.repeat(lambda: decode(cases), repeat=REPEATS, number=loops))
    return best / (loops * len(cases)) * 1e6


def print_line(cells: Sequence[str], widths: Sequence[int]) -> None:
    """Print one aligned line: the first cell left, the others right."""
    aligned = [cells[0].ljust(widths[0])]
    aligned += [text.rjust(width) for text, width in zip(cells[1:], widths[1:], strict=True)]
    print("  " + "  ".join(aligned))


def print_row(
    label: str, count: int, ours_us: float, naive_us: float, widths: Sequence[int]
) -> None:
    """Print one line of the comparison."""
    ratio = f"{ours_us / naive_us:.1f}x"
    print_line([label, str(count), f"{ours_us:.2f}", f"{naive_us:.2f}", ratio], widths)


def main() -> None:
    """Time decoding of the PRO380's points by type, then of every shipped profile."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--decodes", type=int, default=20_000, help="point decodes per repeat (default 20000)"
    )
    args = parser.parse_args()
    print(
        f"Python {platform.python_version()}; best of {REPEATS} repeats "
        f"of ~{args.decodes} decodes; µs per point"
    )
    widths = [28, 6, 12, 13, 6]
    header = ["points", "decode_point", "struct.unpack", "ratio"]

    profile = get_profile("pro380")
    pro380, _ = cases_of(profile)
    print("\n== PRO380 (pro380), by data type ==")
    print_line(["data type", *header], widths)
    for data_type in DataType:
        typed = [case for case in pro380 if case.point.data_type is data_type]
        if typed:
            print_row(
                data_type.value,
                len(typed),
                per_point(ours, typed, args.decodes),
                per_point(baseline, typed, args.decodes),
                widths,
            )
    everything = per_point(ours, pro380, args.decodes)
    print_row(
        "all points", len(pro380), everything, per_point(baseline, pro380, args.decodes), widths
    )
    wire = plan_time(
        plan_reads(profile.points, profile.limits).blocks, 9600, spacing=profile.limits.min_spacing
    )
    print(
        f"  a full poll decodes {len(pro380)} points in {everything * len(pro380) / 1000:.2f} ms; "
        f"its modelled RTU wire time at 9600 Bd is {wire * 1000:.1f} ms"
    )

    print("\n== Every shipped profile, all points ==")
    print_line(["profile", *header], widths)
    for profile in builtin_profiles().values():
        cases, undecodable = cases_of(profile)
        if not cases:
            print(f"  {profile.key.ljust(widths[0])}  no points")
            continue
        print_row(
            profile.key,
            len(cases),
            per_point(ours, cases, args.decodes),
            per_point(baseline, cases, args.decodes),
            widths,
        )
        if undecodable:
            print(
                f"    left out, the simulator's registers do not decode: {', '.join(undecodable)}"
            )


if __name__ == "__main__":
    main()
