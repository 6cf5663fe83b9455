"""Argument types and options shared by the ``hil`` commands."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from typing import TextIO, TypeAlias

#: What ``add_subparsers`` returns; each command module adds itself to it.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

#: ``--terminator`` choices (spec keithley.md §1.9).
TERMINATOR_NAMES = ("lf", "cr", "crlf", "lfcr")


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


def positive_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"{count} must be at least 1")
    return count


def is_loopback(host: str) -> bool:
    """True if ``host`` only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_listen_arguments(parser: argparse.ArgumentParser) -> None:
    """``--host`` and ``--port`` of a command serving one TCP port."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=port_number, default=0,
                        help="TCP port (default 0: a free port, printed when ready)")


def warn_if_exposed(command: str, host: str, peer: str, stream: TextIO | None = None) -> None:
    """Warn on ``stream`` (stderr) that ``host`` lets other machines talk to ``peer``."""
    if not is_loopback(host):
        print(f"hil {command}: warning: listening on {host!r}, not a loopback address: anyone "
              f"who can reach this machine can talk to the {peer}",
              file=stream or sys.stderr, flush=True)


def common_options() -> argparse.ArgumentParser:
    """The options every command has (a parent parser)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0,
                        help="log to stderr: -v what the harness does, -vv every detail")
    return common


def configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
