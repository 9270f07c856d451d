"""Fixtures for the tests that run the integration inside Home Assistant.

These tests need pytest-homeassistant-custom-component, which only the Home Assistant test
environment has; elsewhere the whole folder is skipped.
"""

from __future__ import annotations

import pytest

pytest.importorskip(
    "pytest_homeassistant_custom_component",
    reason="needs Home Assistant and pytest-homeassistant-custom-component",
)

# Importing the integration here puts this repository's custom_components package in
# sys.modules before Home Assistant's loader looks for it; otherwise the loader finds the
# near-empty custom_components package that pytest-homeassistant-custom-component ships.
import custom_components.powerbus  # noqa: E402, F401


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load integrations from custom_components in every test."""
