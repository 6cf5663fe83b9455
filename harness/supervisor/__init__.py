"""One OS process per emulated device: spawn, readiness, control channel, restarts, no orphans.

``Supervisor`` starts devices (``spawn``/``aspawn``/``spawn_many``) and returns
``Endpoint`` objects; ``load_fleet`` reads a TOML fleet file into
``DeviceSpec`` objects; ``serve_fleet`` and ``print_status`` back ``hil serve``
and ``hil status``.
"""

from devices.keithley.registry import UnknownDevice
from harness.supervisor.control_client import ControlClient
from harness.supervisor.endpoint import Endpoint
from harness.supervisor.errors import (
    ControlConnectionError,
    ControlError,
    DeviceStartError,
    DeviceUnavailable,
    FleetError,
    ForkServerError,
    SpecError,
    SupervisorError,
)
from harness.supervisor.fleet import load_fleet, parse_fleet
from harness.supervisor.serve import print_status, serve_fleet, specs_for
from harness.supervisor.spec import DeviceSpec
from harness.supervisor.supervisor import Supervisor

__all__ = [
    "ControlClient",
    "ControlConnectionError",
    "ControlError",
    "DeviceSpec",
    "DeviceStartError",
    "DeviceUnavailable",
    "Endpoint",
    "FleetError",
    "ForkServerError",
    "SpecError",
    "Supervisor",
    "SupervisorError",
    "UnknownDevice",
    "load_fleet",
    "parse_fleet",
    "print_status",
    "serve_fleet",
    "specs_for",
]
