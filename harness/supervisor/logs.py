"""Device log files: where they live and how much of them an error message shows."""

from __future__ import annotations

import os
from pathlib import Path

#: Lines and bytes of a log shown in error messages.
TAIL_LINES = 25
TAIL_BYTES = 8192


def pty_link_path(log_path: Path) -> Path:
    """The stable symlink to a device's pseudo-terminal, next to its log (survives restarts)."""
    return log_path.with_suffix(".tty")


def log_tail(path: Path, lines: int = TAIL_LINES, max_bytes: int = TAIL_BYTES, *,
             since: int = 0) -> str:
    """The last ``lines`` lines of a log file (at most ``max_bytes``), of what was written
    after byte ``since``; "" if there is none or the file is missing."""
    try:
        with open(path, "rb") as log:
            size = log.seek(0, os.SEEK_END)
            log.seek(max(since, size - max_bytes, 0))
            data = log.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])
