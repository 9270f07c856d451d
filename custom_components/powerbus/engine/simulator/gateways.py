"""Schneider Modbus TCP gateways (EGX, ECC21, PM8ECC) as the simulator serves them.

A simulated gateway takes the writes its FAQs document and nothing else:

* A soft reboot: 32896 (0x8080) to register 8000 on the EGX200, EGX400 and
  ECC21; 1110 to register 2800 on the EGX100, EGX300 and PM8ECC. The write is
  answered, then the gateway restarts: for ``reboot_seconds`` nothing on the
  simulator answers (the gateway and every device behind it), when a fault plan
  was given to put that silence into. The PM8ECC counts the restart in its reset
  counter.
* The FTP procedure of the EGX200, EGX400 and ECC21: 0xAAAA to register 8000
  enables register-list writes until the next reboot; only then does the FTP
  control register take 0xBB00 (before, the write is refused with "illegal data
  address"); the reboot that follows makes the change take effect, and
  :attr:`GatewayBehaviour.ftp_enabled` turns false. Any other value written to
  register 8000 is refused with "illegal data value".

Register numbers here are those of the FAQs; the PDU address is one lower. Every
register and code is restated from the FAQ collection (seed 000,
``000_b6fa0b864c16c23d.txt``: "How to disable the FTP site for the ECC21, EGX200,
and EGX400" and "How to perform a soft reboot on an EGX100/200/300/400, PM8ECC or
ECC21"), not taken from the engine's profile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..errors import DeviceExceptionError
from ..models import Point, Table, Value
from .faults import FaultPlan, NoAnswer, Request
from .profile_device import ILLEGAL_ADDRESS, ILLEGAL_VALUE, ProfileDevice

# Seed 000, FTP FAQ: "Write 0xAAAA to register 8000" enables register-list writes; "Write 0xBB00
# to register: 809 for the ECC or 975 for the EGX" disables FTP; "Write 0x8080 to register 8000"
# reboots. Seed 000, soft-reboot FAQ: EGX200, EGX400 and ECC21 take 32896 (0x8080) at 8000;
# EGX100, EGX300 and PM8ECC take 1110 at 2800.
COMMAND_REGISTER = 8000
ENABLE_REGISTER_WRITES = 0xAAAA
REBOOT_AT_8000 = 0x8080
RESTART_REGISTER = 2800
REBOOT_AT_2800 = 1110
FTP_DISABLED = 0xBB00
FTP_CONTROL_REGISTERS = {"ecc21": 809, "egx200": 975, "egx400": 975}
REBOOT_SECONDS = 2.0

# Models that reboot through register 8000 (and know the FTP procedure); the rest use 2800.
_REBOOT_AT_8000 = frozenset({"egx200", "egx400", "ecc21"})

IDENTITY: dict[str, Value] = {
    "ip_address": "C0A80164",
    "subnet_mask": "FFFFFF00",
    "ethernet_link": 1,
    "serial_baud_rate": "baud_19200",
    "serial_parity": 0,
    "wire_mode": 2,
    "port_protocol_mode": 0,
    "reset_counter": 3,
    "frame_type": 0,
}


@dataclass(frozen=True, kw_only=True)
class RebootSilence(NoAnswer):
    """No answer to anything until ``clock`` reads ``until``: the gateway is starting up."""

    clock: Callable[[], float]
    until: float

    def matches(self, request: Request) -> bool:
        """Match while the restart lasts."""
        return self.clock() < self.until and super().matches(request)


@dataclass
class GatewayBehaviour:
    """A gateway of the model its profile names; ``faults`` receives the reboot silence.

    ``speed`` > 1 shortens the restart as it makes simulated time run faster.
    """

    speed: float = 1.0
    faults: FaultPlan | None = None
    reboot_seconds: float = REBOOT_SECONDS
    model: str = ""
    ftp_enabled: bool = True
    register_writes_enabled: bool = False
    reboots: int = 0
    _ftp_disabled_at_reboot: bool = False
    _initialised: bool = False
    _silences: list[RebootSilence] = field(default_factory=list)

    @property
    def reboots_through_8000(self) -> bool:
        """Whether the model reboots (and enables register writes) through register 8000."""
        return self.model in _REBOOT_AT_8000

    def advance(self, device: ProfileDevice, now: float) -> None:
        """Learn the model and write the identity once; a gateway's registers do not move on their own."""
        if not self._initialised:
            self._initialised = True
            self.model = device.profile.key
            for key, value in IDENTITY.items():
                device.set_value(key, value)

    def on_write(
        self, device: ProfileDevice, table: Table, address: int, values: Sequence[int]
    ) -> bool:
        """Take the command-register writes; guard the FTP control register."""
        register = address + 1
        if table is not Table.HOLDING_REGISTER:
            return False
        if self.reboots_through_8000 and register == COMMAND_REGISTER and len(values) == 1:
            self._command_8000(device, values[0])
            return True
        if not self.reboots_through_8000 and register == RESTART_REGISTER and len(values) == 1:
            if values[0] != REBOOT_AT_2800:
                raise DeviceExceptionError(ILLEGAL_VALUE)
            self._reboot(device)
            return True
        ftp_register = FTP_CONTROL_REGISTERS.get(self.model)
        if ftp_register is not None and not self.register_writes_enabled:
            if register <= ftp_register < register + len(values):
                raise DeviceExceptionError(ILLEGAL_ADDRESS)
        return False

    def after_write(self, device: ProfileDevice, point: Point, value: Value | None) -> None:
        """Remember an accepted FTP change; it takes effect at the next reboot."""
        ftp_register = FTP_CONTROL_REGISTERS.get(self.model)
        if ftp_register is not None and point.address == ftp_register - 1:
            (word,) = device.registers(Table.HOLDING_REGISTER, ftp_register - 1, 1)
            self._ftp_disabled_at_reboot = word == FTP_DISABLED

    def _command_8000(self, device: ProfileDevice, value: int) -> None:
        """Register 8000: enable register-list writes, or reboot."""
        if value == ENABLE_REGISTER_WRITES:
            self.register_writes_enabled = True
        elif value == REBOOT_AT_8000:
            self._reboot(device)
        else:
            raise DeviceExceptionError(ILLEGAL_VALUE)

    def _reboot(self, device: ProfileDevice) -> None:
        """Restart: apply pending settings, drop register-list writes, go quiet for a while."""
        self.reboots += 1
        self.register_writes_enabled = False
        if self._ftp_disabled_at_reboot:
            self.ftp_enabled = False
        counter = device.get_value("reset_counter")
        if isinstance(counter, int):
            device.set_value("reset_counter", counter + 1)
        if self.faults is not None:
            silence = RebootSilence(
                times=None,
                clock=device.clock,
                until=device.clock() + self.reboot_seconds / self.speed,
            )
            for expired in self._silences:
                self.faults.discard(expired)
            self._silences = [silence]
            self.faults.add(silence)
