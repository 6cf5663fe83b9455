"""``hil export``: a cassette in another tool's test format."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.errors import EXIT_OK, CommandError
from harness.cli.options import Subcommands, common_options

FORMATS = ("pymeasure", "pyvisa-sim")

EPILOG = """\
examples:
  hil export session.jsonl --to pymeasure            comm_pairs for expected_protocol, on stdout
  hil export session.jsonl --to pyvisa-sim -o sim.yaml
  hil export session.jsonl --to pyvisa-sim -o sim.yaml --force   replace sim.yaml

pymeasure: a Python list of (command, reply) pairs. pyvisa-sim: a device
definition file whose queries answer with their first recorded reply.
An existing OUT is never replaced without --force. Exit codes: 0 written,
2 bad input.
"""


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "export", parents=[common_options()], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="convert a cassette to pymeasure or pyvisa-sim test data",
        description="Write a cassette in another tool's test format.")
    parser.add_argument("cassette", metavar="FILE", help="the cassette (.jsonl) to export")
    parser.add_argument("--to", required=True, choices=FORMATS, help="the format to write")
    parser.add_argument("-o", "--output", metavar="OUT",
                        help="file to write (default: standard output)")
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from harness.recording import RecordingError, export_pymeasure, export_pyvisa_sim

    output = Path(args.output) if args.output else None
    if output is not None and output.exists() and not args.force:
        raise CommandError(f"{output} already exists; add --force to replace it or choose "
                           "another -o file")
    exporter = export_pymeasure if args.to == "pymeasure" else export_pyvisa_sim
    try:
        text = exporter(args.cassette)
    except RecordingError as e:
        raise CommandError(str(e)) from None
    except OSError as e:
        raise CommandError(f"cannot read {args.cassette}: {e.strerror}") from None
    if output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        with open(output, "w" if args.force else "x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError:
        raise CommandError(f"{output} already exists; add --force to replace it") from None
    except OSError as e:
        raise CommandError(f"cannot write {output}: {e.strerror}") from None
    return EXIT_OK
