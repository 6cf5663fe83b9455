"""Non-blocking pipe reads shared by the supervisor and the device process."""

from __future__ import annotations

import os


def read_available(fd: int, size: int = 4096) -> bytes | None:
    """What a non-blocking pipe holds now: None if nothing yet, ``b""`` at EOF or on error."""
    try:
        return os.read(fd, size)
    except BlockingIOError:
        return None
    except OSError:
        return b""
