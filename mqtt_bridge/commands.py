"""Changes and commands from MQTT, validated by the engine and answered on a response topic.

Two kinds of request arrive:

- ``<base>/<device>/<entity>/set``: switch a switch (``ON``/``OFF``), pick a select
  option, set a number, press a button (any payload). The entity's change goes
  through the engine's :func:`~powerbus.operate`, exactly as the Home Assistant
  integration's entities do.
- ``<base>/<device>/command``: a profile command as JSON,
  ``{"command": "set_tariff", "params": {"tariff": "t2"}, "id": 7}``, checked by
  :meth:`~powerbus.DeviceSession.check_command` and run by ``run_command``.

What the configuration does not allow is refused, and so is every dangerous
command it does not list. Retained requests are refused too: the broker would
hand them out again at every reconnect (and an empty message, the deletion of
a retained one, is ignored). Every request gets one answer on
``<base>/<device>/response`` (not retained): ``ok`` with the result, or the
reason it was refused (``not_allowed``, ``invalid``, ``failed``, ``device_error``,
``unknown``, ``retained``) and the engine's message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import json
import logging
from typing import Any

from powerbus import (
    CommandFailedError,
    CommandResult,
    EntitySpec,
    ModbusError,
    Platform,
    PowerbusError,
    Reading,
    Value,
    WriteValidationError,
    operate,
)

from .client import Message, MqttClient
from .devices import BridgeDevice
from .topics import Topics

_LOGGER = logging.getLogger(__name__)

CHANGEABLE = frozenset({Platform.SWITCH, Platform.SELECT, Platform.NUMBER, Platform.BUTTON})
_TRUE = frozenset({"on", "true", "1"})
_FALSE = frozenset({"off", "false", "0"})


class Refused(Exception):
    """A request the bridge does not carry out; ``reason`` is a short key for programs."""

    def __init__(self, reason: str, message: str) -> None:
        """Keep the reason key and the explanation."""
        self.reason = reason
        super().__init__(message)


class CommandHandler:
    """Carries out changes and commands that arrive over MQTT, one task per request."""

    def __init__(
        self,
        client: MqttClient,
        topics: Topics,
        devices: Mapping[str, BridgeDevice],
        *,
        changed: Callable[[BridgeDevice], None],
    ) -> None:
        """Answer through ``client``; ``changed`` publishes a device's state after a change."""
        self._client = client
        self._topics = topics
        self._devices = devices
        self._changed = changed
        self._tasks: set[asyncio.Task[None]] = set()

    def subscribe(self) -> None:
        """Listen to every device's set and command topics."""
        self._client.subscribe(self._topics.set_filter)
        self._client.subscribe(self._topics.command_filter)

    def handle(self, message: Message) -> bool:
        """Start carrying out a request; False when the message is not a request."""
        request = self._topics.parse_request(message.topic)
        if request is None:
            return False
        if not message.payload:
            # How a retained message is deleted; never a request (it would press a button).
            return True
        task = asyncio.get_running_loop().create_task(self._run(message, *request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def stop(self) -> None:
        """Cancel requests still running (at shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, message: Message, device_id: str, entity: str | None) -> None:
        """Carry out one request and answer it."""
        answer: dict[str, Any] = {"request": message.topic}
        device = self._devices.get(device_id)
        try:
            _check_request(message, device, device_id)
            assert device is not None  # checked above
            if entity is None:
                answer.update(await self._command(device, message.payload, answer))
            else:
                answer.update(await self._set(device, entity, message.payload, answer))
        except Refused as err:
            answer.update(ok=False, error=err.reason, message=str(err))
        except WriteValidationError as err:
            answer.update(ok=False, error="invalid", message=str(err))
        except CommandFailedError as err:
            answer.update(ok=False, error="failed", outcome=err.outcome, message=str(err))
        except ModbusError as err:
            answer.update(ok=False, error="device_error", message=str(err))
        except PowerbusError as err:
            answer.update(ok=False, error="error", message=str(err))
        if answer["ok"]:
            _LOGGER.info("%s: done %s", device_id, _summary(answer))
            if device is not None:
                self._changed(device)
        else:
            _LOGGER.warning("%s: refused %s: %s", device_id, _summary(answer), answer["message"])
        self._client.publish(self._topics.response(device_id), json.dumps(answer, default=str))

    async def _set(
        self, device: BridgeDevice, key: str, payload: bytes, answer: dict[str, Any]
    ) -> dict[str, Any]:
        """Change one entity through the engine."""
        answer["entity"] = key
        spec = device.entity(key)
        if spec is None:
            raise Refused("unknown", f"{device.settings.name} publishes no entity '{key}'")
        if spec.platform not in CHANGEABLE:
            raise Refused("invalid", f"{key} is a {spec.platform.value} and cannot be changed")
        if not device.settings.commands.permits(key, dangerous=spec.dangerous):
            raise Refused("not_allowed", _not_allowed(key, dangerous=spec.dangerous))
        value = _value_for(spec, payload)
        if spec.platform is not Platform.BUTTON:
            answer["value"] = value
        return {"ok": True, **_result(await operate(device.session, spec, value))}

    async def _command(
        self, device: BridgeDevice, payload: bytes, answer: dict[str, Any]
    ) -> dict[str, Any]:
        """Run a profile command through the engine."""
        try:
            request = json.loads(payload)
        except ValueError:
            raise Refused("invalid", "the payload must be a JSON object") from None
        if not isinstance(request, dict) or not isinstance(request.get("command"), str):
            raise Refused("invalid", 'the payload must be {"command": KEY, "params": {...}}')
        key = request["command"]
        params = request.get("params") or {}
        answer.update(command=key, id=request.get("id"))
        if not isinstance(params, dict):
            raise Refused("invalid", "params must be a JSON object")
        command = device.session.check_command(key, params, confirm=True)
        if not device.settings.commands.permits(key, dangerous=command.dangerous):
            raise Refused("not_allowed", _not_allowed(key, dangerous=command.dangerous))
        result = await device.session.run_command(key, params, confirm=command.dangerous)
        return {"ok": True, **_result(result)}


def _check_request(message: Message, device: BridgeDevice | None, device_id: str) -> None:
    """Refuse a retained request, and one for a device this bridge does not have."""
    if message.retain:
        raise Refused("retained", "a retained request is ignored; publish it not retained")
    if device is None:
        raise Refused("unknown", f"this bridge has no device '{device_id}'")


def _value_for(spec: EntitySpec, payload: bytes) -> Value | None:
    """Read the value a set message asks for, as the entity's platform takes it."""
    text = payload.decode(errors="replace").strip()
    if spec.platform is Platform.BUTTON:
        return None
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = text
    if spec.platform is Platform.SWITCH:
        word = str(parsed).lower()
        if isinstance(parsed, bool) or word in _TRUE | _FALSE:
            return parsed if isinstance(parsed, bool) else word in _TRUE
        raise Refused("invalid", f"{spec.key}: a switch takes ON or OFF, not {text!r}")
    if spec.platform is Platform.SELECT:
        return str(parsed) if isinstance(parsed, str | int | float) else text
    if isinstance(parsed, bool) or not isinstance(parsed, int | float):
        raise Refused("invalid", f"{spec.key}: {text!r} is not a number")
    return parsed


def _result(outcome: Reading | CommandResult) -> dict[str, Any]:
    """Describe what a change or command did."""
    if isinstance(outcome, Reading):
        return {"result": {"value": outcome.value}}
    return {
        "result": {
            "outcome": outcome.outcome,
            "writes": outcome.writes,
            "seconds": round(outcome.duration, 3),
            "readback": dict(outcome.readback),
        }
    }


def _not_allowed(key: str, *, dangerous: bool) -> str:
    """Explain which configuration key would allow ``key``."""
    if dangerous:
        return f"{key} is dangerous; list it under the device's commands.dangerous to allow it"
    return f"{key} is not in the device's commands.allow"


def _summary(answer: Mapping[str, Any]) -> str:
    """Describe a request in a few words for the log."""
    if "entity" in answer:
        value = answer.get("value")
        return f"{answer['entity']}" + ("" if value is None else f" = {value!r}")
    if "command" in answer:
        return f"command {answer['command']}"
    return str(answer["request"])
