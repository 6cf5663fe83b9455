"""The ``hil`` command line.

``hil serve`` runs one emulated Keithley on a TCP port until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import ipaddress
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

#: ``--terminator`` choices and the bytes they stand for (spec keithley.md §1.9).
TERMINATORS: dict[str, bytes] = {"lf": b"\n", "cr": b"\r", "crlf": b"\r\n", "lfcr": b"\n\r"}
#: How a pyvisa user writes each terminator in Python source.
TERMINATOR_LITERALS: dict[str, str] = {
    "lf": r"\n",
    "cr": r"\r",
    "crlf": r"\r\n",
    "lfcr": r"\n\r",
}
EXIT_OK = 0
EXIT_USAGE = 2

SERVE_EPILOG = """\
examples:
  hil serve                          a 6517B on a free port of 127.0.0.1
  hil serve --model 6514 --port 5025
  hil serve --terminator cr --lenient  the dialect of the observatory controller
  hil serve --speed 0 --json         instantaneous replies; one JSON line when ready

The emulator answers SCPI over a raw TCP socket, like the instrument behind a
serial-to-Ethernet converter. pyvisa resource: TCPIP::HOST::PORT::SOCKET, with
read_termination set to the output terminator.
"""


class ServeError(Exception):
    """``hil serve`` cannot start; the message says why and what to do."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hil",
        description="Hardware-in-the-loop harness for lab instruments.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve an emulated Keithley 6517B/6514 electrometer on a TCP port",
        description="Serve an emulated Keithley electrometer on a TCP port until Ctrl-C.",
        epilog=SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_serve_arguments(serve)
    return parser


def add_serve_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s; other addresses expose the "
        "emulator to the network)",
    )
    serve.add_argument(
        "--port",
        type=port_number,
        default=0,
        help="TCP port (default: 0, a free port chosen by the system)",
    )
    serve.add_argument(
        "--model",
        choices=("6517B", "6514"),
        default="6517B",
        help="instrument personality (default: %(default)s)",
    )
    serve.add_argument(
        "--terminator",
        choices=tuple(TERMINATORS),
        default="lf",
        help="output terminator appended to every reply (default: %(default)s); "
        "input accepts CR, LF, CRLF and LFCR whatever this is",
    )
    serve.add_argument(
        "--speed",
        type=speed_factor,
        default=1.0,
        help="time scale: 1 realistic, 10 ten times faster, 0 instantaneous (default: %(default)s)",
    )
    serve.add_argument(
        "--lenient",
        action="store_true",
        help="ignore unknown headers instead of queuing -113 (for legacy controllers)",
    )
    serve.add_argument(
        "--seed", type=int, default=0, help="seed of the simulated noise (default: %(default)s)"
    )
    serve.add_argument(
        "--json",
        action="store_true",
        help="print one JSON line with the endpoint when ready, instead of the text banner",
    )
    serve.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log to stderr: -v connections, -vv every detail",
    )


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is outside 0-65535 (0 picks a free port)")
    return port


def speed_factor(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not speed >= 0 or speed == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number >= 0")
    return speed


def is_loopback(host: str) -> bool:
    """True if ``host`` only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connect_host(host: str) -> str:
    """The address a local client dials for a server bound to ``host``."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def visa_resource(host: str, port: int) -> str:
    return f"TCPIP::{connect_host(host)}::{port}::SOCKET"


def endpoint_record(args: argparse.Namespace, host: str, port: int) -> dict[str, Any]:
    """What ``--json`` prints: enough to connect without parsing anything else."""
    return {
        "event": "ready",
        "device": f"keithley{args.model.lower()}",
        "model": args.model,
        "host": host,
        "port": port,
        "pid": os.getpid(),
        "resource": visa_resource(host, port),
        "terminator": args.terminator,
        "speed": args.speed,
        "mode": "lenient" if args.lenient else "strict",
    }


def banner(args: argparse.Namespace, host: str, port: int) -> str:
    literal = TERMINATOR_LITERALS[args.terminator]
    resource = visa_resource(host, port)
    address = f"[{host}]" if ":" in host else host
    python = (
        f"python -c \"import pyvisa; r = pyvisa.ResourceManager('@py').open_resource("
        f"'{resource}', read_termination='{literal}', write_termination='\\n'); "
        f"print(r.query('*IDN?'))\""
    )
    return "\n".join(
        [
            f"hil: emulated Keithley {args.model} listening on {address}:{port} "
            f"(output terminator {args.terminator.upper()}, speed {args.speed:g}, "
            f"{'lenient' if args.lenient else 'strict'})",
            f"  pyvisa resource: {resource}  (read_termination='{literal}')",
            f"  python: {python}",
            f"  shell:  nc {connect_host(host)} {port}    then type *IDN? and press Enter",
            "Press Ctrl-C to stop.",
        ]
    )


async def serve(args: argparse.Namespace) -> int:
    """Run one emulator until SIGINT/SIGTERM; raises ``ServeError`` if it cannot start."""
    from devices.keithley.mock_server import MockServer

    if not is_loopback(args.host):
        print(
            f"hil: warning: listening on {args.host!r}, not a loopback address: anyone who "
            "can reach this machine can talk to the emulator",
            file=sys.stderr,
        )
    try:
        server = MockServer(
            host=args.host,
            port=args.port,
            model=args.model,
            terminator=TERMINATORS[args.terminator],
            speed=args.speed,
            strict=not args.lenient,
            seed=args.seed,
        )
    except ValueError as e:
        raise ServeError(str(e)) from None
    try:
        try:
            await server.start_task
        except OSError as e:
            raise ServeError(listen_failure(args.host, args.port, e)) from None
        stop = install_stop_handlers()
        port = server.port if server.port is not None else args.port
        if args.json:
            print(json.dumps(endpoint_record(args, args.host, port)), flush=True)
        else:
            print(banner(args, args.host, port), flush=True)
        await stop.wait()
        log.info("Stopping")
    finally:
        await server.close()
    return EXIT_OK


def listen_failure(host: str, port: int, error: OSError) -> str:
    where = f"{host}:{port}"
    if error.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: the port is already in use; "
            "choose another --port, or --port 0 for a free one"
        )
    if error.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied; use a port above 1023"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: no such address on this machine; check --host"
    return f"cannot listen on {where}: {error.strerror or error}"


def install_stop_handlers() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (instead of a KeyboardInterrupt traceback)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


def configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    configure_logging(args.verbose)
    try:
        return asyncio.run(serve(args))
    except ServeError as e:
        print(f"hil serve: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        # Ctrl-C before the signal handlers were installed.
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
