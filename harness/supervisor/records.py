"""``DeviceRecord``: the supervisor's view of one device, shared by the monitor and callers.

Only the monitor thread changes a record (through ``update``); other threads
read its attributes and wait on ``changed`` for a condition.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.supervisor.errors import DeviceUnavailable
from harness.supervisor.logs import log_tail
from harness.supervisor.spec import DeviceSpec, FactoryPath

STARTING = "starting"
RUNNING = "running"
RESTARTING = "restarting"
FAILED = "failed"
STOPPED = "stopped"
#: States in which no process exists and none will be started.
FINAL_STATES = (FAILED, STOPPED)

#: Restart backoff: first delay, ceiling, and the uptime after which it starts over.
BACKOFF_INITIAL = 0.1
BACKOFF_MAX = 5.0
BACKOFF_RESET_AFTER = 10.0


class DeviceRecord:
    """Status, addresses and process of one supervised device."""

    def __init__(self, spec: DeviceSpec, factory: FactoryPath, log_path: Path) -> None:
        self.spec = spec
        self.factory = factory
        self.name = spec.name
        self.log_path = log_path
        self.status = STARTING
        self.pid: int | None = None
        self.host = spec.host
        self.port = spec.port
        self.control_port = 0
        self.model = ""
        self.pty: str | None = None
        self.restarts = 0
        self.returncode: int | None = None
        self.failure = ""
        self.changed = threading.Condition()
        self.ready: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        self.gone = threading.Event()
        # Owned by the monitor thread.
        self.active = False  # a launch is in flight or its process is alive
        self.stopping = False
        self.launch_id = 0
        self.status_fd: int | None = None
        self.lifeline_fd: int | None = None
        self.status_buffer = bytearray()
        self.start_error = ""
        self.ready_at = 0.0
        self.backoff = BACKOFF_INITIAL
        self.cancel_timer: Callable[[], None] | None = None

    def update(self, **changes: Any) -> None:
        """Change attributes and wake every waiter; final states also set ``gone``."""
        with self.changed:
            for key, value in changes.items():
                setattr(self, key, value)
            if self.status in FINAL_STATES:
                self.gone.set()
            self.changed.notify_all()

    def wait_until(self, predicate: Callable[[DeviceRecord], bool], timeout: float) -> bool:
        """Block until ``predicate(self)`` holds; False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(remaining)
        return True

    def next_backoff(self) -> float:
        """Delay before the next restart; doubles per attempt, starts over after a good run."""
        if self.ready_at and time.monotonic() - self.ready_at >= BACKOFF_RESET_AFTER:
            self.backoff = BACKOFF_INITIAL
        delay = self.backoff
        self.backoff = min(self.backoff * 2, BACKOFF_MAX)
        return delay

    def unavailable(self) -> DeviceUnavailable | None:
        """Why the device cannot take requests now, or None if it is running."""
        status = self.status
        if status == RUNNING:
            return None
        details = {
            STARTING: "it has not reported ready yet",
            RESTARTING: f"it exited and the supervisor is restarting it (restarts so far: "
                        f"{self.restarts}); wait with "
                        "endpoint.wait_until(lambda e: e.status == 'running')",
            FAILED: f"{self.failure or 'the process exited'}; its restart policy is 'fail': "
                    "fix the cause (see the log) or spawn it with restart='restart'",
            STOPPED: "the supervisor stopped it",
        }
        tail = log_tail(self.log_path) if status in (FAILED, RESTARTING) else ""
        return DeviceUnavailable(self.name, status, details[status], returncode=self.returncode,
                                 log_tail=tail, log_path=str(self.log_path))

    def describe(self) -> dict[str, Any]:
        """JSON-ready state (the state file, ``hil status``)."""
        return {"name": self.name, "device": self.spec.device, "model": self.model,
                "host": self.host, "port": self.port, "control_port": self.control_port,
                "pid": self.pid, "status": self.status, "restarts": self.restarts,
                "returncode": self.returncode, "restart": self.spec.restart,
                "log": str(self.log_path), "pty": self.pty}
