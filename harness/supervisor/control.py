"""The control channel's server, in the device process: JSON lines over TCP on 127.0.0.1.

A request is one flat JSON object per line (``{"op": "ping"}``); the reply is
one line, ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. Bad JSON,
unknown operations, bad parameters and overlong lines get ``ok: false`` and the
connection stays open.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
from typing import Any

from harness.supervisor.control_ops import ControlOperations
from harness.supervisor.faults import FaultInjectingServer

logger = logging.getLogger(__name__)

#: Longest request line accepted, in bytes.
MAX_REQUEST_LINE = 65_536
#: Concurrent control connections; more are closed at once.
MAX_CONNECTIONS = 16
READ_CHUNK = 4096


class _Overlong:
    """Marker for a line that exceeded the limit and was discarded."""


OVERLONG = _Overlong()


class LineSplitter:
    """Bytes in, complete lines out; a line longer than ``limit`` becomes ``OVERLONG`` once."""

    def __init__(self, limit: int = MAX_REQUEST_LINE) -> None:
        self._limit = limit
        self._buffer = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[bytes | _Overlong]:
        lines: list[bytes | _Overlong] = []
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if self._discarding or len(line) > self._limit:
                self._discarding = False
                lines.append(OVERLONG)
            else:
                lines.append(line)
        if len(self._buffer) > self._limit:
            # Keep nothing of an overlong line; report it when its newline arrives.
            self._buffer.clear()
            self._discarding = True
        return lines


def error_reply(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message}


def decode_request(line: bytes | _Overlong) -> dict[str, Any] | str:
    """The request object, or the error text for a bad line."""
    if isinstance(line, _Overlong):
        return f"request line longer than {MAX_REQUEST_LINE} bytes; it was discarded"
    try:
        request = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        return f"malformed JSON ({e}); send one JSON object per line, e.g. {{\"op\": \"ping\"}}"
    if not isinstance(request, dict):
        return "a request must be a JSON object with an 'op' key, e.g. {\"op\": \"ping\"}"
    return request


class ControlServer:
    """Serves control requests for one device; owns its connection tasks.

    ``operations`` is the class of the operations table (a bridge has its own).
    """

    def __init__(self, server: FaultInjectingServer, *, name: str, port: int = 0,
                 host: str = "127.0.0.1",
                 operations: type[ControlOperations] = ControlOperations) -> None:
        self.host = host
        self.port = port
        self.operations = operations(server, identity=self._identity)
        self._name = name
        self._started = time.monotonic()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    def _identity(self) -> dict[str, Any]:
        return {"name": self._name, "pid": os.getpid(),
                "uptime": round(time.monotonic() - self._started, 3)}

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve_connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        logger.info("Control channel listening on %s:%d", self.host, self.port)

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        # Cancelled handlers end with CancelledError; anything else was logged by them.
        await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _serve_connection(self, reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or len(self._connections) >= MAX_CONNECTIONS:
            writer.close()
            return
        self._connections.add(task)
        try:
            await self._answer_requests(reader, writer)
        except ConnectionError as e:
            logger.info("Control connection lost: %r", e)
        finally:
            self._connections.discard(task)
            writer.close()

    async def _answer_requests(self, reader: asyncio.StreamReader,
                               writer: asyncio.StreamWriter) -> None:
        splitter = LineSplitter()
        while True:
            data = await reader.read(READ_CHUNK)
            if not data:
                return
            for line in splitter.feed(data):
                reply = self.handle(line)
                writer.write(encode_reply(reply))
                await writer.drain()

    def handle(self, line: bytes | _Overlong) -> dict[str, Any]:
        request = decode_request(line)
        if isinstance(request, str):
            return error_reply(request)
        return self.operations.dispatch(request)


def encode_reply(reply: dict[str, Any]) -> bytes:
    return json.dumps(to_json_value(reply), allow_nan=False).encode() + b"\n"


def to_json_value(value: Any) -> Any:
    """Plain JSON data: non-finite floats as strings, tuples as lists, others as text."""
    if isinstance(value, dict):
        return {str(key): to_json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "NAN" if math.isnan(value) else "INF" if value > 0 else "-INF"
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)
