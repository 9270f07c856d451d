"""The screen of ``powerbus demo``: a simulated device's identity on top, then its values, in 80x24.

:func:`render_demo` is a pure function of a :class:`DemoScreen`; the demo redraws
it in place on a terminal (with ``rich``'s live display) and prints it frame after
frame elsewhere. The screen holds:

- the device's identity (maker, model, serial number, firmware) and where it is
  simulated;
- a phase table: every fast-moving value the device has per phase (``..._l1``,
  ``..._l2``, ``..._l3``), with its total where the profile shows one by default;
- the other values the profile shows by default, two to a line, as many as fit;
- the bus statistics, and how to read the device from another terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..models import Point, PollGroup, Profile, Reading
from ..snapshot import DeviceIdentity
from .output import UNAVAILABLE, format_number

WIDTH = 80
HEIGHT = 24
PHASES = ("l1", "l2", "l3")
VALUES_PER_LINE = 2
# Lines around the two tables: identity (2), blank, blank, statistics, how to read it (2).
_FIXED_LINES = 7
# The phase table's header and the rule under it.
_PHASE_TABLE_HEAD = 2


@dataclass(frozen=True, kw_only=True, slots=True)
class DemoLayout:
    """Which points the screen shows where; the same for every frame of one profile."""

    phase_rows: tuple[str, ...]
    """Base keys of the phase table's rows (``voltage`` for ``voltage_l1``..``voltage_l3``)."""
    totals: frozenset[str]
    """Base keys whose total the table shows."""
    values: tuple[str, ...]
    """Keys of the other values, in profile order."""

    @property
    def keys(self) -> frozenset[str]:
        """Every point the screen shows: what the demo reads."""
        phases = {f"{base}_{phase}" for base in self.phase_rows for phase in PHASES}
        return frozenset(phases | self.totals | set(self.values))


@dataclass(frozen=True, kw_only=True, slots=True)
class DemoScreen:
    """What one frame shows."""

    profile: Profile
    layout: DemoLayout
    identity: DeviceIdentity | None
    readings: Mapping[str, Reading]
    where: str
    """Where the device is simulated, e.g. ``unit 1 on tcp://127.0.0.1:5020``."""
    speed: float
    status: str
    """The statistics line: requests, latency, when it was read."""
    hint: str
    """How to stop, and how to read the device from another terminal."""


def demo_layout(profile: Profile) -> DemoLayout:
    """Lay out a profile's points so that the screen fits ``WIDTH`` x ``HEIGHT``."""
    phase_rows = tuple(
        point.key.removesuffix("_l1")
        for point in profile.points
        if point.key.endswith("_l1")
        and point.group is PollGroup.FAST
        and _numeric(point)
        and all(profile.has_point(point.key[:-2] + phase) for phase in PHASES[1:])
    )[: HEIGHT - _FIXED_LINES - _PHASE_TABLE_HEAD]
    totals = frozenset(
        base
        for base in phase_rows
        if profile.has_point(base) and profile.point(base).enabled_by_default
    )
    in_table = {f"{base}_{phase}" for base in phase_rows for phase in PHASES} | set(phase_rows)
    identity = {profile.serial_point, profile.firmware_point}
    others = [
        point.key
        for point in profile.points
        if point.enabled_by_default and point.key not in in_table and point.key not in identity
    ]
    room = HEIGHT - _FIXED_LINES - (_PHASE_TABLE_HEAD + len(phase_rows) if phase_rows else 0)
    return DemoLayout(
        phase_rows=phase_rows,
        totals=totals,
        values=tuple(others[: max(0, room) * VALUES_PER_LINE]),
    )


def _numeric(point: Point) -> bool:
    """Whether a point holds a number (not text, a flag or a labelled option)."""
    return point.data_type.fixed_count is not None and not point.options and not point.table.is_bit


def render_demo(screen: DemoScreen) -> RenderableType:
    """Draw one frame: identity on top, the phase table, the other values, the statistics."""
    parts: list[RenderableType] = [*_identity(screen), Text("")]
    if screen.layout.phase_rows:
        parts += [_phase_table(screen), Text("")]
    parts.append(_values(screen))
    parts.append(Text(""))
    for line, style in ((screen.status, ""), (screen.hint, "dim")):
        text = Text(line, style=style, no_wrap=True, overflow="ellipsis")
        text.truncate(WIDTH, overflow="ellipsis")
        parts.append(text)
    return Group(*parts)


def _identity(screen: DemoScreen) -> list[Text]:
    """Two lines: maker and model, then serial number, firmware and where it runs."""
    identity = screen.identity
    maker = identity.manufacturer if identity else screen.profile.manufacturer
    model = identity.model if identity else screen.profile.name
    title = Text.assemble(
        (f"{maker} {model}", "bold"), f"  simulated, time {screen.speed:g}x faster"
    )
    serial = identity.serial if identity and identity.serial else UNAVAILABLE
    firmware = identity.firmware if identity and identity.firmware else UNAVAILABLE
    details = Text(f"serial {serial} · firmware {firmware} · {screen.where}")
    for line in (title, details):
        line.truncate(WIDTH, overflow="ellipsis")
    return [title, details]


def _phase_table(screen: DemoScreen) -> Table:
    """One row per per-phase value: L1, L2, L3 and the total."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    table.add_column("", no_wrap=True, overflow="ellipsis", max_width=28)
    for heading in ("L1", "L2", "L3", "total"):
        table.add_column(heading, justify="right", no_wrap=True, min_width=9)
    profile = screen.profile
    for base in screen.layout.phase_rows:
        first = profile.point(f"{base}_l1")
        label = first.name.removesuffix(" L1")
        if first.unit:
            label += f" ({first.unit})"
        cells = [_number(screen, f"{base}_{phase}") for phase in PHASES]
        cells.append(_number(screen, base) if base in screen.layout.totals else "")
        table.add_row(label, *cells)
    return table


def _values(screen: DemoScreen) -> Table:
    """Lay out the other values, ``VALUES_PER_LINE`` to a line: name, then value and unit."""
    grid = Table.grid(padding=(0, 1))
    for column in range(VALUES_PER_LINE):
        if column:
            grid.add_column(width=2)  # keeps the pairs apart
        grid.add_column(no_wrap=True, overflow="ellipsis", max_width=23)
        grid.add_column(justify="right", no_wrap=True, overflow="ellipsis", max_width=14)
    pairs = [(_name(screen, key), _value(screen, key)) for key in screen.layout.values]
    for start in range(0, len(pairs), VALUES_PER_LINE):
        row: list[str] = []
        for name, value in pairs[start : start + VALUES_PER_LINE]:
            row += ["", name, value] if row else [name, value]
        grid.add_row(*row)
    return grid


def _name(screen: DemoScreen, key: str) -> str:
    """Return a value's name as the profile gives it."""
    return screen.profile.point(key).name


def _number(screen: DemoScreen, key: str) -> str:
    """Format a value without its unit, '—' when it has none."""
    reading = screen.readings.get(key)
    return format_number(screen.profile.point(key), reading.value if reading else None)


def _value(screen: DemoScreen, key: str) -> str:
    """Format a value with its unit, '—' when it has none."""
    number = _number(screen, key)
    unit = screen.profile.point(key).unit
    return f"{number} {unit}" if unit and number != UNAVAILABLE else number
