"""``hil bridge``: a TCP port in front of an instrument on a serial port (harness.serial)."""

from __future__ import annotations

import argparse

from harness.cli.options import Subcommands, common_options
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
    add_record_arguments(parser)
    parser.set_defaults(run=run)


RECORD_EPILOG = """
With --record DIR every client connection becomes a cassette in DIR (source
"hardware"); --redact-serial zeroes the instrument's serial number in them.
Check the emulator against a cassette with 'hil verify', replay it with
'hil replay'. The control port records on demand too:
{"op": "record_start", "path": "/abs/path.jsonl"} ... {"op": "record_stop"}.
"""


def run(args: argparse.Namespace) -> int:
    from harness.serial.cli_support import run_bridge

    directory = record_directory(args)
    check_listen(args.host, args.port)
    run_directory_root()
    return run_bridge(args, record_dir=directory, redact_serial=args.redact_serial)
