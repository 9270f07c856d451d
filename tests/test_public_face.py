"""Front ends reach the engine only through its public face, ``powerbus.__all__``.

The MQTT bridge imports ``powerbus``; the integration's own modules import the engine
relatively, as ``.engine``. Either may import only names the package lists in
``__all__``: a deep import (``powerbus.bus``, ``.engine.session``) would tie a front end
to the engine's inside, which then could not change without breaking it.

One exception: the bridge's demonstration (``mqtt_bridge/demo.py``) starts simulated
devices, which are a tool beside the engine, not part of it; it may import
``powerbus.simulator`` and nothing else past the face.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import powerbus

pytestmark = pytest.mark.hardware_free

REPO_ROOT = Path(__file__).parents[1]
INTEGRATION_DIR = REPO_ROOT / "custom_components" / "powerbus"
ENGINE_DIR = INTEGRATION_DIR / "engine"
BRIDGE_DIR = REPO_ROOT / "mqtt_bridge"
PUBLIC = frozenset(powerbus.__all__)


def _violations(
    source: str, *, relative_engine: bool, tools: tuple[str, ...] = ()
) -> Iterator[str]:
    """Yield each import in ``source`` that reaches past the engine's public face.

    ``relative_engine``: the module sits in the integration, where the engine is ``.engine``;
    ``tools``: engine packages beside the runtime that the module may import.
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.partition(".")[0] == "powerbus" and alias.name != "powerbus":
                    yield f"line {node.lineno}: import {alias.name}"
                if alias.name.startswith("custom_components.powerbus.engine"):
                    yield f"line {node.lineno}: import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 0 and module.startswith(tools):
                continue
            if node.level == 0:
                engine = module in {"powerbus", "custom_components.powerbus.engine"}
                inside = module.startswith(("powerbus.", "custom_components.powerbus.engine."))
            else:
                engine = relative_engine and node.level == 1 and module == "engine"
                inside = relative_engine and node.level == 1 and module.startswith("engine.")
            if inside:
                yield f"line {node.lineno}: from {'.' * node.level}{module} import ..."
            elif engine:
                for alias in node.names:
                    if alias.name not in PUBLIC:
                        yield f"line {node.lineno}: {alias.name} is not in powerbus.__all__"


DEMO_TOOLS = ("powerbus.simulator",)


def _front_end_sources() -> Iterator[tuple[Path, bool, tuple[str, ...]]]:
    """Every Python module of the integration (outside the engine) and of the bridge."""
    for source in sorted(INTEGRATION_DIR.rglob("*.py")):
        if not source.is_relative_to(ENGINE_DIR):
            yield source, True, ()
    for source in sorted(BRIDGE_DIR.rglob("*.py")):
        yield source, False, DEMO_TOOLS if source.name == "demo.py" else ()


def test_every_public_name_exists() -> None:
    """Each name in ``__all__`` is importable from the package, and listed once."""
    assert len(powerbus.__all__) == len(PUBLIC)
    missing = [name for name in powerbus.__all__ if not hasattr(powerbus, name)]
    assert missing == []


def test_front_ends_import_only_the_public_face() -> None:
    """No module of the integration or the bridge imports an engine module directly."""
    found = [
        f"{source.relative_to(REPO_ROOT)} {violation}"
        for source, in_integration, tools in _front_end_sources()
        for violation in _violations(
            source.read_text(encoding="utf-8"), relative_engine=in_integration, tools=tools
        )
    ]
    assert found == []


@pytest.mark.parametrize(
    ("source", "relative_engine"),
    [
        ("from powerbus.bus import Bus\n", False),
        ("import powerbus.session\n", False),
        ("from powerbus import Poller\n", False),
        ("from .engine.session import DeviceSession\n", True),
        ("from .engine import Poller\n", True),
        ("from custom_components.powerbus.engine import Poller\n", True),
        ("from custom_components.powerbus.engine.bus import Bus\n", False),
    ],
)
def test_the_check_catches_a_deep_import(source: str, relative_engine: bool) -> None:
    """The scan above flags every way of reaching past the face."""
    assert list(_violations(source, relative_engine=relative_engine))


@pytest.mark.parametrize(
    ("source", "relative_engine"),
    [
        ("from powerbus import DeviceSession, catalogue\n", False),
        ("import powerbus\n", False),
        ("from .engine import DeviceSession\n", True),
        ("from .const import DOMAIN\n", True),
    ],
)
def test_the_check_lets_the_face_through(source: str, relative_engine: bool) -> None:
    """Imports through the face (and the integration's own modules) pass."""
    assert list(_violations(source, relative_engine=relative_engine)) == []


def test_only_the_demo_may_start_simulators() -> None:
    """The simulator exemption holds for the demo and nowhere else."""
    source = "from powerbus.simulator.server import Simulator\n"
    assert list(_violations(source, relative_engine=False))
    assert list(_violations(source, relative_engine=False, tools=DEMO_TOOLS)) == []
