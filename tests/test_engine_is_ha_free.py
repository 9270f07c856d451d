"""The engine stays free of Home Assistant and paho, and pymodbus stays behind the adapter.

The CLI and the MQTT bridge import the engine where Home Assistant is not installed, and the
integration must keep working across the pymodbus versions Home Assistant pins. Both promises
break quietly (an import that only fails on a user's machine), so they are checked here in
every test environment.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
import importlib.util
import json
import os
from pathlib import Path
import subprocess
import sys

import pytest

import powerbus as engine_package

ENGINE_DIR = Path(engine_package.__file__).parent
INTEGRATION_DIR = ENGINE_DIR.parent
REPO_ROOT = INTEGRATION_DIR.parent.parent
ADAPTER_DIR = ENGINE_DIR / "adapter"
FORBIDDEN_IN_ENGINE = ("homeassistant", "paho")

# Imports every engine module with an import hook that refuses the forbidden packages, and
# prints (as JSON) the modules it imported and the forbidden ones found loaded afterwards.
_GUARDED_IMPORT_SCRIPT = """
import importlib, json, pkgutil, sys

FORBIDDEN = {forbidden!r}

class RefuseForbidden:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in FORBIDDEN:
            raise ImportError(f"the engine imported {{name}}")
        return None

sys.meta_path.insert(0, RefuseForbidden())
package = importlib.import_module("powerbus")
imported = [package.__name__]

def fail(name):
    raise sys.exc_info()[1]

for module in pkgutil.walk_packages(package.__path__, package.__name__ + ".", onerror=fail):
    importlib.import_module(module.name)
    imported.append(module.name)

loaded = sorted(m for m in sys.modules if m.partition(".")[0] in FORBIDDEN)
print(json.dumps({{"imported": imported, "forbidden_loaded": loaded}}))
"""


def _engine_module_names() -> set[str]:
    """Name every module of the engine package from its source files."""
    names = set()
    for source in ENGINE_DIR.rglob("*.py"):
        parts = ("powerbus", *source.relative_to(ENGINE_DIR).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.add(".".join(parts))
    return names


def _imported_modules(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """Yield each absolute module name the source imports, with its line number.

    Covers import statements anywhere (functions and TYPE_CHECKING blocks included) and calls
    of ``importlib.import_module`` or ``__import__`` with a literal name.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
        ):
            yield node.args[0].value, node.lineno


def _imports_of(sources: list[Path], packages: tuple[str, ...]) -> list[str]:
    """List ``file:line module`` for every import of one of ``packages`` in ``sources``."""
    found = []
    for source in sources:
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
        for module, line in _imported_modules(tree):
            if module.partition(".")[0] in packages:
                found.append(f"{source.relative_to(REPO_ROOT)}:{line} {module}")
    return found


def _project_sources() -> list[Path]:
    """Return every Python source file of the integration and the MQTT bridge."""
    sources = list(INTEGRATION_DIR.rglob("*.py"))
    sources += (REPO_ROOT / "mqtt_bridge").rglob("*.py")
    return sorted(sources)


def test_every_engine_module_imports_without_home_assistant_or_paho() -> None:
    """Importing each engine module, in a fresh interpreter, never pulls in HA or paho."""
    script = _GUARDED_IMPORT_SCRIPT.format(forbidden=FORBIDDEN_IN_ENGINE)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["forbidden_loaded"] == []
    assert set(report["imported"]) == _engine_module_names()


def test_import_guard_catches_a_forbidden_import(tmp_path: Path) -> None:
    """The guard used above really refuses Home Assistant and paho imports."""
    shadow = tmp_path / "powerbus"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("", encoding="utf-8")
    (shadow / "leaky.py").write_text("import paho.mqtt.client\n", encoding="utf-8")
    script = _GUARDED_IMPORT_SCRIPT.format(forbidden=FORBIDDEN_IN_ENGINE)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "the engine imported paho" in result.stderr


def test_engine_source_has_no_home_assistant_or_paho_import() -> None:
    """No engine module imports HA or paho, not even inside a function or TYPE_CHECKING."""
    sources = sorted(ENGINE_DIR.rglob("*.py"))
    assert sources
    assert _imports_of(sources, FORBIDDEN_IN_ENGINE) == []


def test_only_the_adapter_imports_pymodbus() -> None:
    """Every pymodbus import sits inside ``engine/adapter/``."""
    outside_adapter = [
        source for source in _project_sources() if not source.is_relative_to(ADAPTER_DIR)
    ]
    assert ENGINE_DIR / "models.py" in outside_adapter
    assert _imports_of(outside_adapter, ("pymodbus",)) == []


def test_engine_environment_has_no_home_assistant() -> None:
    """Where the engine is tested on its own, Home Assistant cannot be imported at all.

    scripts/test.sh sets POWERBUS_EXPECT_NO_HOMEASSISTANT=1 for the engine environment, where a
    stray Home Assistant would hide exactly the import errors users of the CLI would get.
    """
    if os.environ.get("POWERBUS_EXPECT_NO_HOMEASSISTANT") != "1":
        pytest.skip("this environment is allowed to contain Home Assistant")
    assert importlib.util.find_spec("homeassistant") is None
