"""Fleet start-up benchmark: 16 emulated devices answering ``*IDN?`` vs 16 bare interpreters.

Each round measures, side by side:

* ``floor``: wall time to run 16 ``python -c "import asyncio"`` in parallel and
  wait for all of them (the least any one-process-per-device design can pay);
* ``fleet``: wall time from ``Supervisor()`` (cold: the fork server is started
  inside the measurement) until all 16 devices have answered ``*IDN?`` on their
  TCP port; and, separately, the time ``close()`` takes.

It then reads, for every device process, its peak resident set (``VmHWM``) and
its proportional and private memory (``Pss``, ``Private_*`` from
``/proc/PID/smaps_rollup``): forked children share the fork server's pages, so
PSS/USS are the honest per-device costs and RSS counts shared pages in full.

Run: ``python bench/fleet_startup.py [--devices 16] [--rounds 5] [--check]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness.supervisor import DeviceSpec, Endpoint, Supervisor

RATIO_TARGET = 1.5
USS_TARGET_MB = 30.0
IDN_PREFIX = b"KEITHLEY INSTRUMENTS INC.,MODEL 6517B"


def floor_time(count: int) -> float:
    start = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, "-c", "import asyncio"])
                 for _ in range(count)]
    for process in processes:
        process.wait()
    return time.perf_counter() - start


async def ask_idn(endpoint: Endpoint) -> bytes:
    reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
    try:
        writer.write(b"*IDN?\n")
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
        await writer.wait_closed()


async def ask_all(endpoints: list[Endpoint]) -> list[bytes]:
    return await asyncio.gather(*(ask_idn(endpoint) for endpoint in endpoints))


def memory_mb(pid: int) -> dict[str, float]:
    """Peak RSS, PSS and USS (private) of a process, in MB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            values["rss_peak"] = int(line.split()[1]) / 1024
    private = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key == "Pss":
            values["pss"] = int(rest.split()[0]) / 1024
        elif key in ("Private_Clean", "Private_Dirty"):
            private += int(rest.split()[0])
    values["uss"] = private / 1024
    return values


def fleet_round(count: int) -> tuple[float, float, list[dict[str, float]]]:
    specs = [DeviceSpec("keithley6517b", name=f"em{number}", speed=0)
             for number in range(count)]
    start = time.perf_counter()
    supervisor = Supervisor()
    try:
        endpoints = supervisor.spawn_many(specs)
        replies = asyncio.run(ask_all(endpoints))
        ready = time.perf_counter() - start
        bad = [reply for reply in replies if not reply.startswith(IDN_PREFIX)]
        if bad:
            raise SystemExit(f"unexpected *IDN? replies: {bad[:3]}")
        memory = [memory_mb(endpoint.pid) for endpoint in endpoints if endpoint.pid]
    finally:
        closing = time.perf_counter()
        supervisor.close()
    return ready, time.perf_counter() - closing, memory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 unless ratio <= {RATIO_TARGET} and USS <= {USS_TARGET_MB}")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    floors, fleets, stops, memory = [], [], [], []
    for _ in range(args.rounds):
        floors.append(floor_time(args.devices))
        ready, stop, used = fleet_round(args.devices)
        fleets.append(ready)
        stops.append(stop)
        memory.extend(used)
    ratios = [fleet / floor for fleet, floor in zip(fleets, floors, strict=True)]
    summary = {
        "devices": args.devices, "rounds": args.rounds, "python": platform.python_version(),
        "floor_s": statistics.median(floors), "fleet_ready_s": statistics.median(fleets),
        "ratio": statistics.median(ratios), "close_s": statistics.median(stops),
        "rss_peak_mb_max": max(m["rss_peak"] for m in memory),
        "pss_mb_median": statistics.median(m["pss"] for m in memory),
        "uss_mb_median": statistics.median(m["uss"] for m in memory),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{args.devices} devices, {args.rounds} rounds, Python {summary['python']}")
        print(f"  floor ({args.devices} x python -c 'import asyncio'): "
              f"{summary['floor_s'] * 1000:7.1f} ms (median)")
        print(f"  fleet ready (all answered *IDN?, cold):  "
              f"{summary['fleet_ready_s'] * 1000:7.1f} ms (median)")
        print(f"  ratio fleet/floor: {summary['ratio']:.2f} (target <= {RATIO_TARGET}); "
              f"per round: {', '.join(f'{r:.2f}' for r in ratios)}")
        print(f"  close(): {summary['close_s'] * 1000:.1f} ms (median)")
        print(f"  per device process: peak RSS max {summary['rss_peak_mb_max']:.1f} MB "
              f"(shared pages counted in full), PSS median {summary['pss_mb_median']:.1f} MB, "
              f"private (USS) median {summary['uss_mb_median']:.1f} MB "
              f"(target <= {USS_TARGET_MB} MB)")
    if args.check and (summary["ratio"] > RATIO_TARGET
                       or summary["uss_mb_median"] > USS_TARGET_MB):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
