"""Acceptance tests for ctypes structs and stream helpers (spec §19.1, statements 46-49)."""

from __future__ import annotations

import asyncio
import ctypes
import random
import socket
import struct
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, cast

import pytest

from harness import tcpip
from tests.harness.tcpip.bounds import STD_WAIT, within

if TYPE_CHECKING:
    from conftest import Loopback

SEED = 47


class SmallStruct(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("ushort_value", ctypes.c_ushort),
        ("int64_value", ctypes.c_int64),
        ("double_value", ctypes.c_double),
        ("float_value", ctypes.c_float),
    ]


INTEGER_TYPES: dict[str, tuple[type[ctypes._SimpleCData[int]], bool]] = {
    "int16": (ctypes.c_int16, True),
    "uint16": (ctypes.c_uint16, False),
    "int32": (ctypes.c_int32, True),
    "uint32": (ctypes.c_uint32, False),
    "int64": (ctypes.c_int64, True),
    "uint64": (ctypes.c_uint64, False),
}
FLOAT_TYPES: dict[str, type[ctypes._SimpleCData[float]]] = {
    "float": ctypes.c_float,
    "double": ctypes.c_double,
}
ARRAY_LENGTH = 5


class LargeStruct(ctypes.Structure):
    _pack_ = 1
    _fields_ = (
        [(f"{name}_value", ctype) for name, (ctype, _) in INTEGER_TYPES.items()]
        + [(f"{name}_value", ctype) for name, ctype in FLOAT_TYPES.items()]
        + [(f"{name}_array", ctype * ARRAY_LENGTH) for name, (ctype, _) in INTEGER_TYPES.items()]
        + [(f"{name}_array", ctype * ARRAY_LENGTH) for name, ctype in FLOAT_TYPES.items()]
    )


def random_integer(rng: random.Random, ctype: type[ctypes._SimpleCData[int]], signed: bool) -> int:
    bits = 8 * ctypes.sizeof(ctype)
    if signed:
        return rng.randint(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    return rng.randint(0, (1 << bits) - 1)


def random_large_struct(rng: random.Random) -> LargeStruct:
    """A LargeStruct with every field set from ``rng``."""
    values: dict[str, Any] = {}
    for name, (ctype, signed) in INTEGER_TYPES.items():
        values[f"{name}_value"] = random_integer(rng, ctype, signed)
        array_type = ctype * ARRAY_LENGTH
        values[f"{name}_array"] = array_type(
            *(random_integer(rng, ctype, signed) for _ in range(ARRAY_LENGTH))
        )
    for name, ftype in FLOAT_TYPES.items():
        values[f"{name}_value"] = rng.uniform(-1e6, 1e6)
        float_array_type = ftype * ARRAY_LENGTH
        values[f"{name}_array"] = float_array_type(
            *(rng.uniform(-1e6, 1e6) for _ in range(ARRAY_LENGTH))
        )
    return LargeStruct(**values)


def random_small_struct(rng: random.Random) -> SmallStruct:
    return SmallStruct(
        ushort_value=rng.randint(0, 0xFFFF),
        int64_value=rng.randint(-(1 << 63), (1 << 63) - 1),
        double_value=rng.uniform(-1e9, 1e9),
        float_value=rng.uniform(-1e3, 1e3),
    )


def field_values(data: ctypes.Structure) -> dict[str, Any]:
    """Every field of ``data``, arrays as lists, for equality checks."""
    values: dict[str, Any] = {}
    for field in data._fields_:
        value = getattr(data, field[0])
        values[field[0]] = list(value) if isinstance(value, ctypes.Array) else value
    return values


def raw_streams(
    obj: tcpip.BaseClientOrServer,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    assert obj._reader is not None
    assert obj._writer is not None
    return obj._reader, obj._writer


async def raw_connection_to(
    loopback: Loopback, server: tcpip.OneClientServer
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A plain asyncio connection to ``server`` (closed by ``loopback`` at teardown)."""
    assert server.host is not None and server.port is not None
    return await loopback.raw_connection(server.host, server.port)


DIRECTIONS = ["client_to_server", "server_to_client"]


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_small_packed_struct_round_trip(loopback: Loopback, direction: str) -> None:
    """§19.1-46: a packed (ushort, int64, double, float) struct round-trips."""
    server, client = await loopback.connected_pair()
    sender, receiver = (client, server) if direction == "client_to_server" else (server, client)
    rng = random.Random(SEED)

    sent = random_small_struct(rng)
    await sender.write_from(sent)
    received = SmallStruct()
    await within(receiver.read_into(received))

    assert ctypes.sizeof(SmallStruct) == 2 + 8 + 8 + 4
    assert field_values(received) == field_values(sent)


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_large_struct_round_trips_through_module_functions_on_raw_streams(
    loopback: Loopback, direction: str
) -> None:
    """§19.1-46: module write_from/read_into on server._writer/_reader and the client's."""
    server, client = await loopback.connected_pair()
    server_reader, server_writer = raw_streams(server)
    client_reader, client_writer = raw_streams(client)
    writer, reader = (
        (client_writer, server_reader)
        if direction == "client_to_server"
        else (server_writer, client_reader)
    )
    rng = random.Random(SEED)

    for _ in range(2):
        sent = random_large_struct(rng)
        await tcpip.write_from(writer, sent)
        received = LargeStruct()
        await within(tcpip.read_into(reader, received))
        assert field_values(received) == field_values(sent)


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_large_struct_round_trips_through_methods(loopback: Loopback, direction: str) -> None:
    """§19.1-46: the write_from/read_into methods round-trip the large struct twice."""
    server, client = await loopback.connected_pair()
    sender, receiver = (client, server) if direction == "client_to_server" else (server, client)
    rng = random.Random(SEED)

    for _ in range(2):
        sent = random_large_struct(rng)
        await sender.write_from(sent)
        received = LargeStruct()
        await within(receiver.read_into(received))
        assert field_values(received) == field_values(sent)


CHUNK_PAYLOAD = 128 * 1024
CHUNKS_PER_CALL = 3


class Chunk(ctypes.Structure):
    """A large struct tagged with the caller and its position in the call."""

    _pack_ = 1
    _fields_ = [
        ("caller", ctypes.c_uint8),
        ("index", ctypes.c_uint8),
        ("payload", ctypes.c_uint8 * CHUNK_PAYLOAD),
    ]


def make_chunk(caller: int, index: int) -> Chunk:
    chunk = Chunk(caller=caller, index=index)
    ctypes.memset(ctypes.addressof(chunk.payload), 16 * caller + index, CHUNK_PAYLOAD)
    return chunk


WriteFrom = Callable[[tcpip.OneClientServer, Chunk, Chunk, Chunk], Awaitable[None]]
WRITE_FROM_VARIANTS: dict[str, WriteFrom] = {
    "module_function": lambda server, *chunks: tcpip.write_from(raw_streams(server)[1], *chunks),
    "method": lambda server, *chunks: server.write_from(*chunks),
}


@pytest.mark.parametrize("variant", list(WRITE_FROM_VARIANTS))
async def test_concurrent_write_from_calls_do_not_interleave(
    loopback: Loopback, variant: str
) -> None:
    """§19.1-47: two concurrent write_from calls stay contiguous on the wire.

    A small send buffer makes the writer's transport pause, so an implementation
    that drained between structs would let the other caller slip in.
    """
    server, client = await loopback.connected_pair()
    server_socket = raw_streams(server)[1].get_extra_info("socket")
    server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    write_from = WRITE_FROM_VARIANTS[variant]
    received: list[tuple[int, int, bool]] = []

    async def read_all() -> None:
        for _ in range(2 * CHUNKS_PER_CALL):
            chunk = Chunk()
            await client.read_into(chunk)
            expected_fill = bytes([16 * chunk.caller + chunk.index]) * CHUNK_PAYLOAD
            received.append((chunk.caller, chunk.index, bytes(chunk.payload) == expected_fill))

    async def write_call(caller: int) -> None:
        chunks = [make_chunk(caller, index) for index in range(CHUNKS_PER_CALL)]
        await write_from(server, chunks[0], chunks[1], chunks[2])

    async with asyncio.timeout(4 * STD_WAIT), asyncio.TaskGroup() as group:
        group.create_task(read_all())
        group.create_task(write_call(1))
        group.create_task(write_call(2))

    assert all(intact for _, _, intact in received), received
    callers = [caller for caller, _, _ in received]
    assert callers in (
        [1] * CHUNKS_PER_CALL + [2] * CHUNKS_PER_CALL,
        [2] * CHUNKS_PER_CALL + [1] * CHUNKS_PER_CALL,
    ), received
    assert [index for _, index, _ in received] == list(range(CHUNKS_PER_CALL)) * 2


class RecordingWriter:
    """Wraps a real StreamWriter and records write() and drain() calls in order."""

    def __init__(self, writer: asyncio.StreamWriter, events: list[str]) -> None:
        self._writer = writer
        self._events = events

    def write(self, data: bytes) -> None:
        self._events.append("write")
        self._writer.write(data)

    async def drain(self) -> None:
        self._events.append("drain")
        await self._writer.drain()


async def test_write_from_writes_all_structs_then_drains_once(loopback: Loopback) -> None:
    """§19.1-47: all write() calls come before one drain(), with no suspension between."""
    server, client = await loopback.connected_pair()
    rng = random.Random(SEED)
    sent = [random_large_struct(rng) for _ in range(3)]
    events: list[str] = []

    async def tick() -> None:
        # Runs only when the writing task suspends; a tick between writes means a suspension.
        while True:
            events.append("tick")
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    try:
        await asyncio.sleep(0)
        writer = cast(asyncio.StreamWriter, RecordingWriter(raw_streams(server)[1], events))
        await tcpip.write_from(writer, *sent)
    finally:
        ticker.cancel()
        await asyncio.wait([ticker])

    calls = [event for event in events if event != "tick"]
    assert calls == ["write", "write", "write", "drain"], events
    first_write = events.index("write")
    assert events[first_write : first_write + 3] == ["write", "write", "write"], events
    for expected in sent:
        received = LargeStruct()
        await within(client.read_into(received))
        assert field_values(received) == field_values(expected)


ReadInto = Callable[[tcpip.Client, ctypes.Structure], Coroutine[Any, Any, None]]
READ_INTO_VARIANTS: dict[str, ReadInto] = {
    "module_function": lambda client, data: tcpip.read_into(raw_streams(client)[0], data),
    "method": lambda client, data: client.read_into(data),
}


@pytest.mark.parametrize("variant", list(READ_INTO_VARIANTS))
async def test_read_into_waits_for_the_whole_struct(loopback: Loopback, variant: str) -> None:
    """§19.1-48: read_into reads exactly sizeof bytes even when they arrive in two parts."""
    server, client = await loopback.connected_pair()
    read_into = READ_INTO_VARIANTS[variant]
    sent = random_large_struct(random.Random(SEED))
    wire = bytes(sent)
    half = len(wire) // 2
    trailer = b"next message\n"
    received = LargeStruct()

    read_task = asyncio.create_task(read_into(client, received))
    try:
        await server.write(wire[:half])
        await asyncio.sleep(0.2)  # the delay between the two segments is the scenario
        assert not read_task.done(), "read_into returned before the struct was complete"
        await server.write(wire[half:] + trailer)
        await within(read_task)
    finally:
        read_task.cancel()
        await asyncio.wait([read_task])

    assert field_values(received) == field_values(sent)
    assert await within(client.readexactly(len(trailer))) == trailer


@pytest.mark.parametrize("variant", list(READ_INTO_VARIANTS))
async def test_read_into_peer_closing_early_raises_incomplete_read(
    loopback: Loopback, variant: str
) -> None:
    """§19.1-48: a peer that closes before the struct is complete gives IncompleteReadError."""
    server, client = await loopback.connected_pair()
    read_into = READ_INTO_VARIANTS[variant]
    wire = bytes(random_large_struct(random.Random(SEED)))
    half = len(wire) // 2

    await server.write(wire[:half])
    await server.close_client()
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        await within(read_into(client, LargeStruct()))
    assert caught.value.partial == wire[:half]


async def test_close_stream_writer_closes_and_is_idempotent(loopback: Loopback) -> None:
    """§19.1-49: is_closing() is False before and True after; a second call succeeds."""
    server = await loopback.server()
    _reader, writer = await raw_connection_to(loopback, server)

    assert not writer.is_closing()
    await within(tcpip.close_stream_writer(writer))
    assert writer.is_closing()
    await within(tcpip.close_stream_writer(writer))
    assert writer.is_closing()


class ResettingWriter:
    """A stand-in for an asyncio writer whose close() raises ConnectionResetError."""

    def __init__(self) -> None:
        self.close_calls = 0

    def close(self) -> None:
        self.close_calls += 1
        raise ConnectionResetError("connection reset by peer (test)")

    async def wait_closed(self) -> None:
        raise ConnectionResetError("connection reset by peer (test)")

    def is_closing(self) -> bool:
        return self.close_calls > 0


async def test_close_stream_writer_returns_when_close_raises_reset() -> None:
    """§19.1-49: a writer whose close raises ConnectionResetError: it returns normally."""
    resetting = ResettingWriter()

    await within(tcpip.close_stream_writer(cast(asyncio.StreamWriter, resetting)))

    assert resetting.close_calls == 1


async def test_close_stream_writer_returns_after_a_real_reset(loopback: Loopback) -> None:
    """§19.1-49: after a real TCP reset, wait_closed raises; close_stream_writer does not."""
    server = await loopback.server()
    reader, writer = await raw_connection_to(loopback, server)
    await within(server.connected_task)
    server_socket = raw_streams(server)[1].get_extra_info("socket")
    # Linger with a zero timeout makes close() send a reset instead of a FIN.
    server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    await server.close_client()
    with pytest.raises(ConnectionResetError):
        await within(reader.read(100))

    await within(tcpip.close_stream_writer(writer))

    assert writer.is_closing()
