"""Replay and recording throughput against the emulator at speed=0 (one run, interleaved).

Three endpoints answer the same query sequence over loopback TCP, one client
each, one message in flight at a time:

* ``emulator``: a plain ``MockServer`` (speed=0);
* ``recording``: the same emulator behind the recording tap, writing a cassette;
* ``replay``: a ``ReplayServer`` playing (strictly) a cassette of this very
  sequence, recorded from the emulator before the timing starts.

The client runs in its own process (as a test does; ``--in-process`` puts it in
the servers' event loop, which charges every microsecond of recording work to
the round trip). Rounds are interleaved and their order rotates, because
absolute times on a shared machine drift while ratios stay stable. Printed:
exchanges per second of each (median over rounds), replay / emulator (target
>= 1.0) and the recording overhead on the emulator's round trip (target <= 10 %).

Run: ``python bench/replay_throughput.py [--rounds N] [--exchanges N] [--in-process]
[--check]``; ``BENCH_DIR`` sets where the cassettes are written (default: the
system's temporary directory).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from devices.keithley.mock_server import MockServer
from harness.recording import (
    CassettePlayer,
    RecordingMockServer,
    ReplayServer,
)

HOST = "127.0.0.1"
QUERIES = (b"*IDN?\n", b":SENS:CURR:RANG?\n", b"SYST:ERR?\n", b":SENS:CURR:NPLC?\n",
           b"*STB?\n", b":SENS:FUNC?\n", b":TRAC:POIN?\n", b":SENS:CURR:RANG:AUTO?\n")
REPLAY_TARGET = 1.0
OVERHEAD_TARGET = 0.10
VARIANTS = ("emulator", "recording", "replay")

RoundTrips = Callable[[int], Awaitable[float]]


class Client:
    """Sends the query sequence; returns the seconds ``count`` exchanges took."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchanges(self, count: int) -> float:
        reader, writer = self.reader, self.writer
        start = time.perf_counter()
        for number in range(count):
            writer.write(QUERIES[number % len(QUERIES)])
            await writer.drain()
            await reader.readuntil(b"\n")
        return time.perf_counter() - start


@contextlib.asynccontextmanager
async def connected(port: int) -> AsyncIterator[Client]:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        yield Client(reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def record_workload(path: Path, total: int) -> None:
    """The cassette the replay variant plays: ``total`` exchanges from the emulator."""
    server = RecordingMockServer(speed=0)
    try:
        await server.start_task
        server.recording_tap.start_file(path)
        assert server.port is not None
        async with connected(server.port) as client:
            await client.exchanges(total)
        await asyncio.wait_for(server.recording_tap.wait_idle(), 30)
    finally:
        await server.close()


async def measure(ports: dict[str, int], rounds: int, per_round: int,
                  warmup: int) -> dict[str, list[float]]:
    """The client side: interleaved rounds against each endpoint; exchanges/s per round."""
    rates: dict[str, list[float]] = {variant: [] for variant in ports}
    async with contextlib.AsyncExitStack() as stack:
        clients = {variant: await stack.enter_async_context(connected(port))
                   for variant, port in ports.items()}
        for client in clients.values():
            await client.exchanges(warmup)
        gc.collect()
        gc.disable()
        try:
            for number in range(rounds):
                order = VARIANTS[number % 3:] + VARIANTS[:number % 3]
                for variant in order:
                    seconds = await clients[variant].exchanges(per_round)
                    rates[variant].append(per_round / seconds)
        finally:
            gc.enable()
    return rates


async def run(rounds: int, per_round: int, warmup: int,
              in_process: bool = False) -> dict[str, list[float]]:
    """Serve the three endpoints here; the client runs in its own process, as a test would.

    ``in_process``: the client shares the servers' event loop, so every microsecond
    of recording work shows (a stricter, less realistic measure).
    """
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as directory:
        workload = Path(directory) / "workload.jsonl"
        await record_workload(workload, warmup + rounds * per_round)
        async with contextlib.AsyncExitStack() as stack:
            emulator = MockServer(speed=0)
            recording = RecordingMockServer(speed=0)
            player = CassettePlayer(workload)
            replay = ReplayServer(player)
            for server in (emulator, recording, replay):
                stack.push_async_callback(server.close)
                await server.start_task
            recording.recording_tap.start_file(Path(directory) / "recorded.jsonl")
            ports = {variant: server.port or 0 for variant, server in
                     (("emulator", emulator), ("recording", recording), ("replay", replay))}
            if in_process:
                rates = await measure(ports, rounds, per_round, warmup)
                player.check()
                return rates
            client = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--client", json.dumps(ports), str(rounds),
                str(per_round), str(warmup), stdout=asyncio.subprocess.PIPE)
            out, _ = await client.communicate()
            if client.returncode != 0:
                raise RuntimeError(f"the client process failed with {client.returncode}")
            player.check()
    measured: dict[str, list[float]] = json.loads(out)
    return measured


def summarise(rates: dict[str, list[float]]) -> dict[str, float]:
    median = {variant: statistics.median(values) for variant, values in rates.items()}
    # Per-round ratios cancel the drift between rounds better than ratios of medians.
    replay_ratio = statistics.median(
        r / e for r, e in zip(rates["replay"], rates["emulator"], strict=True))
    overhead = statistics.median(
        e / r - 1 for r, e in zip(rates["recording"], rates["emulator"], strict=True))
    return {**{f"{variant}_per_s": rate for variant, rate in median.items()},
            "replay_vs_emulator": replay_ratio, "recording_overhead": overhead}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--exchanges", type=int, default=400, help="exchanges per round")
    parser.add_argument("--warmup", type=int, default=400)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--in-process", action="store_true",
                        help="run the client in the servers' event loop (CPU cost only)")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 unless replay >= {REPLAY_TARGET}x the emulator and the "
                        f"recording overhead <= {OVERHEAD_TARGET:.0%}")
    parser.add_argument("--client", nargs=4, metavar=("PORTS", "ROUNDS", "PER_ROUND", "WARMUP"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        ports, rounds, per_round, warmup = args.client
        rates = asyncio.run(measure(json.loads(ports), int(rounds), int(per_round), int(warmup)))
        print(json.dumps(rates))
        return 0
    # The replay client's query sequence restarts with every round, so rounds (and the
    # warm-up) are whole multiples of it and the whole run is one recorded sequence.
    warmup = args.warmup - args.warmup % len(QUERIES)
    per_round = args.exchanges - args.exchanges % len(QUERIES)
    summary = summarise(asyncio.run(run(args.rounds, per_round, warmup, args.in_process)))
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"emulator   {summary['emulator_per_s']:9.0f} exchanges/s")
        print(f"recording  {summary['recording_per_s']:9.0f} exchanges/s "
              f"(overhead {summary['recording_overhead']:+.1%}, target <= "
              f"{OVERHEAD_TARGET:.0%})")
        print(f"replay     {summary['replay_per_s']:9.0f} exchanges/s "
              f"({summary['replay_vs_emulator']:.2f}x the emulator, target >= "
              f"{REPLAY_TARGET:.1f}x)")
    ok = (summary["replay_vs_emulator"] >= REPLAY_TARGET
          and summary["recording_overhead"] <= OVERHEAD_TARGET)
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
