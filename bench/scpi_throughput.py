"""SCPI throughput of ``MockServer`` at ``speed=0`` against a raw asyncio echo server.

One process, one event loop, loopback, one raw asyncio stream client per server.
Variants, interleaved within each round with a rotating order:

* ``echo``: ``asyncio.start_server`` answering each line with the line itself;
* ``idn``, ``latest``: a ``MockServer`` (6517B, LF, speed 0, zero check off)
  answering ``*IDN?`` / ``:SENS:DATA:LAT?`` in the power-on state, where
  ``INIT:CONT ON`` makes the model take one reading per message (spec §6.1);
* ``idn_idle``, ``latest_idle``: the same with the trigger model idle
  (``:INIT:CONT OFF;:ABOR``), which isolates the transport's own cost.

The figure of merit is the ratio of the medians of the round-trip times
(target: at most 1.25 times the echo round trip); the ratio of the mean round
trips (total time / count) is printed next to it, so that rare long stalls show,
and queries/s derive from the mean. The pure model's messages per second (no
sockets) are printed as well. Not a test.
The rounds are short (200 round trips per variant by default) so that every
variant meets the same phases of a noisy machine. Run:
``python bench/scpi_throughput.py [--rounds 100 --iterations 20000 --warmup 50]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from devices.keithley.config import KeithleyConfig
from devices.keithley.mock_keithley import MockKeithley
from devices.keithley.mock_server import MockServer

HOST = "127.0.0.1"
TERMINATOR = b"\n"
RATIO_TARGET = 1.25
# Zero check off, so DATA:LAT? returns measured readings rather than the overflow value.
CONTINUOUS = ":SYST:ZCH OFF"
IDLE = ":SYST:ZCH OFF;:INIT:CONT OFF;:ABOR"
#: Variant name -> (query, setup sent once before timing).
VARIANTS = {
    "idn": ("*IDN?", CONTINUOUS),
    "latest": (":SENS:DATA:LAT?", CONTINUOUS),
    "idn_idle": ("*IDN?", IDLE),
    "latest_idle": (":SENS:DATA:LAT?", IDLE),
}

RoundTrip = Callable[[], Awaitable[None]]

log = logging.getLogger("bench.scpi_throughput")


async def echo_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            writer.write(await reader.readuntil(TERMINATOR))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def echo_server() -> AsyncIterator[int]:
    server = await asyncio.start_server(echo_handler, HOST, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def client(port: int, request: str, setup: str = "") -> AsyncIterator[RoundTrip]:
    """A raw stream client; ``setup`` (a query) is sent once before timing."""
    reader, writer = await asyncio.open_connection(HOST, port)
    data = request.encode() + TERMINATOR
    if setup:
        writer.write(setup.encode() + TERMINATOR)
        await asyncio.wait_for(reader.readuntil(TERMINATOR), 10)

    async def round_trip() -> None:
        writer.write(data)
        await writer.drain()
        await reader.readuntil(TERMINATOR)

    try:
        yield round_trip
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def time_block(round_trip: RoundTrip, iterations: int, warmup: int) -> list[int]:
    for _ in range(warmup):
        await round_trip()
    times = [0] * iterations
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


class Blocks:
    """Per variant, one median and one mean round trip (microseconds) per round."""

    def __init__(self, names: list[str]) -> None:
        self.medians: dict[str, list[float]] = {name: [] for name in names}
        self.means: dict[str, list[float]] = {name: [] for name in names}

    def add(self, name: str, block: list[int]) -> None:
        self.medians[name].append(statistics.median(block) / 1000)
        self.means[name].append(sum(block) / len(block) / 1000)


async def measure_sockets(args: argparse.Namespace) -> Blocks:
    """Round-trip medians and means in microseconds per variant, one per round."""
    async with contextlib.AsyncExitStack() as stack:
        port = await stack.enter_async_context(echo_server())
        round_trips = {"echo": await stack.enter_async_context(client(port, "*IDN?"))}
        # One server per variant: a client is alone on its server, as in real use.
        for name, (query, setup) in VARIANTS.items():
            server = await stack.enter_async_context(MockServer(speed=0, log=log))
            assert server.port is not None
            round_trips[name] = await stack.enter_async_context(
                client(server.port, query, setup=setup + ";:SYST:ERR?")
            )
        names = list(round_trips)
        blocks = Blocks(names)
        per_block = max(1, args.iterations // args.rounds)
        for round_index in range(args.rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                gc.collect()
                block = await time_block(round_trips[name], per_block, args.warmup)
                blocks.add(name, block)
    return blocks


def measure_model(query: str, setup: str, count: int) -> float:
    """Messages per second of the pure model at speed 0 (no sockets, no event loop)."""
    device = MockKeithley(KeithleyConfig.for_model("6517B", speed=0), now=0.0)
    device.receive(setup, 0.0)
    now = 0.0
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(count):
            now += 1e-6
            device.receive(query, now)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return count / elapsed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=100, help="rounds (default 100)")
    parser.add_argument(
        "--iterations",
        type=int,
        default=20_000,
        help="timed round trips per variant over all rounds (default 20000)",
    )
    parser.add_argument("--warmup", type=int, default=50, help="warm-up per block (default 50)")
    parser.add_argument(
        "--model-messages",
        type=int,
        default=50_000,
        help="messages per query for the pure model (default 50000)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.iterations < args.rounds or args.warmup < 0:
        parser.error("need --rounds >= 1, --iterations >= --rounds and --warmup >= 0")
    return args


def ratios(values: dict[str, list[float]], name: str) -> list[float]:
    """Per round: the variant's figure over the echo server's."""
    return [v / e for v, e in zip(values[name], values["echo"], strict=True)]


def report(blocks: Blocks, model_rates: dict[str, float]) -> None:
    medians, means = blocks.medians, blocks.means
    echo = statistics.median(medians["echo"])
    echo_mean = sum(means["echo"]) / len(means["echo"])
    print(f"{'echo':>12}: median round trip {echo:6.1f} us, mean {echo_mean:6.1f} us "
          f"({1e6 / echo_mean:6.0f} queries/s)")
    for name, (query, _) in VARIANTS.items():
        median = statistics.median(medians[name])
        mean = sum(means[name]) / len(means[name])
        per_round = ratios(medians, name)
        ratio = statistics.median(per_round)
        mean_ratio = mean / echo_mean
        verdict = "ok" if ratio <= RATIO_TARGET and mean_ratio <= RATIO_TARGET else "over target"
        model_us = 1e6 / model_rates[name]
        print(
            f"{name:>12}: median round trip {median:6.1f} us, mean {mean:6.1f} us "
            f"({1e6 / mean:6.0f} queries/s) {query}; ratio to echo: median {ratio:.3f} "
            f"(rounds {min(per_round):.2f}-{max(per_round):.2f}), mean {mean_ratio:.3f} "
            f"(target <= {RATIO_TARGET}: {verdict}); model {model_us:.1f} us, "
            f"transport beyond echo {median - echo - model_us:+.1f} us"
        )
    for name, (query, setup) in VARIANTS.items():
        print(
            f"pure model {name:>12}: {model_rates[name]:7.0f} messages/s  ({query} after {setup})"
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    blocks = asyncio.run(measure_sockets(args))
    model_rates = {
        name: measure_model(query, setup, args.model_messages)
        for name, (query, setup) in VARIANTS.items()
    }
    report(blocks, model_rates)


if __name__ == "__main__":
    main()
