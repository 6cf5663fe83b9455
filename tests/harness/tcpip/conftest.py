"""Shared fixtures for the harness.tcpip acceptance tests (spec §19).

Test modules get everything through fixtures, and plain values from the helper
modules ``tests.harness.tcpip.bounds`` and ``tests.harness.tcpip.io_calls``. For
type annotations they may import the classes below under ``if TYPE_CHECKING:``
(``from conftest import Loopback``): conftest modules outside packages all share
the module name ``conftest``, so importing from it at run time is not reliable.

The main fixture is ``loopback``: it builds started servers and connected
clients on 127.0.0.1 with port 0 and closes every one of them at teardown,
newest first (clients before their servers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar, cast, overload

import pytest

from harness import tcpip
from tests.harness.tcpip.bounds import MONITOR_BOUND, SOON, STD_WAIT
from tests.harness.tcpip.io_calls import IO_CALLS

ServerT = TypeVar("ServerT", bound=tcpip.OneClientServer)
ObjectT = TypeVar("ObjectT", bound=tcpip.BaseClientOrServer)


class CallbackRecorder:
    """A connect callback that records ``obj.connected`` in a list and a queue.

    Use ``recorder.callback`` (a bound ``async def`` method) as the
    ``connect_callback``. ``events`` is a shared list into which the callback
    also appends ``(label, connected)``, so tests can check ordering (T6).
    """

    def __init__(self, label: str = "", events: list[tuple[str, Any]] | None = None) -> None:
        self.label = label
        self.values: list[bool] = []
        self.queue: asyncio.Queue[bool] = asyncio.Queue()
        self.events: list[tuple[str, Any]] = events if events is not None else []
        self.objects: list[tcpip.BaseClientOrServer] = []

    async def callback(self, obj: tcpip.BaseClientOrServer) -> None:
        connected = obj.connected
        self.values.append(connected)
        self.objects.append(obj)
        self.events.append((self.label, connected))
        self.queue.put_nowait(connected)

    async def next_value(self, within: float = STD_WAIT) -> bool:
        """Return the next recorded value; TimeoutError if none arrives in time.

        ``within=0`` checks only what has already been recorded.
        """
        if not self.queue.empty():
            return self.queue.get_nowait()
        if within <= 0:
            raise TimeoutError
        return await asyncio.wait_for(self.queue.get(), within)

    async def expect(self, connected: bool, within: float = STD_WAIT) -> None:
        """Assert that the next value arrives within ``within`` s and is ``connected``."""
        try:
            value = await self.next_value(within)
        except TimeoutError:
            pytest.fail(
                f"{self.label or 'callback'}: no callback({connected}) within {within} s; "
                f"values so far {self.values}"
            )
        assert value is connected, f"{self.label}: expected {connected}, got {self.values}"

    async def expect_none(self, window: float) -> None:
        """Assert that no callback arrives within ``window`` seconds."""
        with contextlib.suppress(TimeoutError):
            value = await self.next_value(window)
            pytest.fail(
                f"{self.label or 'callback'}: unexpected callback({value}) within {window} s; "
                f"values so far {self.values}"
            )

    def assert_alternating(self) -> None:
        """Assert the recorded values strictly alternate, starting with True."""
        expected = [i % 2 == 0 for i in range(len(self.values))]
        assert self.values == expected, f"{self.label}: not alternating: {self.values}"


class Loopback:
    """Builds servers, clients and raw connections and closes them at teardown."""

    MONITOR_BOUND = MONITOR_BOUND
    SOON = SOON
    STD_WAIT = STD_WAIT

    def __init__(self, log: logging.Logger, stack: contextlib.AsyncExitStack) -> None:
        self.log = log
        self.stack = stack
        self.events: list[tuple[str, Any]] = []

    def recorder(self, label: str = "") -> CallbackRecorder:
        """A new recorder that shares ``self.events`` with the others."""
        return CallbackRecorder(label, self.events)

    async def enter(self, obj: ObjectT, within: float = STD_WAIT) -> ObjectT:
        """``async with obj`` (awaits ``start_task``) until teardown.

        If the start fails or takes longer than ``within``, ``obj`` is still
        closed at teardown and the error is raised.
        """
        try:
            await asyncio.wait_for(asyncio.shield(obj.start_task), within)
        except BaseException:
            self.close_at_teardown(obj)
            raise
        context = cast("contextlib.AbstractAsyncContextManager[Any]", obj)
        await self.stack.enter_async_context(context)
        return obj

    def close_at_teardown(self, obj: tcpip.BaseClientOrServer) -> None:
        """Register ``obj.close()`` for teardown without starting it."""
        self.stack.push_async_callback(_close_quietly, obj)

    async def server(self, **kwargs: Any) -> tcpip.OneClientServer:
        """A started ``OneClientServer`` on 127.0.0.1, port 0 (kwargs override)."""
        kwargs.setdefault("host", tcpip.LOCALHOST_IPV4)
        kwargs.setdefault("port", 0)
        kwargs.setdefault("log", self.log)
        return await self.enter(tcpip.OneClientServer(**kwargs))

    @overload
    async def read_loop_server(
        self, server_class: None = None, **kwargs: Any
    ) -> tcpip.TestOneClientReadLoopServer: ...

    @overload
    async def read_loop_server(self, server_class: type[ServerT], **kwargs: Any) -> ServerT: ...

    async def read_loop_server(
        self, server_class: type[ServerT] | None = None, **kwargs: Any
    ) -> ServerT | tcpip.TestOneClientReadLoopServer:
        """A started read-loop server, ``TestOneClientReadLoopServer`` by default."""
        cls: type[Any] = server_class or tcpip.TestOneClientReadLoopServer
        kwargs.setdefault("port", 0)
        kwargs.setdefault("log", self.log)
        server: ServerT | tcpip.TestOneClientReadLoopServer = await self.enter(cls(**kwargs))
        return server

    async def client(
        self,
        server: tcpip.OneClientServer,
        *,
        wait_connected: bool = True,
        **kwargs: Any,
    ) -> tcpip.Client:
        """A ``Client`` connected to ``server``; waits for ``connected_task`` by default."""
        kwargs.setdefault("log", self.log)
        client = await self.enter(tcpip.Client(host=server.host, port=server.port, **kwargs))
        if wait_connected:
            await self.wait_done(server.connected_task)
        return client

    async def connected_pair(self) -> tuple[tcpip.OneClientServer, tcpip.Client]:
        """A started ``server()`` and a ``client()`` it has accepted."""
        server = await self.server()
        return server, await self.client(server)

    async def raw_connection(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A plain asyncio connection, closed at teardown."""
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), STD_WAIT)
        self.close_writer_at_teardown(writer)
        return reader, writer

    def close_writer_at_teardown(self, writer: asyncio.StreamWriter) -> None:
        """Register closing ``writer`` (a raw connection) for teardown."""
        self.stack.push_async_callback(_close_writer_quietly, writer)

    async def assert_refused(self, host: str, port: int) -> None:
        """Assert that a new TCP connection to ``host:port`` is refused."""
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), STD_WAIT)
        except OSError:
            return
        await _close_writer_quietly(writer)
        pytest.fail(f"a connection to {host}:{port} was accepted; expected it to be refused")

    async def assert_io_not_connected(self, obj: tcpip.BaseClientOrServer) -> None:
        """Assert every read and write method of ``obj`` raises ConnectionError at once."""
        for name, call in IO_CALLS.items():
            with pytest.raises(ConnectionError):
                await asyncio.wait_for(call(obj), SOON)
                pytest.fail(f"{name} did not raise ConnectionError")

    async def wait_until(
        self, predicate: Callable[[], bool], within: float = SOON, what: str = ""
    ) -> float:
        """Poll ``predicate`` until true; fail after ``within`` s. Returns the elapsed time."""
        start = time.monotonic()
        while not predicate():
            if time.monotonic() - start > within:
                pytest.fail(f"not true within {within} s: {what or predicate}")
            await asyncio.sleep(0.01)
        return time.monotonic() - start

    async def wait_done(self, future: Awaitable[Any], within: float = STD_WAIT) -> Any:
        """Await ``future`` for at most ``within`` s (shielded: a timeout does not cancel it)."""
        return await asyncio.wait_for(asyncio.shield(future), within)


async def _close_quietly(obj: tcpip.BaseClientOrServer) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(obj.close(), 3 * STD_WAIT)


async def _close_writer_quietly(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), STD_WAIT)


@pytest.fixture
def log(request: pytest.FixtureRequest) -> logging.Logger:
    """A logger unique to the test (so log assertions see only this test)."""
    safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in request.node.name)
    logger = logging.getLogger(f"tcpip_tests.{safe}")
    logger.setLevel(logging.DEBUG)
    return logger


@pytest.fixture
async def loopback(log: logging.Logger) -> AsyncIterator[Loopback]:
    """Factory for servers/clients/raw connections, all closed at teardown."""
    async with contextlib.AsyncExitStack() as stack:
        yield Loopback(log, stack)


class LogRecords(logging.Handler):
    """A handler that keeps every record of the logger it is attached to."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def at(self, level: int) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno == level]

    def at_least(self, level: int) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno >= level]


@pytest.fixture
def log_records(log: logging.Logger) -> Iterator[LogRecords]:
    """Records of ``log`` and its children (T7), via a handler on that logger."""
    handler = LogRecords()
    log.addHandler(handler)
    try:
        yield handler
    finally:
        log.removeHandler(handler)
