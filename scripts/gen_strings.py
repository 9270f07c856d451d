"""Write the integration's entity names and states, and its English translation file.

``custom_components/powerbus/strings.json`` is written by hand, except its ``entity``
section: the names and enum states of every entity of every shipped profile, which
come from the engine's catalogue (one name per key, a test keeps profiles to that).
``translations/en.json`` is ``strings.json`` with Home Assistant's common phrases
(``[%key:common::...%]``) written out, since Home Assistant resolves those only for
its own integrations.

Run ``python scripts/gen_strings.py`` after changing a profile's names or options;
``--check`` fails (exit 1) when either file is out of date.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import re
import sys
from typing import Any

from powerbus import builtin_profiles, catalogue

INTEGRATION = Path(__file__).resolve().parents[1] / "custom_components" / "powerbus"
STRINGS = INTEGRATION / "strings.json"
ENGLISH = INTEGRATION / "translations" / "en.json"
COMMON = {
    "common::config_flow::data::host": "Host",
    "common::config_flow::data::port": "Port",
    "common::config_flow::error::cannot_connect": "Failed to connect",
    "common::config_flow::abort::reconfigure_successful": "Re-configuration was successful",
}
_REFERENCE = re.compile(r"\[%key:([a-z0-9_:]+)%\]")


def entity_strings() -> dict[str, dict[str, dict[str, Any]]]:
    """Return the names and states of every entity of every shipped profile, by platform."""
    section: dict[str, dict[str, dict[str, Any]]] = {}
    for profile in builtin_profiles().values():
        for spec in catalogue(profile):
            entry = section.setdefault(spec.platform.value, {}).setdefault(
                spec.translation_key, {"name": spec.name}
            )
            if spec.options:
                states = entry.setdefault("state", {})
                for option in spec.options:
                    states.setdefault(option, _label(option))
    return {
        platform: {key: _sorted(entry) for key, entry in sorted(entries.items())}
        for platform, entries in sorted(section.items())
    }


def _label(option: str) -> str:
    """Return the English label of an option key: ``fully_charged`` is "Fully charged"."""
    words = option.replace("_", " ")
    return words[:1].upper() + words[1:]


def _sorted(entry: dict[str, Any]) -> dict[str, Any]:
    """Return an entity's strings with its states in a stable order."""
    if "state" in entry:
        entry = {**entry, "state": dict(sorted(entry["state"].items()))}
    return entry


def resolved(value: Any) -> Any:
    """Write out Home Assistant's common phrases in every string of ``value``."""
    if isinstance(value, dict):
        return {key: resolved(item) for key, item in value.items()}
    if isinstance(value, str):
        return _REFERENCE.sub(lambda match: COMMON[match.group(1)], value)
    return value


def render() -> tuple[str, str]:
    """Return the contents of strings.json and translations/en.json."""
    strings = json.loads(STRINGS.read_text(encoding="utf-8"))
    strings["entity"] = entity_strings()
    dumped = json.dumps(strings, indent=2, ensure_ascii=False) + "\n"
    english = json.dumps(resolved(strings), indent=2, ensure_ascii=False) + "\n"
    return dumped, english


def main() -> int:
    """Write (or check) both files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args()
    strings, english = render()
    if args.check:
        stale = [
            str(path)
            for path, text in ((STRINGS, strings), (ENGLISH, english))
            if not path.exists() or path.read_text(encoding="utf-8") != text
        ]
        if stale:
            print(f"out of date: {', '.join(stale)}; run python scripts/gen_strings.py")
            return 1
        return 0
    STRINGS.write_text(strings, encoding="utf-8")
    ENGLISH.parent.mkdir(exist_ok=True)
    ENGLISH.write_text(english, encoding="utf-8")
    print(f"wrote {STRINGS} and {ENGLISH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
