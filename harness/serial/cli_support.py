"""What ``hil bridge`` runs; the CLI only parses and calls these.

``add_bridge_arguments(parser)`` and ``run_bridge(args)`` make ``hil bridge``: a
supervised bridge process (restarted if it dies) in front of the instrument at
``--serial URL``.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from harness.cli.errors import EXIT_USAGE
from harness.cli.options import add_listen_arguments, warn_if_exposed
from harness.serial.errors import SerialEndpointError
from harness.serial.settings import TERMINATORS

BRIDGE_EPILOG = """\
examples:
  hil bridge --serial /dev/ttyUSB0 --baud 57600 --xonxoff --instrument-terminator cr
  hil bridge --serial socket://192.168.1.20:4001 --port 5025 --json
  hil bridge --serial /dev/ttyUSB0 --host 0.0.0.0   share a bench instrument (no auth!)

Clients connect to the printed TCP port exactly as to an emulator (hil serve);
their terminator (--terminator) is translated to the instrument's and back.
Only the named port is opened. If the instrument is unplugged, the client is
disconnected and the bridge reopens the port with backoff.
"""


def add_bridge_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``hil bridge``."""
    parser.add_argument("--serial", required=True, metavar="URL",
                        help="the instrument's port: /dev/ttyUSB0, socket://HOST:PORT, "
                             "rfc2217://HOST:PORT, loop://")
    parser.add_argument("--baud", type=int, default=9600,
                        help="baud rate, as set on the instrument (default 9600)")
    parser.add_argument("--data-bits", type=int, default=8, choices=(7, 8),
                        help="data bits (default 8)")
    parser.add_argument("--parity", default="none", choices=("none", "odd", "even"),
                        help="parity (default none)")
    parser.add_argument("--stop-bits", type=float, default=1, choices=(1, 2),
                        help="stop bits (default 1)")
    parser.add_argument("--xonxoff", action="store_true",
                        help="XON/XOFF flow control, if enabled on the instrument")
    parser.add_argument("--instrument-terminator", default="lf", choices=tuple(TERMINATORS),
                        help="the instrument's RS-232 terminator (default lf)")
    parser.add_argument("--terminator", default="lf", choices=tuple(TERMINATORS),
                        help="the TCP client's terminator (default lf)")
    add_listen_arguments(parser)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON line when ready instead of a table")


def run_bridge(args: argparse.Namespace, *, record_dir: str = "", redact_serial: bool = False,
               stream: TextIO = sys.stdout, error_stream: TextIO = sys.stderr) -> int:
    """Run the bridge until SIGINT/SIGTERM; returns the exit code (2: bad settings).

    With ``record_dir`` (an absolute directory) each client connection is
    recorded into its own cassette there; ``redact_serial`` zeroes the
    instrument's serial number in them.
    """
    from harness.supervisor.bridge import bridge_spec
    from harness.supervisor.serve import serve_fleet

    try:
        spec = bridge_spec(args.serial, baud=args.baud, data_bits=args.data_bits,
                           parity=args.parity, stop_bits=_stop_bits(args.stop_bits),
                           xonxoff=args.xonxoff, instrument_terminator=args.instrument_terminator,
                           terminator=args.terminator, name="bridge", host=args.host,
                           port=args.port, record_dir=record_dir, redact_serial=redact_serial)
    except (SerialEndpointError, ValueError) as e:
        print(f"hil bridge: {e}", file=error_stream, flush=True)
        return EXIT_USAGE
    warn_if_exposed("bridge", args.host, "instrument", error_stream)
    return serve_fleet([spec], json_output=args.json, stream=stream, error_stream=error_stream,
                       command="hil bridge")


def _stop_bits(value: float) -> float:
    return int(value) if float(value).is_integer() else value

