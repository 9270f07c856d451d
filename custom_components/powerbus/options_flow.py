"""The options of a link: how often each poll group is read, and expert writes.

Fast values (power, currents, UPS status) are read at least as often as normal ones,
and normal ones at least as often as slow ones (energy totals, settings). Saving the
options reloads the link (its update listener), so the new intervals apply at once.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigFlowResult, OptionsFlow
from homeassistant.helpers import selector
import voluptuous as vol

from .const import (
    CONF_EXPERT_WRITES,
    CONF_FAST_INTERVAL,
    CONF_NORMAL_INTERVAL,
    CONF_SLOW_INTERVAL,
    DEFAULT_FAST_INTERVAL,
    DEFAULT_NORMAL_INTERVAL,
    DEFAULT_SLOW_INTERVAL,
    MAX_INTERVAL,
    MIN_INTERVAL,
)


class PowerbusOptionsFlow(OptionsFlow):
    """How often each poll group is read, and whether raw writes may leave the profiles."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and take the options; fast values are read at least as often as normal, slow ones."""
        errors: dict[str, str] = {}
        if user_input is not None:
            fast, normal, slow = (
                float(user_input[key])
                for key in (CONF_FAST_INTERVAL, CONF_NORMAL_INTERVAL, CONF_SLOW_INTERVAL)
            )
            if normal < fast:
                errors[CONF_NORMAL_INTERVAL] = "interval_order"
            elif slow < normal:
                errors[CONF_SLOW_INTERVAL] = "interval_order"
            else:
                return self.async_create_entry(data=user_input)
        seconds = selector.NumberSelector(
            selector.NumberSelectorConfig(
                min=MIN_INTERVAL,
                max=MAX_INTERVAL,
                step=0.1,
                unit_of_measurement="s",
                mode=selector.NumberSelectorMode.BOX,
            )
        )
        schema = vol.Schema(
            {
                vol.Required(CONF_FAST_INTERVAL, default=DEFAULT_FAST_INTERVAL): seconds,
                vol.Required(CONF_NORMAL_INTERVAL, default=DEFAULT_NORMAL_INTERVAL): seconds,
                vol.Required(CONF_SLOW_INTERVAL, default=DEFAULT_SLOW_INTERVAL): seconds,
                vol.Required(CONF_EXPERT_WRITES, default=False): selector.BooleanSelector(),
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or self.config_entry.options
            ),
            errors=errors,
        )
