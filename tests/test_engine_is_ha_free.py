"""The engine stays free of Home Assistant and paho; its runtime stays free of the CLI and simulator.

The CLI and the MQTT bridge import the engine where Home Assistant is not installed, and the
integration must keep working across the pymodbus versions Home Assistant pins: pymodbus is
imported only by ``adapter/`` (the client the engine runs) and ``simulator/`` (the server for
tests and demonstrations). The integration and the bridge run the engine without the simulator
or the CLI, so no runtime module may import them. These promises break quietly (an import that
only fails on a user's machine), so they are checked here in every test environment.
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
SIMULATOR_DIR = ENGINE_DIR / "simulator"
CLI_DIR = ENGINE_DIR / "cli"
PYMODBUS_DOORS = (ADAPTER_DIR, SIMULATOR_DIR)
# The front ends of the engine that its runtime must not depend on; ``__main__`` is the CLI's
# ``python -m powerbus`` entry point and belongs to the CLI.
NOT_RUNTIME = ("powerbus.cli", "powerbus.simulator")
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
    return {_module_name(source) for source in ENGINE_DIR.rglob("*.py")}


def _module_name(source: Path, engine_dir: Path = ENGINE_DIR) -> str:
    """Return the dotted engine module name of a source file (``powerbus.adapter.client``)."""
    parts = ("powerbus", *source.relative_to(engine_dir).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imported_modules(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """Yield each absolute module name the source imports, with its line number.

    Covers import statements anywhere (functions and TYPE_CHECKING blocks included) and calls
    of ``importlib.import_module`` or ``__import__`` with a literal name.
    """
    for node in ast.walk(tree):
        yield from _absolute_imports(node)


def _absolute_imports(node: ast.AST) -> Iterator[tuple[str, int]]:
    """Yield the absolute module names one syntax node imports (none for most nodes)."""
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


def test_only_the_adapter_and_the_simulator_import_pymodbus() -> None:
    """Every pymodbus import sits inside ``engine/adapter/`` or ``engine/simulator/``."""
    elsewhere = [
        source
        for source in _project_sources()
        if not any(source.is_relative_to(door) for door in PYMODBUS_DOORS)
    ]
    assert ENGINE_DIR / "models.py" in elsewhere
    assert _imports_of(elsewhere, ("pymodbus",)) == []


def _engine_imports(source: Path, engine_dir: Path) -> Iterator[tuple[str, int]]:
    """Yield each module a source file of the engine imports, relative imports resolved.

    ``from ..simulator import server`` in ``adapter/x.py`` yields ``powerbus.simulator.server``;
    an absolute import under the shipped path ``custom_components.powerbus.engine`` yields the
    installed ``powerbus.`` name. Each name comes with its line number.
    """
    name = _module_name(source, engine_dir)
    package = name.split(".") if source.name == "__init__.py" else name.split(".")[:-1]
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = ".".join(package[: len(package) - node.level + 1])
            target = f"{base}.{node.module}" if node.module else base
            for alias in node.names:
                yield f"{target}.{alias.name}", node.lineno
            continue
        for module, line in _absolute_imports(node):
            yield module.replace("custom_components.powerbus.engine", "powerbus", 1), line


def _front_end_imports(sources: list[Path], engine_dir: Path = ENGINE_DIR) -> list[str]:
    """List ``file:line module`` for every import of the CLI or the simulator in ``sources``."""
    found = []
    for source in sources:
        for module, line in _engine_imports(source, engine_dir):
            if any(module == front or module.startswith(f"{front}.") for front in NOT_RUNTIME):
                found.append(f"{source.relative_to(engine_dir)}:{line} {module}")
    return found


def _runtime_sources() -> list[Path]:
    """Every engine source file that the integration and the bridge may run."""
    return sorted(
        source
        for source in ENGINE_DIR.rglob("*.py")
        if not source.is_relative_to(CLI_DIR)
        and not source.is_relative_to(SIMULATOR_DIR)
        and source != ENGINE_DIR / "__main__.py"
    )


def test_runtime_engine_never_imports_the_cli_or_the_simulator() -> None:
    """No engine module outside ``cli/`` and ``simulator/`` imports either of them."""
    sources = _runtime_sources()
    assert ENGINE_DIR / "bus.py" in sources
    assert ADAPTER_DIR / "client.py" in sources
    assert _front_end_imports(sources) == []


# What a simulated device may take from the engine: its errors, the profile models that say which
# points exist, and the codecs that turn values into words. Behaviour (codes, register numbers,
# scale rules) it states itself, from the vendors' documents.
SIMULATOR_MAY_IMPORT = ("powerbus.errors", "powerbus.models", "powerbus.codecs")


def test_simulators_take_no_behaviour_from_the_engine() -> None:
    """Simulator modules import nothing of the engine but errors, models and codecs."""
    sources = sorted(SIMULATOR_DIR.rglob("*.py"))
    borrowed = [
        f"{source.relative_to(ENGINE_DIR)}:{line} {module}"
        for source in sources
        for module, line in _engine_imports(source, ENGINE_DIR)
        if module.startswith("powerbus.")
        and not any(
            module == allowed or module.startswith(f"{allowed}.")
            for allowed in (*SIMULATOR_MAY_IMPORT, "powerbus.simulator")
        )
    ]
    assert SIMULATOR_DIR / "powerlogic.py" in sources
    assert borrowed == []


@pytest.mark.parametrize(
    ("where", "source_text"),
    [
        ("adapter/leaky.py", "from ..simulator.device import SimulatedDevice\n"),
        ("leaky.py", "from .simulator import faults\n"),
        ("leaky.py", "from . import cli\n"),
        ("adapter/__init__.py", "from .. import simulator\n"),
        ("leaky.py", "import powerbus.simulator.server\n"),
        ("leaky.py", "from custom_components.powerbus.engine.cli import main\n"),
        ("leaky.py", "def later():\n    from .cli.serve import run\n"),
        ("leaky.py", "importlib.import_module('powerbus.simulator.behaviours')\n"),
    ],
)
def test_front_end_scan_catches_every_import_form(
    tmp_path: Path, where: str, source_text: str
) -> None:
    """Relative, absolute, dynamic and function-level imports of a front end are each found once."""
    source = tmp_path / "powerbus" / where
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(source_text, encoding="utf-8")

    assert len(_front_end_imports([source], tmp_path / "powerbus")) == 1


def test_front_end_scan_leaves_lookalike_names_alone(tmp_path: Path) -> None:
    """Runtime modules named like a front end (``client``, ``simulation``) are not flagged."""
    source = tmp_path / "powerbus" / "adapter" / "fine.py"
    source.parent.mkdir(parents=True)
    source.write_text(
        "from .client import PymodbusTransport\nfrom ..simulation import x\nimport pymodbus\n",
        encoding="utf-8",
    )

    assert _front_end_imports([source], tmp_path / "powerbus") == []


def test_engine_environment_has_no_home_assistant() -> None:
    """Where the engine is tested on its own, Home Assistant cannot be imported at all.

    scripts/test.sh sets POWERBUS_EXPECT_NO_HOMEASSISTANT=1 for the engine environment, where a
    stray Home Assistant would hide exactly the import errors users of the CLI would get.
    """
    if os.environ.get("POWERBUS_EXPECT_NO_HOMEASSISTANT") != "1":
        pytest.skip("this environment is allowed to contain Home Assistant")
    assert importlib.util.find_spec("homeassistant") is None
