"""Generate docs/devices.md, the list of supported devices, from the shipped profiles.

    python scripts/gen_devices_doc.py           # write docs/devices.md
    python scripts/gen_devices_doc.py --check   # exit 1 if docs/devices.md is out of date

Everything in the page comes from the profile files (validated by the engine's
own loader) and from the hand-written notes in ``docs/devices/<family>.md``,
which are copied in under their family. Nothing in it depends on the machine or
the date, so the page only changes when a profile or a notes file does.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
import re
import sys
from typing import Any

import yaml

from powerbus.models import (
    Addressing,
    AddressRange,
    AllOf,
    AnyOf,
    BusLimits,
    CheckStep,
    Command,
    CommandCall,
    Confidence,
    DetectRule,
    ParamKind,
    ParamSpec,
    Point,
    Probe,
    ProbeExpectation,
    Profile,
    Step,
    Switch,
    Table,
    TransportDefaults,
    UnitIds,
    ValueRef,
    WaitStep,
    WriteStep,
)
from powerbus.profile import PROFILE_PACKAGE, parse_profile_text
from powerbus.profile_schema import FAMILY_SCHEMA

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT = REPO_ROOT / "docs" / "devices.md"
NOTES_DIR = REPO_ROOT / "docs" / "devices"
PROFILES_DIR = "custom_components/powerbus/engine/profiles"

_TABLE_NAMES = {
    Table.COIL: "coil",
    Table.DISCRETE_INPUT: "discrete input",
    Table.INPUT_REGISTER: "input register",
    Table.HOLDING_REGISTER: "holding register",
}
_MODICON_PREFIX = {
    Table.COIL: 0,
    Table.DISCRETE_INPUT: 1,
    Table.INPUT_REGISTER: 3,
    Table.HOLDING_REGISTER: 4,
}
_ADDRESSING_TEXT = {
    Addressing.PDU: "zero-based PDU addresses (the address on the wire)",
    Addressing.REGISTER_NUMBER: "1-based register numbers (register N is PDU address N - 1)",
    Addressing.MODICON: "Modicon references (40001 is holding register PDU 0, 30001 input register "
    "PDU 0, 10001 discrete input PDU 0, 00001 coil PDU 0)",
}
_HEX_ADDRESS = re.compile(r"\baddress:\s*0[xX][0-9a-fA-F]+")
_HEADING = re.compile(r"^(#{1,6})(\s)")
_FENCE = re.compile(r"^\s*(```|~~~)")
# A Markdown link target that is neither a URL, an anchor nor an absolute path.
_RELATIVE_LINK = re.compile(r"\]\((?![a-zA-Z][a-zA-Z0-9+.-]*:|#|/)([^)\s]+)\)")


@dataclass(frozen=True, kw_only=True, slots=True)
class Family:
    """One profile file: its validated raw form and its resolved variants."""

    file_name: str
    raw: Mapping[str, Any]
    profiles: Mapping[str, Profile]
    hex_addresses: bool

    @property
    def key(self) -> str:
        """The family key."""
        return str(self.raw["family"])

    @property
    def addressing(self) -> Addressing:
        """How the file numbers its addresses."""
        return Addressing(self.raw["addressing"])


@dataclass(frozen=True, kw_only=True, slots=True)
class PointSet:
    """A named set of points of a family, as resolved, and the variants that read it."""

    name: str
    points: tuple[Point, ...]
    variants: tuple[str, ...]
    raw_keys: tuple[str, ...]


# --- loading ---------------------------------------------------------------------------------


def load_families() -> list[Family]:
    """Read, validate and resolve every shipped profile file, in file name order."""
    families: list[Family] = []
    entries = sorted(resources.files(PROFILE_PACKAGE).iterdir(), key=lambda entry: entry.name)
    for entry in entries:
        if not entry.name.endswith(".yaml"):
            continue
        text = entry.read_text("utf-8")
        families.append(
            Family(
                file_name=entry.name,
                raw=FAMILY_SCHEMA(yaml.safe_load(text)),
                profiles=parse_profile_text(text, entry.name),
                hex_addresses=_HEX_ADDRESS.search(text) is not None,
            )
        )
    return families


def point_sets(family: Family) -> list[PointSet]:
    """List the family's point sets with their resolved points, in file order.

    A variant's points are its sets' points in the order it names the sets, so
    each set's points are a slice of the first variant that reads it.
    """
    users: dict[str, list[str]] = {name: [] for name in family.raw["point_sets"]}
    resolved: dict[str, tuple[Point, ...]] = {}
    for variant in family.raw["variants"]:
        offset = 0
        profile = family.profiles[variant["key"]]
        for name in variant["point_sets"]:
            size = len(family.raw["point_sets"][name])
            resolved.setdefault(name, profile.points[offset : offset + size])
            users[name].append(variant["key"])
            offset += size
    return [
        PointSet(
            name=name,
            points=resolved.get(name, ()),
            variants=tuple(users[name]),
            raw_keys=tuple(raw["key"] for raw in raw_points),
        )
        for name, raw_points in family.raw["point_sets"].items()
    ]


def commands(family: Family) -> list[tuple[Command | None, str, tuple[str, ...]]]:
    """Every command of the family: resolved (None if no variant offers it), its key, its variants."""
    result: list[tuple[Command | None, str, tuple[str, ...]]] = []
    for raw in family.raw["commands"]:
        key = raw["key"]
        offering = tuple(v["key"] for v in family.raw["variants"] if key in v["commands"])
        resolved = family.profiles[offering[0]].command(key) if offering else None
        result.append((resolved, key, offering))
    return result


def switches(family: Family) -> list[tuple[Switch | None, str, tuple[str, ...]]]:
    """Every switch of the family: resolved (None if no variant offers it), its key, its variants."""
    result: list[tuple[Switch | None, str, tuple[str, ...]]] = []
    for raw in family.raw["switches"]:
        key = raw["key"]
        offering = tuple(v["key"] for v in family.raw["variants"] if key in v["switches"])
        profile = family.profiles[offering[0]] if offering else None
        resolved = next(s for s in profile.switches if s.key == key) if profile else None
        result.append((resolved, key, offering))
    return result


# --- formatting helpers ----------------------------------------------------------------------


def cell(text: object) -> str:
    """Make ``text`` safe for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|") or " "


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """Render a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines


def code(text: object) -> str:
    """Render ``text`` as inline code."""
    return f"`{text}`"


def number(value: float) -> str:
    """Render a number without a needless ``.0``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def documented(family: Family, table_name: Table, pdu: int) -> str:
    """Write the address ``pdu`` as the family's source documents write it."""
    if family.addressing is Addressing.MODICON:
        return f"{_MODICON_PREFIX[table_name]}{pdu + 1:04d}"
    written = pdu + 1 if family.addressing is Addressing.REGISTER_NUMBER else pdu
    return f"0x{written:04X}" if family.hex_addresses else str(written)


def slug(heading: str) -> str:
    """Return the anchor GitHub gives a heading."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


# --- sections --------------------------------------------------------------------------------


def variants_section(family: Family) -> list[str]:
    """Render the variants of a family: names, models, firmware, what they read, detection."""
    rows = []
    for variant in family.raw["variants"]:
        profile = family.profiles[variant["key"]]
        rows.append(
            [
                code(profile.key),
                profile.name,
                ", ".join(profile.models) or "—",
                profile.firmware or "—",
                ", ".join(code(name) for name in variant["point_sets"]),
                len(profile.points),
                ", ".join(code(c.key) for c in profile.commands) or "—",
                "; ".join(rule_text(family, rule) for rule in profile.detect)
                or ("the family's rules" if profile.family_detect else "none (pick by hand)"),
            ]
        )
    header = [
        "Variant",
        "Name",
        "Models",
        "Firmware",
        "Point sets",
        "Points",
        "Commands",
        "Detection",
    ]
    family_rules = next(iter(family.profiles.values())).family_detect
    recognised = (
        [
            "Recognised as this family when: "
            + "; ".join(rule_text(family, rule) for rule in family_rules)
            + ". The variants' own rules then tell them apart; where none fits wholly, every "
            "variant that fits best is named.",
            "",
        ]
        if family_rules
        else []
    )
    return ["### Variants", "", *recognised, *table(header, rows), ""]


def rule_text(family: Family, rule: DetectRule) -> str:
    """Describe one detection rule."""
    if isinstance(rule, UnitIds):
        return "answers at unit id " + " or ".join(str(unit) for unit in rule.units)
    if isinstance(rule, AnyOf | AllOf):
        joint = " or " if isinstance(rule, AnyOf) else " and "
        return "(" + joint.join(rule_text(family, member) for member in rule.rules) + ")"
    return probe_text(family, rule)


def probe_text(family: Family, probe: Probe) -> str:
    """Describe one detection probe."""
    if probe.expect is ProbeExpectation.VALUES:
        outcome = "reads " + ", ".join(f"0x{value:04X}" for value in probe.values)
    elif probe.expect is ProbeExpectation.EXCEPTION:
        outcome = "must be refused"
    elif probe.expect is ProbeExpectation.ONE_OF:
        outcome = "reads " + " or ".join(str(value) for value in probe.values)
    elif probe.expect is ProbeExpectation.RANGE:
        outcome = f"reads {probe.minimum} to {probe.maximum}"
    elif probe.expect is ProbeExpectation.UNIT_ID:
        outcome = "reads the unit id" + (f" {probe.offset:+d}" if probe.offset else "")
    else:
        outcome = "must answer"
    where = documented(family, probe.table, probe.address)
    return f"{_TABLE_NAMES[probe.table]} {where} ×{probe.count} {outcome}"


def transport_section(family: Family) -> list[str]:
    """Render the serial and TCP defaults and the bus limits, per variant."""
    rows = [
        [
            code(profile.key),
            *transport_cells(profile.transport),
            *limit_cells(family, profile.limits),
        ]
        for profile in family.profiles.values()
    ]
    header = [
        "Variant",
        "Unit id",
        "Serial",
        "TCP port",
        "Max registers / bits per read",
        "Max gap",
        "Max registers per write",
        "Readable ranges",
        "Min spacing",
        "Min scan interval",
        "Timeout",
    ]
    return ["### Transport defaults and bus limits", "", *table(header, rows), ""]


def transport_cells(transport: TransportDefaults) -> list[str]:
    """Render the unit id, serial line and TCP port a device ships with."""
    line = f"{transport.baudrate} {transport.bytesize}{transport.parity}{transport.stopbits}"
    return [str(transport.unit_id), line, str(transport.port)]


def limit_cells(family: Family, limits: BusLimits) -> list[str]:
    """Render the bus limits of a variant as table cells."""
    timeout = f"{number(limits.timeout)} s"
    if limits.timeout_per_register:
        timeout += f" + {number(limits.timeout_per_register)} s per register"
    return [
        f"{limits.max_registers} / {limits.max_bits}",
        str(limits.max_gap),
        str(limits.max_write_registers),
        "; ".join(range_text(family, area) for area in limits.readable) or "whole table",
        f"{number(limits.min_spacing * 1000)} ms",
        f"{number(limits.min_scan_interval)} s",
        timeout,
    ]


def range_text(family: Family, area: AddressRange) -> str:
    """Render a readable range in the family's documented addresses."""
    first = documented(family, area.table, area.start)
    last = documented(family, area.table, area.end)
    return f"{_TABLE_NAMES[area.table]} {first}–{last}"


def notes_section(family: Family) -> list[str]:
    """Render the notes of the family and of each variant."""
    lines = [f"- {note}" for note in family.raw["notes"]]
    for variant in family.raw["variants"]:
        lines += [f"- {code(variant['key'])}: {note}" for note in variant["notes"]]
    return ["### Notes", "", *lines, ""] if lines else []


def sources_section(family: Family) -> list[str]:
    """Where the family's facts come from."""
    sources = [f"- {source}" for source in family.raw["sources"]]
    return ["### Sources", "", *sources, ""] if sources else []


def points_section(family: Family, point_set: PointSet) -> list[str]:
    """Render the table of one point set."""
    used_by = ", ".join(code(key) for key in point_set.variants) or "no variant"
    lines = [f"#### Point set {code(point_set.name)}", "", f"Read by: {used_by}.", ""]
    if not point_set.points:
        keys = ", ".join(code(key) for key in point_set.raw_keys)
        return [*lines, f"Not resolved, as no variant reads it. Keys: {keys}.", ""]
    header = [
        "Key",
        "Name",
        "Table",
        "Address",
        "PDU",
        "Type",
        "Unit",
        "HA class",
        "Group",
        "Writable",
        "Conf.",
    ]
    rows = [
        [
            code(point.key),
            point.name,
            _TABLE_NAMES[point.table],
            documented(family, point.table, point.address),
            point.address,
            type_text(point),
            point.unit or "—",
            ha_class(point),
            group_text(point),
            write_text(point),
            point.confidence.value,
        ]
        for point in point_set.points
    ]
    return [*lines, *table(header, rows), ""]


def type_text(point: Point) -> str:
    """Describe the data type and what shapes the value: count, order, scale, bits, labels."""
    parts = [point.data_type.value]
    if point.data_type.fixed_count is None:
        parts[0] += f"×{point.count}"
    if point.count > 1 and point.word_order.value != "ABCD":
        parts.append(point.word_order.value)
    if point.scale != 1:
        parts.append(f"× {number(point.scale)}")
    if point.offset:
        parts.append(f"+ {number(point.offset)}")
    if point.scale_point is not None:
        parts.append(f"× 10^{code(point.scale_point)}")
    if point.bit is not None:
        parts.append(f"bit {point.bit}")
    if point.bit_field is not None:
        parts.append(f"bits {point.bit_field[0]}–{point.bit_field[1]}")
    if point.options:
        parts.append("; ".join(f"{raw} {label}" for raw, label in sorted(point.options.items())))
    if point.sentinels:
        parts.append("n/a: " + ", ".join(str(value) for value in point.sentinels))
    return ", ".join(parts)


def ha_class(point: Point) -> str:
    """Render the Home Assistant device and state class hints."""
    hints = [hint for hint in (point.device_class, point.state_class) if hint]
    return " / ".join(hints) or "—"


def group_text(point: Point) -> str:
    """Render the poll group, with the entity category and a disabled-by-default mark."""
    parts = [point.group.value]
    if point.entity_category is not None:
        parts.append(point.entity_category.value)
    if not point.enabled_by_default:
        parts.append("off by default")
    return ", ".join(parts)


def write_text(point: Point) -> str:
    """Whether and within what limits a point may be written."""
    spec = point.write
    if spec is None:
        return "no"
    parts = ["yes"]
    if spec.minimum is not None or spec.maximum is not None:
        low = "…" if spec.minimum is None else number(spec.minimum)
        high = "…" if spec.maximum is None else number(spec.maximum)
        parts.append(f"{low}–{high}")
    if spec.choices:
        parts.append("one of " + ", ".join(number(choice) for choice in spec.choices))
    if spec.dangerous:
        parts.append("dangerous")
    return ", ".join(parts)


def commands_section(family: Family) -> list[str]:
    """Render the family's commands: parameters and what each does on the wire."""
    listed = commands(family)
    if not listed:
        return []
    rows = []
    for command, key, offering in listed:
        if command is None:
            rows.append([code(key), "—", "—", "—", "—", "not offered by any variant", "—", "—"])
            continue
        rows.append(
            [
                code(key),
                command.name,
                "yes" if command.dangerous else "no",
                command.session or "—",
                "; ".join(param_text(param) for param in command.params) or "—",
                steps_text(family, command.steps),
                command.confidence.value,
                ", ".join(code(variant) for variant in offering),
            ]
        )
    header = ["Key", "Name", "Dangerous", "Session", "Parameters", "Steps", "Conf.", "Variants"]
    lines = ["### Commands", "", *table(header, rows), ""]
    described = [(key, c.description) for c, key, _ in listed if c is not None and c.description]
    lines += [f"- {code(key)}: {' '.join(text.split())}" for key, text in described]
    return [*lines, ""] if described else lines


def switches_section(family: Family) -> list[str]:
    """Render the family's switches: the command calls that turn each on and off."""
    listed = switches(family)
    if not listed:
        return []
    rows = []
    for switch, key, offering in listed:
        if switch is None:
            rows.append([code(key), "—", "—", "—", "—", "not offered by any variant", "—", "—"])
            continue
        profile = family.profiles[offering[0]]
        calls = (switch.turn_on, switch.turn_off)
        dangerous = any(profile.command(call.command).dangerous for call in calls)
        rows.append(
            [
                code(key),
                switch.name,
                call_text(switch.turn_on),
                call_text(switch.turn_off),
                code(switch.state) if switch.state else "none (assumed state)",
                "yes" if dangerous else "no",
                switch.confidence.value,
                ", ".join(code(variant) for variant in offering),
            ]
        )
    header = ["Key", "Name", "Turn on", "Turn off", "State", "Dangerous", "Conf.", "Variants"]
    return ["### Switches", "", *table(header, rows), ""]


def call_text(call: CommandCall) -> str:
    """Describe a command call: the command and the parameters it runs with."""
    params = ", ".join(f"{name}={value}" for name, value in call.params.items())
    return f"{code(call.command)} {params}".rstrip()


def param_text(param: ParamSpec) -> str:
    """Describe one command parameter."""
    if param.kind is ParamKind.CHOICE:
        detail = ", ".join(f"{label}={value}" for label, value in param.choices.items())
    elif param.kind is ParamKind.INT_LIST:
        detail = f"list of {param.length} integers"
    else:
        detail = param.kind.value
        if param.minimum is not None or param.maximum is not None:
            low = "…" if param.minimum is None else number(param.minimum)
            high = "…" if param.maximum is None else number(param.maximum)
            detail += f" {low}–{high}"
        if param.choices:
            detail += ", or " + ", ".join(
                f"{label}={value}" for label, value in param.choices.items()
            )
    if param.unit:
        detail += f" {param.unit}"
    if param.default is not None:
        detail += f", default {param.default}"
    return f"{code(param.key)} ({detail})"


def steps_text(family: Family, steps: Sequence[Step]) -> str:
    """Summarise command steps, runs of like writes to consecutive registers as one."""
    return "; ".join(_step_summaries(family, steps))


def _step_summaries(family: Family, steps: Sequence[Step]) -> Iterator[str]:
    """One phrase per step, or per run of writes of the same values to consecutive addresses."""
    index = 0
    while index < len(steps):
        step = steps[index]
        run = 1
        if isinstance(step, WriteStep) and step.address is not None:
            while index + run < len(steps) and _continues(step, run, steps[index + run]):
                run += 1
        yield _step_text(family, step, run)
        index += run


def _continues(first: WriteStep, run: int, step: Step) -> bool:
    """Whether ``step`` writes the same values as ``first``, ``run`` writes further on."""
    return (
        isinstance(step, WriteStep)
        and step.point is None
        and step.table is first.table
        and step.values == first.values
        and first.address is not None
        and step.address == first.address + run * len(first.values)
    )


def _step_text(family: Family, step: Step, run: int) -> str:
    """Describe one step (a write repeated ``run`` times over consecutive addresses)."""
    if isinstance(step, WaitStep):
        return f"wait {number(step.seconds)} s"
    target = _target(family, step)
    if isinstance(step, WriteStep):
        values = ", ".join(value_text(value) for value in step.values)
        if run > 1 and step.address is not None:
            last = documented(family, step.table, step.address + run * len(step.values) - 1)
            return f"write {values} to each of {target}–{last} ({run} writes)"
        return f"write {values} to {target}"
    if step.outcomes:
        judged = "for " + ", ".join(
            f"{outcome.value} {outcome.key}{' (ok)' if outcome.success else ''}"
            for outcome in step.outcomes
        )
    else:
        judged = f"= {value_text(step.equals)}" if step.equals is not None else ""
    within = f" within {number(step.within)} s" if step.within else ""
    return f"check {target} {judged}{within}"


def _target(family: Family, step: WriteStep | CheckStep) -> str:
    """Name the point or the register a step writes or reads."""
    if step.point is not None:
        return f"point {code(step.point)}"
    if step.address_param is not None:
        return f"the {_TABLE_NAMES[step.table]} that parameter {code(step.address_param)} names"
    address = documented(family, step.table, step.address or 0)
    return f"{_TABLE_NAMES[step.table]} {address}"


def value_text(value: ValueRef) -> str:
    """Render a literal, or a parameter times its factor."""
    if value.param is None:
        return number(value.literal or 0.0)
    if value.factor != 1:
        return f"parameter {code(value.param)} × {number(value.factor)}"
    return f"parameter {code(value.param)}"


def hand_written_notes(family: Family) -> list[str]:
    """Copy the family's notes file from docs/devices/, headings moved under the family's."""
    path = NOTES_DIR / f"{family.key}.md"
    if not path.is_file():
        return []
    lines = [f"### Notes from {code(f'docs/devices/{path.name}')}", ""]
    lines += demoted(path.read_text(encoding="utf-8").splitlines(), levels=3)
    return [*lines, ""]


def demoted(lines: Sequence[str], levels: int) -> list[str]:
    """Fit a notes file into this page.

    Headings go ``levels`` deeper (at most ######) and relative links, written
    from docs/devices/, are made to work from docs/; code blocks stay as they are.
    """
    result: list[str] = []
    fenced = False
    for line in lines:
        if _FENCE.match(line):
            fenced = not fenced
        if not fenced:
            line = _RELATIVE_LINK.sub(r"](devices/\1)", line)
            match = _HEADING.match(line)
            if match:
                depth = min(len(match.group(1)) + levels, 6)
                line = "#" * depth + line[len(match.group(1)) :]
        result.append(line.rstrip())
    return result


def family_heading(family: Family) -> str:
    """Return the heading of a family's section."""
    return f"{family.key}: {family.raw['manufacturer']}"


def family_section(family: Family) -> list[str]:
    """Everything about one family."""
    intro = (
        f"Profile file {code(f'{PROFILES_DIR}/{family.file_name}')}; its addresses are "
        f"{_ADDRESSING_TEXT[family.addressing]}."
    )
    lines = [f"## {family_heading(family)}", "", intro, ""]
    lines += variants_section(family)
    lines += transport_section(family)
    lines += notes_section(family)
    lines += sources_section(family)
    lines += ["### Points", ""]
    for point_set in point_sets(family):
        lines += points_section(family, point_set)
    lines += commands_section(family)
    lines += switches_section(family)
    lines += hand_written_notes(family)
    return lines


def unverified_section(families: Sequence[Family]) -> list[str]:
    """Every inferred (INF) fact one by one, and the single-source (C1) ones grouped."""
    inferred: list[list[object]] = []
    single: dict[tuple[str, str, str], list[str]] = {}
    for family in families:
        for point_set in point_sets(family):
            for point in point_set.points:
                where = f"point set {code(point_set.name)}"
                address = documented(family, point.table, point.address)
                if point.confidence is Confidence.INFERRED:
                    inferred.append(
                        [
                            family.key,
                            where,
                            code(point.key),
                            f"{point.name} ({address})",
                            point.source or "—",
                        ]
                    )
                elif point.confidence is Confidence.SINGLE_SOURCE:
                    single.setdefault((family.key, where, point.source or "—"), []).append(
                        code(point.key)
                    )
        for command, key, _ in commands(family):
            if command is None:
                continue
            if command.confidence is Confidence.INFERRED:
                inferred.append(
                    [family.key, "command", code(key), command.name, command.source or "—"]
                )
            elif command.confidence is Confidence.SINGLE_SOURCE:
                single.setdefault((family.key, "command", command.source or "—"), []).append(
                    code(key)
                )
        for switch, key, _ in switches(family):
            if switch is None:
                continue
            if switch.confidence is Confidence.INFERRED:
                inferred.append(
                    [family.key, "switch", code(key), switch.name, switch.source or "—"]
                )
            elif switch.confidence is Confidence.SINGLE_SOURCE:
                single.setdefault((family.key, "switch", switch.source or "—"), []).append(
                    code(key)
                )
    lines = [
        "## Unverified facts",
        "",
        "Each fact of a profile is confirmed by two or more independent sources (C2) unless it is",
        "marked otherwise. The facts below are not: check them against the device before relying on",
        "them. Each is one field in the profile file, so a correction is a one-line change.",
        "",
        f"### Inferred (INF): {len(inferred)}",
        "",
    ]
    lines += (
        table(["Family", "Where", "Key", "Name (address)", "Source and reasoning"], inferred)
        if inferred
        else ["None."]
    )
    lines += ["", f"### Single source (C1): {sum(len(keys) for keys in single.values())}", ""]
    rows = [
        [family, where, source, ", ".join(keys)] for (family, where, source), keys in single.items()
    ]
    lines += table(["Family", "Where", "Source", "Keys"], rows) if rows else ["None."]
    return [*lines, ""]


def orphan_notes(families: Sequence[Family]) -> list[str]:
    """Copy the notes files in docs/devices/ that belong to no shipped family."""
    known = {family.key for family in families}
    orphans = (
        sorted(p for p in NOTES_DIR.glob("*.md") if p.stem not in known)
        if NOTES_DIR.is_dir()
        else []
    )
    lines: list[str] = []
    for path in orphans:
        lines += [f"## Notes from {code(f'docs/devices/{path.name}')}", ""]
        lines += demoted(path.read_text(encoding="utf-8").splitlines(), levels=2)
        lines.append("")
    return lines


def render(families: Sequence[Family]) -> str:
    """Render the whole page."""
    variants = sum(len(family.profiles) for family in families)
    lines = [
        "# Supported devices",
        "",
        "<!-- Generated by scripts/gen_devices_doc.py from the device profiles; do not edit by hand. -->",
        "",
        f"{len(families)} device families, {variants} variants. A variant is one profile: a model range",
        "and firmware with one register map. Pick it in the device setup, or let detection pick it",
        "where its family or variant has detection rules; where the variant cannot be told, detection",
        "names every variant it may be.",
        "",
        "How to read the point tables: *Address* is the address as the family's source documents write",
        "it, *PDU* the zero-based address on the wire. *Type* is the data type with its register count",
        "where the type leaves it open, the word order of multi-register values if not high word first,",
        "the scale (`× 10^key` is a power of ten read from another point), selected bits, value labels",
        'and the raw values that mean "not available". *Group* is how often the point is read',
        "(fast, normal, slow, or once after connecting). *Conf.* is how well the fact is backed:",
        "C2 by two or more sources, C1 by one, INF inferred (see [Unverified facts](#unverified-facts)).",
        "",
        "## Families",
        "",
    ]
    for family in families:
        heading = family_heading(family)
        names = ", ".join(
            f"{profile.name} ({code(key)})" for key, profile in family.profiles.items()
        )
        lines.append(f"- [{heading}](#{slug(heading)}): {names}")
    lines.append("")
    for family in families:
        lines += family_section(family)
    lines += unverified_section(families)
    lines += orphan_notes(families)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def main() -> int:
    """Write docs/devices.md, or with --check report whether it is current."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the page is not what the profiles give"
    )
    parser.add_argument(
        "--output", type=Path, default=OUTPUT, help="the page to write or check (docs/devices.md)"
    )
    args = parser.parse_args()
    output: Path = args.output
    page = render(load_families())
    if args.check:
        current = output.read_text(encoding="utf-8") if output.is_file() else ""
        if current != page:
            print(
                f"{output} is out of date: run python scripts/gen_devices_doc.py", file=sys.stderr
            )
            return 1
        print(f"{output} is up to date")
        return 0
    output.write_text(page, encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
