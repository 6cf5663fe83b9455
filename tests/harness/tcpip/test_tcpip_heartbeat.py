"""Acceptance tests for the heartbeat feature (spec §19.1, statements 58-66).

These tests are slow by nature: heartbeat timeouts are measured in seconds.
Where a statement is about elapsed time ("still connected 2.5 s after"), the
sleep is the measurement itself, not synchronisation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import pytest

from harness import tcpip
from tests.harness.tcpip.bounds import SOON, STD_WAIT, within

if TYPE_CHECKING:
    from conftest import CallbackRecorder, LogRecords, Loopback

SLACK = 0.5  # extra time on heartbeat timeouts (T1: max + 1 s plus >= 0.5 s)
# Clients that do send heartbeats send them well inside the server's limit (§12.2).
HEARTBEAT_SEND_SLEEP = 0.2


async def heartbeat_server(
    loopback: Loopback, recorder: CallbackRecorder, **kwargs: Any
) -> tcpip.TestOneClientReadLoopServer:
    return await loopback.read_loop_server(
        server_class=tcpip.TestOneClientReadLoopServer,
        connect_callback=recorder.callback,
        **kwargs,
    )


async def sleep_until(deadline: float) -> None:
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))


def warnings_from(
    log_records: LogRecords, server: tcpip.OneClientServer
) -> list[logging.LogRecord]:
    return [r for r in log_records.at(logging.WARNING) if r.name.startswith(server.log.name)]


async def test_expected_heartbeats_keep_the_client(loopback: Loopback) -> None:
    """§19.1-58: with monitor and sender on, the link and read loop survive 2.5 s."""
    recorder = loopback.recorder("server")
    server = await heartbeat_server(
        loopback, recorder, run_heartbeat_monitor_task=True, max_heartbeat_interval=1.0
    )
    client = await loopback.client(
        server, run_heartbeat_send_task=True, heartbeat_send_sleep=HEARTBEAT_SEND_SLEEP
    )
    await recorder.expect(True)

    await asyncio.sleep(2.5)  # the measurement: still connected 2.5 s later

    assert server.connected and client.connected
    assert not server.read_loop_task.done()
    assert recorder.values == [True]
    # Heartbeat lines never reach the data queue: the first queued line is this one.
    await client.write_str("data after heartbeats")
    assert await within(server.get_next_data()) == "data after heartbeats"


async def test_unexpected_heartbeat_drops_the_client(loopback: Loopback) -> None:
    """§19.1-59: monitor off and a client sending heartbeats: dropped within 1 s."""
    recorder = loopback.recorder("server")
    server = await heartbeat_server(loopback, recorder)
    # Do not wait on connected_task: the drop may already have replaced it (T2).
    client = await loopback.client(
        server,
        wait_connected=False,
        run_heartbeat_send_task=True,
        heartbeat_send_sleep=HEARTBEAT_SEND_SLEEP,
    )
    deadline = time.monotonic() + SOON

    await recorder.expect(True, within=deadline - time.monotonic())
    await recorder.expect(False, within=deadline - time.monotonic())
    await loopback.wait_until(
        lambda: server.read_loop_task.done(), deadline - time.monotonic(), "read loop done"
    )
    assert not server.connected
    assert not server.should_be_connected
    await loopback.wait_until(lambda: not client.connected, SOON, "client sees the drop")


async def test_silent_client_is_dropped_with_a_warning(
    loopback: Loopback, log_records: LogRecords
) -> None:
    """§19.1-60: monitor on, max 1 s, no heartbeats: alive at 0.5 s, dropped by 2.5 s."""
    recorder = loopback.recorder("server")
    server = await heartbeat_server(
        loopback, recorder, run_heartbeat_monitor_task=True, max_heartbeat_interval=1.0
    )
    client = await loopback.client(server)
    connected_at = time.monotonic()
    await recorder.expect(True)

    await sleep_until(connected_at + 0.5)  # the measurement: still connected 0.5 s later
    assert server.connected and client.connected
    assert recorder.values == [True]

    await recorder.expect(False, within=connected_at + 1.0 + 1.0 + SLACK - time.monotonic())
    assert not server.connected
    assert warnings_from(log_records, server), log_records.records


async def test_client_whose_heartbeats_stop_is_dropped(loopback: Loopback) -> None:
    """§19.1-61: heartbeats cancelled after 1.5 s: dropped within max + 1 s + slack."""
    max_interval = 1.0
    recorder = loopback.recorder("server")
    server = await heartbeat_server(
        loopback, recorder, run_heartbeat_monitor_task=True, max_heartbeat_interval=max_interval
    )
    client = await loopback.client(
        server, run_heartbeat_send_task=True, heartbeat_send_sleep=HEARTBEAT_SEND_SLEEP
    )
    await recorder.expect(True)

    await asyncio.sleep(1.5)  # the scenario: heartbeats flow for 1.5 s
    assert recorder.values == [True]
    heartbeat_task = client.heartbeat_send_task
    heartbeat_task.cancel()
    await asyncio.wait([heartbeat_task], timeout=STD_WAIT)
    last_heartbeat_at_latest = time.monotonic()

    await recorder.expect(
        False, within=last_heartbeat_at_latest + max_interval + 1.0 + SLACK - time.monotonic()
    )
    assert not server.connected


async def test_lines_that_merely_contain_heartbeat_are_data(loopback: Loopback) -> None:
    """§19.1-62: "my heartbeat line" and "heartbeats" are data; the client stays connected."""
    recorder = loopback.recorder("server")
    server = await heartbeat_server(loopback, recorder)
    client = await loopback.client(server)
    await recorder.expect(True)

    for line in ["my heartbeat line", "heartbeats", "still here"]:
        await client.write_str(line)
        assert await within(server.get_next_data()) == line

    assert server.connected and client.connected
    assert recorder.values == [True]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
async def test_bare_heartbeat_line_counts_as_heartbeat(loopback: Loopback, encoding: str) -> None:
    """§19.1-62: the raw bytes b"heartbeat" + terminator are a heartbeat, not data."""
    recorder = loopback.recorder("server")
    server = await heartbeat_server(
        loopback, recorder, run_heartbeat_monitor_task=True, encoding=encoding
    )
    client = await loopback.client(server, encoding=encoding)
    await recorder.expect(True)
    assert server.heartbeat_received_tai is None

    await client.write(tcpip.HEARTBEAT + tcpip.DEFAULT_TERMINATOR)
    await client.write_str("after the heartbeat")

    assert await within(server.get_next_data()) == "after the heartbeat"
    assert isinstance(server.heartbeat_received_tai, float)
    assert server.connected
    assert recorder.values == [True]


async def test_bare_heartbeat_line_without_monitor_drops_the_client(loopback: Loopback) -> None:
    """§19.1-62: with the monitor off, a raw heartbeat line is an unexpected heartbeat."""
    recorder = loopback.recorder("server")
    server = await heartbeat_server(loopback, recorder)
    client = await loopback.client(server)
    await recorder.expect(True)

    await client.write(tcpip.HEARTBEAT + tcpip.DEFAULT_TERMINATOR)

    await recorder.expect(False, within=SOON)
    assert not server.connected


async def test_handle_received_heartbeat(loopback: Loopback) -> None:
    """§19.1-63: RuntimeError with the monitor off; sets a float timestamp with it on."""
    off_recorder = loopback.recorder("off")
    monitor_off = await heartbeat_server(loopback, off_recorder)
    with pytest.raises(RuntimeError, match=r"(?i)heartbeat"):
        await monitor_off.handle_received_heartbeat()

    on_recorder = loopback.recorder("on")
    monitor_on = await heartbeat_server(loopback, on_recorder, run_heartbeat_monitor_task=True)
    assert monitor_on.heartbeat_received_tai is None
    await monitor_on.handle_received_heartbeat()
    assert isinstance(monitor_on.heartbeat_received_tai, float)


async def test_heartbeat_time_is_reset_for_a_new_client(loopback: Loopback) -> None:
    """§19.1-64: a new client does not inherit the previous client's heartbeat time."""
    max_interval = 3.0
    recorder = loopback.recorder("server")
    server = await heartbeat_server(
        loopback, recorder, run_heartbeat_monitor_task=True, max_heartbeat_interval=max_interval
    )
    client_a = await loopback.client(
        server, run_heartbeat_send_task=True, heartbeat_send_sleep=HEARTBEAT_SEND_SLEEP
    )
    await recorder.expect(True)
    await loopback.wait_until(
        lambda: server.heartbeat_received_tai is not None, SOON, "heartbeat from client A"
    )
    client_a.heartbeat_send_task.cancel()
    await asyncio.wait([client_a.heartbeat_send_task], timeout=STD_WAIT)
    await asyncio.sleep(2.0)  # the scenario: client A stays silent for 2 s
    await client_a.close()
    await recorder.expect(False)

    client_b = await loopback.client(server, wait_connected=False)
    await recorder.expect(True)
    b_connected_at = time.monotonic()

    await sleep_until(b_connected_at + 0.1)
    assert server.heartbeat_received_tai is None
    await sleep_until(b_connected_at + 0.9 * max_interval)  # the measurement
    assert server.connected and client_b.connected
    assert recorder.values == [True, False, True]


async def test_close_stops_the_heartbeat_monitor(
    loopback: Loopback, log_records: LogRecords
) -> None:
    """§19.1-65: close() leaves the heartbeat monitor done; no WARNING follows."""
    max_interval = 1.0
    recorder = loopback.recorder("server")
    server = await heartbeat_server(
        loopback, recorder, run_heartbeat_monitor_task=True, max_heartbeat_interval=max_interval
    )
    await loopback.client(server)
    await loopback.wait_until(
        lambda: not server.monitor_heartbeats_task.done(), SOON, "heartbeat monitor running"
    )
    monitor = server.monitor_heartbeats_task
    warnings_before_close = len(warnings_from(log_records, server))

    await within(server.close())

    assert monitor.done()
    assert server.monitor_heartbeats_task.done()
    await asyncio.sleep(max_interval + 1.0)  # the measurement window
    assert len(warnings_from(log_records, server)) == warnings_before_close


@pytest.mark.parametrize(
    ("encoding", "terminator"), [("utf-8", tcpip.DEFAULT_TERMINATOR), ("utf-16", b"\n")]
)
async def test_client_sends_raw_heartbeat_lines(
    loopback: Loopback, encoding: str, terminator: bytes
) -> None:
    """§19.1-66: the sender runs while connected; the server's first line is the heartbeat."""
    server = await loopback.server()
    client = await loopback.client(
        server, run_heartbeat_send_task=True, encoding=encoding, terminator=terminator
    )

    assert not client.heartbeat_send_task.done()
    line = await within(server.readline())
    assert line == tcpip.HEARTBEAT + terminator
    if terminator == tcpip.DEFAULT_TERMINATOR:
        assert line == b"heartbeat\r\n"


async def test_heartbeat_sender_off_by_default(loopback: Loopback) -> None:
    """§19.1-66: with run_heartbeat_send_task off, heartbeat_send_task is already done."""
    server = await loopback.server()
    client = await loopback.client(server)

    assert client.heartbeat_send_task.done()
    await client.write_str("first line")
    assert await within(server.readline()) == b"first line\r\n"
