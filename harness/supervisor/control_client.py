"""``ControlClient``: the supervisor side of a device's control channel (sync and async).

One short TCP connection per request, so a client survives device restarts
and can be shared by threads and event loops. Every method has an ``a``-prefixed
coroutine twin (``ping``/``aping``...).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable, Mapping
from typing import Any

from harness.supervisor.errors import ControlConnectionError, ControlError, SupervisorError

#: Longest reply accepted (a full snapshot with a filled buffer is a few MB).
MAX_REPLY_LINE = 32 * 1024 * 1024
DEFAULT_TIMEOUT = 10.0


class ControlClient:
    """Sends control requests to the device ``name`` at ``host:port``.

    ``availability`` returns the error to raise when the device is known not to
    be running (failed, restarting, stopped), or None. Methods raise
    ``ControlError`` for an ``ok: false`` reply, ``ControlConnectionError`` when
    the channel cannot be reached and ``DeviceUnavailable`` from ``availability``.
    """

    def __init__(self, name: str, host: str, port: int, *, timeout: float = DEFAULT_TIMEOUT,
                 availability: Callable[[], SupervisorError | None] | None = None) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.timeout = timeout
        self._availability = availability

    def __repr__(self) -> str:
        return f"ControlClient({self.name!r}, {self.host!r}, {self.port})"

    # -- generic requests ---------------------------------------------------------------------

    def request(self, op: str, **params: Any) -> dict[str, Any]:
        """Send ``{"op": op, **params}`` and return the reply without ``ok``."""
        self._raise_if_unavailable()
        line = encode_request(op, params)
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as sock:
                sock.sendall(line)
                reply = read_reply_line(sock)
        except OSError as e:
            self._raise_if_unavailable()
            raise self._connection_error(e) from e
        return self._result(op, reply)

    async def arequest(self, op: str, **params: Any) -> dict[str, Any]:
        """Coroutine form of ``request``."""
        self._raise_if_unavailable()
        line = encode_request(op, params)
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port,
                                                               limit=MAX_REPLY_LINE)
                try:
                    writer.write(line)
                    await writer.drain()
                    reply = await reader.readuntil(b"\n")
                finally:
                    writer.close()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            self._raise_if_unavailable()
            raise self._connection_error(e) from e
        return self._result(op, reply)

    def _raise_if_unavailable(self) -> None:
        if self._availability is not None:
            error = self._availability()
            if error is not None:
                raise error

    def _connection_error(self, error: BaseException) -> ControlConnectionError:
        return ControlConnectionError(
            f"control channel of device {self.name!r} at {self.host}:{self.port} failed: "
            f"{error!r}; is the device running?")

    def _result(self, op: str, line: bytes) -> dict[str, Any]:
        try:
            reply = json.loads(line)
        except ValueError as e:
            raise ControlConnectionError(
                f"control channel of device {self.name!r} sent malformed JSON: {e}") from e
        if not isinstance(reply, dict) or "ok" not in reply:
            raise ControlConnectionError(f"control channel of device {self.name!r} sent "
                                         f"{reply!r}, not a reply object")
        if not reply.pop("ok"):
            raise ControlError(self.name, op, str(reply.get("error", "no error message")))
        return reply

    # -- operations -------------------------------------------------------------------------

    def ping(self) -> dict[str, Any]:
        """Identity of the device process (name, pid, model, port, uptime)."""
        return self.request("ping")

    async def aping(self) -> dict[str, Any]:
        return await self.arequest("ping")

    def reset(self) -> None:
        """Power-on state: model power cycle, configured signals, faults cleared."""
        self.request("reset")

    async def areset(self) -> None:
        await self.arequest("reset")

    def get(self, *keys: str) -> dict[str, Any]:
        """Values of state keys (``"nplc"``, ``"setup.function"``); no keys: the snapshot."""
        return dict(self.request("get", **({"keys": list(keys)} if keys else {}))["values"])

    async def aget(self, *keys: str) -> dict[str, Any]:
        reply = await self.arequest("get", **({"keys": list(keys)} if keys else {}))
        return dict(reply["values"])

    def set(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Set state keys; returns their new values."""
        return dict(self.request("set", values=dict(values))["values"])

    async def aset(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return dict((await self.arequest("set", values=dict(values)))["values"])

    def signal(self, function: str, kind: str, **params: Any) -> None:
        """Replace the simulated signal of ``function`` (``constant``, ``noise``, ...)."""
        self.request("signal", function=function, kind=kind, **params)

    async def asignal(self, function: str, kind: str, **params: Any) -> None:
        await self.arequest("signal", function=function, kind=kind, **params)

    def trigger(self, kind: str = "MAN") -> bool:
        """Inject one trigger event; True if a waiting layer took it."""
        return bool(self.request("trigger", kind=kind)["taken"])

    async def atrigger(self, kind: str = "MAN") -> bool:
        return bool((await self.arequest("trigger", kind=kind))["taken"])

    def delay(self, ms: float) -> None:
        """Delay every reply by ``ms`` milliseconds (0 ends it)."""
        self.request("delay", ms=ms)

    async def adelay(self, ms: float) -> None:
        await self.arequest("delay", ms=ms)

    def drop(self) -> bool:
        """Abort the device's client connection; True if one was connected."""
        return bool(self.request("drop")["dropped"])

    async def adrop(self) -> bool:
        return bool((await self.arequest("drop"))["dropped"])

    def garbage(self, count: int) -> None:
        """Prefix the next reply with ``count`` random bytes (never CR or LF)."""
        self.request("garbage", bytes=count)

    async def agarbage(self, count: int) -> None:
        await self.arequest("garbage", bytes=count)

    def silence(self, ms: float) -> None:
        """Swallow every reply for the next ``ms`` milliseconds."""
        self.request("silence", ms=ms)

    async def asilence(self, ms: float) -> None:
        await self.arequest("silence", ms=ms)

    def renew(self) -> bool:
        """A factory-fresh device (new model, no faults, counters and history cleared, client
        dropped), as if its process had just started; True if a client was dropped."""
        return bool(self.request("renew")["dropped"])

    async def arenew(self) -> bool:
        return bool((await self.arequest("renew"))["dropped"])

    def history(self, count: int | None = None) -> list[dict[str, Any]]:
        """The last messages exchanged with the client, oldest first (``t``, ``dir``, ``text``)."""
        reply = self.request("history", **({} if count is None else {"count": count}))
        return list(reply["history"])

    async def ahistory(self, count: int | None = None) -> list[dict[str, Any]]:
        reply = await self.arequest("history", **({} if count is None else {"count": count}))
        return list(reply["history"])

    def stats(self) -> dict[str, Any]:
        """Traffic counters, faults in force, connection state and the SCPI error queue."""
        return self.request("stats")

    async def astats(self) -> dict[str, Any]:
        return await self.arequest("stats")


def encode_request(op: str, params: Mapping[str, Any]) -> bytes:
    if "op" in params:
        raise ValueError("'op' is the operation name, not a parameter")
    return json.dumps({"op": op, **params}, allow_nan=False).encode() + b"\n"


def read_reply_line(sock: socket.socket) -> bytes:
    """Bytes up to the first newline; raises ``ConnectionError`` on EOF or overlong lines."""
    chunks: list[bytes] = []
    size = 0
    while True:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("the control channel closed before replying")
        end = data.find(b"\n")
        if end >= 0:
            chunks.append(data[:end])
            return b"".join(chunks)
        chunks.append(data)
        size += len(data)
        if size > MAX_REPLY_LINE:
            raise ConnectionError(f"reply longer than {MAX_REPLY_LINE} bytes")
