"""``hil serve``: emulated instruments, each in its own process, until Ctrl-C or SIGTERM.

Every form goes through the supervisor, so a single device gets the same
control port, ``hil status`` entry and no-orphan guarantees as a fleet.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from harness.cli.errors import CommandError
from harness.cli.options import (
    TERMINATOR_NAMES,
    Subcommands,
    common_options,
    port_number,
    positive_count,
    speed_factor,
    warn_if_exposed,
)
from harness.cli.preflight import (
    check_listen_addresses,
    check_registered,
    run_directory_root,
    writable_directory,
)

if TYPE_CHECKING:
    from harness.supervisor import DeviceSpec

DEFAULT_DEVICE = "keithley6517b"
#: The options that describe ``--device`` instances; a fleet file sets these itself.
DEVICE_OPTIONS = ("device", "count", "host", "port", "terminator", "speed", "lenient", "seed",
                  "restart", "pty")
#: What the device options default to (they parse as None, so --fleet can name them).
DEVICE_DEFAULTS: dict[str, object] = {"host": "127.0.0.1", "port": 0, "terminator": "lf",
                                      "speed": 1.0, "lenient": False, "seed": 0,
                                      "restart": "fail", "pty": False}

EPILOG = """\
examples:
  hil serve                             one 6517B on a free port of 127.0.0.1
  hil serve --device keithley6514 --port 5025
  hil serve --count 4 --speed 0 --json  four instantaneous 6517Bs; one JSON object when ready
  hil serve --terminator cr --lenient   the dialect of the observatory controller
  hil serve --pty                       also on a pseudo-terminal, for serial clients
  hil serve --fleet fixtures/fleets/example.toml
  hil serve --record cassettes/ --json  one cassette per client connection in cassettes/

Each device is its own process with a TCP port and a control port (JSON lines,
e.g. {"op": "ping"}); both are printed when every device answers. Connect with
pyvisa as TCPIP::HOST::PORT::SOCKET (read_termination: the output terminator),
or with 'nc HOST PORT' and type *IDN?. 'hil status' shows running fleets,
'hil devices' the device names. Exit codes: 0 stopped by Ctrl-C/SIGTERM,
1 a device failed to start, 2 bad input (nothing was started).
"""


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "serve", parents=[common_options()], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="serve emulated instruments (default: one Keithley 6517B) on TCP ports",
        description="Serve emulated instruments, one process each, until Ctrl-C or SIGTERM.")
    add_source_arguments(parser)
    add_device_arguments(parser)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object ({\"devices\": [...]}) when ready, "
                             "instead of a table")
    add_record_arguments(parser)
    parser.set_defaults(run=run)


def add_record_arguments(parser: argparse.ArgumentParser) -> None:
    """``--record DIR`` and ``--redact-serial``, the same for ``hil serve`` and ``hil bridge``."""
    record = parser.add_argument_group("recording")
    record.add_argument("--record", metavar="DIR",
                        help="record each client connection as its own cassette (.jsonl) in DIR, "
                             "created if missing; replay one with 'hil replay'")
    record.add_argument("--redact-serial", action="store_true",
                        help="with --record: zero the instrument's serial number (the third "
                             "*IDN? field) in the cassettes; clients still receive it")


def record_directory(args: argparse.Namespace) -> str:
    """The absolute ``--record`` directory ("" without it); raises ``CommandError``."""
    if args.record is None:
        if args.redact_serial:
            raise CommandError("--redact-serial only applies to --record DIR; add --record")
        return ""
    return writable_directory(args.record, "--record")


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("what to serve")
    source.add_argument("--device", metavar="NAME",
                        help=f"registered device name (default {DEFAULT_DEVICE}; "
                             "'hil devices' lists them)")
    source.add_argument("--count", type=positive_count, metavar="N",
                        help="how many devices of that kind (default 1), named NAME-1 ... NAME-N")
    source.add_argument("--fleet", metavar="FILE.toml",
                        help="the devices of a fleet file instead (example: "
                             "fixtures/fleets/example.toml); the options below go in the file")


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    device = parser.add_argument_group("device settings (with --device)")
    device.add_argument("--host",
                        help="address to listen on (default 127.0.0.1; other addresses expose "
                             "the emulator to the network)")
    device.add_argument("--port", type=port_number,
                        help="TCP port (default 0: a free port, printed when ready); "
                             "only with --count 1")
    device.add_argument("--terminator", choices=TERMINATOR_NAMES,
                        help="output terminator appended to every reply (default lf); input "
                             "accepts CR, LF, CRLF and LFCR whatever this is")
    device.add_argument("--speed", type=speed_factor,
                        help="time scale: 1 realistic (default), 10 ten times faster, "
                             "0 instantaneous")
    device.add_argument("--lenient", action="store_const", const=True,
                        help="ignore unknown headers instead of queuing -113 "
                             "(for legacy controllers)")
    device.add_argument("--seed", type=int, help="seed of the simulated noise (default 0)")
    device.add_argument("--restart", choices=("fail", "restart"),
                        help="when a device process dies: fail (default: it stays down) or "
                             "restart it on the same port")
    device.add_argument("--pty", action="store_const", const=True,
                        help="also serve each device on a pseudo-terminal (its path is printed)")


def run(args: argparse.Namespace) -> int:
    from harness.supervisor import serve_fleet

    specs = device_specs(args)
    directory = record_directory(args)
    if directory:
        specs = [dataclasses.replace(spec, record_dir=directory,
                                     redact_serial=args.redact_serial) for spec in specs]
    for host in dict.fromkeys(spec.host for spec in specs):
        warn_if_exposed("serve", host, "emulator")
    run_directory_root()
    check_listen_addresses(specs)
    return serve_fleet(specs, json_output=args.json)


def device_specs(args: argparse.Namespace) -> list[DeviceSpec]:
    """What to start, from ``--fleet`` or the device options; raises ``CommandError``."""
    from harness.supervisor import FleetError, SpecError, load_fleet, specs_for

    if args.fleet is not None:
        given = [f"--{name}" for name in DEVICE_OPTIONS if getattr(args, name) is not None]
        if given:
            raise CommandError(f"--fleet takes every device setting from the file; drop "
                               f"{', '.join(given)} (or set them in its [defaults] table)")
        try:
            return load_fleet(args.fleet)
        except FleetError as e:
            raise CommandError(str(e)) from None
    device = args.device or DEFAULT_DEVICE
    check_registered(device)
    count = args.count or 1
    if count > 1 and args.port:
        raise CommandError(f"--port {args.port} with --count {count} would put {count} devices "
                           "on one port; leave --port out to give each a free port")
    settings = {key: default if getattr(args, key) is None else getattr(args, key)
                for key, default in DEVICE_DEFAULTS.items()}
    strict = not settings.pop("lenient")
    try:
        return specs_for(device, count, strict=strict, **settings)
    except SpecError as e:
        raise CommandError(str(e)) from None
