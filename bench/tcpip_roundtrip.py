"""Round-trip benchmark of ``harness.tcpip`` against raw asyncio streams (tcpip spec §18).

One process, one event loop, loopback. A client sends ``*IDN?`` and reads the
23-character reply ``BENCH,ECHO-SERVER,0,1.0``; the terminator is ``\\r\\n``.
Variants:

* ``tcpip``: ``Client`` talking to a ``OneClientReadLoopServer`` subclass;
* ``asyncio``: the same protocol over ``asyncio.start_server``/``open_connection``;
* ``tcpip_srv``: our server, raw asyncio client;
* ``tcpip_cli``: raw asyncio server, our client;
* ``blocking``: blocking sockets with TCP_NODELAY, the server in a thread.

The variants are interleaved within each round and their order rotates every
round, because absolute times on shared machines drift between runs while the
ratios stay stable. Untimed rounds in the same schedule run first (``--settle``),
and the blocking variant always closes a round (see `round_orders`).
Run: ``python bench/tcpip_roundtrip.py [--check]``.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import gc
import importlib
import itertools
import json
import logging
import platform
import socket
import statistics
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

REQUEST = "*IDN?"
REPLY = "BENCH,ECHO-SERVER,0,1.0"
TERMINATOR = b"\r\n"
REQUEST_BYTES = REQUEST.encode() + TERMINATOR
REPLY_BYTES = REPLY.encode() + TERMINATOR
HOST = "127.0.0.1"
RATIO_LIMIT = 1.10
VARIANTS = ("tcpip", "asyncio", "tcpip_srv", "tcpip_cli", "blocking")

# One round trip: send the request and read the reply.
RoundTrip = Callable[[], Awaitable[None]]

log = logging.getLogger("bench.tcpip_roundtrip")


@dataclass
class VariantTimes:
    """Round-trip times of one variant, in nanoseconds, per round."""

    rounds: list[array.array[int]] = field(default_factory=list)

    @property
    def all_times(self) -> list[int]:
        return [t for block in self.rounds for t in block]


# Servers -------------------------------------------------------------------


def make_echo_server_class(tcpip: ModuleType) -> type[Any]:
    """A read-loop server of ``tcpip`` that answers every line with ``REPLY``."""

    class IdnServer(tcpip.OneClientReadLoopServer):  # type: ignore[misc, name-defined]
        async def read_and_dispatch(self) -> None:
            await self.read_str()
            await self.write_str(REPLY)

    return IdnServer


async def raw_server_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            await reader.readuntil(TERMINATOR)
            writer.write(REPLY_BYTES)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def blocking_server(listener: socket.socket) -> None:
    """Serve one client: answer each request line with the reply."""
    conn, _ = listener.accept()
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = b""
        while True:
            chunk = conn.recv(4096)
            if not chunk:
                return
            buffer += chunk
            while TERMINATOR in buffer:
                _, _, buffer = buffer.partition(TERMINATOR)
                conn.sendall(REPLY_BYTES)


# Clients -------------------------------------------------------------------


def tcpip_round_trip(client: Any) -> RoundTrip:
    async def round_trip() -> None:
        await client.write_str(REQUEST)
        await client.read_str()

    return round_trip


def raw_round_trip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> RoundTrip:
    async def round_trip() -> None:
        writer.write(REQUEST_BYTES)
        await writer.drain()
        await reader.readuntil(TERMINATOR)

    return round_trip


class BlockingClient:
    """A blocking client for the ``blocking`` variant."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def round_trip(self) -> None:
        self.sock.sendall(REQUEST_BYTES)
        while TERMINATOR not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the blocking server closed the connection")
            self.buffer += chunk
        _, _, self.buffer = self.buffer.partition(TERMINATOR)


# Setting up the variants ---------------------------------------------------


@contextlib.asynccontextmanager
async def raw_server() -> AsyncIterator[int]:
    server = await asyncio.start_server(raw_server_handler, HOST, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def raw_client(port: int) -> AsyncIterator[RoundTrip]:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        yield raw_round_trip(reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def open_variants(
    stack: contextlib.AsyncExitStack, tcpip: ModuleType, names: list[str]
) -> dict[str, RoundTrip]:
    """Start the server and client of each variant in ``names``; all are closed by ``stack``."""
    server_class = make_echo_server_class(tcpip)

    async def open_variant(name: str) -> RoundTrip:
        if name == "blocking":
            return open_blocking_variant(stack)
        # "tcpip" and "tcpip_srv" use our server, "tcpip" and "tcpip_cli" our client.
        if name in ("tcpip", "tcpip_srv"):
            server = await stack.enter_async_context(server_class(port=0, host=HOST, log=log))
            port: int = server.port
        else:
            port = await stack.enter_async_context(raw_server())
        if name in ("tcpip", "tcpip_cli"):
            client = tcpip.Client(HOST, port, log, terminator=TERMINATOR)
            return tcpip_round_trip(await stack.enter_async_context(client))
        return await stack.enter_async_context(raw_client(port))

    return {name: await open_variant(name) for name in names}


def open_blocking_variant(stack: contextlib.AsyncExitStack) -> RoundTrip:
    listener = socket.create_server((HOST, 0))
    thread = threading.Thread(target=blocking_server, args=(listener,), daemon=True)
    thread.start()
    client = BlockingClient(listener.getsockname()[1])

    def close() -> None:
        client.sock.close()
        thread.join(timeout=5)
        listener.close()

    stack.callback(close)

    async def round_trip() -> None:
        client.round_trip()

    return round_trip


# Timing --------------------------------------------------------------------


async def time_block(
    round_trip: RoundTrip, iterations: int, warmup: int
) -> array.array[int]:
    """Warm up, then time ``iterations`` round trips with the GC disabled."""
    for _ in range(warmup):
        await round_trip()
    # A flat array: timing must not leave a growing heap of int objects behind.
    times = array.array("q", bytes(8 * iterations))
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for i in range(iterations):
            start = clock()
            await round_trip()
            times[i] = clock() - start
    finally:
        gc.enable()
    return times


def round_orders(names: list[str]) -> Iterator[list[str]]:
    """The order of the variants in each successive round, forever.

    The asyncio variants rotate by one every round. The blocking variant
    leaves the machine slower for a while (its thread ping-pong changes how
    the CPUs are scheduled), and a rotation keeps the cyclic order, so
    whatever followed it would always pay for that. It therefore runs last
    in every round: the block after it is the first block of the next round,
    which rotates over the asyncio variants.
    """
    rotated = [name for name in names if name != "blocking"]
    last = [name for name in names if name == "blocking"]
    for shift in itertools.count():
        shift %= len(rotated)
        yield rotated[shift:] + rotated[:shift] + last


async def settle(
    round_trips: dict[str, RoundTrip], orders: Iterator[list[str]], seconds: float, per_block: int
) -> None:
    """Run untimed rounds, in the same schedule as the timed ones, for ``seconds``.

    On shared virtual machines the round-trip time can change abruptly and
    for good during the first rotated rounds; without settling, whichever
    variants run before that change collect the fast samples.
    """
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for name in next(orders):
            gc.collect()
            await time_block(round_trips[name], per_block, 0)


async def run_rounds(
    round_trips: dict[str, RoundTrip],
    orders: Iterator[list[str]],
    rounds: int,
    iterations: int,
    warmup: int,
) -> dict[str, VariantTimes]:
    """Time ``rounds`` rounds; each runs every variant once, in the order from ``orders``."""
    results = {name: VariantTimes() for name in round_trips}
    per_block = max(1, iterations // rounds)
    for _ in range(rounds):
        for name in next(orders):
            gc.collect()
            block = await time_block(round_trips[name], per_block, warmup)
            results[name].rounds.append(block)
    return results


# Reporting -----------------------------------------------------------------


def percentile(sorted_times: list[int], fraction: float) -> float:
    index = min(len(sorted_times) - 1, round(fraction * (len(sorted_times) - 1)))
    return sorted_times[index] / 1000


def summarise(times: VariantTimes) -> dict[str, Any]:
    all_times = sorted(times.all_times)
    return {
        "median_us": statistics.median(all_times) / 1000,
        "p90_us": percentile(all_times, 0.90),
        "p99_us": percentile(all_times, 0.99),
        "round_trips_per_s": len(all_times) / (sum(all_times) / 1e9),
        "round_medians_us": [statistics.median(block) / 1000 for block in times.rounds],
    }


def build_report(results: dict[str, VariantTimes], args: argparse.Namespace) -> dict[str, Any]:
    summary = {name: summarise(times) for name, times in results.items()}
    baseline = summary["asyncio"]["median_us"]
    ratios = {name: s["median_us"] / baseline for name, s in summary.items()}
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "module": args.module,
        "rounds": args.rounds,
        "iterations": args.iterations,
        "warmup": args.warmup,
        "settle_s": args.settle,
        "variants": summary,
        "ratio_to_asyncio": ratios,
    }
    if "blocking" in summary:
        blocking = summary["blocking"]["median_us"]
        report["ratio_to_blocking"] = {n: s["median_us"] / blocking for n, s in summary.items()}
    # Diagnostic only: how much the ratio moves between rounds on this machine.
    tcpip_rounds = summary["tcpip"]["round_medians_us"]
    asyncio_rounds = summary["asyncio"]["round_medians_us"]
    report["tcpip_asyncio_round_ratios"] = [
        t / a for t, a in zip(tcpip_rounds, asyncio_rounds, strict=True)
    ]
    report["limit"] = RATIO_LIMIT
    report["tcpip_asyncio_ratio"] = ratios["tcpip"]
    report["passed"] = ratios["tcpip"] <= RATIO_LIMIT
    return report


def print_report(report: dict[str, Any]) -> None:
    print(
        f"Python {report['python']}, module {report['module']}: {report['iterations']} "
        f"round trips per variant in {report['rounds']} rounds, {report['warmup']} warm-up, "
        f"{report['settle_s']} s settling"
    )
    for name, s in report["variants"].items():
        print(
            f"{name:>10}: median {s['median_us']:7.1f} us  p90 {s['p90_us']:7.1f} us  "
            f"p99 {s['p99_us']:7.1f} us  {s['round_trips_per_s']:8.0f} round trips/s"
        )
    for key in ("ratio_to_asyncio", "ratio_to_blocking"):
        if key in report:
            baseline = key.removeprefix("ratio_to_")
            ratios = "  ".join(f"{n} {r:.3f}" for n, r in report[key].items())
            print(f"ratio to {baseline}: {ratios}")
    round_ratios = report["tcpip_asyncio_round_ratios"]
    print(
        f"tcpip/asyncio ratio per round: median {statistics.median(round_ratios):.3f}, "
        f"min {min(round_ratios):.3f}, max {max(round_ratios):.3f}"
    )
    verdict = "PASS" if report["passed"] else "FAIL"
    print(
        f"tcpip/asyncio median ratio {report['tcpip_asyncio_ratio']:.3f} "
        f"(limit {report['limit']:.2f}): {verdict}"
    )


# Entry point ---------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Round-trip benchmark of harness.tcpip against raw asyncio streams."
    )
    parser.add_argument("--json", metavar="FILE", help="write every number to FILE")
    parser.add_argument("--rounds", type=int, default=10, help="rounds (default 10)")
    parser.add_argument(
        "--iterations",
        type=int,
        default=20_000,
        help="timed round trips per variant, over all rounds (default 20000)",
    )
    parser.add_argument(
        "--warmup", type=int, default=300, help="warm-up round trips per block (default 300)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=2.0,
        help="untimed seconds of round trips over all variants before round 0 (default 2)",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 if the ratio is over the limit"
    )
    parser.add_argument(
        "--module",
        default="harness.tcpip",
        help="API-compatible module to measure (default harness.tcpip)",
    )
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated subset of {','.join(VARIANTS)} (tcpip and asyncio are required)",
    )
    args = parser.parse_args(argv)
    args.variant_names = [v for v in args.variants.split(",") if v]
    unknown = set(args.variant_names) - set(VARIANTS)
    if unknown or not {"tcpip", "asyncio"} <= set(args.variant_names):
        parser.error(f"--variants must include tcpip and asyncio and only {', '.join(VARIANTS)}")
    if args.rounds < 1 or args.iterations < args.rounds or args.warmup < 0:
        parser.error("need --rounds >= 1, --iterations >= --rounds and --warmup >= 0")
    return args


async def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    tcpip = importlib.import_module(args.module)
    async with contextlib.AsyncExitStack() as stack:
        round_trips = await open_variants(stack, tcpip, args.variant_names)
        orders = round_orders(list(round_trips))
        await settle(round_trips, orders, args.settle, args.iterations // args.rounds)
        results = await run_rounds(round_trips, orders, args.rounds, args.iterations, args.warmup)
    return build_report(results, args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    report = asyncio.run(benchmark(args))
    print_report(report)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(report, file, indent=2)
    return 1 if args.check and not report["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
