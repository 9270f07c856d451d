"""Schneider gateways end to end over Modbus TCP (they are Ethernet devices), with meters behind them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from powerbus.bus import Bus, RetryPolicy
from powerbus.commands import run_command
from powerbus.errors import ConfirmationRequiredError, DeviceExceptionError, WriteValidationError
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import PointState, PollGroup, Profile, Table, WriteStep
from powerbus.poller import Poller
from powerbus.profile import builtin_profiles, get_profile, with_limits
from powerbus.simulator.bcpm import BcpmBehaviour
from powerbus.simulator.clock import ManualClock
from powerbus.simulator.faults import ExceptionAnswer, FaultPlan
from powerbus.simulator.gateways import GatewayBehaviour
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator

HR = Table.HOLDING_REGISTER
METER = 5
OTHER_METER = 6
REBOOT_SECONDS = 1.0
QUICK = RetryPolicy(retries=0)


@dataclass
class Site:
    """A gateway of one model at its unit ids, two BCPM halves behind it, and a bus to all of it."""

    bus: Bus
    gateway: ProfileDevice
    behaviour: GatewayBehaviour
    profile: Profile
    meter_profile: Profile
    faults: FaultPlan
    clock: ManualClock


def _meter(profile: Profile) -> ProfileDevice:
    """Build a BCPM half whose values hold still."""
    device = ProfileDevice(profile, BcpmBehaviour())
    device.paused = True
    return device


async def _site(model: str, gateway_units: tuple[int, ...]) -> AsyncIterator[Site]:
    """Serve a gateway of ``model`` at ``gateway_units`` and meters at units 5 and 6 on one TCP port."""
    profile = get_profile(model)
    meter_profile = get_profile("bcpm_current_channels_1_42")
    faults = FaultPlan()
    behaviour = GatewayBehaviour(faults=faults, reboot_seconds=REBOOT_SECONDS)
    clock = ManualClock()
    gateway = ProfileDevice(profile, behaviour, clock=clock)
    devices = dict.fromkeys(gateway_units, gateway)
    devices |= {METER: _meter(meter_profile), OTHER_METER: _meter(meter_profile)}
    simulator = Simulator(devices, faults)
    port = await simulator.start_tcp("127.0.0.1", 0)
    settings = LinkSettings(kind=LinkKind.TCP, host="127.0.0.1", port=port)
    async with Bus(settings, policy=QUICK) as bus:
        yield Site(bus, gateway, behaviour, profile, meter_profile, faults, clock)
    await simulator.stop()


@pytest.fixture
async def ecc21() -> AsyncIterator[Site]:
    """Serve an ECC21 at unit 254."""
    async for site in _site("ecc21", (254,)):
        yield site


@pytest.fixture
async def egx200() -> AsyncIterator[Site]:
    """Serve an EGX200 answering for itself at 254 and 255, as its two FAQs address it."""
    async for site in _site("egx200", (254, 255)):
        yield site


@pytest.fixture
async def pm8ecc() -> AsyncIterator[Site]:
    """Serve a PM8ECC at unit 254."""
    async for site in _site("pm8ecc", (254,)):
        yield site


@pytest.fixture
async def egx100() -> AsyncIterator[Site]:
    """Serve an EGX100 at unit 254."""
    async for site in _site("egx100", (254,)):
        yield site


async def _meter_answers(site: Site, unit: int = METER) -> bool:
    """Whether a meter behind the gateway gives a valid reading now."""
    quick = with_limits(site.meter_profile, timeout=0.3)
    result = await Poller(site.bus, quick, unit).poll([PollGroup.FAST], keys=["channel_1_current"])
    return result.readings["channel_1_current"].state is PointState.VALID


def _let_restart_finish(site: Site) -> None:
    """Let the simulated restart run out on the gateway's clock."""
    site.clock.advance(REBOOT_SECONDS)


# --- profiles ---------------------------------------------------------------------------------------


def test_reboot_and_ftp_registers_are_register_numbers() -> None:
    """The FAQs' register 8000, 2800, 975 and 809 are written to PDU addresses 7999, 2799, 974 and 808."""
    egx200, egx100, ecc21 = get_profile("egx200"), get_profile("egx100"), get_profile("ecc21")

    reboot = egx200.command("soft_reboot").steps[0]
    restart = egx100.command("soft_reboot_2800").steps[0]
    assert isinstance(reboot, WriteStep) and isinstance(restart, WriteStep)
    assert (reboot.address, reboot.values[0].literal) == (7999, 32896)
    assert (restart.address, restart.values[0].literal) == (2799, 1110)
    assert egx200.point("ftp_control").address == 974
    assert ecc21.point("ftp_control").address == 808


def test_every_model_is_a_variant_with_its_default_unit_and_dangerous_commands() -> None:
    """One variant per model, unit 254 or 255 by default, every command needs confirmation."""
    units = {
        key: profile.transport.unit_id
        for key, profile in builtin_profiles().items()
        if profile.family == "gateways"
    }

    assert units == {
        "egx100": 254,
        "egx200": 255,
        "egx300": 254,
        "egx400": 255,
        "ecc21": 254,
        "pm8ecc": 254,
    }
    for key in units:
        assert all(command.dangerous for command in get_profile(key).commands), key
    assert [c.key for c in get_profile("egx300").commands] == ["soft_reboot_2800"]
    assert [c.key for c in get_profile("egx400").commands] == ["soft_reboot", "disable_ftp"]


def test_unit_id_100_is_documented_for_egx100_and_egx300() -> None:
    """The reserved unit id 100 is a note of the EGX100 and EGX300 profiles, not a refusal."""
    for key in ("egx100", "egx300"):
        assert any("unit id 100" in note for note in get_profile(key).notes), key


@pytest.mark.parametrize("model", ["pm8ecc", "egx200", "ecc21"])
async def test_gateway_points_read_as_the_gateway_holds_them(model: str) -> None:
    """Every point a gateway profile defines decodes to what the simulated gateway holds."""
    async for site in _site(model, (get_profile(model).transport.unit_id,)):
        site.gateway.paused = True
        result = await Poller(site.bus, site.profile, site.profile.transport.unit_id).poll()

        assert result.readings.keys() == {point.key for point in site.profile.points}
        for point in site.profile.points:
            reading = result.readings[point.key]
            assert reading.state is PointState.VALID, (point.key, reading.error)
            assert reading.value == site.gateway.get_value(point.key), point.key


# --- a device behind the gateway --------------------------------------------------------------------


@pytest.mark.parametrize("code", [0x0A, 0x0B])
async def test_unreachable_device_behind_gateway_reads_unavailable_others_keep_working(
    pm8ecc: Site, code: int
) -> None:
    """The gateway answers 0x0A/0x0B for one meter: its readings are unavailable with a gateway message.

    The gateway itself and the other meter on the same link go on as before.
    """
    pm8ecc.faults.add(ExceptionAnswer(code=code, times=None, unit_id=METER))

    cut_off = await Poller(pm8ecc.bus, pm8ecc.meter_profile, METER).poll()
    neighbour = await Poller(pm8ecc.bus, pm8ecc.meter_profile, OTHER_METER).poll()
    gateway = await Poller(pm8ecc.bus, pm8ecc.profile, 254).poll()

    # The gateway answered, but for a meter it cannot reach: the meter is unavailable.
    assert not cut_off.available
    assert "gateway" in (cut_off.error or "")
    assert {reading.state for reading in cut_off.readings.values()} == {PointState.UNAVAILABLE}
    assert all("gateway" in (reading.error or "") for reading in cut_off.readings.values())
    assert pm8ecc.bus.stats(METER).retries == 0
    assert {reading.state for reading in neighbour.readings.values()} == {PointState.VALID}
    assert gateway.value("reset_counter") == 3


# --- reboot -------------------------------------------------------------------------------------------


async def test_ecc21_soft_reboot_needs_confirmation(ecc21: Site) -> None:
    """Without confirmation the reboot sends nothing and the gateway keeps running."""
    with pytest.raises(ConfirmationRequiredError):
        await run_command(ecc21.bus, ecc21.profile, 254, "soft_reboot")

    assert ecc21.bus.stats(254).requests == 0
    assert ecc21.behaviour.reboots == 0


async def test_ecc21_soft_reboot_silences_the_link_for_a_moment(ecc21: Site) -> None:
    """32896 to register 8000 at unit 254 is answered; then nothing behind the gateway answers until it is back."""
    assert await _meter_answers(ecc21)

    result = await run_command(ecc21.bus, ecc21.profile, 254, "soft_reboot", confirm=True)
    during = await _meter_answers(ecc21)
    ecc21.clock.advance(REBOOT_SECONDS / 2)
    still_restarting = await _meter_answers(ecc21)
    _let_restart_finish(ecc21)
    after = await _meter_answers(ecc21)

    assert result.outcome == "done"
    assert ecc21.behaviour.reboots == 1
    assert not during
    assert not still_restarting
    assert after


async def test_egx200_takes_the_reboot_at_unit_254_too(egx200: Site) -> None:
    """The reboot FAQ addresses the EGX200 at 254; the same write works there."""
    await run_command(egx200.bus, egx200.profile, 254, "soft_reboot", confirm=True)

    assert egx200.behaviour.reboots == 1


async def test_pm8ecc_restart_counts_in_its_reset_counter(pm8ecc: Site) -> None:
    """1110 to register 2800 restarts the module; its reset counter shows one more restart afterwards."""
    before = await Poller(pm8ecc.bus, pm8ecc.profile, 254).poll()

    await run_command(pm8ecc.bus, pm8ecc.profile, 254, "soft_reboot_2800", confirm=True)
    _let_restart_finish(pm8ecc)
    after = await Poller(pm8ecc.bus, pm8ecc.profile, 254).poll()

    assert before.value("serial_baud_rate") == "baud_19200"
    assert before.value("ip_address") == "C0A80164"
    counted_before, counted_after = before.value("reset_counter"), after.value("reset_counter")
    assert isinstance(counted_before, int) and counted_after == counted_before + 1


async def test_egx100_restart_through_register_2800(egx100: Site) -> None:
    """The EGX100 restarts on 1110 at register 2800 and refuses other values there."""
    with pytest.raises(DeviceExceptionError) as refused:
        await egx100.bus.write_registers(254, 2799, [1111], egx100.profile.limits)

    await run_command(egx100.bus, egx100.profile, 254, "soft_reboot_2800", confirm=True)

    assert refused.value.code == 0x03
    assert egx100.behaviour.reboots == 1
    assert not await _meter_answers(egx100)


# --- FTP ---------------------------------------------------------------------------------------------


async def test_egx200_disable_ftp_runs_the_whole_sequence(egx200: Site) -> None:
    """0xAAAA to 8000, 0xBB00 to 975, 0x8080 to 8000 at unit 255: FTP is off after the reboot."""
    requests = egx200.bus.stats(255).requests

    result = await run_command(egx200.bus, egx200.profile, 255, "disable_ftp", confirm=True)
    sent = egx200.bus.stats(255).requests - requests
    _let_restart_finish(egx200)
    after = await Poller(egx200.bus, egx200.profile, 255).poll()

    assert result.writes == sent == 3
    assert not egx200.behaviour.ftp_enabled
    assert egx200.behaviour.reboots == 1
    assert not egx200.behaviour.register_writes_enabled
    assert after.value("ftp_control") == "disabled"
    assert egx200.gateway.registers(HR, 974, 1) == [0xBB00]


async def test_ecc21_disable_ftp_writes_register_809(ecc21: Site) -> None:
    """On the ECC21 the FTP control register is 809, at unit 254."""
    await run_command(ecc21.bus, ecc21.profile, 254, "disable_ftp", confirm=True)

    assert ecc21.gateway.registers(HR, 808, 1) == [0xBB00]
    assert not ecc21.behaviour.ftp_enabled


async def test_ftp_register_refuses_a_write_without_register_writes_enabled(egx200: Site) -> None:
    """Writing 0xBB00 to 975 without 0xAAAA to 8000 first is refused and changes nothing."""
    with pytest.raises(DeviceExceptionError) as refused:
        await egx200.bus.write_registers(255, 974, [0xBB00], egx200.profile.limits)

    assert refused.value.code == 0x02
    assert egx200.gateway.registers(HR, 974, 1) == [0]
    assert egx200.behaviour.ftp_enabled


async def test_disable_ftp_without_confirmation_sends_nothing(egx200: Site) -> None:
    """The dangerous FTP sequence is refused as a whole before its first write."""
    with pytest.raises(ConfirmationRequiredError):
        await run_command(egx200.bus, egx200.profile, 255, "disable_ftp")
    with pytest.raises(WriteValidationError):
        await run_command(
            egx200.bus, egx200.profile, 255, "disable_ftp", {"port": 21}, confirm=True
        )

    assert egx200.bus.stats(255).requests == 0
    assert not egx200.behaviour.register_writes_enabled
    assert egx200.behaviour.ftp_enabled
