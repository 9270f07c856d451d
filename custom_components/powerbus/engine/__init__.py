"""Powerbus: Modbus power equipment (energy meters, UPS units, gateways) as entities.

This package is the engine both front ends stand on: the Home Assistant
integration (which ships it as ``custom_components.powerbus.engine``) and the MQTT
bridge (which imports it as ``powerbus``). It never imports Home Assistant or an
MQTT client; pymodbus is used only inside ``adapter/`` (and by the simulators).

The names below are its public face: front ends import nothing else. A typical
front end does::

    registry = LinkRegistry()
    bus = registry.acquire(parse_link("tcp://192.168.1.10:502"))
    session = DeviceSession(bus, get_profile("pro380"), 1, intervals=PollIntervals(fast=2))
    scheduler = Scheduler([session])
    entities = catalogue(session.profile)
    await scheduler.run(on_poll)   # on_poll(session, snapshot): entity_states(...)
"""

from __future__ import annotations

from .bus import Bus, DeviceStats, RetryPolicy
from .catalogue import catalogue
from .commands import CommandResult
from .energy_transfer import EnergyTransferResult
from .entity_spec import EntitySpec, Platform, Source
from .entity_state import EntityState, entity_states, operate
from .errors import (
    CommandFailedError,
    ConfigError,
    ConfirmationRequiredError,
    DecodeError,
    DeviceExceptionError,
    LinkError,
    ModbusError,
    PowerbusError,
    ProfileError,
    ProfileProblem,
    RequestTimeoutError,
    WriteValidationError,
)
from .identify import Identity, detect_profile, recognise
from .link import LinkKind, LinkSettings, parse_link
from .models import (
    Command,
    CommandCall,
    DataType,
    EntityCategory,
    ParamKind,
    ParamSpec,
    Point,
    PointState,
    PollGroup,
    Profile,
    Reading,
    StateClass,
    Switch,
    Table,
    Value,
)
from .profile import ProfileLibrary, builtin_profiles, get_profile, load_profile_file, load_profiles
from .registry import LinkConflictError, LinkRegistry, link_key
from .scanner import ScanPhase, ScanProgress, ScanResult, Unrecognised, scan
from .scheduler import DeviceTiming, Scheduler
from .session import DeviceSession
from .snapshot import DeviceIdentity, DeviceSnapshot, GroupTiming, PollIntervals
from .transport import TrafficCallback, Transport, TransportFactory
from .uid import device_uid, entity_unique_id, link_id
from .ups import UpsStatus, derive_status
from .ups_entities import UpsState
from .vocabulary import HA_2025_4, HA_2026_10, Vocabulary

__all__ = [
    "HA_2025_4",
    "HA_2026_10",
    "Bus",
    "Command",
    "CommandCall",
    "CommandFailedError",
    "CommandResult",
    "ConfigError",
    "ConfirmationRequiredError",
    "DataType",
    "DecodeError",
    "DeviceExceptionError",
    "DeviceIdentity",
    "DeviceSession",
    "DeviceSnapshot",
    "DeviceStats",
    "DeviceTiming",
    "EnergyTransferResult",
    "EntityCategory",
    "EntitySpec",
    "EntityState",
    "GroupTiming",
    "Identity",
    "LinkConflictError",
    "LinkError",
    "LinkKind",
    "LinkRegistry",
    "LinkSettings",
    "ModbusError",
    "ParamKind",
    "ParamSpec",
    "Platform",
    "Point",
    "PointState",
    "PollGroup",
    "PollIntervals",
    "PowerbusError",
    "Profile",
    "ProfileError",
    "ProfileLibrary",
    "ProfileProblem",
    "Reading",
    "RequestTimeoutError",
    "RetryPolicy",
    "ScanPhase",
    "ScanProgress",
    "ScanResult",
    "Scheduler",
    "Source",
    "StateClass",
    "Switch",
    "Table",
    "TrafficCallback",
    "Transport",
    "TransportFactory",
    "Unrecognised",
    "UpsState",
    "UpsStatus",
    "Value",
    "Vocabulary",
    "WriteValidationError",
    "builtin_profiles",
    "catalogue",
    "derive_status",
    "detect_profile",
    "device_uid",
    "entity_states",
    "entity_unique_id",
    "get_profile",
    "link_id",
    "link_key",
    "load_profile_file",
    "load_profiles",
    "operate",
    "parse_link",
    "recognise",
    "scan",
]
