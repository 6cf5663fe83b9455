"""``hil verify``: check the emulator against a recorded cassette."""

from __future__ import annotations

import argparse
import math

from harness.cli.errors import CommandError
from harness.cli.options import Subcommands, common_options

EPILOG = """\
examples:
  hil verify fixtures/sessions/pymeasure_6517b.jsonl
  hil verify bench.jsonl --device keithley6517b --value-rel 0.05 --any-timestamp

Sends the cassette's client messages to a fresh emulator and compares its
replies with the recorded ones. Emulator cassettes compare exactly by default,
hardware cassettes by format only (numbers may differ; give tolerances to
bound them). Exit codes: 0 every exchange agrees, 1 some differ (each is
printed with both replies), 2 bad input.
"""


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "verify", parents=[common_options()], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="check the emulator against a recorded cassette",
        description="Replay a cassette's messages to the emulator and diff the replies.")
    parser.add_argument("cassette", metavar="FILE", help="the cassette (.jsonl) to check")
    parser.add_argument("--device", metavar="NAME",
                        help="registered device name (default: the cassette's device)")
    tolerances = parser.add_argument_group(
        "tolerances (default: exact for emulator cassettes, format only for hardware ones)")
    tolerances.add_argument("--value-rel", type=float, metavar="R",
                            help="measured values may differ by R times their size")
    tolerances.add_argument("--value-abs", type=float, metavar="A",
                            help="measured values may differ by A")
    tolerances.add_argument("--timestamp-abs", type=float, metavar="S",
                            help="timestamps may differ by S seconds")
    tolerances.add_argument("--reading-number-abs", type=float, metavar="N",
                            help="reading numbers may differ by N")
    parser.set_defaults(run=run)


TOLERANCE_OPTIONS = ("value_rel", "value_abs", "timestamp_abs", "reading_number_abs")


def run(args: argparse.Namespace) -> int:
    from devices.keithley.registry import UnknownDevice
    from harness.recording import RecordingError, Tolerances, verify

    given = {name: getattr(args, name) for name in TOLERANCE_OPTIONS
             if getattr(args, name) is not None}
    for name, value in given.items():
        if math.isnan(value) or value < 0:
            raise CommandError(f"--{name.replace('_', '-')} must be a number >= 0, got {value}")
    tolerances = Tolerances(**given) if given else None
    try:
        result = verify(args.cassette, args.device, tolerances=tolerances)
    except RecordingError as e:
        raise CommandError(str(e)) from None
    except UnknownDevice as e:
        raise CommandError(e.args[0] if e.args else str(e)) from None
    except OSError as e:
        raise CommandError(f"cannot read {args.cassette}: {e.strerror}") from None
    print(result.format(), flush=True)
    return result.exit_code
