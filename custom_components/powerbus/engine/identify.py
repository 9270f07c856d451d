"""Recognise devices: run profiles' detection rules against one unit id, and read who it is.

A profile's rules (``models.DetectRule``) are reads with what the device must answer
(data, an exception, a value in a set or a range, its own unit id), unit ids, and
groups of rules. How they recognise a device:

* A family whose file gives ``detect`` rules of its own is recognised when all of
  them hold. Its candidates are then the variants whose own rules all hold; when
  none does, the variants with the fewest rules that fail: the family is known,
  the variant is not, and every variant that fits as well as any other is
  reported (a variant without rules of its own fits every device of its family).
* In a family without rules of its own, a variant is recognised when all its own
  rules hold (a variant without rules is then never recognised).

Every read is sent once per unit, however many rules ask it (:class:`Fingerprint`
keeps its outcome). Once the device has answered a read, a read it leaves
unanswered, or that a gateway reports it cannot deliver (exception 0x0A or 0x0B),
satisfies neither "answer" nor "exception"; silence before any answer means there is
no device. A lost link always propagates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .bus import Bus
from .errors import DecodeError, DeviceExceptionError, RequestTimeoutError
from .models import (
    AllOf,
    AnyOf,
    BusLimits,
    DetectRule,
    Probe,
    ProbeExpectation,
    Profile,
    Table,
    UnitIds,
    Value,
)
from .poller import Poller

_REGISTER_BITS = 16
_REGISTER_MASK = 0xFFFF


@dataclass(frozen=True, kw_only=True, slots=True)
class Identity:
    """A device found on a link.

    ``profile`` is the variant to read it with; ``candidates`` every variant it may
    be, ``profile`` first (one when the variant could be told).
    """

    unit: int
    profile: Profile
    serial: str | None
    firmware: str | None
    candidates: tuple[Profile, ...] = ()

    @property
    def family(self) -> str:
        """The family of the device's profile."""
        return self.profile.family

    @property
    def variant_known(self) -> bool:
        """Whether detection told the variant (only one candidate fits)."""
        return len(self.candidates) <= 1


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the device did with one read: its values, the exception code it refused with, or neither."""

    values: tuple[int, ...] | None = None
    exception: int | None = None


@dataclass(slots=True)
class Fingerprint:
    """What one unit answered to each read sent to it; each read is sent once."""

    bus: Bus
    unit: int
    outcomes: dict[tuple[Table, int, int], Outcome] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        """Whether the unit answered any read, with data or with an exception."""
        return any(o.values is not None or o.exception is not None for o in self.outcomes.values())

    def describe(self) -> str:
        """Say in a few words what the unit answered."""
        answers = sum(1 for o in self.outcomes.values() if o.values is not None)
        codes = sorted({o.exception for o in self.outcomes.values() if o.exception is not None})
        refusals = ", ".join(
            f"0x{code:02X} ({DeviceExceptionError.NAMES.get(code, 'unknown exception')})"
            for code in codes
        )
        if not answers:
            return f"answers every read with exception {refusals}" if codes else "no answer"
        reads = f"{answers} of {len(self.outcomes)} reads answered"
        return f"{reads}, the others refused with {refusals}" if codes else reads

    async def read(
        self,
        table: Table,
        address: int,
        count: int,
        limits: BusLimits,
        *,
        retries: int | None = None,
        reopen_after_timeout: bool = True,
    ) -> Outcome:
        """Send the read unless it was sent before; return what the unit did with it.

        ``retries`` and ``reopen_after_timeout`` are handed to :meth:`Bus.read`. Until
        the unit has answered a read, silence (a timeout, or a gateway that cannot
        reach it) is raised: a silent unit is not tried read after read.
        """
        key = (table, address, count)
        known = self.outcomes.get(key)
        if known is not None:
            return known
        try:
            answer = await self.bus.read(
                self.unit,
                table,
                address,
                count,
                limits,
                retries=retries,
                reopen_after_timeout=reopen_after_timeout,
            )
            outcome = Outcome(values=tuple(int(value) for value in answer))
        except DeviceExceptionError as err:
            if err.is_gateway_path and not self.answered:
                raise
            outcome = Outcome() if err.is_gateway_path else Outcome(exception=err.code)
        except RequestTimeoutError:
            if not self.answered:
                raise
            outcome = Outcome()
        except DecodeError:
            outcome = Outcome()
        self.outcomes[key] = outcome
        return outcome

    async def holds(self, rule: DetectRule, limits: BusLimits) -> bool:
        """Whether ``rule`` holds for this unit (probes read with ``limits``)."""
        if isinstance(rule, UnitIds):
            return self.unit in rule.units
        if isinstance(rule, AnyOf):
            for member in rule.rules:
                if await self.holds(member, limits):
                    return True
            return False
        if isinstance(rule, AllOf):
            return await self.all_hold(rule.rules, limits)
        outcome = await self.read(rule.table, rule.address, rule.count, limits)
        return _judge(rule, outcome, self.unit)

    async def all_hold(self, rules: Iterable[DetectRule], limits: BusLimits) -> bool:
        """Whether every rule holds (stopping at the first that does not)."""
        for rule in rules:
            if not await self.holds(rule, limits):
                return False
        return True

    async def count_failing(self, rules: Sequence[DetectRule], limits: BusLimits) -> int:
        """Count the rules that do not hold (every one is tried)."""
        return sum([not await self.holds(rule, limits) for rule in rules])


def _judge(probe: Probe, outcome: Outcome, unit: int) -> bool:
    """Whether ``outcome`` is what ``probe`` expects of the device at ``unit``."""
    if probe.expect is ProbeExpectation.EXCEPTION:
        return outcome.exception is not None
    if outcome.values is None:
        return False
    if probe.expect is ProbeExpectation.ANSWER:
        return True
    if probe.expect is ProbeExpectation.VALUES:
        return outcome.values == probe.values
    value = 0
    for word in outcome.values:
        value = (value << _REGISTER_BITS) | (word & _REGISTER_MASK)
    if probe.expect is ProbeExpectation.ONE_OF:
        return value in probe.values
    if probe.expect is ProbeExpectation.RANGE:
        return probe.minimum <= value <= probe.maximum
    return value == unit + probe.offset


async def candidates_of(
    fingerprint: Fingerprint, profiles: Iterable[Profile]
) -> tuple[Profile, ...]:
    """Return every profile among ``profiles`` that fits the unit, by the rules in the module notes."""
    families: dict[str, list[Profile]] = {}
    for profile in profiles:
        families.setdefault(profile.family, []).append(profile)
    found: list[Profile] = []
    for variants in families.values():
        family_rules = variants[0].family_detect
        if not family_rules:
            found.extend(
                [v for v in variants if v.detect and await fingerprint.all_hold(v.detect, v.limits)]
            )
            continue
        if not await fingerprint.all_hold(family_rules, variants[0].limits):
            continue
        failing = [await fingerprint.count_failing(v.detect, v.limits) for v in variants]
        fewest = min(failing)
        found.extend(v for v, fails in zip(variants, failing, strict=True) if fails == fewest)
    return tuple(found)


async def recognise(bus: Bus, unit: int, candidates: Iterable[Profile]) -> tuple[Profile, ...]:
    """Return the profiles among ``candidates`` that fit the device at ``unit``, best first.

    An empty tuple means the device answered but fits none. A device that leaves
    its first read unanswered is not recognised as anything: the timeout (or the
    gateway's exception) propagates, as does a lost link.
    """
    return await candidates_of(Fingerprint(bus, unit), candidates)


async def detect_profile(bus: Bus, unit: int, candidates: Iterable[Profile]) -> Profile | None:
    """Return the first of ``candidates`` that fits the device at ``unit``, or None.

    A device that answers nothing propagates its timeout: silence is not an identification.
    """
    found = await recognise(bus, unit, candidates)
    return found[0] if found else None


async def identify(
    bus: Bus, unit: int, profile: Profile, candidates: Sequence[Profile] = ()
) -> Identity:
    """Read serial number and firmware of a device read with ``profile``.

    ``candidates`` are the variants detection found it may be (``profile`` alone
    when not given).
    """
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
        candidates=tuple(candidates) or (profile,),
    )
