"""Read a configuration file into :class:`~.settings.BridgeSettings`, or say exactly what is wrong.

Validation runs in two layers, as the engine's profiles do: the schema
(``schema.py``) checks the shape and type of every key; the semantic pass then
checks what the schema cannot see: that profiles, entity and command keys exist,
that ids are unique, that a link URL parses, that secret files and environment
variables are there. Every problem is reported with its key path
(``links[0].devices[1].unit: ...``), all of them at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
import difflib
import os
from pathlib import Path
import re
from typing import Any

import voluptuous as vol
import yaml

from powerbus import (
    HA_2025_4,
    HA_2026_10,
    ConfigError,
    LinkKind,
    LinkSettings,
    Platform,
    PollIntervals,
    Profile,
    Source,
    catalogue,
    load_profiles,
    parse_link,
)

from .schema import ALL, CONFIG_SCHEMA, NONE, Nullable
from .settings import (
    BridgeSettings,
    CommandPolicy,
    DeviceSettings,
    DiscoverySettings,
    LinkEntry,
    MqttSettings,
    StateSettings,
    TlsSettings,
)
from .topics import RESERVED

VOCABULARIES = {"2025.4": HA_2025_4, "2026.10": HA_2026_10}
OPERABLE = frozenset({Platform.SWITCH, Platform.SELECT, Platform.NUMBER, Platform.BUTTON})
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


class BridgeConfigError(Exception):
    """The configuration is invalid; ``problems`` name each key path and what is wrong."""

    def __init__(self, problems: list[str]) -> None:
        """Keep every problem; the message lists them one per line."""
        self.problems = problems
        super().__init__("\n".join(problems))


def slug(text: str) -> str:
    """Lower-case ``text`` and join its runs of letters and digits with ``_``."""
    return _NOT_SLUG.sub("_", text.lower()).strip("_")


def load_settings(path: Path | str, environ: Mapping[str, str] | None = None) -> BridgeSettings:
    """Read, validate and resolve the configuration file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise BridgeConfigError([f"{path}: cannot read the file: {err.strerror}"]) from err
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise BridgeConfigError([f"{path}: not valid YAML: {err}"]) from err
    return parse_settings(raw, os.environ if environ is None else environ)


def parse_settings(raw: Any, environ: Mapping[str, str]) -> BridgeSettings:
    """Validate already parsed YAML and resolve it into settings."""
    if not isinstance(raw, dict):
        raise BridgeConfigError(["the file must hold a mapping (mqtt:, links:, ...)"])
    try:
        data: dict[str, Any] = CONFIG_SCHEMA(raw)
    except vol.MultipleInvalid as err:
        raise BridgeConfigError([_describe(error) for error in err.errors]) from err
    return _Resolver(data, environ).settings()


class _Resolver:
    """The semantic pass: turns validated data into settings, collecting every problem."""

    def __init__(self, data: dict[str, Any], environ: Mapping[str, str]) -> None:
        self._data = data
        self._environ = environ
        self._problems: list[str] = []

    def settings(self) -> BridgeSettings:
        """Return the settings, or raise with every problem found."""
        data = self._data
        ha = data["homeassistant"]
        vocabulary = VOCABULARIES[ha["version"]]
        profiles = self._profiles(data["profiles_dir"])
        links = tuple(
            self._link(f"links[{index}]", link, profiles)
            for index, link in enumerate(data["links"])
        )
        self._check_unique(links)
        mqtt = self._mqtt(data["mqtt"], data["instance"])
        if self._problems:
            raise BridgeConfigError(self._problems)
        return BridgeSettings(
            instance=data["instance"],
            log_level=data["log_level"],
            mqtt=mqtt,
            discovery=DiscoverySettings(
                enabled=ha["discovery"],
                prefix=ha["prefix"].rstrip("/"),
                per_component=ha["mode"] == "component",
                status_topic=ha["status_topic"],
                vocabulary=vocabulary,
            ),
            state=StateSettings(
                refresh=data["state"]["refresh"], point_topics=data["state"]["point_topics"]
            ),
            links=links,
            raw=data,
        )

    # --- Sections ---------------------------------------------------------------------------
    def _profiles(self, directory: str | None) -> Mapping[str, Profile]:
        """Return the shipped profiles and those in ``directory``, as both front ends load them.

        A file with a problem, or one that reuses a shipped variant key, is a problem of
        the configuration.
        """
        if directory is not None and not Path(directory).is_dir():
            self._problems.append(f"profiles_dir: {directory} is not a directory")
            directory = None
        library = load_profiles(directory)
        self._problems.extend(f"profiles_dir: {error}" for error in library.errors.values())
        return library.profiles

    def _link(self, path: str, data: dict[str, Any], profiles: Mapping[str, Profile]) -> LinkEntry:
        """Resolve one link and its devices."""
        try:
            settings = parse_link(data["url"])
        except ConfigError as err:
            self._problems.append(f"{path}.url: {err}")
            settings = LinkSettings(kind=LinkKind.TCP, host="invalid")
        devices = []
        for index, device in enumerate(data["devices"]):
            resolved = self._device(f"{path}.devices[{index}]", device, profiles)
            if resolved is not None:
                devices.append(resolved)
        return LinkEntry(
            name=data["name"], url=data["url"], settings=settings, devices=tuple(devices)
        )

    def _device(
        self, path: str, data: dict[str, Any], profiles: Mapping[str, Profile]
    ) -> DeviceSettings | None:
        """Resolve one device; None (with a problem noted) when its profile is unknown."""
        profile = profiles.get(data["profile"])
        if profile is None:
            self._problems.append(
                f"{path}.profile: no profile '{data['profile']}'{_suggest(data['profile'], profiles)}"
            )
            return None
        device_id = data["id"] or slug(data["name"])
        if not device_id:
            self._problems.append(f"{path}.name: has no letter or digit; give the device an id")
        elif device_id in RESERVED:
            where = f"{path}.id" if data["id"] else f"{path}.name"
            self._problems.append(
                f"{where}: '{device_id}' is a topic of the bridge itself; choose another id"
            )
        intervals = data["intervals"]
        specs = {spec.key: spec for spec in catalogue(profile)}
        for name in ("enable", "disable"):
            for entity in data[name]:
                if entity not in specs:
                    self._problems.append(
                        f"{path}.{name}: {profile.key} has no entity '{entity}'{_suggest(entity, specs)}"
                    )
        return DeviceSettings(
            name=data["name"],
            id=device_id,
            profile=profile,
            unit=profile.transport.unit_id if data["unit"] is None else data["unit"],
            serial=data["serial"],
            intervals=PollIntervals(
                fast=intervals["fast"], normal=intervals["normal"], slow=intervals["slow"]
            ),
            enable=frozenset(data["enable"]),
            disable=frozenset(data["disable"]),
            commands=self._commands(f"{path}.commands", data["commands"], profile),
        )

    def _commands(self, path: str, data: dict[str, Any], profile: Profile) -> CommandPolicy:
        """Resolve what may be changed: keys must name commands or changeable entities."""
        changeable = {spec.key for spec in catalogue(profile) if spec.platform in OPERABLE}
        commands = {command.key: command for command in profile.commands}
        known = changeable | set(commands)
        dangerous = {command.key: command.dangerous for command in profile.commands} | {
            spec.key: spec.dangerous for spec in catalogue(profile) if spec.source is Source.COMMAND
        }
        allow = data["allow"]
        listed = allow if isinstance(allow, list) else []
        for entry in listed:
            if entry not in known:
                self._problems.append(
                    f"{path}.allow: '{entry}' is neither a command nor a changeable entity of "
                    f"{profile.key}{_suggest(entry, known)}"
                )
        for entry in data["dangerous"]:
            if entry not in dangerous:
                self._problems.append(
                    f"{path}.dangerous: {profile.key} has no command or command switch "
                    f"'{entry}'{_suggest(entry, dangerous)}"
                )
            elif not dangerous[entry]:
                self._problems.append(
                    f"{path}.dangerous: '{entry}' is not dangerous; `allow` governs it"
                )
        return CommandPolicy(
            allow_all=allow == ALL,
            allowed=frozenset(listed) if allow != NONE else frozenset(),
            dangerous=frozenset(data["dangerous"]),
        )

    def _mqtt(self, data: dict[str, Any], instance: str) -> MqttSettings:
        """Resolve the broker settings: the client id, the password and the TLS files."""
        given = [name for name in ("password", "password_env", "password_file") if data[name]]
        if len(given) > 1:
            self._problems.append(f"mqtt: give one of {', '.join(given)}, not several")
        password = data["password"]
        if data["password_env"]:
            password = self._environ.get(data["password_env"])
            if password is None:
                self._problems.append(
                    f"mqtt.password_env: the environment variable {data['password_env']} is not set"
                )
        if data["password_file"]:
            try:
                lines = Path(data["password_file"]).read_text(encoding="utf-8").splitlines()
            except OSError as err:
                self._problems.append(f"mqtt.password_file: cannot read it: {err.strerror}")
            else:
                password = lines[0] if lines else ""
        if password is not None and data["username"] is None:
            self._problems.append("mqtt.username: a password needs a user name")
        tls = None
        if data["tls"] is not None:
            files = {name: data["tls"][name] for name in ("ca", "cert", "key")}
            for name, file in files.items():
                if file is not None and not Path(file).is_file():
                    self._problems.append(f"mqtt.tls.{name}: {file} is not a file")
            if (files["cert"] is None) != (files["key"] is None):
                self._problems.append("mqtt.tls: a client certificate needs both cert and key")
            tls = TlsSettings(
                **{name: None if file is None else Path(file) for name, file in files.items()},
                insecure=data["tls"]["insecure"],
            )
        return MqttSettings(
            host=data["host"],
            port=data["port"],
            client_id=data["client_id"] or f"powerbus-mqtt-{instance}",
            username=data["username"],
            password=password,
            tls=tls,
            keepalive=data["keepalive"],
            qos=data["qos"],
            base_topic=data["base_topic"].strip("/"),
        )

    def _check_unique(self, links: tuple[LinkEntry, ...]) -> None:
        """Refuse two devices with one id, and one physical link configured twice."""
        seen: dict[str, str] = {}
        endpoints: dict[str, str] = {}
        for link_index, link in enumerate(links):
            endpoint = _endpoint(link.settings)
            if endpoint in endpoints:
                self._problems.append(
                    f"links[{link_index}].url: the same link as {endpoints[endpoint]}; "
                    "put all devices of one link in one entry"
                )
            endpoints.setdefault(endpoint, f"links[{link_index}]")
            for device_index, device in enumerate(link.devices):
                path = f"links[{link_index}].devices[{device_index}]"
                if device.id in seen:
                    self._problems.append(
                        f"{path}: the id '{device.id}' is also used by {seen[device.id]}; "
                        "give one of them another name or id"
                    )
                seen.setdefault(device.id, path)


def _endpoint(settings: LinkSettings) -> str:
    """Name the physical endpoint a link reaches, as users would recognise it."""
    if settings.kind is LinkKind.RTU:
        return f"serial:{os.path.realpath(settings.serial_port)}"
    return f"net:{settings.host.lower()}:{settings.port}"


def _describe(error: vol.Invalid) -> str:
    """Describe one schema error with its key path, in plain words."""
    where = _path(error.path)
    message = error.msg
    if message == "extra keys not allowed":
        known = _known_keys(error.path[:-1])
        return f"{where}: unknown key{_suggest(str(error.path[-1]), known)}"
    if message == "required key not provided":
        return f"{where}: required, but missing"
    return f"{where}: {message}"


def _path(parts: list[Any]) -> str:
    """Render a voluptuous path as ``links[0].devices[1].unit``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(top level)"


def _known_keys(path: list[Any]) -> list[str]:
    """Return the keys the schema allows in the mapping at ``path``."""
    schema: Any = CONFIG_SCHEMA.schema
    for part in path:
        schema = _child(schema, part)
        if schema is None:
            return []
    return [str(marker) for marker in schema] if isinstance(schema, dict) else []


def _child(schema: Any, part: Any) -> Any:
    """Step into a mapping or list schema; None where the schema is not walkable."""
    for candidate in _walkable(schema):
        if isinstance(part, int) and isinstance(candidate, list) and candidate:
            return _child_schema(candidate[0])
        if isinstance(candidate, dict):
            for marker, value in candidate.items():
                if str(marker) == part:
                    return _child_schema(value)
    return None


def _walkable(schema: Any) -> Iterator[Any]:
    """Yield the plain dicts and lists inside a (possibly wrapped) schema."""
    if isinstance(schema, vol.Schema | Nullable):
        yield from _walkable(schema.schema)
    elif isinstance(schema, vol.All):
        for validator in schema.validators:
            yield from _walkable(validator)
    elif isinstance(schema, dict | list):
        yield schema


def _child_schema(value: Any) -> Any:
    """Return the first mapping or list schema within ``value``."""
    return next(_walkable(value), None)


def _suggest(word: str, known: Any) -> str:
    """Return ``"; did you mean 'x'?"`` when a known word is close to ``word``."""
    matches = difflib.get_close_matches(word, [str(k) for k in known], n=1)
    return f"; did you mean '{matches[0]}'?" if matches else ""
