"""A device's readings on screen, once or refreshing, as a table or as JSON (``read`` and ``demo``)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
import difflib
import json
import math
import time
from typing import Any, TextIO

from .. import (
    ConfigError,
    DeviceSession,
    DeviceSnapshot,
    PointState,
    PollGroup,
    Profile,
    Reading,
    Value,
)
from .output import (
    EXIT_FAILURE,
    EXIT_OK,
    describe_device,
    fail,
    format_number,
    format_table,
    plural,
)

DEFAULT_WATCH_SECONDS = 2.0
CLEAR_SCREEN = "\x1b[H\x1b[2J"


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadOptions:
    """What to read, how often, and how to print it."""

    keys: Collection[str]
    interval: float
    repetitions: int | None
    as_json: bool
    title: str


def selected_keys(
    profile: Profile,
    groups: Collection[PollGroup],
    points: Sequence[list[str]] | None,
    *,
    include_disabled: bool,
) -> list[str]:
    """Choose the keys of the points to read: those named, or those of the groups."""
    if points:
        keys = [key for chunk in points for key in chunk]
        unknown = [key for key in keys if not profile.has_point(key)]
        if unknown:
            known = [point.key for point in profile.points]
            close = difflib.get_close_matches(unknown[0], known, n=3)
            hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
            raise ConfigError(
                "--point",
                f"{profile.key} has no point {', '.join(map(repr, unknown))} "
                f"({hint}its points: {', '.join(known)})",
            )
        return keys
    return [
        point.key
        for point in profile.points
        if point.group in groups and (include_disabled or point.enabled_by_default)
    ]


async def show_readings(session: DeviceSession, options: ReadOptions, out: TextIO) -> int:
    """Read and print as often as ``options`` say.

    The exit code is 1 when a single read gets no answer, or when the last read
    leaves not one of the points asked for valid; 0 otherwise.
    """
    clear = out.isatty() and not options.as_json
    device = describe_device(session.unit, session.bus.settings.describe())
    done = 0
    while True:
        started = time.monotonic()
        result = await session.refresh()
        done += 1
        if options.repetitions == 1 and not result.available:
            return fail(f"{device} does not answer: {result.error}", EXIT_FAILURE)
        if options.as_json:
            document = readings_document(session, result)
            indent = 2 if options.repetitions == 1 else None
            out.write(json.dumps(document, indent=indent, ensure_ascii=False) + "\n")
        else:
            frame = render_readings(session, result, options.title)
            if clear:
                out.write(CLEAR_SCREEN)
            elif done > 1:
                out.write("\n")
            out.write(frame)
        out.flush()
        if options.repetitions is not None and done >= options.repetitions:
            return _exit_code(session, result, device)
        await asyncio.sleep(max(0.0, options.interval - (time.monotonic() - started)))


def _exit_code(session: DeviceSession, result: DeviceSnapshot, device: str) -> int:
    """Exit code of a read: 1 (with the reasons on stderr) when no point asked for is valid."""
    readings = dict(_in_profile_order(session, result))
    if not result.available:
        return fail(f"{device} does not answer: {result.error}", EXIT_FAILURE)
    if any(reading.state is PointState.VALID for reading in readings.values()):
        return EXIT_OK
    reasons = sorted({reading.error or reading.state.value for reading in readings.values()})
    return fail(
        f"no point of {device} could be read ({plural(len(readings), 'point')} asked for): "
        + "; ".join(reasons),
        EXIT_FAILURE,
    )


def readings_document(session: DeviceSession, result: DeviceSnapshot) -> dict[str, Any]:
    """Describe one read as plain data: profile, unit, readings and the device's statistics."""
    profile = session.profile
    return {
        "profile": profile.key,
        "unit": session.unit,
        "readings": {
            key: {
                "value": _json_value(reading.value),
                "unit": profile.point(key).unit,
                "state": reading.state.value,
                "error": reading.error,
            }
            for key, reading in _in_profile_order(session, result)
        },
        "stats": session.stats.as_dict(),
    }


def _json_value(value: Value | None) -> Value | None:
    """Make a value JSON can hold (NaN and infinities have no JSON form)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def render_readings(session: DeviceSession, result: DeviceSnapshot, title: str) -> str:
    """Render one read as a titled table with a statistics footer."""
    rows = []
    for key, reading in _in_profile_order(session, result):
        point = session.profile.point(key)
        number = format_number(point, reading.value)
        unit = point.unit if reading.value is not None and point.unit else ""
        rows.append((key, number, unit, reading.state.value))
    stats = session.stats
    footer = (
        f"{stats.requests} requests ({stats.responses} answered normally), {stats.retries} retries, "
        f"mean latency {stats.latency_mean * 1000:.1f} ms; read at {time.strftime('%H:%M:%S')}"
    )
    if result.error:
        footer += f"\nno answer: {result.error}"
    footer += "".join(f"\n{line}" for line in _failures(session, result))
    table = format_table(("point", "value", "unit", "state"), rows, right={1})
    return f"{title}\n\n{table}\n\n{footer}\n"


def _failures(session: DeviceSession, result: DeviceSnapshot) -> list[str]:
    """One line per reason some points are not valid, naming the points (``read`` tables)."""
    by_reason: dict[str, list[str]] = {}
    for key, reading in _in_profile_order(session, result):
        if reading.state is not PointState.VALID and reading.error:
            by_reason.setdefault(reading.error, []).append(key)
    return [f"{', '.join(keys)}: {reason}" for reason, keys in by_reason.items()]


def _in_profile_order(
    session: DeviceSession, result: DeviceSnapshot
) -> Iterable[tuple[str, Reading]]:
    """Yield the readings of the points asked for, in the order the profile lists them."""
    for point in session.profile.points:
        reading = result.readings.get(point.key) if point.key in session.enabled else None
        if reading is not None:
            yield point.key, reading
