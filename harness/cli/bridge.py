"""``hil bridge``: a TCP port in front of an instrument on a serial port (harness.serial)."""

from __future__ import annotations

import argparse
import sys

from harness.cli.errors import EXIT_USAGE
from harness.cli.options import Subcommands, common_options, is_loopback
from harness.cli.preflight import check_listen, run_directory_root
from harness.cli.serve import add_record_arguments, record_directory


def register(commands: Subcommands) -> None:
    from harness.serial.cli_support import BRIDGE_EPILOG, add_bridge_arguments

    parser = commands.add_parser(
        "bridge", parents=[common_options()], epilog=BRIDGE_EPILOG + RECORD_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="TCP port in front of an instrument on a serial port",
        description="Serve a real instrument on a serial port as a TCP endpoint, until "
                    "Ctrl-C or SIGTERM.")
    add_bridge_arguments(parser)
    add_record_arguments(parser, "client")
    parser.set_defaults(run=run)


RECORD_EPILOG = """
With --record DIR every client connection becomes a cassette in DIR (source
"hardware"): check the emulator against it with 'hil verify', replay it with
'hil replay'.
"""


def run(args: argparse.Namespace) -> int:
    from harness.serial.cli_support import run_bridge

    directory = record_directory(args)
    if 0 <= args.port <= 65535:  # otherwise run_bridge explains the valid range
        check_listen(args.host, args.port)
    run_directory_root()
    if not directory:
        return run_bridge(args)
    return run_recording_bridge(args, directory)


def run_recording_bridge(args: argparse.Namespace, directory: str) -> int:
    """``run_bridge`` with each client connection recorded into ``directory``."""
    from harness.serial.errors import SerialEndpointError
    from harness.supervisor.bridge import bridge_spec
    from harness.supervisor.serve import serve_fleet

    stop_bits = int(args.stop_bits) if float(args.stop_bits).is_integer() else args.stop_bits
    try:
        spec = bridge_spec(args.serial, baud=args.baud, data_bits=args.data_bits,
                           parity=args.parity, stop_bits=stop_bits, xonxoff=args.xonxoff,
                           instrument_terminator=args.instrument_terminator,
                           terminator=args.terminator, name="bridge", host=args.host,
                           port=args.port, record_dir=directory,
                           redact_serial=args.redact_serial)
    except (SerialEndpointError, ValueError) as e:
        print(f"hil bridge: {e}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    if not is_loopback(args.host):
        print(f"hil bridge: warning: listening on {args.host!r}, not a loopback address: anyone "
              "who can reach this machine can talk to the instrument", file=sys.stderr,
              flush=True)
    return serve_fleet([spec], json_output=args.json, command="hil bridge")
