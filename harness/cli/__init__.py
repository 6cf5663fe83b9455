"""The ``hil`` command line.

One module per command. Each has ``register(commands)``, which adds its
sub-parser (with ``--help`` examples in the epilog) and sets ``run``, a
function of the parsed arguments returning the exit code. A command raises
``CommandError`` for bad input: ``main`` prints it and exits 2. Adding a
command is one module and one entry in ``COMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

from harness.cli import bridge, devices, export, record, replay, serve, status, verify
from harness.cli.errors import EXIT_OK, EXIT_USAGE, CommandError
from harness.cli.options import configure_logging

__all__ = ["COMMAND_MODULES", "CommandError", "build_parser", "main"]

#: The commands, in the order ``hil --help`` lists them.
COMMAND_MODULES = (serve, status, devices, bridge, record, replay, verify, export)

EPILOG = """\
examples:
  hil serve                 one emulated Keithley 6517B on a free port; Ctrl-C stops it
  hil serve --count 4 --json
  hil status
  hil bridge --serial /dev/ttyUSB0 --baud 57600
  hil serve --record cassettes/ then  hil replay cassettes/SESSION.jsonl
  hil record tcp:benchhost:5025 --out cassettes/   record sessions with a bench instrument
  hil verify fixtures/sessions/pymeasure_6517b.jsonl

Run 'hil COMMAND --help' for the options and examples of each command.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hil", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Hardware-in-the-loop harness for lab instruments: emulated devices, "
                    "serial bridges, fleets.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def version() -> str:
    try:
        return metadata.version("hil-harness")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    configure_logging(args.verbose)
    try:
        exit_code: int = args.run(args)
    except CommandError as e:
        print(f"hil {args.command}: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        # Ctrl-C before a command installed its own signal handling.
        return EXIT_OK
    return exit_code
