"""Process probes shared by the test conftests (imported as ``tests.process_probes``)."""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Iterable
from pathlib import Path

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


def live_children() -> dict[int, list[int]]:
    """Each parent pid and its live children, from /proc (zombies excluded)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            state, parent = (entry / "stat").read_text().rpartition(")")[2].split()[:2]
            if state not in ("Z", "X"):
                children.setdefault(int(parent), []).append(int(entry.name))
    return children


def children_of(pid: int) -> list[int]:
    """Live child processes of ``pid``."""
    return live_children().get(pid, [])


def descendants_of(root: int) -> set[int]:
    """Live descendants of ``root``: children, their children, and so on."""
    children = live_children()
    found: set[int] = set()
    waiting = [root]
    while waiting:
        for child in children.get(waiting.pop(), []):
            if child not in found:
                found.add(child)
                waiting.append(child)
    return found
