"""Recognise devices: run a profile's probes, and scan unit ids on a link."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .bus import Bus
from .errors import DeviceExceptionError, LinkError, ModbusError
from .models import Probe, ProbeExpectation, Profile, Value
from .poller import Poller

ProgressCallback = Callable[[int, int, int], None]


@dataclass(frozen=True, kw_only=True, slots=True)
class Identity:
    """A device found on a link."""

    unit: int
    profile: Profile
    serial: str | None
    firmware: str | None


async def probe_matches(bus: Bus, unit: int, profile: Profile, probe: Probe) -> bool:
    """Whether the device at ``unit`` answers ``probe`` the way ``profile`` expects."""
    try:
        values = await bus.read(unit, probe.table, probe.address, probe.count, profile.limits)
    except DeviceExceptionError as err:
        return probe.expect is ProbeExpectation.EXCEPTION and not err.is_gateway_path
    if probe.expect is ProbeExpectation.VALUES:
        return tuple(int(v) for v in values) == probe.values
    return probe.expect is ProbeExpectation.ANSWER


async def detect_profile(bus: Bus, unit: int, candidates: Iterable[Profile]) -> Profile | None:
    """Return the first candidate whose probes all match, or None.

    A timeout or a lost link propagates: silence is not an identification.
    """
    for profile in candidates:
        if not profile.detect:
            continue
        for probe in profile.detect:
            if not await probe_matches(bus, unit, profile, probe):
                break
        else:
            return profile
    return None


async def identify(bus: Bus, unit: int, profile: Profile) -> Identity:
    """Read serial number and firmware of a device whose profile is known."""
    keys = [k for k in (profile.serial_point, profile.firmware_point) if k is not None]
    poller = Poller(bus, profile, unit)
    result = await poller.poll(keys=keys) if keys else None

    def text(key: str | None) -> str | None:
        value: Value | None = result.value(key) if result is not None and key is not None else None
        return None if value is None else str(value)

    return Identity(
        unit=unit,
        profile=profile,
        serial=text(profile.serial_point),
        firmware=text(profile.firmware_point),
    )


async def scan(
    bus: Bus,
    units: Sequence[int],
    candidates: Sequence[Profile],
    progress: ProgressCallback | None = None,
) -> list[Identity]:
    """Probe every unit id in ``units`` and identify what answers.

    ``progress(done, total, found)`` is called after each unit. A unit that does
    not answer is skipped; a link that cannot be opened ends the scan with LinkError.
    """
    found: list[Identity] = []
    for done, unit in enumerate(units, start=1):
        try:
            profile = await detect_profile(bus, unit, candidates)
            if profile is not None:
                found.append(await identify(bus, unit, profile))
        except LinkError:
            raise
        except ModbusError:
            pass
        if progress is not None:
            progress(done, len(units), len(found))
    return found
