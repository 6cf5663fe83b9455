"""Process probes shared by the test conftests (imported as ``tests.process_probes``)."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterable

#: Seconds ``still_running`` waits when no timeout is given.
DEFAULT_WAIT = 10.0


def still_running(pids: Iterable[int], timeout: float = DEFAULT_WAIT) -> set[int]:
    """Wait until every process in ``pids`` has ended; return those still running.

    Uses pidfds, which become readable when the process ends (zombie or reaped).
    """
    pidfds: dict[int, int] = {}
    for pid in set(pids):
        try:
            pidfds[os.pidfd_open(pid)] = pid
        except ProcessLookupError:
            continue
    try:
        deadline = time.monotonic() + timeout
        while pidfds:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            readable, _, _ = select.select(list(pidfds), [], [], remaining)
            for fd in readable:
                os.close(fd)
                del pidfds[fd]
        return set(pidfds.values())
    finally:
        for fd in pidfds:
            os.close(fd)
