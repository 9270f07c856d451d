"""quality_scale.yaml follows core's format: every rule of every tier, exemptions explained."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.hardware_free

FILE = Path(__file__).parents[1] / "custom_components" / "powerbus" / "quality_scale.yaml"
# The rule ids of hassfest's ALL_RULES (Home Assistant 2026.11), Bronze to Platinum.
RULES = frozenset(
    [
        "action-setup",
        "appropriate-polling",
        "brands",
        "common-modules",
        "config-flow",
        "config-flow-test-coverage",
        "dependency-transparency",
        "docs-actions",
        "docs-conditions",
        "docs-high-level-description",
        "docs-installation-instructions",
        "docs-removal-instructions",
        "docs-triggers",
        "entity-event-setup",
        "entity-unique-id",
        "has-entity-name",
        "runtime-data",
        "test-before-configure",
        "test-before-setup",
        "unique-config-entry",
        "action-exceptions",
        "config-entry-unloading",
        "docs-configuration-parameters",
        "docs-installation-parameters",
        "entity-unavailable",
        "integration-owner",
        "log-when-unavailable",
        "parallel-updates",
        "reauthentication-flow",
        "test-coverage",
        "devices",
        "diagnostics",
        "discovery",
        "discovery-update-info",
        "docs-data-update",
        "docs-examples",
        "docs-known-limitations",
        "docs-supported-devices",
        "docs-supported-functions",
        "docs-troubleshooting",
        "docs-use-cases",
        "dynamic-devices",
        "entity-category",
        "entity-device-class",
        "entity-disabled-by-default",
        "entity-translations",
        "exception-translations",
        "icon-translations",
        "reconfiguration-flow",
        "repair-issues",
        "stale-devices",
        "async-dependency",
        "inject-websession",
        "strict-typing",
    ]
)


def test_every_rule_is_assessed_once_and_every_exemption_says_why() -> None:
    """No rule missing or unknown; an exemption or a todo carries its comment."""
    rules = yaml.safe_load(FILE.read_text(encoding="utf-8"))["rules"]
    assert set(rules) == RULES
    for rule, verdict in rules.items():
        status = verdict if isinstance(verdict, str) else verdict["status"]
        assert status in ("done", "todo", "exempt"), rule
        if status != "done":
            assert isinstance(verdict, dict) and verdict.get("comment"), rule
