"""``hil status``: the fleets (``hil serve``, ``hil bridge``) running for this user."""

from __future__ import annotations

import argparse

from harness.cli.options import Subcommands, common_options
from harness.cli.preflight import run_directory_root

EPILOG = """\
examples:
  hil status            a table per running fleet; ANSWERS says if the control port replied
  hil status --json     {"fleets": [{"supervisor_pid": ..., "devices": [...]}]}

Fleets are found through their state files under $XDG_RUNTIME_DIR/hil (or
/tmp/hil-UID). Exit codes: 0 every device answers (or none is running), 1 a
device does not answer, 2 the run directory cannot be read.
"""


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "status", parents=[common_options()], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="show the running fleets and whether each device answers",
        description="Show the devices of every running 'hil serve' and 'hil bridge'.")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from harness.supervisor import print_status

    run_directory_root()
    return print_status(json_output=args.json)
