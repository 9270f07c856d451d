"""Write ``docs/bridge-config.md`` from the configuration schema: ``python -m mqtt_bridge.config_doc``.

The reference is generated from the same schema that validates a configuration,
so it lists exactly the keys the bridge accepts, with their types, defaults and
examples. ``--check`` compares instead of writing (the tests run it), and exits 1
when the page is out of date.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
import sys
from typing import Any

import voluptuous as vol
import yaml

from .schema import CONFIG_SCHEMA, UNDEFINED, KeyDoc, Nullable

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "bridge-config.md"

MINIMAL = """\
mqtt:
  host: 127.0.0.1
  port: 1883
links:
  - name: meters
    url: tcp://127.0.0.1:5020          # or rtu:///dev/serial/by-id/...?baudrate=9600&parity=E, rtu+tcp://
    devices:
      - name: main meter
        profile: pro380
        unit: 1
"""

INTRO = """\
# Bridge configuration reference

Generated from the bridge's configuration schema (`mqtt_bridge/schema.py`) by
`python -m mqtt_bridge.config_doc`: do not edit by hand.

`powerbus-mqtt --config FILE` reads one YAML file. `powerbus-mqtt --config FILE --check-config`
validates it and prints a summary; an invalid file is refused with every problem and its key path
(`links[0].devices[1].unit: value must be at most 255`), exit code 2. Unknown keys are refused too,
with the closest known key suggested.

The broker password can stay out of the file: `password_env` names an environment variable and
`password_file` a file (a systemd credential, a Docker secret). The password is never logged.

## The smallest configuration

```yaml
{minimal}```

## Every key
"""


def render() -> str:
    """Return the whole reference page."""
    lines = [INTRO.format(minimal=MINIMAL)]
    for path, schema in _sections("", CONFIG_SCHEMA.schema):
        lines.append(f"### `{path or 'top level'}`\n")
        lines.append("| key | type | default | what it does |")
        lines.append("|---|---|---|---|")
        for marker in schema:
            doc: KeyDoc = marker.description
            lines.append(f"| `{marker}` | {doc.kind} | {_default(marker)} | {doc.text} |")
        lines.append("")
    lines.append("## A full example\n")
    lines.append("Every key, with an example value or its default.\n")
    example = yaml.safe_dump(_example(CONFIG_SCHEMA.schema), sort_keys=False, width=100)
    lines.append(f"```yaml\n{example}```\n")
    return "\n".join(lines)


def _sections(path: str, schema: dict[Any, Any]) -> Iterator[tuple[str, dict[Any, Any]]]:
    """Yield every mapping of the schema with its path, parents first."""
    yield path, schema
    for marker, value in schema.items():
        nested = _nested(value)
        if nested is None:
            continue
        is_list, child = nested
        child_path = f"{path}.{marker}" if path else str(marker)
        yield from _sections(f"{child_path}[]" if is_list else child_path, child)


def _nested(value: Any) -> tuple[bool, dict[Any, Any]] | None:
    """Return (is a list, mapping schema) when ``value`` holds a mapping; None for a scalar."""
    if isinstance(value, Nullable):
        return _nested(value.schema)
    if isinstance(value, vol.Schema):
        return _nested(value.schema)
    if isinstance(value, vol.All):
        for validator in value.validators:
            nested = _nested(validator)
            if nested is not None:
                return nested
        return None
    if isinstance(value, dict):
        return False, value
    if isinstance(value, list) and value:
        inner = _nested(value[0])
        return None if inner is None else (True, inner[1])
    return None


def _default(marker: vol.Marker) -> str:
    """Show a key's default as the reference does."""
    if isinstance(marker, vol.Required):
        return "required"
    default = _default_value(marker)
    if default is None or default == {}:
        return "–"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, list):
        return "`[]`" if not default else f"`{default}`"
    return f"`{default}`"


def _default_value(marker: vol.Marker) -> Any:
    """Return an optional key's default value (None when it has none)."""
    default = getattr(marker, "default", UNDEFINED)
    return None if default is UNDEFINED else default()


def _example(schema: dict[Any, Any]) -> dict[str, Any]:
    """Build an example mapping: each key's example, else its default; empty keys left out."""
    example: dict[str, Any] = {}
    for marker, value in schema.items():
        doc: KeyDoc = marker.description
        nested = _nested(value)
        if nested is not None:
            is_list, child = nested
            inner = _example(child)
            example[str(marker)] = [inner] if is_list else inner
            continue
        if doc.example is not None:
            example[str(marker)] = doc.example
        elif _default_value(marker) is not None:
            example[str(marker)] = _default_value(marker)
    return example


def main(argv: list[str] | None = None) -> int:
    """Write the page, or check it (exit 1 when it differs)."""
    parse = argparse.ArgumentParser(description=__doc__)
    parse.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parse.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parse.parse_args(argv)
    page = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != page:
            print(  # noqa: T201
                f"{args.output} is out of date: run python -m mqtt_bridge.config_doc",
                file=sys.stderr,
            )
            return 1
        return 0
    args.output.write_text(page, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
