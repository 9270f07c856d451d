"""Home Assistant core's modbus integration and Powerbus side by side on a PRO380: ``python bench/ha_core_modbus.py``.

Runs in the Home Assistant environment (``.venvs/ha/bin/python bench/ha_core_modbus.py``).
A simulated PRO380 is served over Modbus TCP by a child process
(``ha_counting_server.py``) that counts every request and its bytes at the server.
The same PRO380 values are read, in a Home Assistant core of their own each, by:

- **core, one sensor per value**: core's ``modbus`` integration configured in YAML with a
  sensor for every value, as a user writes it (data type, unit, device and state class,
  precision; no ``virtual_count``);
- **core, virtual_count runs, right units**: the fewest requests core reaches while every
  entity keeps its unit and classes: values at consecutive registers with the same data
  type, scale, unit, device class and state class share one sensor with
  ``virtual_count`` (core reads a sensor and its virtual sensors in one request);
- **core, virtual_count runs, one type**: the fewest requests core reaches at all: runs
  of consecutive values of one data type, whatever their units (the virtual sensors then
  carry the first value's unit and classes, which is wrong for some);
- **Powerbus**: the integration with the entities for the same values enabled, polled
  through its coordinator (its block planner).

Two sets of values: the 29 Powerbus enables by default, and all 88 of the profile. Every
configuration runs ``--cycles`` cycles in which each value is read once: core's sensors
all run the update their own timers run (their ``scan_interval`` is set out of the way),
Powerbus's coordinator refreshes after each device was asked for a full poll. For each
cycle: requests and bytes counted at the server, the RTU line time the same requests
would take at 9600 Bd (``wiretime.py``: RTU frames are the TCP frames less the 7-byte
MBAP header plus unit id and CRC, with the PRO380's 20 ms spacing after every answer),
and the CPU time of the event loop's thread from the start of the cycle until Home
Assistant has nothing left to do.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
import statistics
from typing import Any

from ha_harness import (
    HOST,
    CountingServer,
    Request,
    Sample,
    counting_server,
    hold_timer,
    home_assistant,
    measure,
    milliseconds,
    poll_everything_next,
    run_description,
    run_end,
    set_up_powerbus,
)
from homeassistant.components.modbus.sensor import ModbusRegisterSensor
from homeassistant.components.sensor.const import DEVICE_CLASS_UNITS
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import async_get_platforms
from homeassistant.setup import async_setup_component
from wiretime import Traffic, traffic_time

from powerbus import DataType, Point, Table, get_profile

PROFILE = "pro380"
UNIT = 1
BAUD = 9600
CORE_SERIAL_WAIT = 0.030
"""Core's pause after each request on a serial hub (``message_wait_milliseconds``' default)."""
OUT_OF_THE_WAY = 3600
"""The core sensors' ``scan_interval``: their timers never fire during a run."""
MAX_REGISTERS = 125
_MBAP = 7
_RTU_FRAME = 3
"""Unit id and CRC around an RTU PDU."""
_CORE_TYPES = {
    DataType.U16: "uint16",
    DataType.S16: "int16",
    DataType.U32: "uint32",
    DataType.S32: "int32",
    DataType.U64: "uint64",
    DataType.S64: "int64",
    DataType.F32: "float32",
    DataType.F64: "float64",
    DataType.STRING: "string",
}
"""Core's data type for each of the engine's; hex and BCD values are read as unsigned integers."""
_UNITS_OF_CLASS = {
    str(dc.value): {str(u) if u else None for u in units}
    for dc, units in DEVICE_CLASS_UNITS.items()
}
"""The units this release accepts per device class; a class that refuses a value's unit is left out."""


@dataclass(frozen=True, slots=True)
class Cycle:
    """One cycle: its cost and the requests the server answered."""

    sample: Sample
    requests: list[Request]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one configuration did over its cycles."""

    label: str
    entities: int
    cycles: list[Cycle]
    unavailable: int


# --- Core's YAML -------------------------------------------------------------------------------


def core_data_type(point: Point) -> str:
    """Return the data type a user gives core for the point."""
    if point.data_type in (DataType.HEX, DataType.BCD):
        return "uint16" if point.count == 1 else "uint32"
    return _CORE_TYPES[point.data_type]


def core_sensor(point: Point, *, virtual: int = 0) -> dict[str, Any]:
    """Return core's YAML for a sensor of the point (and ``virtual`` more after it)."""
    sensor: dict[str, Any] = {
        "name": point.key,
        "slave": UNIT,
        "address": point.address,
        "input_type": "input" if point.table is Table.INPUT_REGISTER else "holding",
        "data_type": core_data_type(point),
        "scan_interval": OUT_OF_THE_WAY,
    }
    if point.data_type is DataType.STRING:
        sensor["count"] = point.count
    if point.word_order.value == "CDAB" and point.count > 1:
        sensor["swap"] = "word"
    if point.scale != 1:
        sensor["scale"] = point.scale
    if point.offset:
        sensor["offset"] = point.offset
    if point.unit:
        sensor["unit_of_measurement"] = point.unit
    if point.unit in _UNITS_OF_CLASS.get(str(point.device_class), ()):
        sensor["device_class"] = point.device_class
    if point.state_class:
        sensor["state_class"] = str(point.state_class.value)
    if point.precision is not None:
        sensor["precision"] = point.precision
    if virtual:
        sensor["virtual_count"] = virtual
    return sensor


def same_units(point: Point) -> Hashable:
    """Return what values sharing one core sensor must have in common to show right."""
    sensor = core_sensor(point)
    shown = ("scale", "offset", "unit_of_measurement", "device_class", "state_class")
    return (_same_type(point), *(sensor.get(field) for field in shown))


def _same_type(point: Point) -> Hashable:
    """Return what values sharing one core sensor must have in common to decode right."""
    if point.data_type is DataType.STRING:
        return point.key  # core refuses virtual_count on strings
    return (point.table, core_data_type(point), point.count, point.word_order)


def runs(points: Iterable[Point], key: Callable[[Point], Hashable]) -> list[list[Point]]:
    """Group points at consecutive registers with the same ``key`` into runs core reads at once."""
    grouped: list[list[Point]] = []
    for point in sorted(points, key=lambda p: (p.table.value, p.address)):
        if grouped:
            run = grouped[-1]
            last = run[-1]
            fits = (
                last.table is point.table
                and last.end + 1 == point.address
                and key(last) == key(point)
                and point.end + 1 - run[0].address <= MAX_REGISTERS
            )
            if fits:
                run.append(point)
                continue
        grouped.append([point])
    return grouped


def core_configuration(port: int, sensors: list[dict[str, Any]]) -> dict[str, Any]:
    """Return core's modbus configuration: one TCP hub with the sensors."""
    hub = {"name": "pro380", "type": "tcp", "host": HOST, "port": port, "sensors": sensors}
    return {"modbus": [hub]}


# --- Running the configurations ----------------------------------------------------------------


async def run_core(
    server: CountingServer, label: str, sensors: list[dict[str, Any]], cycles: int
) -> Outcome:
    """Set up core's modbus with ``sensors`` and run the cycles."""
    async with home_assistant() as hass:
        if not await async_setup_component(
            hass, "modbus", core_configuration(server.port, sensors)
        ):
            raise SystemExit(f"core's modbus did not set up ({label})")
        await hass.async_block_till_done()
        await asyncio.sleep(0.5)  # each sensor reads once 0.1 s after it was added
        await hass.async_block_till_done()
        polled = [
            entity
            for platform in async_get_platforms(hass, "modbus")
            for entity in platform.entities.values()
            if isinstance(entity, ModbusRegisterSensor)
        ]
        entities = sum(len(platform.entities) for platform in async_get_platforms(hass, "modbus"))
        if not polled:
            raise SystemExit(f"core's modbus set up no sensors ({label})")
        await server.take()

        async def update(sensor: ModbusRegisterSensor) -> None:
            # What each sensor's timer runs: read, then write the state.
            await sensor.async_update()
            sensor.async_write_ha_state()

        async def cycle() -> None:
            await asyncio.gather(*(update(sensor) for sensor in polled))

        measured = [await _cycle(server, measure(cycle, hass)) for _ in range(cycles)]
        unavailable = _unavailable(hass, hass.states.async_entity_ids("sensor"))
    return Outcome(label=label, entities=entities, cycles=measured, unavailable=unavailable)


async def run_powerbus(
    server: CountingServer, label: str, *, enable_all: bool, cycles: int
) -> Outcome:
    """Set up a Powerbus link to the meter and run the cycles through its coordinator."""
    async with home_assistant() as hass:
        entry, coordinator = await set_up_powerbus(
            hass, server, {UNIT: PROFILE}, enable_all=enable_all
        )
        hold_timer(coordinator)
        await coordinator.async_refresh()
        await server.take()

        async def cycle() -> None:
            poll_everything_next(coordinator)
            await coordinator.async_refresh()

        measured = [await _cycle(server, measure(cycle, hass)) for _ in range(cycles)]
        shown = [
            entity.entity_id
            for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
            if not entity.disabled
        ]
        unavailable = _unavailable(hass, shown)
        await hass.config_entries.async_unload(entry.entry_id)
    return Outcome(label=label, entities=len(shown), cycles=measured, unavailable=unavailable)


async def _cycle(server: CountingServer, measuring: Any) -> Cycle:
    """Await a measured cycle and take the requests the server answered meanwhile."""
    sample: Sample = await measuring
    return Cycle(sample=sample, requests=await server.take())


def _unavailable(hass: HomeAssistant, entity_ids: Iterable[str]) -> int:
    """Count the entities whose state is missing, unavailable or unknown."""
    states = [hass.states.get(entity_id) for entity_id in entity_ids]
    return sum(1 for state in states if state is None or state.state in ("unavailable", "unknown"))


# --- Figures -----------------------------------------------------------------------------------


def rtu_traffic(requests: list[Request]) -> Traffic:
    """Count the RTU traffic of the same requests: frames without MBAP header, with unit id and CRC."""
    return Traffic(
        transactions=len(requests),
        sent=sum(r.request_bytes - _MBAP + _RTU_FRAME for r in requests),
        received=sum(r.answer_bytes - _MBAP + _RTU_FRAME for r in requests),
    )


@dataclass(frozen=True, slots=True)
class Figures:
    """The per-cycle figures of one configuration (medians over its cycles)."""

    requests: float
    tcp_out: float
    tcp_in: float
    rtu_bytes: float
    line_time: float
    refused: int
    loop_cpu: tuple[float, float, float]
    process_cpu: float


def figures(outcome: Outcome, spacing: float) -> Figures:
    """Work out the per-cycle figures of a configuration."""
    cycles = outcome.cycles
    rtu = [rtu_traffic(c.requests) for c in cycles]
    return Figures(
        requests=statistics.median(len(c.requests) for c in cycles),
        tcp_out=statistics.median(sum(r.request_bytes for r in c.requests) for c in cycles),
        tcp_in=statistics.median(sum(r.answer_bytes for r in c.requests) for c in cycles),
        rtu_bytes=statistics.median(t.total for t in rtu),
        line_time=statistics.median(traffic_time(t, BAUD, spacing=spacing) for t in rtu),
        refused=sum(r.refused for c in cycles for r in c.requests),
        loop_cpu=milliseconds(c.sample.loop_cpu for c in cycles),
        process_cpu=milliseconds(c.sample.process_cpu for c in cycles)[0],
    )


def report(results: dict[str, list[Outcome]], spacing: float, cycles: int) -> None:
    """Print a table per set of values, and how the request counts compare."""
    print()
    print(
        f"{PROFILE} at unit {UNIT} on Modbus TCP; {cycles} cycles per configuration, medians per "
        f"cycle; line time modelled for RTU at {BAUD} Bd with {spacing * 1000:.0f} ms after every answer"
    )
    for values, outcomes in results.items():
        print()
        print(f"== {values} ==")
        print(
            f"  {'configuration':<44} {'entities':>8} {'requests':>8} {'TCP out/in':>11} "
            f"{'RTU bytes':>9} {'line time':>10} {'loop CPU ms (p90)':>17} {'process':>8}"
        )
        for outcome in outcomes:
            f = figures(outcome, spacing)
            print(
                f"  {outcome.label:<44} {outcome.entities:>8} {f.requests:>8.0f} "
                f"{f'{f.tcp_out:.0f}/{f.tcp_in:.0f}':>11} {f.rtu_bytes:>9.0f} "
                f"{f.line_time * 1000:>7.1f} ms {f.loop_cpu[0]:>9.1f} ({f.loop_cpu[1]:.1f})"
                f" {f.process_cpu:>8.1f}"
            )
            if f.refused or outcome.unavailable:
                print(
                    f"    ! {f.refused} refused requests, {outcome.unavailable} entities "
                    "unavailable or unknown"
                )
        per_value = figures(outcomes[0], CORE_SERIAL_WAIT)
        ours = figures(outcomes[-1], spacing)
        print(
            f"  core, one sensor per value: {per_value.requests:.0f} requests against Powerbus's "
            f"{ours.requests:.0f}; with core's own 30 ms wait on a serial hub its line time is "
            f"{per_value.line_time * 1000:.1f} ms"
        )


async def _run(cycles: int) -> None:
    """Run every configuration against one counting server."""
    profile = get_profile(PROFILE)
    value_sets = {
        f"the {sum(p.enabled_by_default for p in profile.points)} values Powerbus enables by default": (
            [p for p in profile.points if p.enabled_by_default],
            False,
        ),
        f"all {len(profile.points)} values of the profile": (list(profile.points), True),
    }
    results: dict[str, list[Outcome]] = {}
    async with counting_server({UNIT: PROFILE}) as server:
        for values, (points, enable_all) in value_sets.items():
            per_value = [core_sensor(p) for p in points]
            by_units = [core_sensor(r[0], virtual=len(r) - 1) for r in runs(points, same_units)]
            by_type = [core_sensor(r[0], virtual=len(r) - 1) for r in runs(points, _same_type)]
            results[values] = [
                await run_core(server, "core, one sensor per value", per_value, cycles),
                await run_core(server, "core, virtual_count runs, right units", by_units, cycles),
                await run_core(server, "core, virtual_count runs, one type", by_type, cycles),
                await run_powerbus(server, "Powerbus", enable_all=enable_all, cycles=cycles),
            ]
    report(results, profile.limits.min_spacing, cycles)


def main() -> None:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=30, help="cycles per configuration (30)")
    parser.add_argument("--short", action="store_true", help="a quick run: 2 cycles each")
    args = parser.parse_args()
    cycles = 2 if args.short else args.cycles
    print(run_description(f"{cycles} cycles per configuration, medians per cycle"), flush=True)
    asyncio.run(_run(cycles))
    print(run_end())


if __name__ == "__main__":
    main()
