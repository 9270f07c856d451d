"""What the Home Assistant benchmarks share: the counting simulator, a Home Assistant core, CPU time.

- :class:`CountingServer` starts ``ha_counting_server.py`` as a child process (so the
  simulator's CPU time is not the benchmark's) and takes its log of requests.
- :func:`home_assistant` runs a Home Assistant core for a block: the test instance of
  pytest-homeassistant-custom-component on real time, with a configuration folder of
  its own that is removed afterwards.
- :func:`set_up_powerbus` adds a Powerbus link to the counting server with a device per
  unit id, optionally with every entity that reads a point enabled.
- :func:`measure` takes the CPU time of one poll: of the event loop's thread
  (``time.thread_time``, the loop runs in the benchmark's main thread) and of the whole
  process (``time.process_time``), from the start of the poll until Home Assistant has
  nothing left to do.
- :func:`run_description` and :func:`run_end` describe the run (``run_info.py``, plus the
  Home Assistant version).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
import json
import logging
from pathlib import Path
import statistics
import sys
import tempfile
import time
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
# Home Assistant's loader must find this repository's custom_components package first.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from homeassistant import loader  # noqa: E402
from homeassistant.const import __version__ as HA_VERSION  # noqa: E402
from homeassistant.core import HomeAssistant  # noqa: E402
from homeassistant.helpers import entity_registry as er, frame  # noqa: E402
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_test_home_assistant  # noqa: E402
from run_info import load_footer, run_header  # noqa: E402

import custom_components.powerbus  # noqa: E402, F401
from custom_components.powerbus.const import (  # noqa: E402
    CONF_LINK_TYPE,
    CONF_PROFILE,
    CONF_SERIAL_NUMBER,
    CONF_UNIT,
    DOMAIN,
    SUBENTRY_DEVICE,
    LinkType,
)
from custom_components.powerbus.coordinator import PowerbusCoordinator  # noqa: E402
from custom_components.powerbus.settings import CONF_HOST, CONF_PORT  # noqa: E402
from powerbus import (  # noqa: E402
    LinkKind,
    LinkSettings,
    catalogue,
    device_uid,
    entity_unique_id,
    get_profile,
    link_id,
)

# The benchmarks count refused requests themselves; pymodbus would print each one.
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
logging.getLogger("homeassistant.loader").setLevel(logging.ERROR)

HOST = "127.0.0.1"
COUNTING_SERVER = BENCH_DIR / "ha_counting_server.py"
EXCEPTION_BIT = 0x80


@dataclass(frozen=True, slots=True)
class Request:
    """One request the counting server answered, as it crossed the socket."""

    unit: int
    function: int
    address: int
    count: int
    request_bytes: int
    answer_bytes: int
    answer_function: int

    @property
    def refused(self) -> bool:
        """Whether the answer was an exception."""
        return bool(self.answer_function & EXCEPTION_BIT)


class CountingServer:
    """The simulated devices in a child process, and the requests they answered."""

    def __init__(
        self, process: asyncio.subprocess.Process, port: int, serials: dict[int, str]
    ) -> None:
        """Keep the running child, its port and its devices' serial numbers."""
        self._process = process
        self.port = port
        self.serials = serials

    async def take(self) -> list[Request]:
        """Return the requests answered since the last call."""
        message = await self._ask("take")
        return [Request(*fields) for fields in message["requests"]]

    async def _ask(self, command: str) -> dict[str, Any]:
        """Send a command line and read the JSON line that answers it."""
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write(f"{command}\n".encode())
        await self._process.stdin.drain()
        answer: dict[str, Any] = json.loads(await self._process.stdout.readline())
        return answer


@asynccontextmanager
async def counting_server(devices: dict[int, str]) -> AsyncIterator[CountingServer]:
    """Serve a simulated device per unit id (unit: profile key) in a child process."""
    arguments = [f"--device={unit}={key}" for unit, key in devices.items()]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(COUNTING_SERVER),
        *arguments,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        first = await process.stdout.readline()
        if not first:
            raise SystemExit("the counting server did not start")
        hello = json.loads(first)
        serials = {int(unit): serial for unit, serial in hello["serials"].items()}
        yield CountingServer(process, hello["port"], serials)
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


@asynccontextmanager
async def home_assistant() -> AsyncIterator[HomeAssistant]:
    """Run a Home Assistant core on real time, with a configuration folder of its own."""
    with tempfile.TemporaryDirectory(prefix="powerbus-bench-") as config_dir:
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            # Let the loader look for custom integrations (this repository's).
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
            # Integrations report deprecated calls through the frame helper, as in a real core.
            frame.async_setup(hass)
            try:
                yield hass
            finally:
                await hass.async_stop(force=True)


async def set_up_powerbus(
    hass: HomeAssistant,
    server: CountingServer,
    devices: dict[int, str],
    *,
    enable_all: bool = False,
) -> tuple[MockConfigEntry, PowerbusCoordinator]:
    """Add a Powerbus link to ``server`` with a device per unit id and set it up.

    With ``enable_all``, every entity that reads a point is enabled (in the entity
    registry, before set-up, as a user who enabled them all has it); otherwise the
    entities a profile enables by default are.
    """
    link = link_id(LinkSettings(kind=LinkKind.TCP, host=HOST, port=server.port))
    subentries = []
    for unit, key in devices.items():
        serial = server.serials.get(unit)
        subentries.append(
            {
                "data": {CONF_PROFILE: key, CONF_UNIT: unit, CONF_SERIAL_NUMBER: serial},
                "subentry_type": SUBENTRY_DEVICE,
                "title": f"{key} {unit}",
                "unique_id": device_uid(get_profile(key).family, serial, link, unit),
            }
        )
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"tcp://{HOST}:{server.port}",
        data={CONF_LINK_TYPE: LinkType.TCP, CONF_HOST: HOST, CONF_PORT: server.port},
        subentries_data=subentries,
    )
    entry.add_to_hass(hass)
    if enable_all:
        _enable_point_entities(hass, entry)
    if not await hass.config_entries.async_setup(entry.entry_id):
        raise SystemExit(f"the Powerbus link did not set up: {entry.reason}")
    await hass.async_block_till_done()
    coordinator: PowerbusCoordinator = entry.runtime_data
    return entry, coordinator


def _enable_point_entities(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Register every entity of the entry's devices that reads a point, enabled."""
    registry = er.async_get(hass)
    for subentry in entry.subentries.values():
        for spec in catalogue(get_profile(subentry.data[CONF_PROFILE])):
            if spec.reads:
                registry.async_get_or_create(
                    spec.platform.value,
                    DOMAIN,
                    entity_unique_id(str(subentry.unique_id), spec.key),
                    config_entry=entry,
                    config_subentry_id=subentry.subentry_id,
                    disabled_by=None,
                )


def poll_everything_next(coordinator: PowerbusCoordinator) -> None:
    """Make the coordinator's next refresh read every enabled point of every device."""
    for device in coordinator.devices.values():
        device.session.request_refresh()


def hold_timer(coordinator: PowerbusCoordinator) -> None:
    """Keep the coordinator's own timer from polling; the benchmark polls."""
    coordinator.update_interval = None


# --- CPU time ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """The cost of one poll: CPU seconds of the loop's thread and of the process, wall seconds."""

    loop_cpu: float
    process_cpu: float
    wall: float


async def measure(poll: Callable[[], Awaitable[Any]], hass: HomeAssistant | None = None) -> Sample:
    """Run ``poll`` (and let Home Assistant finish what it set off); return what that cost."""
    thread, process, wall = time.thread_time(), time.process_time(), time.perf_counter()
    await poll()
    if hass is not None:
        await hass.async_block_till_done()
    return Sample(
        loop_cpu=time.thread_time() - thread,
        process_cpu=time.process_time() - process,
        wall=time.perf_counter() - wall,
    )


def percentile(values: Sequence[float], share: float) -> float:
    """Return the value below which ``share`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[round(share * (len(ordered) - 1))]


def milliseconds(values: Iterable[float]) -> tuple[float, float, float]:
    """Return the median, the 90th percentile and the maximum of seconds, in milliseconds."""
    listed = list(values)
    return (
        statistics.median(listed) * 1000,
        percentile(listed, 0.9) * 1000,
        max(listed) * 1000,
    )


# --- The run ----------------------------------------------------------------------------------


def run_description(runs: str) -> str:
    """Describe the run that is starting (``run_info.run_header``) and the Home Assistant in it."""
    return f"{run_header(runs)}\nHome Assistant: {HA_VERSION}"


def run_end() -> str:
    """Describe the end of the run: time and load average."""
    return load_footer()
