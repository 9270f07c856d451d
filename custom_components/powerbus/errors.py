"""One mapping from the engine's errors to Home Assistant's, for actions and services.

A request that was refused before anything was sent (a value out of range, a
dangerous action without confirmation, an unknown command) is the user's to fix: a
translated ``ServiceValidationError``. A device that does not answer, or answers
that the command failed, is a translated ``HomeAssistantError``; a link that dropped
during an action makes the link poll again at once, so the entities show it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .const import DOMAIN
from .engine import (
    CommandFailedError,
    ConfigError,
    ConfirmationRequiredError,
    LinkError,
    ModbusError,
    PowerbusError,
    RequestTimeoutError,
    WriteValidationError,
)

if TYPE_CHECKING:
    from .coordinator import PowerbusCoordinator, PowerbusDevice


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
            translation_key="command_failed",
            translation_placeholders={**placeholders, "error": str(err)},
        ) from err
    except (LinkError, RequestTimeoutError) as err:
        await coordinator.async_request_refresh()
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="no_answer",
            translation_placeholders={**placeholders, "error": str(err)},
        ) from err
    except (ModbusError, PowerbusError) as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="device_error",
            translation_placeholders={**placeholders, "error": str(err)},
        ) from err
