"""The UPS vocabulary: what NUT status a UPS's latest values give, case by case."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from powerbus.models import Value
from powerbus.profile import get_profile
from powerbus.ups import derive_status, problem_flags

ON_LINE: dict[str, Value | None] = {
    "on_battery": False,
    "input_fail": False,
    "output_is_off": False,
}
ON_BATTERY: dict[str, Value | None] = {
    "on_battery": True,
    "input_fail": True,
    "output_is_off": False,
}


@dataclass(frozen=True)
class Case:
    """Latest values and the NUT status they must give."""

    values: dict[str, Value | None]
    text: str
    alarms: tuple[str, ...] = ()
    shutdown_imminent: bool = False
    battery_test_running: bool = False
    extra_alarms: tuple[str, ...] = field(default=())


CASES = {
    "on line, battery full": Case({**ON_LINE, "battery_charge_status": "fully_charged"}, "OL"),
    "on line, charging": Case({**ON_LINE, "battery_charge_status": "charging"}, "OL CHRG"),
    "on line, equalize charging counts as charging": Case(
        {**ON_LINE, "battery_charge_status": "equalize_charging"}, "OL CHRG"
    ),
    "on line, float charging is not CHRG": Case(
        {**ON_LINE, "battery_charge_status": "float_charging"}, "OL"
    ),
    "charging flag of a map without charge status": Case({**ON_LINE, "charging": True}, "OL CHRG"),
    "on battery, discharging": Case(
        {**ON_BATTERY, "battery_charge_status": "discharging"}, "OB DISCHRG"
    ),
    "on battery with a map that only knows 'not fully charged'": Case(
        {**ON_BATTERY, "battery_charge_status": "not_fully_charged"}, "OB DISCHRG"
    ),
    "on battery never shows CHRG, even with a stale charging status": Case(
        {**ON_BATTERY, "battery_charge_status": "charging", "charging": True}, "OB DISCHRG"
    ),
    "shutdown imminent": Case(
        {**ON_BATTERY, "shutdown_imminent": True, "battery_charge_status": "discharging"},
        "OB LB DISCHRG",
        shutdown_imminent=True,
    ),
    "low battery without an announced shutdown": Case(
        {**ON_BATTERY, "low_battery": True, "shutdown_imminent": False}, "OB LB DISCHRG"
    ),
    "output off on line": Case({**ON_LINE, "output_is_off": True}, "OFF"),
    "output off during an outage": Case(
        {"on_battery": False, "input_fail": True, "output_is_off": True}, "OFF"
    ),
    "input failed but not on battery is not OL": Case(
        {"on_battery": False, "input_fail": True}, ""
    ),
    "on bypass": Case({**ON_LINE, "on_bypass": True, "on_inverter": False}, "OL BYPASS"),
    "overload raises OVER and an alarm": Case(
        {**ON_LINE, "output_overload": True}, "OL OVER ALARM", alarms=("output_overload",)
    ),
    "replace battery raises RB and an alarm": Case(
        {**ON_LINE, "replace_battery": True}, "OL RB ALARM", alarms=("replace_battery",)
    ),
    "high battery": Case({**ON_LINE, "high_battery": True}, "OL HB"),
    "buck and boost": Case({**ON_LINE, "buck_mode": True, "boost_mode": False}, "OL TRIM"),
    "boost": Case({**ON_LINE, "boost_mode": True}, "OL BOOST"),
    "calibration is CAL": Case({**ON_BATTERY, "calibrating": True}, "OB DISCHRG CAL"),
    "a battery test has no token": Case(
        {**ON_LINE, "battery_under_test": True}, "OL", battery_test_running=True
    ),
    "a test result in progress means a test is running": Case(
        {**ON_LINE, "battery_test_result": "in_progress"}, "OL", battery_test_running=True
    ),
    "a failed battery test is an alarm": Case(
        {**ON_LINE, "battery_test_result": "failed"}, "OL ALARM", alarms=("battery_test_failed",)
    ),
    "fault flags are alarms, in canonical order": Case(
        {**ON_LINE, "charger_failed": True, "fan_fail": True, "over_temperature": True},
        "OL ALARM",
        alarms=("over_temperature", "fan_fail", "charger_failed"),
    ),
    "a family's own fault counts when asked for": Case(
        {**ON_LINE, "rectifier_fault": True, "dc_bus_balancer_fault": False},
        "OL ALARM",
        alarms=("rectifier_fault",),
        extra_alarms=("rectifier_fault", "dc_bus_balancer_fault"),
    ),
    "a family's own fault is ignored when not asked for": Case(
        {**ON_LINE, "rectifier_fault": True}, "OL"
    ),
    "flags given as 0/1 integers": Case(
        {"on_battery": 1, "input_fail": 1, "shutdown_imminent": 1},
        "OB LB DISCHRG",
        shutdown_imminent=True,
    ),
    "every token at once comes in canonical order": Case(
        {
            **ON_BATTERY,
            "shutdown_imminent": True,
            "high_battery": True,
            "replace_battery": True,
            "on_bypass": True,
            "output_overload": True,
            "buck_mode": True,
            "boost_mode": True,
            "calibrating": True,
        },
        "OB LB HB RB DISCHRG BYPASS OVER TRIM BOOST CAL ALARM",
        alarms=("replace_battery", "output_overload"),
        shutdown_imminent=True,
    ),
    # Unknown or unreadable values never invent a token.
    "nothing known": Case({}, ""),
    "every flag unreadable": Case(
        dict.fromkeys(
            (
                "on_battery",
                "shutdown_imminent",
                "output_is_off",
                "input_fail",
                "replace_battery",
                "on_bypass",
                "output_overload",
                "battery_charge_status",
                "battery_test_result",
            ),
        ),
        "",
    ),
    "on battery unknown gives neither OL nor OB": Case(
        {"on_battery": None, "output_is_off": False, "battery_charge_status": "fully_charged"}, ""
    ),
    "an unlisted charge status says nothing": Case(
        {**ON_LINE, "battery_charge_status": "unknown (9)"}, "OL"
    ),
    "text in a flag says nothing": Case({"on_battery": "yes", "output_overload": "1"}, ""),
    "unknown output and input do not veto OL": Case({"on_battery": False}, "OL"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_derive_status(case: Case) -> None:
    """The values give exactly the expected tokens, alarms and flags."""
    status = derive_status(case.values, extra_alarms=case.extra_alarms)

    assert status.text == case.text
    assert status.tokens == tuple(case.text.split())
    assert status.alarms == case.alarms
    assert status.shutdown_imminent is case.shutdown_imminent
    assert status.battery_test_running is case.battery_test_running


def test_alarm_text_reads_like_nut() -> None:
    """Active alarms read as sentences, one per alarm; none gives an empty text."""
    status = derive_status(
        {**ON_LINE, "replace_battery": True, "rectifier_fault": True},
        extra_alarms=("rectifier_fault",),
    )

    assert status.alarm_text == "Replace battery. Rectifier fault."
    assert derive_status(ON_LINE).alarm_text == ""


def test_problem_flags_are_a_familys_own_faults() -> None:
    """A profile's own fault bits count as alarms; canonical status flags do not."""
    flags = problem_flags(get_profile("liebert_nx"))

    assert {"rectifier_fault", "rectifier_fuse_fail", "main_neutral_lost"} <= set(flags)
    assert not {
        "input_fail",
        "output_overload",
        "fan_fail",
        "charger_failed",
        "battery_fault",
    } & set(flags)


def test_status_of_an_outage_on_a_family_profile() -> None:
    """The flags of a Liebert Nx in an outage with a faulty rectifier read as NUT would show them."""
    profile = get_profile("liebert_nx")
    values: dict[str, Value | None] = {point.key: None for point in profile.points}
    values.update(
        {
            **ON_BATTERY,
            "battery_charge_status": "discharging",
            "shutdown_imminent": False,
            "rectifier_fault": True,
        }
    )

    status = derive_status(values, extra_alarms=problem_flags(profile))

    assert status.text == "OB DISCHRG ALARM"
    assert status.alarms == ("rectifier_fault",)
