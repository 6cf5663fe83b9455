"""``hil serve`` as a real subprocess: endpoint report, real clients, clean stop, errors."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from harness import cli

WAIT = 30.0  # process start-up includes imports; the machine is shared
HIL = (sys.executable, "-m", "harness.cli")


class ServeProcess:
    """A running ``hil serve`` child with its standard streams piped."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def stdout_line(self) -> str:
        assert self.process.stdout is not None
        async with asyncio.timeout(WAIT):
            line = await self.process.stdout.readline()
        if not line:
            raise AssertionError(f"hil serve printed nothing; stderr: {await self.stderr()!r}")
        return line.decode()

    async def ready(self) -> dict[str, Any]:
        """The ``--json`` readiness record."""
        record: dict[str, Any] = json.loads(await self.stdout_line())
        return record

    async def stop(self, signum: int = signal.SIGINT) -> int:
        self.process.send_signal(signum)
        async with asyncio.timeout(WAIT):
            return await self.process.wait()

    async def finish(self) -> int:
        async with asyncio.timeout(WAIT):
            return await self.process.wait()

    async def stderr(self) -> str:
        assert self.process.stderr is not None
        async with asyncio.timeout(WAIT):
            return (await self.process.stderr.read()).decode()


ServeFactory = Callable[..., Awaitable[ServeProcess]]


@pytest.fixture
async def serve() -> AsyncIterator[ServeFactory]:
    started: list[ServeProcess] = []

    async def start(*args: str) -> ServeProcess:
        process = await asyncio.create_subprocess_exec(
            *HIL,
            "serve",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        started.append(ServeProcess(process))
        return started[-1]

    yield start
    for child in started:
        if child.process.returncode is None:
            child.process.kill()
            await child.process.wait()


async def query(port: int, text: bytes, terminator: bytes = b"\n") -> bytes:
    async with asyncio.timeout(WAIT):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(text)
        async with asyncio.timeout(WAIT):
            return await reader.readuntil(terminator)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_json_reports_the_endpoint_and_sigint_stops_cleanly(serve: ServeFactory) -> None:
    child = await serve("--json", "--speed", "0")
    record = await child.ready()
    assert record["event"] == "ready"
    assert record["host"] == "127.0.0.1"
    assert record["model"] == "6517B"
    assert record["pid"] == child.process.pid
    assert record["resource"] == f"TCPIP::127.0.0.1::{record['port']}::SOCKET"
    reply = await query(record["port"], b"*IDN?\n")
    assert reply == b"KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x \n"
    assert await child.stop(signal.SIGINT) == 0
    assert "Traceback" not in await child.stderr()


async def test_sigterm_stops_cleanly_with_a_client_connected(serve: ServeFactory) -> None:
    child = await serve("--json")
    record = await child.ready()
    reader, writer = await asyncio.open_connection("127.0.0.1", record["port"])
    try:
        writer.write(b"*IDN?\n")
        async with asyncio.timeout(WAIT):
            await reader.readuntil(b"\n")
        assert await child.stop(signal.SIGTERM) == 0
        async with asyncio.timeout(WAIT):
            assert await reader.read() == b""
    finally:
        writer.close()
    assert "Traceback" not in await child.stderr()


async def test_default_banner_tells_how_to_connect(serve: ServeFactory) -> None:
    child = await serve()
    lines = [await child.stdout_line() for _ in range(5)]
    text = "".join(lines)
    match = re.search(r"TCPIP::127\.0\.0\.1::(\d+)::SOCKET", text)
    assert match, text
    port = int(match.group(1))
    assert f"nc 127.0.0.1 {port}" in text
    assert "Ctrl-C" in text
    assert (await query(port, b"*IDN?\r\n")).startswith(b"KEITHLEY")
    assert await child.stop() == 0


async def test_model_terminator_and_lenient_options(serve: ServeFactory) -> None:
    child = await serve("--json", "--model", "6514", "--terminator", "cr", "--lenient")
    record = await child.ready()
    assert record["mode"] == "lenient"
    port = record["port"]
    assert b"MODEL 6514" in await query(port, b"*IDN?\r", b"\r")
    assert await query(port, b":NOT:A:HEADER 1\r:SYST:ERR?\r", b"\r") == b'0,"No error"\r'
    assert await child.stop() == 0


async def test_port_in_use_fails_with_exit_2_and_a_clear_message(serve: ServeFactory) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        child = await serve("--port", str(port))
        assert await child.finish() == 2
        stderr = await child.stderr()
    assert "already in use" in stderr
    assert "Traceback" not in stderr


async def test_non_loopback_host_warns(serve: ServeFactory) -> None:
    # 192.0.2.1 (TEST-NET-1) is not on this machine: the warning comes, then a clean failure.
    child = await serve("--host", "192.0.2.1")
    assert await child.finish() == 2
    stderr = await child.stderr()
    assert "warning" in stderr and "not a loopback address" in stderr
    assert "check --host" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("bad", [["--speed", "-1"], ["--port", "70000"], ["--model", "2000"]])
async def test_invalid_options_exit_2(serve: ServeFactory, bad: list[str]) -> None:
    child = await serve(*bad)
    assert await child.finish() == 2
    assert "usage:" in await child.stderr()


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["serve", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--host",
        "--port",
        "--model",
        "--terminator",
        "--speed",
        "--lenient",
        "--seed",
        "--json",
    ):
        assert option in out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "serve" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("", False),
        ("192.168.1.10", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert cli.is_loopback(host) is loopback
