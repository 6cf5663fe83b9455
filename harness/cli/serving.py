"""One in-process server in the foreground of a command (``hil record``, ``hil replay``)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any, Protocol

from harness.cli.errors import CommandError
from harness.cli.preflight import listen_failure

#: The signals that stop a foreground server (Ctrl-C, ``kill``).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ForegroundServer(Protocol):
    """What ``serve_until_stopped`` needs of a ``harness.tcpip`` server."""

    @property
    def start_task(self) -> asyncio.Future[Any]: ...

    @property
    def port(self) -> int | None: ...

    async def close(self) -> None: ...


async def serve_until_stopped(server: ForegroundServer, host: str, port: int,
                              ready_message: Callable[[int], str]) -> None:
    """Start ``server``, print ``ready_message(port)`` and serve until SIGINT or SIGTERM.

    ``host`` and ``port`` are the asked-for address, named if it cannot be
    listened on (``CommandError``). The server is closed in every case.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            await server.start_task
        except OSError as e:
            raise CommandError(listen_failure(host, port, e)) from None
        print(ready_message(server.port or port), flush=True)
        await stop.wait()
    finally:
        await server.close()
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
