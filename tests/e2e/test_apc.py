"""APC Smart-UPS end to end: the native Modbus map and the AP9622 card, over Modbus TCP and RTU."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
import math

import pytest

from powerbus.bus import Bus, RetryPolicy
from powerbus.commands import run_command
from powerbus.errors import (
    CommandFailedError,
    ConfirmationRequiredError,
    DeviceExceptionError,
    WriteValidationError,
)
from powerbus.identify import detect_profile, identify
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import PointState, Profile, Table, Value
from powerbus.planner import plan_reads
from powerbus.poller import Poller, PollResult
from powerbus.profile import builtin_profiles, get_profile, with_limits
from powerbus.simulator.apc import LOW_RUNTIME, TEST_DURATION, ApcUpsBehaviour
from powerbus.simulator.clock import ManualClock
from powerbus.simulator.faults import Delay, Fault, FaultPlan, Request, Verdict
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator
from powerbus.ups import derive_status, problem_flags

UNIT = 1
HR = Table.HOLDING_REGISTER


@dataclass(frozen=True, kw_only=True)
class RequestLog(Fault):
    """Takes no part in any answer; keeps every request the simulator was asked."""

    times: int | None = None
    seen: list[Request] = field(default_factory=list)

    def matches(self, request: Request) -> bool:
        """Record the request and let it be answered normally."""
        self.seen.append(request)
        return False

    def apply(self, verdict: Verdict) -> Verdict | None:
        """Never called: the log matches nothing."""
        return None


@dataclass
class Ups:
    """A simulated UPS on a bus, with the clock that drives it."""

    bus: Bus
    device: ProfileDevice
    behaviour: ApcUpsBehaviour
    profile: Profile
    clock: ManualClock
    faults: FaultPlan

    async def poll(self) -> PollResult:
        """Poll every point once."""
        return await Poller(self.bus, self.profile, UNIT).poll()

    def values(self, result: PollResult) -> dict[str, Value | None]:
        """Point key to value of a poll, None where a point was not read validly."""
        return {key: result.value(key) for key in result.readings}


async def _serve(request: pytest.FixtureRequest, profile_key: str) -> AsyncIterator[Ups]:
    """Serve a UPS of ``profile_key`` over the transport the test is parametrised with."""
    profile = get_profile(profile_key)
    clock = ManualClock()
    behaviour = ApcUpsBehaviour()
    device = ProfileDevice(profile, behaviour, clock=clock)
    faults = FaultPlan()
    simulator = Simulator({UNIT: device}, faults)
    if request.param == "tcp":
        port = await simulator.start_tcp("127.0.0.1", 0)
        settings = LinkSettings(kind=LinkKind.TCP, host="127.0.0.1", port=port)
    else:
        server_end, client_end = request.getfixturevalue("serial_pair")
        await simulator.start_rtu(server_end, baudrate=19200, parity="N", stopbits=1, bytesize=8)
        settings = LinkSettings(
            kind=LinkKind.RTU,
            serial_port=client_end,
            baudrate=19200,
            parity="N",
            stopbits=1,
            bytesize=8,
        )
    async with Bus(settings) as bus:
        yield Ups(bus, device, behaviour, profile, clock, faults)
    await simulator.stop()


@pytest.fixture(params=["tcp", "rtu"])
async def ups(request: pytest.FixtureRequest) -> AsyncIterator[Ups]:
    """Serve a Smart-UPS with the native Modbus map."""
    async for served in _serve(request, "apc_smart_ups"):
        yield served


@pytest.fixture(params=["tcp", "rtu"])
async def card(request: pytest.FixtureRequest) -> AsyncIterator[Ups]:
    """Serve an older Smart-UPS behind an AP9622 card."""
    async for served in _serve(request, "apc_ap9622"):
        yield served


def _same(actual: object, expected: object) -> bool:
    if isinstance(expected, float) and isinstance(actual, float):
        return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9)
    return actual == expected


def _status(ups: Ups, result: PollResult) -> tuple[str, ...]:
    """Return the NUT status tokens the shared UPS vocabulary derives from a poll."""
    return derive_status(ups.values(result), extra_alarms=problem_flags(ups.profile)).tokens


# --- native map: decoding -------------------------------------------------------------------------


async def test_full_poll_reads_every_point_as_the_ups_holds_it(ups: Ups) -> None:
    """Every point decodes to what the simulator encoded; 'no value' codes read as unavailable."""
    ups.device.paused = True
    result = await ups.poll()

    assert result.available
    for point in ups.profile.points:
        reading = result.readings[point.key]
        expected = ups.device.get_value(point.key)
        if expected is None:
            assert reading.state is PointState.UNAVAILABLE, point.key
        else:
            assert reading.state is PointState.VALID, (point.key, reading.error)
            assert _same(reading.value, expected), point.key
    assert result.value("model") == "Smart-UPS 1500"
    assert result.value("nominal_power") == 1500
    assert result.value("battery_charge") == pytest.approx(100.0)
    assert result.value("main_outlets_off_countdown") is None  # -1: no countdown running
    assert len(result.blocks) == 4


async def test_fixed_point_registers_decode_to_units(ups: Ups) -> None:
    """Runtime in seconds shows in minutes; charge, voltage and load are value / 2^n."""
    ups.device.paused = True
    ups.device.set_registers(HR, 128, [0, 1800])
    ups.device.set_registers(HR, 130, [int(87.5 * 512)])
    ups.device.set_registers(HR, 142, [int(229.5 * 64)])
    ups.device.set_registers(HR, 136, [int(42.25 * 256)])

    result = await ups.poll()

    assert result.value("battery_runtime") == pytest.approx(30.0)
    assert result.value("battery_charge") == pytest.approx(87.5)
    assert result.value("output_voltage_l1") == pytest.approx(229.5)
    assert result.value("load") == pytest.approx(42.25)


async def test_detects_the_native_map_and_identifies_the_ups(ups: Ups) -> None:
    """Auto-detection picks the native profile; serial number and firmware come from the inventory."""
    found = await detect_profile(ups.bus, UNIT, builtin_profiles().values())

    assert found is not None and found.key == "apc_smart_ups"
    identity = await identify(ups.bus, UNIT, found)
    assert identity.serial == "AS1234567890"
    assert identity.firmware == "UPS 15.5"


# --- native map: status in the shared UPS vocabulary --------------------------------------------


async def test_outage_drains_the_battery_to_low_battery_and_recovers(ups: Ups) -> None:
    """OL, then OB DISCHRG on an outage, OB DISCHRG LB near the end, OL again when power returns."""
    online = await ups.poll()
    ups.behaviour.fail_input()
    ups.clock.advance(60)
    on_battery = await ups.poll()
    seconds_left = ups.behaviour.runtime - LOW_RUNTIME / 2
    ups.clock.advance(seconds_left)
    low = await ups.poll()
    ups.behaviour.restore_input()
    ups.clock.advance(600)
    recovered = await ups.poll()

    assert _status(ups, online) == ("OL",)
    assert on_battery.value("on_battery") is True
    assert on_battery.value("input_fail") is True
    assert _status(ups, on_battery) == ("OB", "DISCHRG")
    assert low.value("shutdown_imminent") is True
    low_battery_runtime = low.value("battery_runtime")
    assert isinstance(low_battery_runtime, float) and low_battery_runtime < LOW_RUNTIME / 60
    assert _status(ups, low) == ("OB", "LB", "DISCHRG")
    assert derive_status(ups.values(low)).shutdown_imminent
    assert _status(ups, recovered) == ("OL",)
    charge_low, charge_back = low.value("battery_charge"), recovered.value("battery_charge")
    assert (
        isinstance(charge_low, float)
        and isinstance(charge_back, float)
        and charge_back > charge_low
    )


async def test_empty_battery_switches_the_output_off_and_power_brings_it_back(ups: Ups) -> None:
    """Run dry on battery the output goes off (OFF); the returning input restarts it."""
    ups.behaviour.fail_input()
    ups.clock.advance(2 * ups.behaviour.runtime)
    dead = await ups.poll()
    ups.behaviour.restore_input()
    ups.clock.advance(1)
    back = await ups.poll()

    assert dead.value("output_is_off") is True
    assert "OFF" in _status(ups, dead)
    assert dead.value("status_change_cause") == "low_battery_voltage"
    assert back.value("output_is_off") is False
    assert back.value("status_change_cause") == "automatic_restart"
    assert _status(ups, back) == ("OL",)


async def test_overload_and_hot_battery_raise_alarms(ups: Ups) -> None:
    """A load over 100 % gives OVER and an overload alarm; a hot battery an over-temperature alarm."""
    ups.behaviour.load_percent = 112.0
    ups.behaviour.battery_temperature = 55.0
    ups.clock.advance(1)

    result = await ups.poll()
    status = derive_status(ups.values(result), extra_alarms=problem_flags(ups.profile))

    assert "OVER" in status.tokens and "ALARM" in status.tokens
    assert {"output_overload", "over_temperature"} <= set(status.alarms)
    assert result.value("general_fault") is True


# --- native map: commands -----------------------------------------------------------------------


async def test_battery_test_runs_and_passes(ups: Ups) -> None:
    """The self-test command starts the test (read back as running) and it ends passed."""
    result = await run_command(ups.bus, ups.profile, UNIT, "start_battery_test")
    running = await ups.poll()
    ups.clock.advance(TEST_DURATION + 1)
    finished = await ups.poll()

    assert result.outcome == "done"
    assert result.readback == {"battery_under_test": True}
    assert running.value("battery_test_result") == "in_progress"
    assert derive_status(ups.values(running)).battery_test_running
    assert finished.value("battery_test_result") == "passed"
    assert finished.value("battery_under_test") is False


async def test_weak_battery_fails_its_test_and_asks_for_replacement(ups: Ups) -> None:
    """A failed self-test shows as failed, sets replace battery (RB) and raises the alarms."""
    ups.behaviour.weak_battery = True
    await run_command(ups.bus, ups.profile, UNIT, "start_battery_test")
    ups.clock.advance(TEST_DURATION + 1)

    result = await ups.poll()
    status = derive_status(ups.values(result), extra_alarms=problem_flags(ups.profile))

    assert result.value("battery_test_result") == "failed"
    assert result.value("replace_battery") is True
    assert status.tokens == ("OL", "RB", "ALARM")
    assert {"replace_battery", "battery_test_failed"} <= set(status.alarms)


async def test_battery_test_refused_on_a_partly_charged_battery(ups: Ups) -> None:
    """The UPS refuses a test below 90 % charge: the command fails and the result reads inhibited."""
    ups.behaviour.charge = 70.0

    with pytest.raises(CommandFailedError) as failure:
        await run_command(ups.bus, ups.profile, UNIT, "start_battery_test")
    result = await ups.poll()

    assert failure.value.outcome == "readback_mismatch"
    assert result.value("battery_test_result") == "inhibited"
    assert result.value("battery_under_test") is False


async def test_stop_battery_test_aborts_it(ups: Ups) -> None:
    """Stopping a running test leaves it aborted."""
    await run_command(ups.bus, ups.profile, UNIT, "start_battery_test")
    await run_command(ups.bus, ups.profile, UNIT, "stop_battery_test")

    result = await ups.poll()

    assert result.value("battery_test_result") == "aborted"
    assert result.value("battery_under_test") is False


async def test_runtime_calibration_runs_the_load_on_battery(ups: Ups) -> None:
    """Calibration (dangerous) needs confirmation; then the UPS reports OB DISCHRG CAL until aborted."""
    requests = ups.bus.stats(UNIT).requests
    with pytest.raises(ConfirmationRequiredError):
        await run_command(ups.bus, ups.profile, UNIT, "start_runtime_calibration")
    assert ups.bus.stats(UNIT).requests == requests

    await run_command(ups.bus, ups.profile, UNIT, "start_runtime_calibration", confirm=True)
    calibrating = await ups.poll()
    await run_command(ups.bus, ups.profile, UNIT, "abort_runtime_calibration")
    aborted = await ups.poll()

    assert _status(ups, calibrating) == ("OB", "DISCHRG", "CAL")
    assert aborted.value("runtime_calibration_result") == "aborted"
    assert _status(ups, aborted) == ("OL",)


async def test_output_off_and_on_immediately(ups: Ups) -> None:
    """Output off (confirmed) gives OFF at once; output on brings the load back."""
    await run_command(
        ups.bus, ups.profile, UNIT, "output_off", {"timing": "immediately"}, confirm=True
    )
    off = await ups.poll()
    await run_command(ups.bus, ups.profile, UNIT, "output_on", {"timing": "immediately"})
    on = await ups.poll()

    assert off.value("output_is_off") is True and off.value("main_outlets_on") is False
    assert "OFF" in _status(ups, off)
    assert ups.device.registers(HR, 1538, 2) == [0, 0]
    assert on.value("output_is_off") is False and on.value("main_outlets_on") is True


async def test_output_off_waits_for_the_off_delay_unless_cancelled(ups: Ups) -> None:
    """By default the output goes off after the configured delay; a cancel in between keeps it on."""
    await run_command(ups.bus, ups.profile, UNIT, "output_off", confirm=True)
    pending = await ups.poll()
    await run_command(ups.bus, ups.profile, UNIT, "cancel_output_command")
    ups.clock.advance(120)
    cancelled = await ups.poll()
    await run_command(ups.bus, ups.profile, UNIT, "output_off", confirm=True)
    ups.clock.advance(91)
    off = await ups.poll()

    assert pending.value("pending_output_off") is True
    assert pending.value("main_outlets_off_countdown") == 90
    assert pending.value("output_is_off") is False
    assert (
        cancelled.value("output_is_off") is False and cancelled.value("pending_output_off") is False
    )
    assert off.value("output_is_off") is True


async def test_output_reboot_turns_the_load_off_and_on_again(ups: Ups) -> None:
    """A reboot switches the output off and back on after the reboot duration."""
    await run_command(ups.bus, ups.profile, UNIT, "output_reboot", confirm=True)
    rebooting = await ups.poll()
    ups.clock.advance(9)
    done = await ups.poll()

    assert rebooting.value("output_is_off") is True
    assert rebooting.value("main_outlets_rebooting") is True
    assert done.value("output_is_off") is False


async def test_output_shutdown_on_battery_returns_with_the_input(ups: Ups) -> None:
    """Shut down during an outage, the output stays off until the input returns."""
    ups.behaviour.fail_input()
    await run_command(
        ups.bus, ups.profile, UNIT, "output_shutdown", {"timing": "immediately"}, confirm=True
    )
    ups.clock.advance(600)
    still_off = await ups.poll()
    ups.behaviour.restore_input()
    ups.clock.advance(1)
    back = await ups.poll()

    assert still_off.value("output_is_off") is True
    assert back.value("output_is_off") is False


async def test_bypass_transfer_and_back(ups: Ups) -> None:
    """Transfer to bypass (confirmed) gives BYPASS; transfer to inverter returns to OL."""
    await run_command(ups.bus, ups.profile, UNIT, "transfer_to_bypass", confirm=True)
    bypass = await ups.poll()
    await run_command(ups.bus, ups.profile, UNIT, "transfer_to_inverter", confirm=True)
    inverter = await ups.poll()

    assert bypass.value("on_bypass") is True
    assert "BYPASS" in _status(ups, bypass)
    assert _status(ups, inverter) == ("OL",)


async def test_silence_alarm_and_cancel_mute(ups: Ups) -> None:
    """Muting silences the beeper on battery; cancelling the mute lets it sound again."""
    ups.behaviour.fail_input()
    ups.clock.advance(1)
    sounding = await ups.poll()
    await run_command(ups.bus, ups.profile, UNIT, "silence_alarm")
    muted = await ups.poll()
    await run_command(ups.bus, ups.profile, UNIT, "cancel_mute")
    unmuted = await ups.poll()

    assert sounding.value("audible_alarm") is True
    assert muted.value("alarms_muted") is True and muted.value("audible_alarm") is False
    assert unmuted.value("alarms_muted") is False and unmuted.value("audible_alarm") is True


async def test_indicator_test_and_clear_faults_are_accepted(ups: Ups) -> None:
    """The indicator test lights the user-interface test bit; clear faults is taken as a protocol command."""
    await run_command(ups.bus, ups.profile, UNIT, "indicator_test")
    indicator = ups.device.registers(HR, 26, 1)[0]
    result = await run_command(ups.bus, ups.profile, UNIT, "clear_faults")
    after = await ups.poll()

    assert indicator & 1
    assert result.writes == 1
    assert after.value("status_change_cause") == "protocol_command"


async def test_ups_refuses_malformed_command_values(ups: Ups) -> None:
    """Command registers refuse a value with two commands (0x03) and half of a 32-bit register pair (0x02)."""
    with pytest.raises(DeviceExceptionError) as two_commands:
        await ups.bus.write_registers(UNIT, 1538, [0, 0x0106], ups.profile.limits)
    with pytest.raises(DeviceExceptionError) as half:
        await ups.bus.write_registers(UNIT, 1539, [0x0104], ups.profile.limits)

    assert two_commands.value.code == 0x03
    assert half.value.code == 0x02
    assert ups.behaviour.output_on


@pytest.mark.parametrize(
    ("command", "params", "confirm"),
    [
        ("output_off", {"timing": "later"}, True),
        ("output_off", {"timing": "immediately"}, False),
        ("output_on", {"timing": 0x0104}, False),
        ("transfer_to_bypass", {}, False),
        ("start_battery_test", {"duration": 10}, False),
        ("output_reboot", {"timing": "immediately"}, False),
        ("output_shutdown", {}, False),
        ("shutdown", {}, True),
    ],
)
async def test_invalid_command_writes_nothing(
    ups: Ups, command: str, params: dict[str, object], confirm: bool
) -> None:
    """A command refused before sending costs no request and changes no register."""
    ups.device.paused = True
    requests = ups.bus.stats(UNIT).requests
    image = ups.device.registers(HR, 0, 27)

    with pytest.raises(WriteValidationError):
        await run_command(ups.bus, ups.profile, UNIT, command, params, confirm=confirm)

    assert ups.bus.stats(UNIT).requests == requests
    assert ups.device.registers(HR, 0, 27) == image
    assert ups.behaviour.output_on and not ups.behaviour.bypass


# --- AP9622 card ----------------------------------------------------------------------------------


def test_ap9622_limits_follow_apcs_polling_rules() -> None:
    """At most 10 registers per request, 500 ms per register + 100 ms to answer, 1 s between scans."""
    limits = get_profile("apc_ap9622").limits

    assert limits.max_registers == 10
    assert limits.timeout == pytest.approx(0.1)
    assert limits.timeout_per_register == pytest.approx(0.5)
    assert limits.request_timeout(10) == pytest.approx(5.1)
    assert limits.request_timeout(3) == pytest.approx(1.6)
    assert limits.min_scan_interval == pytest.approx(1.0)


def test_ap9622_map_is_marked_unverified() -> None:
    """Every point of the candidate map is INF and a note says the map is unverified."""
    profile = get_profile("apc_ap9622")

    assert {point.confidence.value for point in profile.points} == {"INF"}
    assert any("UNVERIFIED" in note for note in profile.notes)
    assert not profile.commands


async def test_ap9622_full_poll_never_asks_for_more_than_10_registers(card: Ups) -> None:
    """Five requests of at most 10 registers cover the 46 candidate registers, and every value decodes."""
    card.device.paused = True
    log = RequestLog()
    card.faults.add(log)

    result = await card.poll()

    requests = [(r.address, r.count) for r in log.seen if r.unit_id == UNIT]
    assert requests == [(1, 10), (11, 10), (21, 10), (31, 10), (41, 6)]
    assert [
        (block.start, block.count)
        for block in plan_reads(card.profile.points, card.profile.limits).blocks
    ] == requests
    for point in card.profile.points:
        reading = result.readings[point.key]
        assert reading.state is PointState.VALID, (point.key, reading.error)
        assert _same(reading.value, card.device.get_value(point.key)), point.key
    assert result.value("line_quality") == "acceptable"
    assert result.value("internal_temperature") == 27
    assert result.value("internal_temperature_validity") == "valid"


async def test_ap9622_outage_shows_in_line_quality_and_charge(card: Ups) -> None:
    """On battery the card reports unacceptable line quality and a falling charge."""
    card.behaviour.fail_input()
    card.clock.advance(900)

    result = await card.poll()

    assert result.value("line_quality") == "unacceptable"
    charge = result.value("battery_charge")
    assert isinstance(charge, int) and charge < 100
    assert result.value("battery_runtime") == round(card.behaviour.runtime / 60)


async def test_ap9622_slow_answer_fits_the_per_register_timeout(card: Ups) -> None:
    """A 10-register answer after 1.8 s arrives within 0.5 x 10 + 0.1 s; a plain 1 s timeout gives up."""
    if card.bus.settings.kind is not LinkKind.TCP:
        pytest.skip("the timing is the same on RTU; once is enough")
    card.device.paused = True
    keys = [point.key for point in card.profile.points if 1 <= point.address <= 10]
    card.faults.add(Delay(seconds=1.8, times=None, unit_id=UNIT))
    patient = await Poller(card.bus, card.profile, UNIT).poll(keys=keys)

    plain = with_limits(card.profile, timeout=1.0, timeout_per_register=0.0)
    async with Bus(card.bus.settings, policy=RetryPolicy(retries=0)) as impatient_bus:
        impatient = await Poller(impatient_bus, plain, UNIT).poll(keys=keys)

    assert patient.value("battery_charge") == card.device.get_value("battery_charge")
    assert impatient.readings["battery_charge"].state is PointState.UNAVAILABLE
    assert impatient_bus.stats(UNIT).timeouts == 1
