"""§19.1 statements 4-11: construction, argument validation and logger names."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from harness import tcpip

if TYPE_CHECKING:
    from conftest import LogRecords, Loopback

Builder = Callable[..., tcpip.BaseClientOrServer]


class LineServer(tcpip.OneClientReadLoopServer):
    """A minimal concrete read-loop server: reads lines and drops them."""

    async def read_and_dispatch(self) -> None:
        await self.read_str()


async def async_callback(obj: tcpip.BaseClientOrServer) -> None:
    """A valid connect callback that does nothing."""


def sync_callback(obj: tcpip.BaseClientOrServer) -> None:
    """A plain function: not a valid connect callback."""


class AsyncCallable:
    """An object whose ``__call__`` is ``async def``: rejected by the callback rule."""

    async def __call__(self, obj: tcpip.BaseClientOrServer) -> None:
        pass


def kind_builders(log: logging.Logger, port: int) -> dict[str, Builder]:
    """Constructor calls for each class, with every required argument supplied (T3).

    ``port`` is where a Client connects; servers always use port 0.
    """
    return {
        "OneClientServer": functools.partial(
            tcpip.OneClientServer, host=tcpip.LOCALHOST_IPV4, port=0, log=log
        ),
        "OneClientReadLoopServer": functools.partial(LineServer, port=0, log=log),
        "TestOneClientReadLoopServer": functools.partial(
            tcpip.TestOneClientReadLoopServer, port=0, log=log
        ),
        "Client": functools.partial(tcpip.Client, host=tcpip.LOCALHOST_IPV4, port=port, log=log),
    }


KINDS = ["OneClientServer", "OneClientReadLoopServer", "TestOneClientReadLoopServer", "Client"]


async def expect_construction_error(
    loopback: Loopback,
    error: type[Exception],
    build: Callable[[], tcpip.BaseClientOrServer],
    match: str | None = None,
) -> Exception:
    """Assert that ``build()`` raises ``error``; close the object if it was built anyway."""
    try:
        obj = build()
    except error as caught:
        if match is not None:
            assert re.search(match, str(caught)), f"{caught!r} does not match {match!r}"
        return caught
    loopback.close_at_teardown(obj)
    pytest.fail(f"{build} did not raise {error.__name__}")


@pytest.fixture
async def target_port(loopback: Loopback) -> int:
    """The port of a started OneClientServer that Clients in these tests connect to."""
    server = await loopback.server()
    assert server.port is not None
    return server.port


# --- 4: no running event loop -------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_construction_outside_a_running_loop_raises_runtime_error(
    kind: str, log: logging.Logger
) -> None:
    """§19.1-4: servers and a connecting client need a running event loop."""
    build = kind_builders(log, port=0)[kind]
    with pytest.raises(RuntimeError):
        build()


# --- 5: connect callback must be a coroutine function ------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "callback",
    [
        pytest.param(sync_callback, id="plain-function"),
        pytest.param(lambda obj: async_callback(obj), id="lambda-returning-coroutine"),
        pytest.param(AsyncCallable(), id="object-with-async-call"),
    ],
)
async def test_non_coroutine_function_callback_raises_type_error(
    kind: str, callback: Any, loopback: Loopback, target_port: int
) -> None:
    """§19.1-5: sync callbacks, lambdas and async-__call__ objects raise TypeError."""
    build = kind_builders(loopback.log, target_port)[kind]
    await expect_construction_error(
        loopback,
        TypeError,
        lambda: build(connect_callback=callback),
        match="connect_callback",
    )


class CallbackOwner:
    """Holds a bound ``async def`` method to use as a callback."""

    def __init__(self) -> None:
        self.values: list[bool] = []

    async def on_connect(self, obj: tcpip.BaseClientOrServer) -> None:
        self.values.append(obj.connected)


async def tagged_callback(
    tag: str, values: list[tuple[str, bool]], obj: tcpip.BaseClientOrServer
) -> None:
    values.append((tag, obj.connected))


@pytest.mark.parametrize("side", ["server", "client"])
@pytest.mark.parametrize("form", ["async-function", "bound-method", "partial"])
async def test_coroutine_function_callbacks_are_accepted_and_called(
    side: str, form: str, loopback: Loopback
) -> None:
    """§19.1-5: async def functions, bound async methods and partials are accepted."""
    called: list[bool] = []

    async def plain(obj: tcpip.BaseClientOrServer) -> None:
        called.append(obj.connected)

    owner = CallbackOwner()
    tagged: list[tuple[str, bool]] = []
    callback: Any = {
        "async-function": plain,
        "bound-method": owner.on_connect,
        "partial": functools.partial(tagged_callback, "tag", tagged),
    }[form]
    server_kwargs = {"connect_callback": callback} if side == "server" else {}
    client_kwargs = {"connect_callback": callback} if side == "client" else {}
    server = await loopback.server(**server_kwargs)
    client = await loopback.client(server, **client_kwargs)
    await loopback.wait_until(
        lambda: bool(called or owner.values or tagged), what="the callback was called"
    )
    recorded = called or owner.values or [value for _, value in tagged]
    assert recorded == [True]
    if form == "partial":
        assert tagged == [("tag", True)]
    assert client.connected


# --- 6: encodings ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("encoding", ["utf-8", "utf_8", "utf-16", "UTF-32"])
async def test_usable_encodings_are_accepted_and_stored_verbatim(
    kind: str, encoding: str, loopback: Loopback, target_port: int
) -> None:
    """§19.1-6: encodings are accepted and the attribute keeps the string as given."""
    build = kind_builders(loopback.log, target_port)[kind]
    obj = await loopback.enter(build(encoding=encoding))
    assert obj.encoding == encoding


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("encoding", ["no_such_encoder", b"utf_8", "hex"])
async def test_unusable_encodings_raise_value_error(
    kind: str, encoding: Any, loopback: Loopback, target_port: int
) -> None:
    """§19.1-6: unknown names, bytes and non-text codecs raise ValueError."""
    build = kind_builders(loopback.log, target_port)[kind]
    await expect_construction_error(loopback, ValueError, lambda: build(encoding=encoding))


# --- 7: terminators --------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("terminator", [b"\r\n", b"\r", b"any bytes"])
async def test_bytes_terminators_are_accepted_and_stored_verbatim(
    kind: str, terminator: bytes, loopback: Loopback, target_port: int
) -> None:
    """§19.1-7: non-empty bytes terminators are accepted and stored as given."""
    build = kind_builders(loopback.log, target_port)[kind]
    obj = await loopback.enter(build(terminator=terminator))
    assert obj.terminator == terminator
    assert type(obj.terminator) is bytes


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("terminator", ["\r\n", "any str", bytearray(b"\n"), b""])
async def test_bad_terminators_raise_value_error(
    kind: str, terminator: Any, loopback: Loopback, target_port: int
) -> None:
    """§19.1-7: str, bytearray and empty terminators raise ValueError."""
    build = kind_builders(loopback.log, target_port)[kind]
    await expect_construction_error(loopback, ValueError, lambda: build(terminator=terminator))


# --- 8: check order --------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_callback_check_comes_before_terminator_and_encoding_checks(
    kind: str, loopback: Loopback, target_port: int
) -> None:
    """§19.1-8: sync callback + bad terminator (or encoding) raises TypeError."""
    build = kind_builders(loopback.log, target_port)[kind]
    await expect_construction_error(
        loopback, TypeError, lambda: build(connect_callback=sync_callback, terminator="\n")
    )
    await expect_construction_error(
        loopback, TypeError, lambda: build(connect_callback=sync_callback, encoding="hex")
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_bad_terminator_and_bad_encoding_raise_value_error(
    kind: str, loopback: Loopback, target_port: int
) -> None:
    """§19.1-8: a bad terminator together with a bad encoding raises ValueError."""
    build = kind_builders(loopback.log, target_port)[kind]
    await expect_construction_error(
        loopback, ValueError, lambda: build(terminator=b"", encoding="no_such_encoder")
    )


# --- 9: unknown kwargs fail start_task, not the constructor ---------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_unknown_keyword_fails_start_task_not_the_constructor(
    kind: str, loopback: Loopback, target_port: int
) -> None:
    """§19.1-9: an unknown **kwargs keyword makes start_task fail with TypeError."""
    build = kind_builders(loopback.log, target_port)[kind]
    obj = build(no_such_option=1)
    loopback.close_at_teardown(obj)
    with pytest.raises(TypeError):
        await loopback.wait_done(obj.start_task)


# --- 10: signatures --------------------------------------------------------------------


async def test_server_and_client_accept_host_port_log_positionally(loopback: Loopback) -> None:
    """§19.1-10: OneClientServer(host, port, log) and Client(host, port, log)."""
    server = await loopback.enter(tcpip.OneClientServer(tcpip.LOCALHOST_IPV4, 0, loopback.log))
    assert server.host == tcpip.LOCALHOST_IPV4
    assert server.port != 0
    client = await loopback.enter(tcpip.Client(server.host, server.port, server.log))
    await loopback.wait_done(server.connected_task)
    assert client.connected
    assert client.host == server.host
    assert client.port == server.port


async def test_server_without_host_raises_type_error(loopback: Loopback) -> None:
    """§19.1-10: OneClientServer has no default host."""
    await expect_construction_error(
        loopback,
        TypeError,
        lambda: tcpip.OneClientServer(port=0, log=loopback.log),  # type: ignore[call-arg]
        match="host",
    )


@pytest.mark.parametrize("server_class", [LineServer, tcpip.TestOneClientReadLoopServer])
async def test_read_loop_servers_are_keyword_only(
    server_class: type[tcpip.OneClientReadLoopServer], loopback: Loopback
) -> None:
    """§19.1-10: read-loop servers reject positional arguments."""
    log = loopback.log
    # Called through Any: the point is a call that the signature forbids.
    build: Any = server_class
    await expect_construction_error(
        loopback, TypeError, lambda: build(tcpip.LOCALHOST_IPV4, 0, log)
    )
    await expect_construction_error(loopback, TypeError, lambda: build(0, log=log))


@pytest.mark.parametrize("server_class", [LineServer, tcpip.TestOneClientReadLoopServer])
async def test_read_loop_servers_default_host_to_ipv4_localhost(
    server_class: type[tcpip.OneClientReadLoopServer], loopback: Loopback
) -> None:
    """§19.1-10: read-loop servers listen on 127.0.0.1 by default."""
    server = await loopback.enter(server_class(port=0, log=loopback.log))
    assert server.host == "127.0.0.1"
    assert server._server is not None
    addresses = {sock.getsockname()[0] for sock in server._server.sockets}
    assert addresses == {"127.0.0.1"}
    client = await loopback.client(server)
    assert client.connected


@pytest.mark.parametrize("server_class", [LineServer, tcpip.TestOneClientReadLoopServer])
async def test_read_loop_servers_reject_monitor_connection_interval(
    server_class: type[tcpip.OneClientReadLoopServer], loopback: Loopback
) -> None:
    """§19.1-10: passing monitor_connection_interval to a read-loop server is a TypeError."""
    log = loopback.log
    await expect_construction_error(
        loopback,
        TypeError,
        lambda: server_class(port=0, log=log, monitor_connection_interval=0.1),
    )


# --- 11: logger names ------------------------------------------------------------------


async def test_logger_names_with_the_root_logger(loopback: Loopback) -> None:
    """§19.1-11: with the root logger and name="" a server logs as OneClientServer()."""
    root = logging.getLogger()
    server = await loopback.server(log=root)
    assert server.log.name == "OneClientServer()"
    named = await loopback.server(log=root, name="abc")
    assert named.log.name == "OneClientServer(abc)"


async def test_logger_names_are_children_of_the_given_logger(loopback: Loopback) -> None:
    """§19.1-11: <log>.<class name>(<name>), also for subclasses and clients."""
    base = loopback.log.name
    server = await loopback.server(name="srv")
    assert server.log.name == f"{base}.OneClientServer(srv)"
    client = await loopback.client(server, log=server.log)
    assert client.log.name == f"{base}.OneClientServer(srv).Client()"
    named_client = tcpip.Client(host="", port=0, log=loopback.log, name="c1")
    loopback.close_at_teardown(named_client)
    assert named_client.log.name == f"{base}.Client(c1)"
    loop_server = await loopback.read_loop_server(LineServer, name="x")
    assert loop_server.log.name == f"{base}.LineServer(x)"
    test_server = await loopback.read_loop_server(name="t")
    assert test_server.log.name == f"{base}.TestOneClientReadLoopServer(t)"


async def test_test_server_logs_under_the_given_logger(
    loopback: Loopback, log_records: LogRecords
) -> None:
    """§19.1-11: TestOneClientReadLoopServer's records reach the given logger's handlers."""
    server = await loopback.read_loop_server(name="probe")
    client = await loopback.client(server)
    await client.close()
    expected = f"{loopback.log.name}.TestOneClientReadLoopServer(probe)"
    await loopback.wait_until(
        lambda: any(r.name == expected for r in log_records.records),
        what=f"a record from {expected}",
    )
