"""``serve_in_background``: run one asyncio TCP server in a thread of its own.

The plugin's fixtures are synchronous; the bridge and the replay player are
``OneClientServer`` objects that need a running event loop. Each gets a thread
with its own loop for as long as a test uses it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

#: Seconds a server gets to start listening, and to close.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
#: Event-loop iterations a server gets before it closes, so bytes a client already sent
#: (in the socket buffer) are read and handled: readable, data received, handler run.
SETTLE_ITERATIONS = 10


class TcpServer(Protocol):
    """The part of the ``OneClientServer`` API used here."""

    @property
    def start_task(self) -> asyncio.Future[Any]: ...

    @property
    def port(self) -> int | None: ...

    async def close(self) -> None: ...


@contextlib.contextmanager
def serve_in_background(build: Callable[[], TcpServer],
                        host: str = "127.0.0.1") -> Iterator[tuple[str, int]]:
    """Build a server in a new thread's loop (``build`` runs there) and yield its address."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="hil-background-server", daemon=True)
    thread.start()
    server: TcpServer | None = None
    try:
        async def start() -> TcpServer:
            started = build()
            await started.start_task
            return started

        server = asyncio.run_coroutine_threadsafe(start(), loop).result(START_TIMEOUT)
        if not server.port:
            raise RuntimeError(f"the server on {host} listens on several ports; use an IP address")
        yield host, server.port
    finally:
        try:
            if server is not None:
                with contextlib.suppress(concurrent.futures.TimeoutError):
                    asyncio.run_coroutine_threadsafe(settle_and_close(server),
                                                     loop).result(STOP_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(STOP_TIMEOUT)
            if not thread.is_alive():
                loop.close()


async def settle_and_close(server: TcpServer) -> None:
    for _ in range(SETTLE_ITERATIONS):
        await asyncio.sleep(0)
    await server.close()
