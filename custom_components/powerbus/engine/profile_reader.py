"""From the text of a family file to its checked items: YAML read, then each item validated.

The text is read as YAML, and a key given twice in one mapping is noted as a
problem (YAML itself would keep the last one silently). Then each point, command,
step and variant is checked against its schema (``profile_schema``) on its own,
so that one mistake does not hide the next: every problem is noted in the file's
:class:`ProblemLog`, naming the point (or command, switch, variant) and the field, and
the items that pass go on to be built (``profile_builder``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import voluptuous as vol
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import ProblemLog
from .profile_schema import (
    COMMAND_SCHEMA,
    FILE_SCHEMA,
    POINT_SCHEMA,
    STEP_SCHEMAS,
    SWITCH_SCHEMA,
    VARIANT_SCHEMA,
)

# libyaml's safe loader when PyYAML was built with it: about five times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
# The sections of a family file whose items (mappings with a key) are named in problems.
_ITEM_KINDS = {
    "point_sets": "point",
    "commands": "command",
    "switches": "switch",
    "variants": "variant",
}


def read_yaml(text: str, log: ProblemLog) -> Any:
    """Parse YAML text, noting every key given twice in one mapping.

    Text that is no YAML fails at once, naming the line, with the keys found twice
    before.
    """
    loader = _YAML_LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        for item, field, key, line, first in _duplicate_keys(node, loader):
            earlier = "on this line" if first == line else f"(first on line {first})"
            log.add_in(item, f"'{key}' is given twice {earlier}", field=field, line=line)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = mark.line + 1 if mark is not None else None
        log.add(f"not valid YAML: {err.problem}", line=where)
        raise log.error() from None
    except Exception as err:  # noqa: BLE001 - PyYAML's own errors, and what its constructors raise
        # on odd tagged scalars (`!!float` alone: IndexError; `!!timestamp x`: AttributeError)
        log.add(f"not valid YAML: {err}")
        raise log.error() from None
    finally:
        loader.dispose()


def _duplicate_keys(root: Node, loader: Any) -> Iterator[tuple[dict[str, str], str, str, int, int]]:
    """Yield every key given twice in one mapping: item, field, key, line and first line.

    The item (``{"point": key}``, or command, or variant; ``{}`` outside them)
    holds the mapping, and the field is the key's path inside it. A node that YAML
    aliases make appear twice is looked at once.
    """
    seen: set[int] = set()
    # (node, the item holding it as {kind: key}, field path inside it, item kind below)
    stack: list[tuple[Node, dict[str, str], str, str | None]] = [(root, {}, "", None)]
    while stack:
        node, item, path, kind = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            for index, child in enumerate(node.value):
                stack.append((child, item, f"{path}[{index}]", kind))
            continue
        if not isinstance(node, MappingNode):
            continue
        if kind is not None and not item and (own_key := _scalar_entry(node, "key")):
            item, path, kind = {kind: own_key}, "", None
        first_lines: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
                continue
            key = loader.construct_object(key_node)
            line = key_node.start_mark.line + 1
            field_path = f"{path}.{key}" if path else str(key)
            if key in first_lines:
                yield item, field_path, str(key), line, first_lines[key]
            else:
                first_lines[key] = line
            below = _ITEM_KINDS.get(str(key), kind) if not path and not item else kind
            stack.append((value_node, item, field_path, below))


def _scalar_entry(node: MappingNode, name: str) -> str | None:
    """Return the text of the scalar value of ``name`` in a mapping node, if it has one."""
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == name:
            return str(value_node.value) if isinstance(value_node, ScalarNode) else None
    return None


# voluptuous' own words for a few mistakes, in the words of a profile file.
_PLAIN_WORDS = {
    "extra keys not allowed": "unknown field",
    "required key not provided": "required field missing",
    "expected a dictionary": "expected a mapping",
    "expected str": "expected text",
    "expected list": "expected a list",
    "expected string or buffer": "expected a lower_snake_case name",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class ValidatedFamily:
    """A family file after the schema: its own fields, and the items that passed.

    ``refused`` holds the keys of the points, commands, switches and point sets the
    schema refused, so that references to them are not reported a second time.
    """

    fields: dict[str, Any]
    point_sets: dict[str, list[dict[str, Any]]]
    commands: list[dict[str, Any]]
    switches: list[dict[str, Any]]
    variants: list[dict[str, Any]]
    refused: frozenset[str]


def validate_family(raw: dict[str, Any], log: ProblemLog) -> ValidatedFamily | None:
    """Check a family file's mapping item by item, noting every problem in ``log``.

    Defaults are filled in and names become enums. Returns None when the file's own
    fields are wrong (its points could not be resolved); else the items that passed.
    """
    fields = _checked(FILE_SCHEMA, raw, log, {})
    refused: set[str] = set()
    point_sets: dict[str, list[dict[str, Any]]] = {}
    raw_sets = raw.get("point_sets")
    for set_name, points in raw_sets.items() if isinstance(raw_sets, dict) else ():
        if not isinstance(points, list):
            refused.add(str(set_name))
            continue
        point_sets[str(set_name)] = _items(
            POINT_SCHEMA, points, "point", f"point_sets.{set_name}", log, refused
        )
    raw_commands = _listed(raw, "commands")
    commands = []
    for command in _items(COMMAND_SCHEMA, raw_commands, "command", "commands", log, refused):
        steps = _steps(command, log)
        if steps is None:
            refused.add(command["key"])
        else:
            commands.append({**command, "steps": steps})
    switches = _items(SWITCH_SCHEMA, _listed(raw, "switches"), "switch", "switches", log, refused)
    raw_variants = _listed(raw, "variants")
    variants = _items(VARIANT_SCHEMA, raw_variants, "variant", "variants", log, refused)
    if fields is None:
        return None
    return ValidatedFamily(
        fields=fields,
        point_sets=point_sets,
        commands=commands,
        switches=switches,
        variants=variants,
        refused=frozenset(refused),
    )


def _listed(raw: dict[str, Any], section: str) -> list[Any]:
    """Return the items of a list section, or none when it is missing or no list."""
    items = raw.get(section)
    return items if isinstance(items, list) else []


def _items(
    schema: vol.Schema,
    raw_items: list[Any],
    kind: str,
    section: str,
    log: ProblemLog,
    refused: set[str],
) -> list[dict[str, Any]]:
    """Check each item of a list section on its own; return those that pass.

    An item is named by its key (``kind`` says what it is), or by its place in
    ``section`` when it has no usable key. The key of an item that fails is added
    to ``refused``.
    """
    passed = []
    for index, raw in enumerate(raw_items):
        key = _item_key(raw)
        if key is None:
            checked = _checked(schema, raw, log, {}, f"{section}[{index}]")
        else:
            checked = _checked(schema, raw, log, {kind: key})
        if checked is None:
            if key is not None:
                refused.add(key)
            continue
        passed.append(checked)
    return passed


def _steps(command: dict[str, Any], log: ProblemLog) -> list[dict[str, Any]] | None:
    """Check each step of a command by its kind; return the checked steps, None if one is wrong."""
    key = command["key"]
    steps: list[dict[str, Any]] = []
    found = log.reported
    for index, raw in enumerate(command["steps"]):
        field = f"steps[{index}]"
        kinds = [kind for kind in STEP_SCHEMAS if isinstance(raw, dict) and kind in raw]
        if len(kinds) != 1:
            log.add("a step is one of 'write', 'wait' or 'check'", command=key, field=field)
            continue
        checked = _checked(STEP_SCHEMAS[kinds[0]], raw, log, {"command": key}, field)
        if checked is not None:
            steps.append(checked)
    return steps if log.reported == found else None


def _item_key(raw: Any) -> str | None:
    """Return the key an item gives itself, if it gives a usable one."""
    key = raw.get("key") if isinstance(raw, dict) else None
    return key if isinstance(key, str) and key else None


def _checked(
    schema: vol.Schema,
    raw: Any,
    log: ProblemLog,
    where: dict[str, str],
    prefix: str = "",
) -> dict[str, Any] | None:
    """Validate ``raw``; note each problem in the item ``where`` names, None if any.

    Field paths in the problems start with ``prefix``.
    """
    try:
        checked: dict[str, Any] = schema(raw)
    except vol.MultipleInvalid as err:
        for problem in sorted(err.errors, key=lambda problem: str(problem.path)):
            message = problem.error_message or str(problem)
            log.add_in(
                where, _PLAIN_WORDS.get(message, message), field=_field_path(prefix, problem.path)
            )
        return None
    return checked


def _field_path(prefix: str, path: list[Any]) -> str | None:
    """Write a voluptuous error path as a field path: ``steps[0].write.value``."""
    text = prefix
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else str(step)
    return text or None
