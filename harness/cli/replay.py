"""``hil replay``: serve a recorded cassette on a TCP port, as if it were the instrument."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import TYPE_CHECKING

from harness.cli.errors import EXIT_FAILED, EXIT_OK, CommandError
from harness.cli.options import (
    Subcommands,
    add_listen_arguments,
    common_options,
    speed_factor,
    warn_if_exposed,
)
from harness.cli.preflight import check_listen
from harness.cli.serving import serve_until_stopped

if TYPE_CHECKING:
    from harness.recording import CassettePlayer

EPILOG = """\
examples:
  hil replay fixtures/sessions/pymeasure_6517b.jsonl
  hil replay session.jsonl --json --port 5025
  hil replay session.jsonl --lenient --repeats   any order; polling loops may run longer

A client talks to the printed port as to the instrument; each message must be
the next recorded one (--lenient: any unplayed one) and gets the recorded
replies. Unexpected messages get no reply. On Ctrl-C/SIGTERM every mismatch and
every exchange never played is printed. Exit codes: 0 the whole cassette was
played as recorded, 1 mismatches or leftovers, 2 bad input (a broken cassette:
its file and line are named).
"""


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "replay", parents=[common_options()], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="serve a recorded cassette on a TCP port, as the instrument",
        description="Replay a cassette's replies to a TCP client until Ctrl-C or SIGTERM, "
                    "then report what did not match.")
    parser.add_argument("cassette", metavar="FILE", help="the cassette (.jsonl) to replay")
    parser.add_argument("--lenient", action="store_true",
                        help="match each message with any unplayed exchange, not only the next")
    parser.add_argument("--repeats", action="store_true",
                        help="let played exchanges play again (polling loops of another length)")
    parser.add_argument("--speed", type=speed_factor, default=0.0,
                        help="0 replies at once (default), 1 with the recorded delays, "
                             "2 twice as fast")
    add_listen_arguments(parser)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON line when ready and one when done, instead of text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    player = load_player(args)
    check_listen(args.host, args.port)
    warn_if_exposed("replay", args.host, "replayed cassette")
    asyncio.run(serve(player, args))
    problems = player.report()
    if args.json:
        print(json.dumps({"event": "done", "exchanges": len(player.exchanges),
                          "played": sum(player.played), "problems": problems}), flush=True)
    elif problems:
        print("\n".join(problems), flush=True)
    else:
        print(f"hil replay: all {len(player.exchanges)} exchanges played as recorded", flush=True)
    return EXIT_FAILED if problems else EXIT_OK


def load_player(args: argparse.Namespace) -> CassettePlayer:
    from harness.recording import CassettePlayer, RecordingError, ReplayOptions

    options = ReplayOptions(strict=not args.lenient, repeats=args.repeats, speed=args.speed)
    try:
        return CassettePlayer(args.cassette, options)
    except RecordingError as e:
        raise CommandError(str(e)) from None
    except OSError as e:
        raise CommandError(f"cannot read {args.cassette}: {e.strerror}") from None


async def serve(player: CassettePlayer, args: argparse.Namespace) -> None:
    """Serve ``player`` until SIGINT or SIGTERM."""
    from harness.recording import ReplayServer

    server = ReplayServer(player, host=args.host, port=args.port)
    await serve_until_stopped(server, args.host, args.port,
                              lambda port: ready_message(player, args, port))


def ready_message(player: CassettePlayer, args: argparse.Namespace, port: int) -> str:
    if args.json:
        return json.dumps({"event": "ready", "host": args.host, "port": port,
                           "cassette": str(player.path), "exchanges": len(player.exchanges)})
    return (f"hil replay: {player.path} ({len(player.exchanges)} exchanges) on "
            f"{args.host}:{port}; Ctrl-C stops it")
