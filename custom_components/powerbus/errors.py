"""One mapping from the engine's errors to Home Assistant's, for actions and services.

A request that was refused before anything was sent (a value out of range, a
dangerous action without confirmation, an unknown command, a device that is not the
one configured) is the user's to fix: a translated ``ServiceValidationError``. A
device that does not answer, refuses a request or reports that a command failed is
a translated ``HomeAssistantError``; a link that dropped during an action makes the
link poll again at once, so the entities show it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .const import DOMAIN
from .engine import (
    CommandFailedError,
    ConfigError,
    ConfirmationRequiredError,
    DeviceExceptionError,
    LinkError,
    ModbusError,
    PowerbusError,
    RequestTimeoutError,
    WriteValidationError,
)

if TYPE_CHECKING:
    from .coordinator import PowerbusCoordinator, PowerbusDevice

COMMAND_OUTCOMES: Final = frozenset(
    {
        "invalid_command",
        "invalid_parameters",
        "readback_mismatch",
        "unknown_status",
        "verification_failed",
    }
)
"""The failure outcomes a command can report that have a message of their own
(``command_<outcome>``); any other outcome is told as ``command_failed``."""


def _command_failure_key(outcome: str) -> str:
    """Return the translation key of a command that reported ``outcome``."""
    return f"command_{outcome}" if outcome in COMMAND_OUTCOMES else "command_failed"


@asynccontextmanager
async def action_errors(
    coordinator: PowerbusCoordinator, device: PowerbusDevice
) -> AsyncIterator[None]:
    """Turn engine errors raised inside the block into translated Home Assistant errors."""
    placeholders = {"device": device.subentry.title}
    try:
        yield
    except ConfirmationRequiredError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="confirmation_required",
            translation_placeholders={**placeholders, "error": str(err)},
        ) from err
    except (WriteValidationError, ConfigError) as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_request",
            translation_placeholders={**placeholders, "error": str(err)},
        ) from err
    except CommandFailedError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key=_command_failure_key(err.outcome),
            translation_placeholders={
                **placeholders,
                "command": err.command,
                "outcome": err.outcome,
                "error": str(err),
            },
        ) from err
    except (LinkError, RequestTimeoutError) as err:
        await coordinator.async_request_refresh()
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="no_answer",
            translation_placeholders={**placeholders, "error": str(err)},
        ) from err
    except DeviceExceptionError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="device_refused",
            translation_placeholders={**placeholders, "error": str(err)},
        ) from err
    except (ModbusError, PowerbusError) as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="device_error",
            translation_placeholders={**placeholders, "error": str(err)},
        ) from err
