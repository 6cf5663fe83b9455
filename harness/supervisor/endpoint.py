"""``Endpoint``: what a caller gets for a running device."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.supervisor.control_client import ControlClient
from harness.supervisor.logs import TAIL_LINES, log_tail, pty_link_path
from harness.supervisor.records import DeviceRecord
from harness.supervisor.spec import BRIDGE_DEVICE


@dataclass(frozen=True)
class Endpoint:
    """Addresses and control client of one device; ``pid``/``status``/``restarts`` are live.

    ``host``, ``port`` and ``control_port`` stay the same across restarts.
    """

    name: str
    device: str
    model: str
    host: str
    port: int
    control_port: int
    control: ControlClient
    log_path: Path
    _record: DeviceRecord = field(repr=False, compare=False)

    @property
    def pid(self) -> int | None:
        """Process id now (None while restarting or after it stopped)."""
        return self._record.pid

    @property
    def status(self) -> str:
        """``starting``, ``running``, ``restarting``, ``failed`` or ``stopped``."""
        return self._record.status

    @property
    def restarts(self) -> int:
        return self._record.restarts

    @property
    def returncode(self) -> int | None:
        """Exit code of the last process that ended (negative: killed by that signal)."""
        return self._record.returncode

    @property
    def failure(self) -> str:
        """Why the device failed, when ``status`` is ``failed``."""
        return self._record.failure

    @property
    def restart_policy(self) -> str:
        return self._record.spec.restart

    @property
    def resource(self) -> str:
        """The pyvisa resource name of the device port."""
        return f"TCPIP::{self.host}::{self.port}::SOCKET"

    @property
    def pty(self) -> str | None:
        """The device's pseudo-terminal now (spawned with ``pty=True``; changes on restart)."""
        return self._record.pty

    @property
    def pty_link(self) -> Path | None:
        """A symlink to ``pty`` that stays the same across restarts."""
        return pty_link_path(self.log_path) if self._record.spec.pty else None

    def log_tail(self, lines: int = TAIL_LINES) -> str:
        """The last ``lines`` lines of the device log ("" if there is none yet)."""
        return log_tail(self.log_path, lines)

    def wait_until(self, predicate: Callable[[Endpoint], bool], timeout: float = 10.0) -> bool:
        """Block until ``predicate(endpoint)`` holds (checked on every state change)."""
        return self._record.wait_until(lambda _: predicate(self), timeout)

    async def await_until(self, predicate: Callable[[Endpoint], bool],
                          within: float = 10.0) -> bool:
        """Coroutine form of ``wait_until``; False after ``within`` seconds."""
        return await asyncio.to_thread(self.wait_until, predicate, within)

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary (what ``hil serve --json`` prints per device)."""
        serial = self._record.spec.config.get("url") if self.device == BRIDGE_DEVICE else None
        return {"name": self.name, "device": self.device, "model": self.model,
                "host": self.host, "port": self.port, "pid": self.pid,
                "control_port": self.control_port, "resource": self.resource,
                "terminator": self._record.spec.terminator,
                "restart": self.restart_policy, "log": str(self.log_path), "pty": self.pty,
                "pty_link": str(self.pty_link) if self.pty_link is not None else None,
                **({"serial": serial} if serial is not None else {})}
