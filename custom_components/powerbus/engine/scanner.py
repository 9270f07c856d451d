"""Scan a line: find the unit ids that answer, quickly, then recognise what answered.

Most unit ids on a line have no device, and a silent unit costs its whole timeout.
So a scan goes in two phases:

1. **Probing.** Every unit id gets one read (holding register 0), tried once, with
   a short timeout (``probe_timeout``; by default :func:`probe_timeout` of the link:
   on a serial line the probe's own line time and a short allowance for the device
   to think, on TCP a fixed tenth of a second). Any answer
   counts, an exception included: a device that refuses the read is there. A gateway
   that reports the unit unreachable (exception 0x0A or 0x0B) means no device. A
   silent unit does not reopen the link, as a timeout otherwise does: the next read
   goes to another unit, and the transport takes no other unit's answer for its own,
   while reopening costs a pause (a serial port settles, and some pymodbus releases
   wait after connecting). A client that drops a TCP connection after several
   silent requests is reconnected, and the scan goes on.
2. **Identifying.** Each unit that answered is recognised with the profiles'
   detection rules (``identify.py``), at each profile's own timeout, and its serial
   number and firmware are read. A unit that no profile fits is reported as
   answering but not recognised, with what it answered.

A device slower than the probe timeout is missed: raise ``probe_timeout`` for a
slow device or a gateway that waits for its serial line. Progress is reported after
every unit of either phase, with an estimate of the time left.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
import time

from .bus import Bus
from .errors import DeviceExceptionError, LinkError, ModbusError, RequestTimeoutError
from .identify import Fingerprint, Identity, candidates_of, identify
from .link import LinkSettings
from .models import BusLimits, Profile, Table

TCP_PROBE_TIMEOUT = 0.1
"""Seconds a unit behind a TCP link has to answer the probe."""
TURNAROUND_ALLOWANCE = 0.06
"""Seconds a device on a serial line may take to start answering, beyond the line time."""
_PROBE = (Table.HOLDING_REGISTER, 0, 1)
"""The read every unit id is probed with: any device answers it with data or an exception."""
_PROBE_CHARACTERS = 8 + 7
"""RTU characters of the probe and of its longest answer (one register)."""


def probe_timeout(settings: LinkSettings) -> float:
    """Return the seconds a unit has to answer the probe on the link ``settings`` describe.

    On a serial line: the probe and its answer on the line, their frame silences and
    :data:`TURNAROUND_ALLOWANCE` (at 9600 Bd 0.025 + 0.06 s; at 1200 Bd 0.2 + 0.06 s).
    """
    if not settings.kind.is_rtu:
        return TCP_PROBE_TIMEOUT
    line_time = _PROBE_CHARACTERS * settings.character_time + 2 * settings.frame_silence
    return line_time + TURNAROUND_ALLOWANCE


class ScanPhase(StrEnum):
    """The two phases of a scan."""

    PROBING = "probing"
    IDENTIFYING = "identifying"


@dataclass(frozen=True, kw_only=True, slots=True)
class ScanProgress:
    """How far a scan has come: reported after every unit of either phase."""

    phase: ScanPhase
    probed: int
    """Unit ids probed so far."""
    units: int
    """Unit ids the scan probes in all."""
    answered: int
    """Unit ids that answered the probe so far."""
    identified: int
    """Answering units recognised (or found unrecognisable) so far."""
    elapsed: float
    """Seconds since the scan started."""

    @property
    def fraction(self) -> float:
        """The part of the scan done, from 0 to 1; it never goes back."""
        total = self.units + self.answered
        return (self.probed + self.identified) / total if total else 1.0

    @property
    def seconds_left(self) -> float | None:
        """A rough estimate of the seconds left, at the pace so far; None before any step."""
        done = self.fraction
        if done <= 0:
            return None
        return self.elapsed / done * (1.0 - done)


ProgressCallback = Callable[[ScanProgress], None]


@dataclass(frozen=True, kw_only=True, slots=True)
class Unrecognised:
    """A unit that answers, but that no profile fits."""

    unit: int
    answers: str
    """What it answered, in a few words."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ScanResult:
    """What a scan found; iterating over it gives the recognised devices."""

    found: tuple[Identity, ...]
    unrecognised: tuple[Unrecognised, ...]
    units: int
    """Unit ids probed."""
    seconds: float
    """How long the scan took."""

    def __iter__(self) -> Iterator[Identity]:
        """Iterate over the recognised devices, by unit id."""
        return iter(self.found)

    def __len__(self) -> int:
        """Count the recognised devices."""
        return len(self.found)


async def scan(
    bus: Bus,
    units: Sequence[int],
    candidates: Sequence[Profile],
    progress: ProgressCallback | None = None,
    *,
    timeout: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ScanResult:
    """Probe every unit id in ``units``, then recognise the units that answered.

    ``timeout`` is the probe timeout (:func:`probe_timeout` of the bus's link unless
    given). A link that cannot be opened (or is lost) ends the scan with LinkError.
    """
    started = clock()
    limits = BusLimits(timeout=timeout or probe_timeout(bus.settings))
    answering: list[Fingerprint] = []

    def report(phase: ScanPhase, probed: int, identified: int) -> None:
        if progress is not None:
            progress(
                ScanProgress(
                    phase=phase,
                    probed=probed,
                    units=len(units),
                    answered=len(answering),
                    identified=identified,
                    elapsed=clock() - started,
                )
            )

    for probed, unit in enumerate(units, start=1):
        fingerprint = Fingerprint(bus, unit)
        try:
            await fingerprint.read(*_PROBE, limits, retries=0, reopen_after_timeout=False)
        except (RequestTimeoutError, DeviceExceptionError):
            pass  # silence, or a gateway that cannot reach the unit: no device there
        except LinkError:
            await bus.open()  # dropped after silent units: reconnect, or end the scan
        if fingerprint.answered:
            answering.append(fingerprint)
        report(ScanPhase.PROBING, probed, 0)
    found: list[Identity] = []
    unrecognised: list[Unrecognised] = []
    for identified, fingerprint in enumerate(answering, start=1):
        fitting = await _fitting(fingerprint, candidates)
        if fitting:
            found.append(await identify(bus, fingerprint.unit, fitting[0], fitting))
        else:
            unrecognised.append(Unrecognised(unit=fingerprint.unit, answers=fingerprint.describe()))
        report(ScanPhase.IDENTIFYING, len(units), identified)
    return ScanResult(
        found=tuple(found),
        unrecognised=tuple(unrecognised),
        units=len(units),
        seconds=clock() - started,
    )


async def _fitting(fingerprint: Fingerprint, candidates: Sequence[Profile]) -> tuple[Profile, ...]:
    """Return the candidates that fit an answering unit; none when it stops answering mid-way."""
    try:
        return await candidates_of(fingerprint, candidates)
    except LinkError:
        raise
    except ModbusError:
        return ()
