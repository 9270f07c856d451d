"""What decoding costs per point: ``decode_point`` against a hand-written struct.unpack.

Run from the repository root, in an environment where the project is installed:

    python bench/decode_cost.py [--decodes 20000] [--repeats 7]

For every shipped profile, the registers of every point are taken from a
simulated device of that profile (its family's behaviour fills in realistic
values), then decoded over and over: ``--repeats`` repeats, each of about
``--decodes`` point decodes, the engine's codec and the baseline timed one after
the other in every repeat; each figure is the best repeat, in microseconds per
point. Every profile is timed once: the PRO380's "all points" row is its row in
the table of every profile. The last lines give the range of every figure printed.

The baseline is what an integration written by hand for one device does: a
``struct`` format fixed per point when it is set up, one ``struct.unpack`` per
point, times the scale. It knows no sentinels, no NaN check, no option labels,
no shortest-decimal rounding of float32 values and no validation of its input;
``decode_point`` does all of that, so the ratio is the price of those checks.

A last section times the float32 rounding on its own: the shortest decimal that
is the same float32, searched from six significant digits (as the codec does) and
from one, over the PRO380's float32 values.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
import math
import struct
import timeit

from run_info import load_footer, run_header
from wiretime import plan_time

from powerbus.codecs import decode_point, exponent_from_register
from powerbus.errors import DecodeError
from powerbus.models import DataType, Point, Profile, Value, WordOrder
from powerbus.planner import plan_reads
from powerbus.profile import builtin_profiles, get_profile
from powerbus.simulator.behaviours import simulated_device

REPEATS = 7
FLOAT32_DIGITS = 6  # where the codec starts its search (codecs._shortest_single)

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


@dataclass(frozen=True, kw_only=True, slots=True)
class Timing:
    """Microseconds per point decode of some cases, by the codec and by the baseline."""

    points: int
    ours: float
    naive: float

    @property
    def ratio(self) -> float:
        """How many times the baseline's cost the codec's is."""
        return self.ours / self.naive


def timing(cases: Sequence[Case], decodes: int, repeats: int) -> Timing:
    """Time the codec and the baseline alternately, ``repeats`` times; keep the best of each."""
    loops = max(1, math.ceil(decodes / len(cases)))
    best_ours = best_naive = math.inf
    for _ in range(repeats):
        best_ours = min(best_ours, timeit.timeit(lambda: ours(cases), number=loops))
        best_naive = min(best_naive, timeit.timeit(lambda: baseline(cases), number=loops))
    scale = 1e6 / (loops * len(cases))
    return Timing(points=len(cases), ours=best_ours * scale, naive=best_naive * scale)


def print_line(cells: Sequence[str], widths: Sequence[int]) -> None:
    """Print one aligned line: the first cell left, the others right."""
    aligned = [cells[0].ljust(widths[0])]
    aligned += [text.rjust(width) for text, width in zip(cells[1:], widths[1:], strict=True)]
    print("  " + "  ".join(aligned))


def print_row(label: str, measured: Timing, widths: Sequence[int]) -> None:
    """Print one line of the comparison."""
    cells = [f"{measured.ours:.2f}", f"{measured.naive:.2f}", f"{measured.ratio:.1f}x"]
    print_line([label, str(measured.points), *cells], widths)


def shortest_from(number: float, first_digits: int) -> float:
    """Return the shortest decimal that is the same float32 as ``number``, trying from ``first_digits``."""
    packed = struct.pack(">f", number)
    for digits in range(first_digits, 10):
        candidate = float(f"{number:.{digits}g}")
        try:
            if struct.pack(">f", candidate) == packed:
                return candidate
        except OverflowError:  # rounded past the largest float32
            continue
    return number


def float32_search(values: Sequence[float], decodes: int, repeats: int) -> dict[int, float]:
    """Time the shortest-decimal search from 6 and from 1 digit, alternately; µs per value."""
    loops = max(1, math.ceil(decodes / len(values)))
    best = dict.fromkeys((FLOAT32_DIGITS, 1), math.inf)
    for _ in range(repeats):
        for first in best:
            seconds = timeit.timeit(
                lambda first=first: [shortest_from(value, first) for value in values],
                number=loops,
            )
            best[first] = min(best[first], seconds)
    return {first: seconds * 1e6 / (loops * len(values)) for first, seconds in best.items()}


def float32_values(cases: Sequence[Case]) -> list[float]:
    """Return the float32 values of the cases as the registers hold them (before any rounding)."""
    return [
        struct.unpack(">f", struct.pack(">HH", *case.words))[0]
        for case in cases
        if case.point.data_type is DataType.F32 and case.point.word_order is WordOrder.ABCD
    ]


def main() -> None:
    """Time decoding of every shipped profile, the PRO380's points by type, and float32 rounding."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--decodes", type=int, default=20_000, help="point decodes per repeat (default 20000)"
    )
    parser.add_argument(
        "--repeats", type=int, default=REPEATS, help=f"repeats per figure (default {REPEATS})"
    )
    args = parser.parse_args()
    print(
        run_header(
            f"best of {args.repeats} repeats of about {args.decodes} point decodes per figure, "
            "decode_point and struct.unpack timed alternately; µs per point"
        )
    )
    widths = [28, 6, 12, 13, 6]
    header = ["points", "decode_point", "struct.unpack", "ratio"]

    every: dict[str, Timing] = {}
    left_out: dict[str, list[str]] = {}
    for profile in builtin_profiles().values():
        cases, left_out[profile.key] = cases_of(profile)
        if cases:
            every[profile.key] = timing(cases, args.decodes, args.repeats)

    profile = get_profile("pro380")
    pro380, _ = cases_of(profile)
    by_type = {
        data_type: timing(typed, args.decodes, args.repeats)
        for data_type in DataType
        if (typed := [case for case in pro380 if case.point.data_type is data_type])
    }
    print("\n== PRO380 (pro380), by data type ==")
    print_line(["data type", *header], widths)
    for data_type, measured in by_type.items():
        print_row(data_type.value, measured, widths)
    everything = every["pro380"]
    print_row("all points (= pro380 below)", everything, widths)
    wire = plan_time(
        plan_reads(profile.points, profile.limits).blocks, 9600, spacing=profile.limits.min_spacing
    )
    print(
        f"  a full poll decodes {everything.points} points in "
        f"{everything.ours * everything.points / 1000:.2f} ms; "
        f"its modelled RTU wire time at 9600 Bd is {wire * 1000:.1f} ms"
    )

    print("\n== Every shipped profile, all points ==")
    print_line(["profile", *header], widths)
    for key in builtin_profiles():
        if key not in every:
            print(f"  {key.ljust(widths[0])}  no points")
            continue
        print_row(key, every[key], widths)
        if left_out[key]:
            print(
                f"    left out, the simulator's registers do not decode: {', '.join(left_out[key])}"
            )

    rows = [*by_type.values(), *every.values()]
    print(
        f"\n  every row above: decode_point {min(r.ours for r in rows):.2f} to "
        f"{max(r.ours for r in rows):.2f} µs per point, {min(r.ratio for r in rows):.1f} to "
        f"{max(r.ratio for r in rows):.1f} times struct.unpack; the profiles alone: "
        f"{min(r.ours for r in every.values()):.2f} to {max(r.ours for r in every.values()):.2f} µs, "
        f"{min(r.ratio for r in every.values()):.1f} to {max(r.ratio for r in every.values()):.1f} times"
    )
    largest = max(every.values(), key=lambda r: r.points)
    print(
        f"  the largest profile ({largest.points} points) decodes a full poll in "
        f"{largest.ours * largest.points / 1000:.2f} ms"
    )

    values = float32_values(pro380)
    search = float32_search(values, args.decodes, args.repeats)
    print(f"\n== float32 rounding alone: {len(values)} PRO380 float32 values, µs per value ==")
    print(
        f"  shortest decimal searched from {FLOAT32_DIGITS} digits (the codec): {search[FLOAT32_DIGITS]:.2f}"
    )
    print(f"  shortest decimal searched from 1 digit: {search[1]:.2f}")
    print()
    print(load_footer())


if __name__ == "__main__":
    main()
