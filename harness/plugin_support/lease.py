"""``Lease``: one holder at a time for a shared instrument, across processes on this host.

A lease is an exclusive ``flock`` on a file in a per-user directory of the
system temp dir; the holder writes who it is (pid, worker, test, since) into
the file, so a waiter that gives up can name the holder. The kernel drops the
lock when the holder's process dies, so a crashed worker never blocks the rest.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from harness.plugin_support.run import safe_file_name

#: Seconds between two attempts to take a busy lease (flock has no timeout of its own).
POLL_INTERVAL = 0.05
DEFAULT_TIMEOUT = 300.0
#: Bytes of holder description read back; the holder writes a few hundred.
MAX_HOLDER_BYTES = 4096


class LeaseTimeout(TimeoutError):
    """The lease stayed taken for the whole timeout; the message names its holder."""


def lease_directory() -> Path:
    path = Path(tempfile.gettempdir()) / f"hil-leases-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def lease_path(resource: str) -> Path:
    """The lock file of ``resource`` (a target such as ``tcp:bench:5025``)."""
    return lease_directory() / f"{safe_file_name(resource)}.lock"


class Lease:
    """Exclusive use of ``resource``; ``holder`` describes the taker (test id, worker...)."""

    def __init__(self, resource: str, holder: dict[str, Any], *,
                 timeout: float = DEFAULT_TIMEOUT, path: Path | None = None) -> None:
        self.resource = resource
        self.holder = {"pid": os.getpid(), "host": socket.gethostname(), **holder}
        self.timeout = timeout
        self.path = path if path is not None else lease_path(resource)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Wait for the lease; raises ``LeaseTimeout`` naming the holder after ``timeout`` s."""
        if self._fd is not None:
            raise RuntimeError(f"the lease on {self.resource} is already held by this object")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            self._wait_for_lock(fd)
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({**self.holder, "since": time.time()}).encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _wait_for_lock(self, fd: int) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LeaseTimeout(self._timeout_message(fd)) from None
            # A retry period: flock cannot wait with a timeout, and this waiter is
            # woken by nothing when the holder lets go.
            time.sleep(POLL_INTERVAL)

    def _timeout_message(self, fd: int) -> str:
        return (f"{self.resource} is still in use after {self.timeout:g} s, held by "
                f"{describe_holder(read_holder(fd))}; wait for that test to end, stop the "
                f"process holding it, or raise the timeout (--hil-lease-timeout); "
                f"lock file {self.path}")

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the only descriptor drops the flock

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()


def read_holder(fd: int) -> dict[str, Any] | None:
    try:
        holder = json.loads(os.pread(fd, MAX_HOLDER_BYTES, 0) or b"null")
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def describe_holder(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "a process that has not written its name yet"
    since = holder.get("since")
    held_for = f" for {time.time() - since:.0f} s" if isinstance(since, int | float) else ""
    return (f"pid {holder.get('pid')} on {holder.get('host')} (worker {holder.get('worker')}, "
            f"test {holder.get('test')}){held_for}")
