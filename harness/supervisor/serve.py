"""What ``hil serve`` (several devices) and ``hil status`` run.

``serve_fleet(specs, json_output=..., stream=...)`` starts the devices, prints
them once all answer, runs until SIGINT/SIGTERM and stops them; its run
directory (logs, ``state.json``) lives under ``runtime_root()``, where
``print_status`` finds every running fleet of this user.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from harness.supervisor.control_client import ControlClient
from harness.supervisor.endpoint import Endpoint
from harness.supervisor.errors import SupervisorError
from harness.supervisor.spec import TERMINATORS, DeviceSpec
from harness.supervisor.state import read_states, runtime_root
from harness.supervisor.supervisor import Supervisor

EXIT_OK = 0
EXIT_FAILED = 1
#: Seconds ``hil status`` waits for each control channel's answer.
PING_TIMEOUT = 2.0


def specs_for(device: str, count: int = 1, **options: Any) -> list[DeviceSpec]:
    """``count`` devices of one kind, named ``DEVICE-1`` ... (``hil serve --count N``)."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    return [DeviceSpec(device, name=f"{device}-{number}", **options)
            for number in range(1, count + 1)]


def serve_fleet(specs: Sequence[DeviceSpec], *, json_output: bool = False,
                stream: TextIO = sys.stdout, error_stream: TextIO = sys.stderr,
                command: str = "hil serve") -> int:
    """Run the devices until SIGINT or SIGTERM; returns the exit code.

    Prints one JSON object (``{"event": "ready", "devices": [...]}``) or a table
    when every device answers; start failures go to ``error_stream``, after
    ``command``.
    """
    try:
        return asyncio.run(_serve(list(specs), json_output, stream, error_stream, command))
    except KeyboardInterrupt:
        return EXIT_OK


async def _serve(specs: list[DeviceSpec], json_output: bool, stream: TextIO,
                 error_stream: TextIO, command: str) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    run_dir = runtime_root() / f"fleet-{os.getpid()}"
    supervisor = Supervisor(run_dir=run_dir, handle_sigterm=False)
    try:
        try:
            endpoints = await supervisor.aspawn_many(specs)
        except SupervisorError as e:
            print(f"{command}: {e}", file=error_stream, flush=True)
            return EXIT_FAILED
        print(ready_report(endpoints, supervisor, json_output), file=stream, flush=True)
        await stop.wait()
        return EXIT_OK
    finally:
        await supervisor.aclose()
        shutil.rmtree(run_dir, ignore_errors=True)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def ready_report(endpoints: Iterable[Endpoint], supervisor: Supervisor, json_output: bool) -> str:
    devices = [endpoint.describe() for endpoint in endpoints]
    if json_output:
        return json.dumps({"event": "ready", "supervisor_pid": os.getpid(),
                           "run_dir": str(supervisor.run_dir), "devices": devices})
    header: tuple[str, ...] = ("NAME", "DEVICE", "MODEL", "ADDRESS", "PID", "CONTROL", "RESTART")
    rows: list[tuple[str, ...]] = [
        (d["name"], d["device"], d["model"], f"{d['host']}:{d['port']}", str(d["pid"]),
         f"127.0.0.1:{d['control_port']}", d["restart"]) for d in devices]
    if any(d.get("pty") for d in devices):
        header = (*header, "PTY")
        rows = [(*row, d.get("pty") or "-") for row, d in zip(rows, devices, strict=True)]
    table = format_table(header, rows)
    return (f"hil: {len(devices)} device(s) ready; logs in {supervisor.run_dir}\n{table}\n"
            f"{connection_hint(devices[0]) if devices else ''}Press Ctrl-C to stop.")


def connection_hint(device: dict[str, Any]) -> str:
    """How to talk to ``device``: a pyvisa resource and a netcat line (first device only)."""
    host, port = device["host"], device["port"]
    escaped = TERMINATORS[device.get("terminator", "LF")].decode().encode("unicode_escape")
    termination = escaped.decode()
    lines = [f"Talk to {device['name']}:",
             f"  pyvisa:  rm.open_resource('{device['resource']}', "
             f"read_termination='{termination}', write_termination='{termination}')",
             f"  netcat:  printf '*IDN?\\n' | nc -q 1 {host} {port}"]
    if device.get("pty"):
        lines.append(f"  serial:  serial.Serial('{device['pty']}', 9600, timeout=1)")
    return "\n".join(lines) + "\n"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths,
                                                                             strict=True)).rstrip()
                     for row in (header, *rows))


def fleet_status(ping: bool = True) -> list[dict[str, Any]]:
    """Every running fleet's state; with ``ping``, each device's ``answers`` flag."""
    fleets = read_states(runtime_root())
    for fleet in fleets:
        for device in fleet.get("devices", []):
            device["answers"] = ping and answers(device)
    return fleets


def answers(device: dict[str, Any]) -> bool:
    port = device.get("control_port")
    if not isinstance(port, int) or not port:
        return False
    client = ControlClient(str(device.get("name")), "127.0.0.1", port, timeout=PING_TIMEOUT)
    try:
        return client.ping().get("pid") == device.get("pid")
    except (SupervisorError, OSError):
        return False


def print_status(*, json_output: bool = False, stream: TextIO = sys.stdout) -> int:
    """``hil status``: the running fleets; exit code 1 if a device does not answer."""
    fleets = fleet_status()
    healthy = all(device["answers"] for fleet in fleets for device in fleet.get("devices", []))
    if json_output:
        print(json.dumps({"fleets": fleets}), file=stream)
    elif not fleets:
        print("hil: no fleet is running (start one with 'hil serve')", file=stream)
    else:
        for fleet in fleets:
            rows = [(d["name"], d["device"], d["status"], f"{d['host']}:{d['port']}",
                     str(d["pid"]), str(d["control_port"]), str(d["restarts"]),
                     "yes" if d["answers"] else "NO") for d in fleet.get("devices", [])]
            print(f"fleet of supervisor {fleet['supervisor_pid']} ({fleet['run_dir']})",
                  file=stream)
            print(format_table(("NAME", "DEVICE", "STATUS", "ADDRESS", "PID", "CONTROL",
                                "RESTARTS", "ANSWERS"), rows), file=stream)
    return EXIT_OK if healthy else EXIT_FAILED
