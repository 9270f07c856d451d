"""Where a simulated PowerLogic meter keeps what, as Schneider's documents state it.

The end of the module describes the four models the simulator plays (their setup
registers, shipping defaults and float blocks) from these facts.

The simulated meter takes its register numbers, codes and storage rules from
here and not from the engine (its profile, its energy transfer), so that a
mistake on either side shows as a difference between what the engine reads and
what the meter meant. Register numbers are Schneider's (1-based); the meter
answers register N at PDU address N - 1.

Sources, named at each fact:

* seed 000: the Schneider/APC FAQ collection (``000_b6fa0b864c16c23d.txt``):
  soft reset, float registers, 100 ms frequency, CM3000 peak demand, PM800
  min/max, EN50160 pass/fail limits.
* seed 002: "transfer energy readings to a replacement meter"
  (``002_6250afb566bdccd4.txt``), Table 1 and steps 2-4.
* devices/powerlogic.md: the researched register map (S-SNL, S-AGG, S-FA202979,
  S-FA146443, S-FA254939, S-PM8MAN, S-CM4MAN), where the seeds are silent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

# --- Command interface --------------------------------------------------------------------------
# devices/powerlogic.md "Command interface" (S-CM4MAN Table B-1); seed 002 step 3 writes the
# three pointers 8017-8019 and the code to 8000; seed 000 writes the save flag 1 to 8001.
COMMAND_REGISTER = 8000
SAVE_FLAG = 8001
STATUS_POINTER = 8017
RESULTS_POINTER = 8018
DATA_POINTER = 8019
COMMAND_AREA = range(8000, 8150)
USER_AREA = range(8020, 8150)


class Code(IntEnum):
    """Command codes written to 8000."""

    ENTER_SETUP = 9020  # seed 000, every setup procedure: "Write 9020 to register 8000"
    EXIT_SETUP = 9021  # seed 000: "Write 9021 to register 8000" after 1 to 8001
    RESTART = 1110  # seed 000 "soft reset on a CM3000/4000 and PM8": 9020, then 1110
    PRESET_ENERGIES = 6209  # seed 002 step 3: "6209 to register 8000"


class Result(IntEnum):
    """What the results register reports after a command (seed 002 step 4)."""

    DONE = 0  # "0 = the settings completed successfully"
    INVALID_COMMAND = 81  # "81 = Invalid Command Function"
    INVALID_PARAMETERS = 82  # "82 = Invalid Parameters"


# devices/powerlogic.md (S-FA254939, the PM800 manual's text): a setup session ends without
# saving after 2 minutes without a write, and only one session can be open at a time.
SETUP_TIMEOUT = 120.0

# --- Energies (MOD10) ---------------------------------------------------------------------------
# devices/powerlogic.md (S-FA146443): four registers of 0..9999, least significant first;
# seed 002 step 2: each register of a preset holds -9999..+9999, or the preset aborts.
MOD10_BASE = 10_000
MOD10_PART_LIMIT = 9999
REGISTERS_PER_ENERGY = 4

# Seed 002 Table 1: the seven energies in the order of 1700-1727, which the preset buffer
# 8022-8049 mirrors ("Registers 8022 - 8049 coincide with the register order read from
# 1700 - 1727"), named by the point keys of the meter's map.
PRESET_ORDER = (
    "import_active_energy",  # Real Energy In
    "import_reactive_energy",  # Reactive Energy In
    "export_active_energy",  # Real Energy Out
    "export_reactive_energy",  # Reactive Energy Out
    "active_energy",  # Real Energy Total (signed/absolute)
    "reactive_energy",  # Reactive Energy Total (signed/absolute)
    "apparent_energy",  # Apparent Energy Total
)
PRESET_REGISTERS = REGISTERS_PER_ENERGY * len(PRESET_ORDER)  # 28: 8022-8049

# Seed 002 Table 1: the first register of each energy, CM3000/CM4000/PM800 and CM2000.
ENERGY_REGISTERS = dict(zip(PRESET_ORDER, range(1700, 1728, 4), strict=True))
CM2000_ENERGY_REGISTERS = {
    "import_active_energy": 1601,
    "import_reactive_energy": 1605,
    "export_active_energy": 1609,
    "export_reactive_energy": 1613,
    "active_energy": 1621,
    "reactive_energy": 1625,
    "apparent_energy": 1617,
}

# --- Integer real-time values -------------------------------------------------------------------
# devices/powerlogic.md "Scale factors": value = raw x 10**exponent, the exponent a signed int16 in
# the quantity's scale-group register (S-FA202979, S-SNL); 3208 holds the nominal frequency.
NOMINAL_FREQUENCY = 3208
SCALE_A_CURRENTS = 3209
SCALE_B_NEUTRAL_CURRENT = 3210
SCALE_C_GROUND_CURRENT = 3211
SCALE_D_VOLTAGES = 3212
SCALE_E_NEUTRAL_VOLTAGE = 3213
SCALE_F_POWERS = 3214
SCALE_REGISTERS = (
    SCALE_A_CURRENTS,
    SCALE_B_NEUTRAL_CURRENT,
    SCALE_C_GROUND_CURRENT,
    SCALE_D_VOLTAGES,
    SCALE_E_NEUTRAL_VOLTAGE,
    SCALE_F_POWERS,
)
# devices/powerlogic.md (S-SNL): integer values are signed; -32768 means not available.
NOT_AVAILABLE = -32768
INT16_LIMIT = 32767

# devices/powerlogic.md "Integer real-time registers" (S-AGG, S-SNL): register and scale group of
# every scaled quantity; currents in A, voltages in V, powers in kW, kvar and kVA.
SCALED_REGISTERS: dict[str, tuple[int, int]] = {
    "current_l1": (1100, SCALE_A_CURRENTS),
    "current_l2": (1101, SCALE_A_CURRENTS),
    "current_l3": (1102, SCALE_A_CURRENTS),
    "current_n": (1103, SCALE_B_NEUTRAL_CURRENT),
    "current_ground": (1104, SCALE_C_GROUND_CURRENT),
    "current_avg": (1105, SCALE_A_CURRENTS),
    "voltage_l1_l2": (1120, SCALE_D_VOLTAGES),
    "voltage_l2_l3": (1121, SCALE_D_VOLTAGES),
    "voltage_l3_l1": (1122, SCALE_D_VOLTAGES),
    "voltage_ll_avg": (1123, SCALE_D_VOLTAGES),
    "voltage_l1": (1124, SCALE_D_VOLTAGES),
    "voltage_l2": (1125, SCALE_D_VOLTAGES),
    "voltage_l3": (1126, SCALE_D_VOLTAGES),
    "voltage_n_ground": (1127, SCALE_E_NEUTRAL_VOLTAGE),
    "voltage_ln_avg": (1128, SCALE_D_VOLTAGES),
    "active_power_l1": (1140, SCALE_F_POWERS),
    "active_power_l2": (1141, SCALE_F_POWERS),
    "active_power_l3": (1142, SCALE_F_POWERS),
    "active_power": (1143, SCALE_F_POWERS),
    "reactive_power_l1": (1144, SCALE_F_POWERS),
    "reactive_power_l2": (1145, SCALE_F_POWERS),
    "reactive_power_l3": (1146, SCALE_F_POWERS),
    "reactive_power": (1147, SCALE_F_POWERS),
    "apparent_power_l1": (1148, SCALE_F_POWERS),
    "apparent_power_l2": (1149, SCALE_F_POWERS),
    "apparent_power_l3": (1150, SCALE_F_POWERS),
    "apparent_power": (1151, SCALE_F_POWERS),
}

# devices/powerlogic.md: quantities with a fixed step instead of a scale group: unbalance in
# 0.1 % (S-AGG), frequency in 0.01 Hz with no scale group (S-SNL).
FIXED_STEP_REGISTERS: dict[str, tuple[int, float]] = {
    "current_unbalance_l1": (1107, 0.1),
    "current_unbalance_l2": (1108, 0.1),
    "current_unbalance_l3": (1109, 0.1),
    "current_unbalance_max": (1110, 0.1),
    "voltage_unbalance_l1_l2": (1129, 0.1),
    "voltage_unbalance_l2_l3": (1130, 0.1),
    "voltage_unbalance_l3_l1": (1131, 0.1),
    "voltage_unbalance_ll_max": (1132, 0.1),
    "voltage_unbalance_l1": (1133, 0.1),
    "voltage_unbalance_l2": (1134, 0.1),
    "voltage_unbalance_l3": (1135, 0.1),
    "voltage_unbalance_ln_max": (1136, 0.1),
    "frequency": (1180, 0.01),
}

# devices/powerlogic.md "Power-factor format" (S-PM8MAN App. B): one register per power factor,
# signed magnitude: bit 15 set for lagging, the low bits 0..1000 thousandths. 1160-1163 in the
# order A, B, C, total (INF: the register list's contents give only "[1160] Power Factor").
POWER_FACTOR_REGISTERS = {
    "power_factor_l1": 1160,
    "power_factor_l2": 1161,
    "power_factor_l3": 1162,
    "power_factor": 1163,
}
POWER_FACTOR_UNITY = 1000
LAGGING_BIT = 0x8000

# --- Float block --------------------------------------------------------------------------------
# Seed 000 "How to read Floating Point Registers": 3248 = 1 switches the float registers on;
# they start at 57600 on the CM3000/CM4000 and at 11700 on the PM800.
FLOAT_SWITCH = 3248
PM800_FLOAT_BASE = 11700
CM_FLOAT_BASE = 57600
# devices/powerlogic.md "PM800 float layout" (S-SNL): IEEE-754 float32, high word first, two
# registers each, in this order from the base; powers in W, var and VA (the integer map's kW x
# 1000). The CM3000/CM4000 block is assumed to lie the same way (INF).
FLOAT_LAYOUT = (
    "current_l1",
    "current_l2",
    "current_l3",
    "current_n",
    "current_ground",
    "current_avg",
    "voltage_l1_l2",
    "voltage_l2_l3",
    "voltage_l3_l1",
    "voltage_ll_avg",
    "voltage_l1",
    "voltage_l2",
    "voltage_l3",
    "voltage_n_ground",
    "voltage_ln_avg",
    "active_power_l1",
    "active_power_l2",
    "active_power_l3",
    "active_power",
    "reactive_power_l1",
    "reactive_power_l2",
    "reactive_power_l3",
    "reactive_power",
    "apparent_power_l1",
    "apparent_power_l2",
    "apparent_power_l3",
    "apparent_power",
    "power_factor_l1",
    "power_factor_l2",
    "power_factor_l3",
    "power_factor",
    "frequency",
)
FLOAT_IN_WATTS = frozenset(key for key in FLOAT_LAYOUT if "power" in key and "factor" not in key)

# --- Setup registers ----------------------------------------------------------------------------
# Seed 000 "PM800 series meters to only reset Min/Max values manually": 1443 is the min/max
# configuration; bit 0 = 1 (the default) copies the month's min/max at the month's start.
PM800_MIN_MAX_CONFIG = 1443
PM800_MIN_MAX_DEFAULT = 1
# Seed 000 "CM3000 Power Demand and Peak Demand are resetting": 6426 defaults to 3 (reset power
# and input-metering peak demand monthly); 0 stops it.
CM3000_PEAK_DEMAND_RESET = 6426
CM3000_PEAK_DEMAND_DEFAULT = 3
CM3000_PEAK_DEMAND_SETTINGS = range(4)  # 0 and 3 documented; the two single bits assumed
# Seed 000 "enable 100ms Frequency monitoring on a CM4000": 11 to 3239 in a setup session, after
# which 1080 holds the frequency in 0.01 Hz.
CM4000_FREQUENCY_MODE = 3239
CM4000_FAST_FREQUENCY_ON = 11
CM4000_FAST_FREQUENCY = 1080
CM4000_FAST_FREQUENCY_STEP = 0.01
# Seed 000 "EN50160 PASS/FAIL": the limits are written in a setup session, take non-negative
# values and are -32768 (disabled) by default. Its register table did not survive; 3900-3950 is
# where the PM800 register list's contents place the EN50160 configuration (unverified).
EN50160_LIMITS = range(3900, 3951)
EN50160_DISABLED = -32768

# devices/powerlogic.md "Identity registers" (S-PM8MAN): 7001 holds the PM800 firmware as an
# integer, 11900 = V11.900.
PM800_FIRMWARE = 7001
# devices/identity.md: the serial number is 32 bits, low word first: 3017-3018 on the PM800, CM3000
# and CM4000 (FAQ FA221487), 2096-2097 on the CM2000 (FAQ FA203320).
SERIAL_REGISTER = 3017
CM2000_SERIAL_REGISTER = 2096

# --- The simulated models ----------------------------------------------------------------------
_ANY_WORD = range(0x10000)
_SWITCH = range(2)
_LIMIT_WORDS = range(0x8001)  # 0..32767, and 0x8000: -32768, the test disabled
_EN50160_SETUP = dict.fromkeys(EN50160_LIMITS, _LIMIT_WORDS)
_EN50160_DEFAULTS = dict.fromkeys(EN50160_LIMITS, EN50160_DISABLED)


@dataclass(frozen=True, kw_only=True, slots=True)
class Model:
    """What sets one PowerLogic model apart in the simulation.

    ``scales`` are the exponents the meter ships in its scale groups A-F; ``float_base``
    is where its float block starts (None: it has none).
    """

    setup_registers: Mapping[int, range]
    direct_registers: Mapping[int, range]
    defaults: Mapping[int, int]
    float_base: int | None
    energy_registers: Mapping[str, int]
    has_setup_session: bool
    has_fast_frequency: bool
    scales: tuple[int, int, int, int, int, int]
    phase_current: float
    serial: int
    serial_register: int = SERIAL_REGISTER
    firmware: int | None = None


MODELS: dict[str, Model] = {
    # Seed 000: the PM800 stages 1443 and 3248 in a setup session.
    "pm800": Model(
        setup_registers={
            PM800_MIN_MAX_CONFIG: _ANY_WORD,
            FLOAT_SWITCH: _SWITCH,
            **_EN50160_SETUP,
        },
        direct_registers={},
        defaults={
            PM800_MIN_MAX_CONFIG: PM800_MIN_MAX_DEFAULT,
            FLOAT_SWITCH: 0,
            **_EN50160_DEFAULTS,
        },
        float_base=PM800_FLOAT_BASE,
        energy_registers=ENERGY_REGISTERS,
        has_setup_session=True,
        has_fast_frequency=False,
        scales=(-1, -1, -1, -1, -1, -2),
        phase_current=85.0,
        serial=11000126,  # the FAQ's worked example: 3017 = 0xD93E, 3018 = 0x00A7
        firmware=11900,
    ),
    # Seed 000: the CM3000/CM4000 take 1 in 3248 by a plain write, 6426 and 3239 in a session.
    "cm3000": Model(
        setup_registers={
            CM3000_PEAK_DEMAND_RESET: CM3000_PEAK_DEMAND_SETTINGS,
            **_EN50160_SETUP,
        },
        direct_registers={FLOAT_SWITCH: _SWITCH},
        defaults={
            CM3000_PEAK_DEMAND_RESET: CM3000_PEAK_DEMAND_DEFAULT,
            FLOAT_SWITCH: 0,
            **_EN50160_DEFAULTS,
        },
        float_base=CM_FLOAT_BASE,
        energy_registers=ENERGY_REGISTERS,
        has_setup_session=True,
        has_fast_frequency=False,
        scales=(0, -1, -1, 0, -1, -1),
        phase_current=420.0,
        serial=31002211,
    ),
    "cm4000": Model(
        setup_registers={CM4000_FREQUENCY_MODE: range(0x8000), **_EN50160_SETUP},
        direct_registers={FLOAT_SWITCH: _SWITCH},
        defaults={CM4000_FREQUENCY_MODE: 0, FLOAT_SWITCH: 0, **_EN50160_DEFAULTS},
        float_base=CM_FLOAT_BASE,
        energy_registers=ENERGY_REGISTERS,
        has_setup_session=True,
        has_fast_frequency=True,
        scales=(0, 0, 0, 0, -1, 1),
        phase_current=1450.0,
        serial=41005117,
    ),
    # Seed 002 Table 1: the CM2000 keeps its energies in another order; no source gives it a
    # setup session or a float block.
    "cm2000": Model(
        setup_registers={},
        direct_registers={},
        defaults={},
        float_base=None,
        energy_registers=CM2000_ENERGY_REGISTERS,
        has_setup_session=False,
        has_fast_frequency=False,
        scales=(-1, -1, -1, 0, -1, -1),
        phase_current=160.0,
        serial=20304052,
        serial_register=CM2000_SERIAL_REGISTER,
    ),
}

# Which model each profile variant simulates, and whether its floats start switched on.
VARIANT_MODELS: dict[str, tuple[str, bool]] = {
    "pm800": ("pm800", False),
    "pm800_float": ("pm800", True),
    "cm3000": ("cm3000", False),
    "cm3000_float": ("cm3000", True),
    "cm4000": ("cm4000", False),
    "cm4000_float": ("cm4000", True),
    "cm2000": ("cm2000", False),
}
