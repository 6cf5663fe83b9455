"""Time bounds of the tcpip tests (spec §19.2 T1) and `within`, which applies them.

Generous on purpose: the machine has 2 cores shared with other jobs. Test
modules import this as ``tests.harness.tcpip.bounds`` (see the rootdir conftest).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

MONITOR_BOUND = 0.5  # "within one monitor interval" for the default 0.1 s
SOON = 1.0  # the "soon" bound of the specification
STD_WAIT = 5.0  # upper bound for things that should take milliseconds (connect, start, a reply)


async def within(awaitable: Awaitable[Any], seconds: float = STD_WAIT) -> Any:
    """Await with a timeout, so that a missing message fails instead of hanging."""
    return await asyncio.wait_for(awaitable, seconds)
