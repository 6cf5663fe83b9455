"""``hil devices``: the registered device names and the factories behind them."""

from __future__ import annotations

import argparse
import json

from harness.cli.errors import EXIT_OK
from harness.cli.options import Subcommands, common_options

EPILOG = """\
examples:
  hil devices           NAME and FACTORY, one device per line
  hil devices --json    {"devices": [{"name": ..., "factory": "module:attribute"}]}

Another package adds a device with one entry point in its pyproject.toml:
  [project.entry-points."hil.devices"]
  mydevice = "mypackage.mymodule:factory"
"""


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "devices", parents=[common_options()], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="list the device names 'hil serve --device' and fleet files accept",
        description="List the registered devices: built-ins and the hil.devices entry points.")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from devices.keithley.registry import devices

    listed = [{"name": name, "factory": factory_name(factory)}
              for name, factory in devices.items()]
    if args.json:
        print(json.dumps({"devices": listed}))
        return EXIT_OK
    width = max(len("NAME"), *(len(device["name"]) for device in listed))
    print(f"{'NAME'.ljust(width)}  FACTORY")
    for device in listed:
        print(f"{device['name'].ljust(width)}  {device['factory']}")
    return EXIT_OK


def factory_name(factory: object) -> str:
    module = getattr(factory, "__module__", None) or "?"
    qualname = getattr(factory, "__qualname__", None) or repr(factory)
    return f"{module}:{qualname}"
