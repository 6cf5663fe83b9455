"""``Supervisor``: one OS process per device, ready when ``spawn`` returns, no orphans.

Example::

    with Supervisor() as sup:
        em1 = sup.spawn("keithley6517b", name="em1", speed=0)
        # talk SCPI to em1.host:em1.port; em1.control.signal("CURR", "constant", value=1e-9)

    async with Supervisor() as sup:
        em1 = await sup.aspawn("keithley6514")

Devices are forked by a fork server (a preloaded single-threaded process, see
``fork_server``) into their own process groups. Each watches a lifeline pipe to
this process and dies with its parent (parent-death signal); ``close()``,
SIGTERM (when the supervisor runs in the main thread), Ctrl-C and interpreter
exit stop them all.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import functools
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self

from devices.keithley.registry import DeviceRegistry
from devices.keithley.registry import devices as default_registry
from harness.supervisor.control_client import DEFAULT_TIMEOUT, ControlClient
from harness.supervisor.endpoint import Endpoint
from harness.supervisor.errors import DeviceStartError, SpecError, SupervisorError
from harness.supervisor.launcher import Launcher
from harness.supervisor.logs import log_tail
from harness.supervisor.monitor import Monitor
from harness.supervisor.records import FAILED, DeviceRecord
from harness.supervisor.spec import DeviceSpec, check_terminator, factory_path
from harness.supervisor.state import write_state

logger = logging.getLogger(__name__)

#: Seconds a device gets to stop after SIGTERM, and then after SIGKILL.
STOP_TIMEOUT = 5.0
KILL_TIMEOUT = 2.0
#: Default seconds from launch to readiness (generous: CI machines are busy).
START_TIMEOUT = 60.0

_live: weakref.WeakSet[Supervisor] = weakref.WeakSet()


class Supervisor:
    """Starts, watches and stops device processes.

    ``run_dir`` holds the device logs and ``state.json`` (default: a temporary
    directory removed by ``close()`` unless ``keep_run_dir``). ``registry`` maps
    device names to factories (default: the process-wide ``devices``).
    ``handle_sigterm`` turns SIGTERM into ``SystemExit`` so the devices are
    stopped in order (only when used from the main thread and SIGTERM has its
    default action).
    """

    def __init__(self, *, run_dir: str | Path | None = None,
                 registry: DeviceRegistry | None = None, start_timeout: float = START_TIMEOUT,
                 stop_timeout: float = STOP_TIMEOUT, control_timeout: float = DEFAULT_TIMEOUT,
                 keep_run_dir: bool = False, handle_sigterm: bool = True) -> None:
        self.registry = registry if registry is not None else default_registry
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.control_timeout = control_timeout
        self._given_run_dir = Path(run_dir) if run_dir is not None else None
        self._keep_run_dir = keep_run_dir or run_dir is not None
        self._handle_sigterm = handle_sigterm
        self._run_dir: Path | None = None
        self._lock = threading.RLock()
        self._records: dict[str, DeviceRecord] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._launcher: Launcher | None = None
        self._monitor: Monitor | None = None
        self._closed = False

    # -- context managers ---------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._install_sigterm_handler()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        self._install_sigterm_handler()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.aclose()

    # -- properties ---------------------------------------------------------------------------

    @property
    def run_dir(self) -> Path:
        """The run directory (created on first use)."""
        with self._lock:
            if self._run_dir is None:
                if self._given_run_dir is not None:
                    self._given_run_dir.mkdir(parents=True, exist_ok=True)
                    self._run_dir = self._given_run_dir
                else:
                    self._run_dir = Path(tempfile.mkdtemp(prefix="hil-supervisor-"))
            return self._run_dir

    @property
    def fork_server_pid(self) -> int | None:
        """Process id of the fork server, the parent of every device process (None before use)."""
        launcher = self._launcher
        return launcher.pid if launcher is not None else None

    @property
    def endpoints(self) -> list[Endpoint]:
        with self._lock:
            return list(self._endpoints.values())

    def __getitem__(self, name: str) -> Endpoint:
        with self._lock:
            try:
                return self._endpoints[name]
            except KeyError:
                raise KeyError(f"no device called {name!r}; running: "
                               f"{', '.join(self._endpoints) or 'none'}") from None

    def failed(self) -> list[Endpoint]:
        """Endpoints whose device died under the ``fail`` policy or never started."""
        return [endpoint for endpoint in self.endpoints if endpoint.status == FAILED]

    # -- spawning -----------------------------------------------------------------------------

    def spawn(self, device: str = "keithley6517b", *, name: str = "",
              terminator: str | bytes = "LF", speed: float = 1.0, strict: bool = True,
              seed: int = 0, restart: str = "fail", host: str = "127.0.0.1", port: int = 0,
              pty: bool = False, **config: Any) -> Endpoint:
        """Start one device and return when it answers; ``**config`` are model keys.

        ``pty=True`` also serves it on a pseudo-terminal (``endpoint.pty``).

        Raises ``UnknownDevice`` (lists the registered names), ``SpecError`` or
        ``DeviceStartError`` (with the device's exit code and log tail).
        """
        spec = DeviceSpec(device, name=name, terminator=check_terminator(terminator),
                          speed=speed, strict=strict, seed=seed, restart=restart, host=host,
                          port=port, config=config, pty=pty)
        return self.spawn_many([spec])[0]

    def spawn_bridge(self, url: str, **options: Any) -> Endpoint:
        """Start a bridge to the instrument at serial ``url`` (a device path or URL).

        ``options`` are those of ``harness.supervisor.bridge.bridge_spec`` (``baud``,
        ``parity``, ``xonxoff``, ``instrument_terminator``, ``restart``...). Raises
        ``SerialSettingsError`` (or a subclass) for bad settings, ``DeviceStartError``
        if the port cannot be opened.
        """
        from harness.supervisor.bridge import bridge_spec

        return self.spawn_many([bridge_spec(url, **options)])[0]

    async def aspawn(self, device: str = "keithley6517b", **options: Any) -> Endpoint:
        """Coroutine form of ``spawn`` (the waiting happens in a worker thread)."""
        return await asyncio.to_thread(functools.partial(self.spawn, device, **options))

    def spawn_many(self, specs: Iterable[DeviceSpec]) -> list[Endpoint]:
        """Start several devices concurrently; all of them or none (the rest are stopped)."""
        self._install_sigterm_handler()
        with self._lock:
            if self._closed:
                raise SupervisorError("this Supervisor is closed; create a new one")
            records = self._register(list(specs))
        try:
            monitor = self._start()
            for record in records:
                monitor.call(functools.partial(monitor.launch, record))
            return self._await_ready(records)
        except BaseException:
            self._abandon(records)
            raise

    async def aspawn_many(self, specs: Iterable[DeviceSpec]) -> list[Endpoint]:
        return await asyncio.to_thread(self.spawn_many, list(specs))

    def _start(self) -> Monitor:
        with self._lock:
            if self._closed:
                raise SupervisorError("this Supervisor is closed; create a new one")
            if self._monitor is None:
                self._launcher = Launcher(self.run_dir / "fork-server.log")
                self._monitor = Monitor(self._launcher, start_timeout=self.start_timeout,
                                        on_change=self._write_state)
                _live.add(self)
                logger.info("Supervisor started (fork server %d, run directory %s)",
                            self._launcher.pid, self.run_dir)
            return self._monitor

    def _abandon(self, records: list[DeviceRecord]) -> None:
        """Stop and forget the devices of a failed ``spawn_many``; their names are free again."""
        self._stop(records)
        with self._lock:
            for record in records:
                self._records.pop(record.name, None)
                self._endpoints.pop(record.name, None)
        monitor = self._monitor
        if monitor is not None:
            monitor.call(functools.partial(monitor.forget, records))

    def _register(self, specs: list[DeviceSpec]) -> list[DeviceRecord]:
        with self._lock:
            taken = set(self._records)
            records = []
            for spec in specs:
                if not isinstance(spec, DeviceSpec):
                    raise SpecError(f"expected a DeviceSpec, got {spec!r}")
                factory = factory_path(self.registry, spec.device)
                spec = spec if spec.name else spec.named(_free_name(spec.device, taken))
                if spec.name in taken:
                    raise SpecError(f"a device called {spec.name!r} already exists in this "
                                    "supervisor; choose another name")
                taken.add(spec.name)
                records.append(DeviceRecord(spec, factory, self.run_dir / f"{spec.name}.log"))
            for record in records:
                self._records[record.name] = record
            return records

    def _await_ready(self, records: list[DeviceRecord]) -> list[Endpoint]:
        futures = [record.ready for record in records]
        concurrent.futures.wait(futures, timeout=self.start_timeout + KILL_TIMEOUT)
        errors = [self._start_error(record) for record in records]
        failures = [error for error in errors if error is not None]
        if failures:
            first = failures[0]
            for other in failures[1:]:
                first.add_note(f"also: {other}")
            raise first
        endpoints = [self._endpoint(record) for record in records]
        with self._lock:
            for endpoint in endpoints:
                self._endpoints[endpoint.name] = endpoint
        return endpoints

    def _start_error(self, record: DeviceRecord) -> DeviceStartError | None:
        if not record.ready.done():
            return DeviceStartError(record.name, "no readiness report from the fork server "
                                    f"within {self.start_timeout:g} s",
                                    log_tail=log_tail(record.log_path),
                                    log_path=str(record.log_path))
        error = record.ready.exception()
        if error is None:
            return None
        if isinstance(error, DeviceStartError):
            return error
        return DeviceStartError(record.name, repr(error), log_path=str(record.log_path))

    def _endpoint(self, record: DeviceRecord) -> Endpoint:
        control = ControlClient(record.name, "127.0.0.1", record.control_port,
                                timeout=self.control_timeout, availability=record.unavailable)
        try:
            # Readiness means answering, not just listening.
            control.ping()
        except SupervisorError as e:
            raise DeviceStartError(record.name, f"it reported ready but its control channel "
                                   f"does not answer: {e}", log_tail=log_tail(record.log_path),
                                   log_path=str(record.log_path)) from e
        return Endpoint(name=record.name, device=record.spec.device, model=record.model,
                        host=record.host, port=record.port, control_port=record.control_port,
                        control=control, log_path=record.log_path, _record=record)

    # -- stopping -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every device (SIGTERM, wait, SIGKILL the group), then the fork server."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            monitor, launcher = self._monitor, self._launcher
            records = list(self._records.values())
        try:
            if monitor is not None and launcher is not None:
                try:
                    self._stop(records)
                finally:
                    monitor.stop()
                    launcher.close()
                    self._write_state()
        finally:
            _live.discard(self)
            self._restore_sigterm_handler()
            if self._run_dir is not None and not self._keep_run_dir:
                shutil.rmtree(self._run_dir, ignore_errors=True)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def _stop(self, records: list[DeviceRecord]) -> None:
        monitor = self._monitor
        if monitor is None or not records:
            return
        monitor.call(functools.partial(monitor.request_stop, records)).result()
        deadline = time.monotonic() + self.stop_timeout
        for record in records:
            record.gone.wait(max(0.0, deadline - time.monotonic()))
        stubborn = [record for record in records if not record.gone.is_set()]
        if stubborn:
            monitor.call(functools.partial(monitor.kill, stubborn)).result()
            deadline = time.monotonic() + KILL_TIMEOUT
            for record in stubborn:
                record.gone.wait(max(0.0, deadline - time.monotonic()))

    # -- state file and signals ------------------------------------------------------------

    def _write_state(self) -> None:
        with self._lock:
            records = list(self._records.values())
            run_dir = self._run_dir
        if run_dir is None:
            return
        state = {"supervisor_pid": os.getpid(), "run_dir": str(run_dir),
                 "updated": time.time(), "closed": self._closed,
                 "devices": [record.describe() for record in records]}
        try:
            write_state(run_dir, state)
        except OSError as e:
            logger.warning("Cannot write the state file in %s: %s", run_dir, e)

    def _install_sigterm_handler(self) -> None:
        if not self._handle_sigterm or threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _exit_on_sigterm)

    def _restore_sigterm_handler(self) -> None:
        if threading.current_thread() is not threading.main_thread() or _live:
            return
        if signal.getsignal(signal.SIGTERM) is _exit_on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _free_name(device: str, taken: set[str]) -> str:
    number = 1
    while f"{device}-{number}" in taken:
        number += 1
    return f"{device}-{number}"


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Unwind like Ctrl-C does, so ``with`` blocks and ``atexit`` stop the devices."""
    if not _live:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    raise SystemExit(128 + signum)


@atexit.register
def _close_all_supervisors() -> None:
    for supervisor in list(_live):
        supervisor.close()
