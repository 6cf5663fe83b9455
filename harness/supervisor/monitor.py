"""The monitor thread: launches devices, reads their readiness, notices deaths, restarts.

One thread waits on a selector over the fork server's socket, every device's
status pipe and a wake-up pipe, plus a heap of timers (start timeouts, restart
backoff). Deaths arrive as ``exit`` datagrams the moment the fork server reaps
the child, so detection takes milliseconds, not a polling period. Every change
to a ``DeviceRecord`` happens here; other threads submit work with ``call``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import heapq
import json
import logging
import os
import selectors
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from harness.supervisor import records as states
from harness.supervisor.errors import DeviceStartError, ForkServerError
from harness.supervisor.launcher import Launcher
from harness.supervisor.logs import log_tail
from harness.supervisor.pipes import read_available
from harness.supervisor.records import DeviceRecord

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: Bytes of status output kept from a device before a newline (a ready line is ~200).
MAX_STATUS_LINE = 65_536


@dataclass(order=True)
class _Timer:
    deadline: float
    sequence: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class Monitor:
    """Owns the device processes' life cycle; runs in its own daemon thread."""

    def __init__(self, launcher: Launcher, *, start_timeout: float,
                 on_change: Callable[[], None]) -> None:
        self.launcher = launcher
        self.start_timeout = start_timeout
        self._on_change = on_change
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._calls: deque[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] = deque()
        self._timers: list[_Timer] = []
        self._timer_sequence = 0
        self._launch_sequence = 0
        self._launches: dict[int, DeviceRecord] = {}
        self._by_pid: dict[int, DeviceRecord] = {}
        self._records: set[DeviceRecord] = set()
        self._fork_server_alive = True
        self._running = True
        self._selector.register(self._wake_r, selectors.EVENT_READ, self._run_calls)
        self._selector.register(launcher.sock, selectors.EVENT_READ, self._on_fork_server)
        self._thread = threading.Thread(target=self._run, name="hil-supervisor-monitor",
                                        daemon=True)
        self._thread.start()

    # -- running work in the monitor thread ------------------------------------------------

    def call(self, function: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run ``function`` in the monitor thread; the future holds its result."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        if threading.current_thread() is self._thread:
            self._settle(function, future)
            return future
        if not self._thread.is_alive():
            future.set_exception(RuntimeError("the supervisor's monitor thread has stopped"))
            return future
        self._calls.append((function, future))
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"\0")
        return future

    @staticmethod
    def _settle(function: Callable[[], Any], future: concurrent.futures.Future[Any]) -> None:
        try:
            future.set_result(function())
        except BaseException as e:
            future.set_exception(e)

    def _run_calls(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass
        while self._calls:
            self._settle(*self._calls.popleft())

    def stop(self) -> None:
        """End the thread (after the devices are stopped) and release its descriptors."""
        def finish() -> None:
            self._running = False
            for record in self._records:
                # Devices that outlived SIGKILL (not expected) at least lose their lifeline.
                self._close_status(record)
                self._close_lifeline(record)

        self.call(finish).result()
        self._thread.join()
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _run(self) -> None:
        while self._running:
            events = self._selector.select(self._time_to_next_timer())
            for key, _ in events:
                self._guarded(key.data)
            self._run_due_timers()
        while self._calls:
            self._settle(*self._calls.popleft())

    @staticmethod
    def _guarded(callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:
            # A bug here must not stop the supervision of every other device.
            logger.exception("Supervisor monitor: %r failed", callback)

    # -- timers ---------------------------------------------------------------------------

    def _add_timer(self, delay: float, callback: Callable[[], None]) -> _Timer:
        self._timer_sequence += 1
        timer = _Timer(time.monotonic() + delay, self._timer_sequence, callback)
        heapq.heappush(self._timers, timer)
        return timer

    def _time_to_next_timer(self) -> float | None:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        if not self._timers:
            return None
        return max(0.0, self._timers[0].deadline - time.monotonic())

    def _run_due_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0].deadline <= now:
            timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                self._guarded(timer.callback)

    # -- launching ------------------------------------------------------------------------

    def launch(self, record: DeviceRecord) -> None:
        """Start a process for ``record`` (monitor thread)."""
        self._records.add(record)
        if not self._fork_server_alive:
            self._give_up(record, "the fork server has exited; close this Supervisor and "
                                  "start a new one")
            return
        status_r, status_w = os.pipe()
        lifeline_r, lifeline_w = os.pipe()
        self._launch_sequence += 1
        launch_id = self._launch_sequence
        try:
            self.launcher.send({"op": "launch", "id": launch_id, "request": launch_request(record)},
                               (status_w, lifeline_r))
        except ForkServerError as e:
            os.close(status_r)
            os.close(lifeline_w)
            self._give_up(record, str(e))
            return
        finally:
            os.close(status_w)
            os.close(lifeline_r)
        os.set_blocking(status_r, False)
        record.launch_id = launch_id
        record.active = True
        record.status_fd, record.lifeline_fd = status_r, lifeline_w
        record.status_buffer.clear()
        record.start_error = ""
        self._launches[launch_id] = record
        self._selector.register(status_r, selectors.EVENT_READ,
                                functools.partial(self._on_status, record, status_r))
        timer = self._add_timer(self.start_timeout,
                                functools.partial(self._start_timed_out, record, launch_id))
        record.cancel_timer = timer.cancel

    def _start_timed_out(self, record: DeviceRecord, launch_id: int) -> None:
        if record.launch_id != launch_id or not record.active or record.status == states.RUNNING:
            return
        record.start_error = f"it did not report ready within {self.start_timeout:g} s"
        self._terminate(record, signal.SIGKILL)

    # -- events from the fork server and the devices -------------------------------------

    def _on_fork_server(self) -> None:
        message = self.launcher.receive()
        if message is None:
            self._fork_server_exited()
            return
        event = message.get("event")
        if event == "launched":
            record = self._launches.pop(message["id"], None)
            if record is not None:
                self._by_pid[message["pid"]] = record
                record.update(pid=message["pid"])
                if record.stopping:
                    self._terminate(record, signal.SIGTERM)
        elif event == "launch_failed":
            record = self._launches.pop(message["id"], None)
            if record is not None:
                self._process_ended(record, None, message.get("error", "launch failed"))
        elif event == "exit":
            record = self._by_pid.pop(message["pid"], None)
            if record is not None:
                self._process_ended(record, message["returncode"])

    def _on_status(self, record: DeviceRecord, fd: int) -> None:
        data = read_available(fd)
        if data is None:
            return
        if not data:
            self._close_status(record)
            return
        self._feed_status(record, data)

    def _feed_status(self, record: DeviceRecord, data: bytes) -> None:
        record.status_buffer += data
        *lines, rest = record.status_buffer.split(b"\n")
        record.status_buffer = bytearray(rest[-MAX_STATUS_LINE:])
        for line in lines:
            self._on_status_line(record, line)

    def _on_status_line(self, record: DeviceRecord, line: bytes | bytearray) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            logger.warning("Device %s sent an unreadable status line %r", record.name, line[:200])
            return
        if message.get("event") == "error":
            record.start_error = str(message.get("message", ""))
        elif message.get("event") == "ready":
            self._became_ready(record, message)

    def _became_ready(self, record: DeviceRecord, message: dict[str, Any]) -> None:
        if record.stopping or record.status not in (states.STARTING, states.RESTARTING):
            return
        restarted = record.status == states.RESTARTING
        if record.cancel_timer is not None:
            record.cancel_timer()
        record.ready_at = time.monotonic()
        record.update(status=states.RUNNING, pid=message["pid"], host=message["host"],
                      port=message["port"], control_port=message["control_port"],
                      model=message["model"], pty=message.get("pty"),
                      restarts=record.restarts + restarted)
        if restarted:
            logger.warning("Device %s restarted (pid %d, restart %d) on %s:%d", record.name,
                           record.pid, record.restarts, record.host, record.port)
        elif not record.ready.done():
            record.ready.set_result(message)
        self._on_change()

    # -- deaths, restarts and stops ---------------------------------------------------------

    def _process_ended(self, record: DeviceRecord, returncode: int | None,
                       reason: str = "") -> None:
        self._close_status(record, drain=True)
        self._close_lifeline(record)
        if record.cancel_timer is not None:
            record.cancel_timer()
        record.active = False
        was = record.status
        reason = reason or record.start_error
        record.update(pid=None, returncode=returncode)
        if record.stopping:
            self._stopped(record)
        elif was == states.STARTING:
            self._first_start_failed(record, returncode, reason)
        elif record.spec.restart == "restart" and self._fork_server_alive:
            self._schedule_restart(record, returncode, reason)
        else:
            failure = reason or "the process exited"
            record.update(status=states.FAILED, failure=failure)
            logger.error("Device %s failed: %s (exit code %s); log %s:\n%s", record.name,
                         failure, returncode, record.log_path, log_tail(record.log_path))
        self._on_change()

    def _first_start_failed(self, record: DeviceRecord, returncode: int | None,
                            reason: str) -> None:
        reason = reason or "the process exited before it reported ready"
        record.update(status=states.FAILED, failure=f"it did not start: {reason}")
        if not record.ready.done():
            record.ready.set_exception(DeviceStartError(
                record.name, reason, returncode=returncode, log_tail=log_tail(record.log_path),
                log_path=str(record.log_path)))

    def _schedule_restart(self, record: DeviceRecord, returncode: int | None,
                          reason: str) -> None:
        delay = record.next_backoff()
        logger.warning("Device %s exited (code %s%s); restarting in %.2f s on port %d",
                       record.name, returncode, f": {reason}" if reason else "", delay,
                       record.port)
        record.update(status=states.RESTARTING)
        timer = self._add_timer(delay, functools.partial(self._relaunch, record))
        record.cancel_timer = timer.cancel

    def _relaunch(self, record: DeviceRecord) -> None:
        if not record.stopping and record.status == states.RESTARTING:
            self.launch(record)

    def _give_up(self, record: DeviceRecord, reason: str) -> None:
        record.active = False
        if record.status == states.STARTING:
            self._first_start_failed(record, None, reason)
        else:
            record.update(status=states.FAILED, failure=reason)
        self._on_change()

    def request_stop(self, records: Iterable[DeviceRecord]) -> None:
        """Ask devices to stop: close their lifeline and SIGTERM their group (monitor thread)."""
        for record in records:
            record.stopping = True
            if record.cancel_timer is not None:
                record.cancel_timer()
            if not record.active:
                if record.status not in states.FINAL_STATES:
                    self._stopped(record)
                continue
            self._close_lifeline(record)
            self._terminate(record, signal.SIGTERM)
        self._on_change()

    @staticmethod
    def _stopped(record: DeviceRecord) -> None:
        record.update(status=states.STOPPED)
        if not record.ready.done():
            record.ready.set_exception(DeviceStartError(
                record.name, "the supervisor was closed while it was starting",
                log_path=str(record.log_path)))

    def kill(self, records: Iterable[DeviceRecord]) -> None:
        """SIGKILL the groups of devices that did not stop in time (monitor thread)."""
        for record in records:
            if record.active:
                logger.warning("Device %s did not stop in time; killing it", record.name)
                self._terminate(record, signal.SIGKILL)

    def forget(self, records: Iterable[DeviceRecord]) -> None:
        for record in records:
            self._records.discard(record)

    def _terminate(self, record: DeviceRecord, signum: int) -> None:
        pid = record.pid
        if pid is None:
            # Not forked yet: closing the lifeline makes it stop as soon as it runs.
            self._close_lifeline(record)
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signum)

    def _fork_server_exited(self) -> None:
        logger.error("The fork server exited; its devices die with it (parent-death signal)")
        self._fork_server_alive = False
        self._selector.unregister(self.launcher.sock)
        for record in list(self._records):
            if record.active:
                self._terminate(record, signal.SIGKILL)
                self._by_pid.pop(record.pid or -1, None)
                self._process_ended(record, None, "the fork server exited")

    # -- pipes ------------------------------------------------------------------------------

    def _close_status(self, record: DeviceRecord, drain: bool = False) -> None:
        fd = record.status_fd
        if fd is None:
            return
        if drain:
            # The child is dead: whatever it wrote last (an error line) is still readable.
            while data := read_available(fd, 65536):
                self._feed_status(record, data)
        record.status_fd = None
        self._selector.unregister(fd)
        os.close(fd)

    @staticmethod
    def _close_lifeline(record: DeviceRecord) -> None:
        fd, record.lifeline_fd = record.lifeline_fd, None
        if fd is not None:
            os.close(fd)


def launch_request(record: DeviceRecord) -> dict[str, Any]:
    """What the device process needs; restarts reuse the ports of the first run."""
    spec = record.spec
    return {"name": record.name, "device": spec.device,
            "factory": {"module": record.factory.module, "qualname": record.factory.qualname},
            "host": record.host, "port": record.port, "control_port": record.control_port,
            "terminator": spec.terminator, "speed": spec.speed, "strict": spec.strict,
            "seed": spec.seed, "config": dict(spec.config), "log": str(record.log_path),
            "pty": spec.pty, "record_dir": spec.record_dir,
            "redact_serial": spec.redact_serial}
