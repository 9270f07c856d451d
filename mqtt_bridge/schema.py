"""The bridge's configuration schema: one voluptuous schema for validation and for the docs.

Every key is declared once, with :func:`key`, which attaches its documentation
(what it does, its type in words, an example) to the voluptuous marker. The same
object validates a configuration file (``config.py``) and generates
``docs/bridge-config.md`` (``config_doc.py``), so the reference can never fall
behind what the bridge accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import voluptuous as vol

SLUG = r"^[a-z0-9_]+$"
"""Instance and device ids: lower-case letters, digits and underscores (safe in every topic)."""
UNDEFINED: Any = vol.UNDEFINED
MAX_UNIT_ID = 255
LOG_LEVELS = ("debug", "info", "warning", "error")
DISCOVERY_MODES = ("device", "component")
HA_VERSIONS = ("2025.4", "2026.10")
ALL = "all"
NONE = "none"


@dataclass(frozen=True, kw_only=True, slots=True)
class KeyDoc:
    """The documentation of one configuration key."""

    text: str
    kind: str
    """The type in words, as the reference shows it."""
    example: Any = None
    """A value for the generated full example (None: the default, or nothing)."""


def key(
    name: str,
    text: str,
    kind: str,
    *,
    default: Any = UNDEFINED,
    required: bool = False,
    example: Any = None,
) -> vol.Marker:
    """Declare a key with its documentation; required, or optional with ``default``."""
    doc = KeyDoc(text=text, kind=kind, example=example)
    if required:
        return vol.Required(name, description=doc)
    return vol.Optional(name, default=default, description=doc)


def _positive_seconds(minimum: float) -> Any:
    """Accept a number of seconds, at least ``minimum``."""
    return vol.All(vol.Coerce(float), vol.Range(min=minimum))


class Nullable:
    """Accept None (a key left empty) or what the inner schema accepts, with its own errors."""

    def __init__(self, validator: Any) -> None:
        """Wrap ``validator``."""
        self.schema = vol.Schema(validator)

    def __call__(self, value: Any) -> Any:
        """Validate ``value`` unless it is None."""
        return None if value is None else self.schema(value)


def _port() -> Any:
    """Accept a TCP port number."""
    return vol.All(int, vol.Range(min=1, max=65535))


_KEYS_OR_ALL = vol.Any(vol.In([ALL, NONE]), [str])

TLS_SCHEMA = vol.Schema(
    {
        key(
            "ca",
            "CA certificate file (PEM) that signed the broker's certificate; "
            "the system's CAs when not given.",
            "path",
            default=None,
            example="/etc/powerbus/ca.crt",
        ): Nullable(str),
        key(
            "cert",
            "Client certificate file (PEM), for brokers that authenticate clients by certificate.",
            "path",
            default=None,
            example="/etc/powerbus/client.crt",
        ): Nullable(str),
        key(
            "key",
            "Private key of the client certificate (PEM).",
            "path",
            default=None,
            example="/etc/powerbus/client.key",
        ): Nullable(str),
        key(
            "insecure",
            "Accept a broker certificate whose name does not match `host` (never in production).",
            "boolean",
            default=False,
        ): bool,
    }
)

MQTT_SCHEMA = vol.Schema(
    {
        key(
            "host", "Broker host name or address.", "string", required=True, example="192.168.1.2"
        ): vol.All(str, vol.Length(min=1)),
        key("port", "Broker port (8883 is usual with TLS).", "port", default=1883): _port(),
        key(
            "client_id",
            "MQTT client id; `powerbus-mqtt-<instance>` when not given. Two clients with one id "
            "throw each other off the broker.",
            "string",
            default=None,
        ): Nullable(vol.All(str, vol.Length(min=1, max=64))),
        key(
            "username", "User name for the broker.", "string", default=None, example="powerbus"
        ): Nullable(str),
        key(
            "password",
            "Password, written in the file. Prefer `password_env` or `password_file`.",
            "string (secret)",
            default=None,
        ): Nullable(str),
        key(
            "password_env",
            "Name of an environment variable that holds the password.",
            "string",
            default=None,
            example="POWERBUS_MQTT_PASSWORD",
        ): Nullable(vol.All(str, vol.Length(min=1))),
        key(
            "password_file",
            "File whose first line is the password (a systemd credential, a Docker secret).",
            "path",
            default=None,
        ): Nullable(str),
        key(
            "tls",
            "Connect over TLS; an empty mapping (`tls: {}`) uses the system's CAs.",
            "mapping",
            default=None,
            example={"ca": "/etc/powerbus/ca.crt"},
        ): Nullable(TLS_SCHEMA),
        key(
            "keepalive",
            "Seconds between keep-alive pings; the broker declares the bridge gone (and publishes "
            "its last will) after 1.5 times this without a word.",
            "seconds",
            default=60,
        ): vol.All(int, vol.Range(min=5, max=65535)),
        key(
            "qos",
            "QoS of everything the bridge publishes and subscribes to.",
            "0, 1 or 2",
            default=1,
        ): vol.In([0, 1, 2]),
        key(
            "base_topic",
            "First level of every topic; the bridge's own topics are `<base_topic>/<instance>/...`.",
            "topic",
            default="powerbus",
        ): vol.All(str, vol.Match(r"^[^#+]+$"), vol.Length(min=1)),
    }
)

HOMEASSISTANT_SCHEMA = vol.Schema(
    {
        key(
            "discovery",
            "Publish Home Assistant MQTT discovery.",
            "boolean",
            default=True,
        ): bool,
        key(
            "prefix",
            "Home Assistant's discovery prefix.",
            "topic",
            default="homeassistant",
        ): vol.All(str, vol.Match(r"^[^#+]+$"), vol.Length(min=1)),
        key(
            "mode",
            "`device`: one discovery message per device (`<prefix>/device/<id>/config`); "
            "`component`: one per entity (`<prefix>/<platform>/<id>/<key>/config`). "
            "Switching migrates the entities without losing them.",
            "device or component",
            default="device",
        ): vol.In(DISCOVERY_MODES),
        key(
            "status_topic",
            "Where Home Assistant announces itself; `online` there makes the bridge publish "
            "discovery, availability and state again.",
            "topic",
            default="homeassistant/status",
        ): vol.All(str, vol.Length(min=1)),
        key(
            "version",
            "Oldest Home Assistant release that reads the discovery: `2025.4` publishes apparent "
            "and reactive power in VA and var and reactive energy without a device class; "
            "`2026.10` keeps kVA, kvar and the `reactive_energy` class.",
            "2025.4 or 2026.10",
            default="2025.4",
        ): vol.All(vol.Coerce(str), vol.In(HA_VERSIONS)),
    }
)

STATE_SCHEMA = vol.Schema(
    {
        key(
            "refresh",
            "A device's state is published when a value changes, and at least this often "
            "otherwise. Home Assistant's `expire_after` follows from it.",
            "seconds",
            default=60.0,
        ): _positive_seconds(1.0),
        key(
            "point_topics",
            "Also publish every entity's value alone at `<base>/<device>/<key>` (retained), "
            "for subscribers that cannot read JSON.",
            "boolean",
            default=False,
        ): bool,
    }
)

INTERVALS_SCHEMA = vol.Schema(
    {
        key(
            "fast", "Seconds between polls of the fast group.", "seconds", default=2.0
        ): _positive_seconds(0.1),
        key(
            "normal", "Seconds between polls of the normal group.", "seconds", default=10.0
        ): _positive_seconds(0.1),
        key(
            "slow", "Seconds between polls of the slow group.", "seconds", default=60.0
        ): _positive_seconds(0.1),
    }
)

COMMANDS_SCHEMA = vol.Schema(
    {
        key(
            "allow",
            "What may be changed over MQTT: `all`, `none`, or a list of entity and command keys.",
            "all, none or list",
            default=ALL,
            example=["tariff", "set_tariff"],
        ): _KEYS_OR_ALL,
        key(
            "dangerous",
            "Dangerous commands, buttons and switches that may run (a counter reset, UPS "
            "output off, a UPS outlet switch); none unless listed here.",
            "list",
            default=[],
            example=["reset_day_counter"],
        ): [str],
    }
)

DEVICE_SCHEMA = vol.Schema(
    {
        key(
            "name",
            "The device's name (Home Assistant's device name).",
            "string",
            required=True,
            example="main meter",
        ): vol.All(str, vol.Length(min=1)),
        key(
            "id",
            "The device's topic segment; the name in lower case with `_` for anything else "
            "when not given.",
            "lower-case id",
            default=None,
            example="main_meter",
        ): Nullable(vol.Match(SLUG)),
        key(
            "profile",
            "Profile key (`powerbus profiles` lists them), shipped or from `profiles_dir`.",
            "string",
            required=True,
            example="pro380",
        ): str,
        key(
            "unit",
            "Modbus unit id; the profile's default when not given.",
            "0-255",
            default=None,
            example=1,
        ): Nullable(vol.All(int, vol.Range(min=0, max=MAX_UNIT_ID))),
        key(
            "serial",
            "The serial number the device must report; another device answering at this unit "
            "id is then shown unavailable.",
            "string",
            default=None,
        ): Nullable(vol.Coerce(str)),
        key("intervals", "Poll intervals per group.", "mapping", default={}): INTERVALS_SCHEMA,
        key(
            "enable",
            "Entities to read and publish besides the profile's defaults.",
            "list",
            default=[],
            example=["reactive_power_l1"],
        ): [str],
        key(
            "disable",
            "Entities not to read or publish.",
            "list",
            default=[],
        ): [str],
        key("commands", "What may be changed over MQTT.", "mapping", default={}): COMMANDS_SCHEMA,
    }
)

LINK_SCHEMA = vol.Schema(
    {
        key(
            "name", "The link's name, for logs.", "string", required=True, example="meters"
        ): vol.All(str, vol.Length(min=1)),
        key(
            "url",
            "`tcp://HOST:PORT`, `rtu+tcp://HOST:PORT` or "
            "`rtu:///dev/serial/by-id/...?baudrate=9600&parity=E`.",
            "link URL",
            required=True,
            example="rtu:///dev/serial/by-id/usb-FTDI_FT232R-if00-port0?baudrate=9600&parity=E",
        ): str,
        key(
            "devices", "The devices on this link, polled in this order.", "list", required=True
        ): vol.All([DEVICE_SCHEMA], vol.Length(min=1)),
    }
)

CONFIG_SCHEMA = vol.Schema(
    {
        key(
            "instance",
            "This bridge's id: part of every topic, of the client id and of the discovery ids, "
            "so that several bridges share one broker.",
            "lower-case id",
            default="main",
        ): vol.All(vol.Match(SLUG), vol.Length(max=32)),
        key("log_level", "Log level.", "debug, info, warning or error", default="info"): vol.All(
            vol.Lower, vol.In(LOG_LEVELS)
        ),
        key(
            "profiles_dir",
            "A directory of your own profile files (`*.yaml`), validated like the shipped "
            "ones; a variant key may not repeat a shipped one (give your copy a key of its own).",
            "path",
            default=None,
        ): Nullable(str),
        key("mqtt", "The broker.", "mapping", required=True): MQTT_SCHEMA,
        key(
            "homeassistant", "Home Assistant discovery.", "mapping", default={}
        ): HOMEASSISTANT_SCHEMA,
        key("state", "State publishing.", "mapping", default={}): STATE_SCHEMA,
        key("links", "The Modbus links and their devices.", "list", required=True): vol.All(
            [LINK_SCHEMA], vol.Length(min=1)
        ),
    }
)
"""The whole configuration file."""
