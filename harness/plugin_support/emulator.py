"""``EmulatorTarget``: each test gets emulated devices of this worker's own supervisor."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from harness.plugin_support.endpoint import InstrumentEndpoint
from harness.plugin_support.run import RunContext

if TYPE_CHECKING:
    from harness.plugin_support.pool import DevicePool
    from harness.supervisor import DeviceSpec, Supervisor


class EmulatorTarget:
    """Devices in processes of one ``Supervisor``, started on first use, pooled and renewed."""

    kind = "emulator"
    shared = False

    def __init__(self, run: RunContext, text: str = "emulator") -> None:
        self.run = run
        self.text = text
        self._lock = threading.Lock()
        self._pool: DevicePool | None = None
        self._closed = False

    def check(self) -> None:
        """Nothing to check before the first device starts."""

    @property
    def started(self) -> bool:
        return self._pool is not None

    @property
    def supervisor(self) -> Supervisor:
        """This worker's supervisor (created on first use; its logs go to the run directory)."""
        return self.pool.supervisor

    @property
    def pool(self) -> DevicePool:
        with self._lock:
            if self._pool is None:
                # Imported here: the supervisor and the models take ~0.25 s to import, which
                # a pytest run that uses no instrument should not pay.
                from harness.plugin_support.pool import DevicePool
                from harness.supervisor import Supervisor, SupervisorError

                if self._closed:
                    raise SupervisorError("the hil session is over; no more devices start")
                # No SIGTERM-to-SystemExit: pytest would report SystemExit as a test
                # failure and go on. Killed, the devices die with their lifeline.
                supervisor = Supervisor(run_dir=self.run.worker_dir, handle_sigterm=False)
                self._pool = DevicePool(supervisor, self.run.device_name)
            return self._pool

    def open(self, spec: DeviceSpec, test_id: str) -> InstrumentEndpoint:
        endpoint = self.pool.acquire(spec)
        offset = mark_log(endpoint.log_path, f"==== hil: {test_id} (worker {self.run.worker}, "
                                             f"run {self.run.short_uid}) uses this device ====")
        return InstrumentEndpoint(name=endpoint.name, device=endpoint.device, model=endpoint.model,
                                  host=endpoint.host, port=endpoint.port, target=self.text,
                                  log_path=endpoint.log_path, log_offset=offset,
                                  _emulator=endpoint)

    def release(self, instrument: InstrumentEndpoint, *, passed: bool = True) -> None:
        if self._pool is not None and instrument.emulated:
            self._pool.release(instrument.emulator)

    def close(self) -> None:
        """Stop every device process and the fork server."""
        with self._lock:
            self._closed = True
            pool = self._pool
        if pool is not None:
            pool.supervisor.close()


def mark_log(path: Path, line: str) -> int:
    """Append ``line`` to a device log (the device appends too); returns the size before it."""
    with open(path, "ab") as log:
        offset = log.tell()
        log.write(line.encode() + b"\n")
    return offset
