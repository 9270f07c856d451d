"""Build the switches of a family file, checking each against the variant that offers it.

A switch turns something on with one command call and off with another, and may
name a point that reads its state. While it is built for a variant, both calls must
name commands of that variant and their parameters must pass the very check a
command's parameters pass before it runs (``command_params.validate_params``); the state
point must be a bool point of the variant; and the switch's key may not be a key of
the variant's points or commands, whose entities would share its unique id. Every
mistake is noted in the file's :class:`ProblemLog`, naming the switch and the field.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Any

from .command_params import validate_params
from .errors import ProblemLog, WriteValidationError
from .models import CallValue, Command, CommandCall, Confidence, DataType, Point, Switch


class SwitchBuilder:
    """Turns the validated switch mappings of one family file into switches."""

    def __init__(self, log: ProblemLog, refused: Collection[str]) -> None:
        """Note problems in ``log``; a reference to a key in ``refused`` was already reported."""
        self.log = log
        self.refused = refused

    def build(
        self, raw: dict[str, Any], points: Mapping[str, Point], commands: Mapping[str, Command]
    ) -> Switch | None:
        """Build one switch for a variant with these points and commands; None if it is wrong."""
        key = raw["key"]
        found = self.log.reported
        for kind, taken in (("point", points), ("command", commands)):
            if key in taken:
                self.log.add(
                    f"a {kind} of the variant has the same key; their entities would share a "
                    "unique id",
                    switch=key,
                    field="key",
                )
        turn_on = self._call(key, "turn_on", raw["turn_on"], commands)
        turn_off = self._call(key, "turn_off", raw["turn_off"], commands)
        state = raw.get("state")
        if state is not None:
            self._check_state(key, state, points)
        if turn_on is None or turn_off is None or self.log.reported > found:
            return None
        return Switch(
            key=key,
            name=raw["name"],
            turn_on=turn_on,
            turn_off=turn_off,
            state=state,
            device_class=raw.get("device_class"),
            confidence=raw.get("confidence", Confidence.CONFIRMED),
            source=raw.get("source"),
        )

    def _call(
        self, switch: str, side: str, raw: dict[str, Any], commands: Mapping[str, Command]
    ) -> CommandCall | None:
        """Build the call at ``side`` (turn_on or turn_off); None (its problem noted) if it is wrong."""
        command = commands.get(raw["command"])
        if command is None:
            if raw["command"] not in self.refused:
                self.log.add(
                    f"names no command of the variant: '{raw['command']}'",
                    switch=switch,
                    field=f"{side}.command",
                )
            return None
        try:
            params = validate_params(command, raw["params"])
        except WriteValidationError as err:
            self.log.add(str(err), switch=switch, field=f"{side}.params")
            return None
        frozen: dict[str, CallValue] = {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in params.items()
        }
        return CommandCall(command=command.key, params=MappingProxyType(frozen))

    def _check_state(self, switch: str, key: str, points: Mapping[str, Point]) -> None:
        """Check that the state point is a bool point (or one bit) of the variant."""
        point = points.get(key)
        if point is None:
            if key not in self.refused:
                self.log.add(
                    f"names no point of the variant: '{key}'", switch=switch, field="state"
                )
        elif point.data_type is not DataType.BOOL and point.bit is None:
            self.log.add(
                f"point '{key}' reads a {point.data_type.value}, not on or off",
                switch=switch,
                field="state",
            )
