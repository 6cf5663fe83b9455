"""Test helpers: a line-queueing read-loop server and a test-case base class.

The module is not named ``test_*.py`` so that pytest never collects it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import unittest
from collections.abc import AsyncIterator
from typing import Any

from .base import BaseClientOrServer
from .client import Client
from .constants import DEFAULT_LOCALHOST, HEARTBEAT
from .one_client_read_loop_server import OneClientReadLoopServer
from .one_client_server import OneClientServer

__all__ = ["BaseOneClientServerTestCase", "TestOneClientReadLoopServer"]

# Seconds: the default timeout of `BaseOneClientServerTestCase`.
STD_TIMEOUT = 2


class TestOneClientReadLoopServer(OneClientReadLoopServer):
    """A read-loop server that queues every received line; see `get_next_data`.

    Set ``fail_next_read`` to make the next `read_and_dispatch` call fail
    (once) with a mock `ConnectionError`.
    """

    # Not a test class, although the name starts with "Test".
    __test__ = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._data_queue: asyncio.Queue[str] = asyncio.Queue()
        self.fail_next_read = False

    async def read_and_dispatch(self) -> None:
        """Queue one line; handle a heartbeat line; queue ``""`` at EOF."""
        if self.fail_next_read:
            self.fail_next_read = False
            raise ConnectionError("Mock read failure requested by fail_next_read")
        terminator = self.terminator
        try:
            raw_line = await self.readuntil(terminator)
        except asyncio.IncompleteReadError:
            self._data_queue.put_nowait("")
            return
        payload = raw_line[: -len(terminator)]
        # Compared as bytes: the client sends the heartbeat unencoded.
        if payload == HEARTBEAT:
            await self.handle_received_heartbeat()
            return
        self._data_queue.put_nowait(payload.decode(self.encoding))

    async def get_next_data(self) -> str:
        """Return the oldest received line, decoded, without its terminator."""
        return await self._data_queue.get()


class BaseOneClientServerTestCase(unittest.IsolatedAsyncioTestCase):
    """Base class for tests of `OneClientServer` and its subclasses.

    Set ``server_class``; use `create_server` and `create_client`.
    """

    server_class: type[OneClientServer] | None = None

    def run(self, result: unittest.TestResult | None = None) -> unittest.TestResult | None:
        # Set up here rather than in setUp, so that subclasses cannot forget it.
        self.log = logging.getLogger(type(self).__name__)
        self.connect_queue: asyncio.Queue[bool] | None = None
        return super().run(result)

    async def connect_callback(self, server: BaseClientOrServer) -> None:
        """Print the connection state and queue it for `assert_next_connected`."""
        print(f"connect_callback: connected={server.connected}")
        if self.connect_queue is None:
            raise RuntimeError("connect_queue is None: create the server with create_server")
        self.connect_queue.put_nowait(server.connected)

    async def assert_next_connected(
        self,
        connected: bool,
        timeout: float = STD_TIMEOUT,  # noqa: ASYNC109 (public API of the compatible library)
    ) -> None:
        """Wait for the next queued connection state and check it equals ``connected``.

        Raises `TimeoutError` if none arrives in time, `RuntimeError` if
        `create_server` was never used.
        """
        if self.connect_queue is None:
            raise RuntimeError(
                "connect_queue is None: create the server with create_server, "
                "passing connect_callback=self.connect_callback"
            )
        next_connected = await asyncio.wait_for(self.connect_queue.get(), timeout=timeout)
        self.assertEqual(connected, next_connected)

    @contextlib.asynccontextmanager
    async def create_server(self, **kwargs: Any) -> AsyncIterator[OneClientServer]:
        """Start a ``server_class`` server on a free port; close it on exit."""
        if self.server_class is None:
            raise RuntimeError(f"Set {type(self).__name__}.server_class before create_server")
        if self.server_class is OneClientServer:
            kwargs.setdefault("host", DEFAULT_LOCALHOST)
        self.connect_queue = asyncio.Queue()
        async with self.server_class(port=0, log=self.log, **kwargs) as server:
            yield server

    @contextlib.asynccontextmanager
    async def create_client(
        self, server: OneClientServer, *, wait_connected: bool = True, **kwargs: Any
    ) -> AsyncIterator[Client]:
        """Connect a `Client` to ``server``; by default wait until the server accepts it."""
        async with Client(host=server.host, port=server.port, log=self.log, **kwargs) as client:
            if wait_connected:
                # Shielded: a timeout must not cancel the server's future.
                await asyncio.wait_for(asyncio.shield(server.connected_task), timeout=STD_TIMEOUT)
            yield client
