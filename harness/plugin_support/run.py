"""``RunContext``: where one test run keeps its files and how it names them.

A test run (one ``pytest`` invocation, all its xdist workers) shares a run uid
and a run directory; each worker writes under its own subdirectory, and every
file name carries the worker id and the run uid, so workers never write the
same file and logs from different runs never mix.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

#: Worker id of a run without xdist (xdist's own ``worker_id`` fixture says "master").
MAIN_WORKER = "main"
#: Characters of the run uid that go into file names.
SHORT_UID = 8
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def new_run_uid() -> str:
    return uuid.uuid4().hex


def safe_file_name(text: str, limit: int = 120) -> str:
    """``text`` with every run of unsafe characters as one ``_``, cut to ``limit``."""
    return _UNSAFE.sub("_", text).strip("_.")[:limit] or "_"


def default_run_root(uid: str) -> Path:
    """``$TMPDIR/hil-run-<uid>``: per run, shared by the run's workers on this host."""
    return Path(tempfile.gettempdir()) / f"hil-run-{uid[:SHORT_UID]}-{os.getuid()}"


@dataclass(frozen=True)
class RunContext:
    """The run uid, this process's worker id and the shared run directory (made on use)."""

    uid: str
    worker: str
    root: Path

    @property
    def short_uid(self) -> str:
        return self.uid[:SHORT_UID]

    @property
    def worker_dir(self) -> Path:
        """This worker's directory (device logs, fork server log), created on first use."""
        path = self.root / f"{self.worker}-{self.short_uid}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def device_name(self, device: str, number: int) -> str:
        """``keithley6517b-gw0-1a2b3c4d-3``: the device's log is ``<name>.log``."""
        return f"{device}-{self.worker}-{self.short_uid}-{number}"

    def file_name(self, stem: str, suffix: str) -> str:
        """A file name for ``stem`` (a test id) carrying the worker id and run uid."""
        return f"{safe_file_name(stem)}.{self.worker}-{self.short_uid}{suffix}"

    def remove(self) -> None:
        """Delete the run directory and everything in it."""
        shutil.rmtree(self.root, ignore_errors=True)
