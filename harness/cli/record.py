"""``hil record``: a local TCP port in front of an instrument endpoint, each connection recorded.

The relay is ``harness.recording.RecordingForwarder`` run in this process: each
client connection gets its own connection to the instrument and its own
cassette (``source: hardware``), finished and renamed into place when the
client leaves, when the instrument goes away, or on Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cli.errors import EXIT_OK, CommandError
from harness.cli.options import (
    TERMINATOR_NAMES,
    Subcommands,
    add_listen_arguments,
    common_options,
    warn_if_exposed,
)
from harness.cli.preflight import check_listen, writable_directory
from harness.cli.serving import serve_until_stopped
from harness.endpoint_probe import probe_tcp

if TYPE_CHECKING:
    from harness.recording import CassetteHeader, RecordingTap

#: Seconds the start-up check waits for the instrument endpoint to accept a connection.
UPSTREAM_CHECK_TIMEOUT = 5.0

EPILOG = """\
examples:
  hil record tcp:benchhost:5025 --out cassettes/
  hil record tcp:192.168.1.20:5025 --out bench/ --device keithley6517b --redact-serial
  hil record tcp:127.0.0.1:5025 --out cassettes/ --port 5026 --json

Clients connect to the printed port as to the instrument; their bytes pass
unchanged both ways. Each connection becomes its own cassette in DIR (source
"hardware"), complete once the client leaves; one client at a time, as the
instrument serves. Check the emulator against a cassette with
'hil verify FILE' (--device names the emulator if the cassette does not),
replay it with 'hil replay FILE'. For an instrument on a serial port, record
with 'hil bridge --serial URL --record DIR'. Exit codes: 0 stopped by
Ctrl-C/SIGTERM, 2 bad input or an instrument endpoint that cannot be reached
(nothing was started).
"""


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "record", parents=[common_options()], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="record every session with an instrument endpoint, through a local TCP port",
        description="Forward a local TCP port to an instrument's TCP endpoint and record "
                    "each client connection as a cassette, until Ctrl-C or SIGTERM.")
    parser.add_argument("upstream", metavar="tcp:HOST:PORT",
                        help="the instrument endpoint: a LAN instrument, 'hil bridge' on a "
                             "bench host, 'hil serve'")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="directory of the cassettes (.jsonl), created if missing")
    add_listen_arguments(parser)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON line when ready, one per cassette and one when "
                             "done, instead of text")
    described = parser.add_argument_group("what the cassettes say")
    described.add_argument("--device", default="", metavar="NAME",
                           help="registered name of the instrument (e.g. keithley6517b), "
                                "so 'hil verify' knows which emulator to compare")
    described.add_argument("--model", default="", metavar="MODEL",
                           help="its model (default: the registered device's, e.g. 6517B)")
    described.add_argument("--terminator", choices=TERMINATOR_NAMES, default="lf",
                           help="the instrument's output terminator, which splits its replies "
                                "into lines (default lf); bytes are forwarded unchanged")
    described.add_argument("--redact-serial", action="store_true",
                           help="zero the instrument's serial number (the third *IDN? field) in "
                                "the cassettes; clients still receive it")
    parser.set_defaults(run=run)


@dataclass(frozen=True)
class Upstream:
    """The instrument endpoint the recorder forwards to."""

    host: str
    port: int

    @property
    def text(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp:{host}:{self.port}"


def run(args: argparse.Namespace) -> int:
    upstream = parse_upstream(args.upstream)
    header = cassette_header(args, upstream)
    check_listen(args.host, args.port)
    check_upstream(upstream)
    directory = writable_directory(args.out, "--out")
    warn_if_exposed("record", args.host, "instrument")
    finished = asyncio.run(record(upstream, directory, header, args))
    if args.json:
        print(json.dumps({"event": "done", "cassettes": [str(path) for path in finished]}),
              flush=True)
    else:
        print(f"hil record: stopped; {len(finished)} cassette(s) in {directory}", flush=True)
    return EXIT_OK


def parse_upstream(text: str) -> Upstream:
    """``tcp:HOST:PORT`` as an ``Upstream``; raises ``CommandError``."""
    from harness.plugin_support.targets import TargetError, parse_address

    kind, colon, address = text.strip().partition(":")
    if kind == "serial" and colon:
        raise CommandError(f"{text}: to record an instrument on a serial port use "
                           f"'hil bridge --serial {address} --record DIR' (it has the line "
                           "settings: --baud, --instrument-terminator, ...)")
    if kind != "tcp" or not colon:
        raise CommandError(f"{text!r} is not an instrument endpoint; give tcp:HOST:PORT "
                           "(e.g. tcp:benchhost:5025 or tcp:[::1]:5025)")
    try:
        return Upstream(*parse_address(address))
    except TargetError as e:
        raise CommandError(str(e)) from None


def cassette_header(args: argparse.Namespace, upstream: Upstream) -> CassetteHeader:
    """What every cassette of this recorder says about the instrument."""
    from devices.keithley.registry import UnknownDevice
    from harness.plugin_support.remote import model_of
    from harness.recording import hardware_header
    from harness.supervisor.spec import TERMINATORS

    model = args.model
    if args.device and not model:
        try:
            model = model_of(args.device)
        except UnknownDevice:
            raise CommandError(f"--device {args.device} is not a registered device ('hil "
                               "devices' lists them); give --model too for another "
                               "instrument") from None
    return hardware_header(TERMINATORS[args.terminator.upper()], name=args.device, model=model,
                           transport=f"tcp-forward:{upstream.text.removeprefix('tcp:')}")


def check_upstream(upstream: Upstream) -> None:
    """The instrument endpoint accepts a connection (and has let it go again)."""
    try:
        probe_tcp(upstream.host, upstream.port, UPSTREAM_CHECK_TIMEOUT)
    except OSError as e:
        raise CommandError(f"cannot reach the instrument endpoint {upstream.text} "
                           f"({e.strerror or e}); start it first ('hil bridge' on the bench "
                           "host, 'hil serve') or fix HOST:PORT") from None


async def record(upstream: Upstream, directory: str, header: CassetteHeader,
                 args: argparse.Namespace) -> list[Path]:
    """Forward and record until SIGINT or SIGTERM; the finished cassettes."""
    from harness.recording.servers import RecordingForwarder

    tap = announcing_tap(header, args)
    tap.record_sessions(directory, prefix=args.device or "record")
    server = RecordingForwarder(upstream.host, upstream.port, host=args.host, port=args.port,
                                terminator=tap.output_terminator, recording_tap=tap,
                                name=f"record:{upstream.text}")
    await serve_until_stopped(server, args.host, args.port,
                              lambda port: ready_message(upstream, directory, args, port))
    return tap.finished


def announcing_tap(header: CassetteHeader, args: argparse.Namespace) -> RecordingTap:
    """A ``RecordingTap`` that prints each cassette's path once it is finished."""
    from harness.recording import RecordingTap

    def announce(path: Path) -> None:
        if args.json:
            print(json.dumps({"event": "cassette", "path": str(path)}), flush=True)
        else:
            print(f"hil record: recorded {path}", flush=True)

    class AnnouncingTap(RecordingTap):
        def stop(self) -> Path | None:
            path = super().stop()
            if path is not None:
                announce(path)
            return path

    terminator = header.output_terminator.encode("latin-1")
    return AnnouncingTap(terminator, header=header, redact_serial=args.redact_serial)


def ready_message(upstream: Upstream, directory: str, args: argparse.Namespace,
                  port: int) -> str:
    if args.json:
        return json.dumps({"event": "ready", "host": args.host, "port": port,
                           "upstream": upstream.text, "out": directory})
    return (f"hil record: {args.host}:{port} -> {upstream.text}, one cassette per connection "
            f"in {directory}; Ctrl-C stops it")
