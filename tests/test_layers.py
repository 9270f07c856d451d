"""The engine's layers only ever import downwards.

Each runtime module has a layer (README, "Architecture"). A module may import modules
of its own layer or below, never above: the models know no I/O, the planner and the
codecs stay pure, the wire knows nothing of profiles' meaning or of entities, and no
runtime module imports the command-line tool or the simulators.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import powerbus

pytestmark = pytest.mark.hardware_free

ENGINE_DIR = Path(powerbus.__file__).parent

LAYERS: dict[str, int] = {
    # data
    "errors": 0,
    "models": 0,
    # pure: decoding, planning, words
    "codecs": 1,
    "ups": 1,
    "planner": 1,
    "vocabulary": 1,
    "entity_spec": 1,
    "link": 1,
    "uid": 1,
    "snapshot": 1,
    "turns": 1,
    "transport": 1,
    "refusals": 1,
    "profile_schema": 1,
    "profile_addresses": 1,
    "command_params": 1,
    "profile_commands": 1,
    "profile_switches": 1,
    "profile_detect": 1,
    "profile_builder": 1,
    "profile_reader": 1,
    "profile": 1,
    "poll_clock": 1,
    "counter_guard": 1,
    "adapter.frames": 1,
    # the wire
    "adapter.exchange": 2,
    "adapter.client": 2,
    "bus": 2,
    "registry": 2,
    # devices
    "poller": 3,
    "commands": 3,
    "identify": 3,
    "scanner": 3,
    "energy_transfer": 3,
    "device_actions": 3,
    "session": 3,
    "scheduler": 3,
    # entities
    "ups_entities": 4,
    "catalogue": 4,
    "entity_state": 4,
    # the public face
    "": 5,
}
"""Runtime modules and their layers (the package itself is the top)."""
TOOLS = ("cli", "simulator", "__main__")


def _module_name(source: Path) -> str:
    """Return the dotted name of an engine source file below the package ("" for the package)."""
    parts = source.relative_to(ENGINE_DIR).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _engine_imports(source: Path) -> Iterator[tuple[str, int]]:
    """Yield the engine modules a source imports (relative imports), with line numbers."""
    name = [part for part in _module_name(source).split(".") if part]
    package = name if source.name == "__init__.py" else name[:-1]
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package[: len(package) - (node.level - 1)]
            if node.module:
                yield ".".join([*base, node.module]), node.lineno
            else:
                for alias in node.names:
                    yield ".".join([*base, alias.name]), node.lineno


def _layer(module: str) -> int | None:
    """Return the layer of an engine module; None for a tool (cli, simulator)."""
    if module.split(".", maxsplit=1)[0] in TOOLS:
        return None
    return LAYERS.get(module, LAYERS.get(module.rsplit(".", 1)[0]))


def test_every_runtime_module_has_a_layer() -> None:
    """A new module must be placed in a layer before it can be imported anywhere."""
    runtime = {
        _module_name(source)
        for source in ENGINE_DIR.rglob("*.py")
        if _module_name(source).split(".")[0] not in TOOLS
    }
    assert runtime - set(LAYERS) <= {"adapter", "profiles"}


def test_runtime_modules_import_only_their_layer_or_below() -> None:
    """No runtime module imports a higher layer, a tool, or the package's public face."""
    wrong = []
    for source in sorted(ENGINE_DIR.rglob("*.py")):
        module = _module_name(source)
        own = _layer(module)
        if own is None or module in ("adapter", "profiles"):
            continue
        for imported, line in _engine_imports(source):
            target = _layer(imported)
            if target is None or target > own or (imported == "" and module != ""):
                wrong.append(f"{module}:{line} imports {imported or 'the package'}")
    assert wrong == []


def test_relative_imports_are_resolved_from_the_module_s_package() -> None:
    """The scan reads ``..errors`` in ``adapter/client.py`` as ``errors``, not as itself."""
    imported = {name for name, _ in _engine_imports(ENGINE_DIR / "adapter" / "client.py")}
    assert {"errors", "link", "models"} <= imported
    assert {name for name, _ in _engine_imports(ENGINE_DIR / "ups_entities.py")} >= {"ups"}
