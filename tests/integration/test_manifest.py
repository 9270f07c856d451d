"""Home Assistant finds, accepts and sets up the integration from its manifest."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
import tomllib

from homeassistant.core import HomeAssistant
from homeassistant.loader import Integration, async_get_integration
from homeassistant.setup import async_setup_component
from packaging.requirements import Requirement
from packaging.version import Version

from custom_components.powerbus import DOMAIN

INTEGRATION_DIR = Path(__file__).parents[2] / "custom_components" / DOMAIN
PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"
# The newest pymodbus release line the project declares support for.
NEWEST_SUPPORTED_PYMODBUS = Version("3.16.1")


async def _powerbus(hass: HomeAssistant) -> Integration:
    """Load the integration the way Home Assistant does when a user configures it."""
    return await async_get_integration(hass, DOMAIN)


def _pymodbus_requirement(integration: Integration) -> Requirement:
    """Return the manifest's pymodbus requirement."""
    requirements = [Requirement(text) for text in integration.requirements]
    matching = [r for r in requirements if r.name == "pymodbus"]
    assert len(matching) == 1, integration.requirements
    return matching[0]


async def test_loader_finds_the_custom_integration(hass: HomeAssistant) -> None:
    """Home Assistant loads 'powerbus' from this repository's custom_components folder."""
    integration = await _powerbus(hass)

    assert not integration.is_built_in
    assert integration.file_path.resolve() == INTEGRATION_DIR.resolve()
    assert integration.name == "Powerbus"
    assert str(integration.version) == "0.1.0"


async def test_manifest_has_the_keys_home_assistant_and_hacs_expect(hass: HomeAssistant) -> None:
    """The manifest describes a locally polled hub with an owner, docs and an issue tracker."""
    manifest = (await _powerbus(hass)).manifest

    assert manifest["iot_class"] == "local_polling"
    assert manifest["integration_type"] == "hub"
    assert manifest["codeowners"]
    assert all(owner.startswith("@") for owner in manifest["codeowners"])
    assert manifest["documentation"].startswith("https://")
    assert manifest["issue_tracker"].startswith("https://")
    assert "pymodbus" in manifest["loggers"]
    assert "custom_components.powerbus" in manifest["loggers"]


async def test_requirements_are_ranges_not_pins(hass: HomeAssistant) -> None:
    """No requirement is pinned: HA refuses a pymodbus pin that differs from its own."""
    integration = await _powerbus(hass)

    assert integration.requirements
    for text in integration.requirements:
        operators = {spec.operator for spec in Requirement(text).specifier}
        assert operators, f"{text} has no version range"
        assert not operators & {"==", "==="}, f"{text} is pinned"


async def test_pymodbus_range_admits_home_assistants_pin_and_the_newest_release(
    hass: HomeAssistant,
) -> None:
    """The pymodbus range covers HA's own pin, the installed version and the newest release."""
    specifier = _pymodbus_requirement(await _powerbus(hass)).specifier
    modbus = await async_get_integration(hass, "modbus")
    home_assistant_pin = _pymodbus_requirement(modbus)

    assert [spec.operator for spec in home_assistant_pin.specifier] == ["=="]
    assert specifier.contains(next(iter(home_assistant_pin.specifier)).version)
    assert specifier.contains(metadata.version("pymodbus"))
    assert specifier.contains(NEWEST_SUPPORTED_PYMODBUS)


async def test_manifest_requirement_matches_the_package_dependency(hass: HomeAssistant) -> None:
    """HA installs the same pymodbus range that pip installs for the package."""
    manifest_requirement = _pymodbus_requirement(await _powerbus(hass))
    with PYPROJECT.open("rb") as handle:
        dependencies = tomllib.load(handle)["project"]["dependencies"]
    package_requirements = [
        Requirement(text) for text in dependencies if Requirement(text).name == "pymodbus"
    ]

    assert [str(r) for r in package_requirements] == [str(manifest_requirement)]


async def test_setup_component_succeeds(hass: HomeAssistant) -> None:
    """Setting up the integration without YAML configuration succeeds."""
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()

    assert DOMAIN in hass.config.components
