"""``InstrumentEndpoint``: what a test gets, whichever target serves the instrument."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.supervisor import ControlClient, Endpoint


class TargetLimitation(Exception):
    """The target cannot provide what a test asked for; the plugin skips such a test."""


class ControlUnavailable(TargetLimitation):
    """An emulator-only feature (the control channel) was used on another target."""


@dataclass(frozen=True)
class InstrumentEndpoint:
    """Address of one instrument (emulated, bridged, remote or replayed) for one test.

    ``host``/``port`` take SCPI over TCP in every case. ``control`` and
    ``emulator`` exist only on the emulator target; elsewhere they raise
    ``ControlUnavailable``. ``model`` is the model the test asked for on targets
    that cannot tell (a remote bench).
    """

    name: str
    device: str
    model: str
    host: str
    port: int
    target: str
    log_path: Path | None = None
    #: Size of the log when the test got the device; the report shows what follows.
    log_offset: int = 0
    _emulator: Endpoint | None = field(default=None, repr=False, compare=False)
    #: What a failure report shows about a non-emulated instrument (a replay's progress).
    details: Callable[[], str] | None = field(default=None, repr=False, compare=False)

    @property
    def emulated(self) -> bool:
        return self._emulator is not None

    @property
    def emulator(self) -> Endpoint:
        """The supervisor's ``Endpoint`` (pid, status, restarts...); emulator target only."""
        return self._emulated("the supervisor endpoint")

    @property
    def control(self) -> ControlClient:
        """The device's control channel (reset, signal, faults, stats); emulator target only."""
        return self._emulated("the control channel").control

    def _emulated(self, feature: str) -> Endpoint:
        """The emulator's ``Endpoint``; raises ``ControlUnavailable`` naming ``feature``."""
        if self._emulator is None:
            raise ControlUnavailable(
                f"{feature} exists only for emulated devices; the target is "
                f"{self.target} (emulator-only feature: mark the test hil_emulator_only)")
        return self._emulator

    @property
    def pid(self) -> int | None:
        """Process id of the emulated device (None on other targets)."""
        return self._emulator.pid if self._emulator is not None else None

    @property
    def resource(self) -> str:
        """The pyvisa resource name of the instrument's TCP port."""
        return f"TCPIP::{self.host}::{self.port}::SOCKET"

    def log_tail(self, lines: int = 25) -> str:
        """The end of the device log written since this test got the device ("" if none)."""
        if self.log_path is None:
            return ""
        from harness.supervisor.logs import log_tail

        return log_tail(self.log_path, lines, since=self.log_offset)

