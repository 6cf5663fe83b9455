"""``*IDN?`` round trips through the serial bridge against a serial client on the pty.

Two emulated 6517Bs run as supervised device processes, each on its own pty
(speed 0, pacing off), so both paths see the same instrument:

* ``bridge``: blocking TCP client (TCP_NODELAY) -> bridge process -> pty -> emulator;
* ``serial``: pyserial client (``readline``) -> pty -> emulator, directly;
* ``serial_chunks``: the same port, reading what has arrived instead of
  ``readline``'s one byte per call (a stricter baseline);
* ``tcp`` (context only): blocking TCP client -> the emulator's own TCP port.

The variants are interleaved in blocks within each round, their order rotating
every round, because absolute times on shared machines drift while the ratios
stay stable. The target is a bridge median at most 1.3 times the serial one.
Run: ``python bench/bridge_latency.py [--rounds 10] [--block 100] [--check]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import socket
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import serial

from harness.supervisor import Endpoint, Supervisor

REQUEST = b"*IDN?\n"
RATIO_LIMIT = 1.3
TIMEOUT = 10.0

RoundTrip = Callable[[], None]


class LineSocket:
    """A blocking TCP client reading reply lines."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def round_trip(self) -> None:
        self.sock.sendall(REQUEST)
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk
        _, _, self.buffer = self.buffer.partition(b"\n")

    def close(self) -> None:
        self.sock.close()


def serial_round_trip(port: serial.SerialBase) -> RoundTrip:
    def round_trip() -> None:
        port.write(REQUEST)
        if not port.readline().endswith(b"\n"):
            raise TimeoutError("no reply from the emulator on the pty")

    return round_trip


def serial_chunk_round_trip(port: serial.SerialBase) -> RoundTrip:
    """Reads whatever has arrived per call, instead of ``readline``'s byte at a time."""

    def round_trip() -> None:
        port.write(REQUEST)
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = port.read(port.in_waiting or 1)
            if not chunk:
                raise TimeoutError("no reply from the emulator on the pty")
            reply += chunk

    return round_trip


def time_block(round_trip: RoundTrip, count: int) -> list[int]:
    times = []
    for _ in range(count):
        started = time.perf_counter_ns()
        round_trip()
        times.append(time.perf_counter_ns() - started)
    return times


def measure(variants: dict[str, RoundTrip], rounds: int, block: int,
            warmup: int) -> dict[str, list[int]]:
    for round_trip in variants.values():
        time_block(round_trip, warmup)
    results: dict[str, list[int]] = {name: [] for name in variants}
    names = list(variants)
    gc.disable()
    try:
        for number in range(rounds):
            order = names[number % len(names):] + names[: number % len(names)]
            for name in order:
                results[name] += time_block(variants[name], block)
    finally:
        gc.enable()
    return results


def summary(times: list[int]) -> dict[str, float]:
    ordered = sorted(times)
    return {"median_us": statistics.median(ordered) / 1000,
            "p10_us": ordered[len(ordered) // 10] / 1000,
            "p90_us": ordered[len(ordered) * 9 // 10] / 1000,
            "count": len(ordered)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    with Supervisor() as supervisor:
        for_bridge = supervisor.spawn("keithley6517b", name="behind-bridge", speed=0, pty=True)
        for_serial = supervisor.spawn("keithley6517b", name="direct", speed=0, pty=True)
        bridge = supervisor.spawn_bridge(_pty(for_bridge), baud=args.baud, name="bridge")
        tcp_bridge = LineSocket(bridge.host, bridge.port)
        tcp_direct = LineSocket(for_serial.host, for_serial.port)
        port = serial.serial_for_url(_pty(for_serial), baudrate=args.baud, timeout=TIMEOUT)
        try:
            variants = {"bridge": tcp_bridge.round_trip, "serial": serial_round_trip(port),
                        "serial_chunks": serial_chunk_round_trip(port),
                        "tcp": tcp_direct.round_trip}
            results = measure(variants, args.rounds, args.block, args.warmup)
        finally:
            port.close()
            tcp_bridge.close()
            tcp_direct.close()
    report = {name: summary(times) for name, times in results.items()}
    return {"python": platform.python_version(), "machine": platform.machine(),
            "rounds": args.rounds, "block": args.block, "variants": report,
            "ratio_bridge_to_serial": report["bridge"]["median_us"] / report["serial"]["median_us"],
            "ratio_bridge_to_serial_chunks": (report["bridge"]["median_us"]
                                              / report["serial_chunks"]["median_us"]),
            "ratio_limit": RATIO_LIMIT}


def _pty(endpoint: Endpoint) -> str:
    if endpoint.pty is None:
        raise RuntimeError(f"{endpoint.name} has no pty")
    return endpoint.pty


def print_report(report: dict[str, Any]) -> None:
    print(f"*IDN? round trips, {report['rounds']} rounds x {report['block']} per variant "
          f"(Python {report['python']}, {report['machine']})")
    for name, numbers in report["variants"].items():
        print(f"  {name:13s} median {numbers['median_us']:8.1f} us   p10 {numbers['p10_us']:8.1f}"
              f"   p90 {numbers['p90_us']:8.1f}")
    print(f"  bridge / serial median ratio: {report['ratio_bridge_to_serial']:.2f} "
          f"(target <= {RATIO_LIMIT}); bridge / serial_chunks: "
          f"{report['ratio_bridge_to_serial_chunks']:.2f}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds (default 10)")
    parser.add_argument("--block", type=int, default=100,
                        help="round trips per variant per round (default 100)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed round trips first")
    parser.add_argument("--baud", type=int, default=57600, help="line setting (no pacing)")
    parser.add_argument("--json", metavar="FILE", help="also write the numbers to FILE")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 if the ratio exceeds {RATIO_LIMIT}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    print_report(report)
    if args.json:
        with open(args.json, "w") as output:
            json.dump(report, output, indent=2)
    if args.check and report["ratio_bridge_to_serial"] > RATIO_LIMIT:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
