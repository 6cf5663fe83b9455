"""The pytest plugin's logic, usable without pytest: targets, run naming, leases, pooling.

``HilSession`` is one process's view of a test run: its ``Target`` (``emulator``,
``tcp:HOST:PORT``, ``serial:URL``, ``replay:DIR``, see ``parse_target``) hands out
``InstrumentEndpoint`` objects; ``Lease`` serialises the use of one physical
instrument across processes. Nothing here imports the supervisor or the device
models until an instrument is asked for.
"""

from harness.plugin_support.endpoint import (
    ControlUnavailable,
    InstrumentEndpoint,
    TargetLimitation,
)
from harness.plugin_support.lease import Lease, LeaseTimeout
from harness.plugin_support.run import MAIN_WORKER, RunContext
from harness.plugin_support.session import (
    HilSession,
    InstrumentError,
    SessionSettings,
    TestDevices,
    device_spec,
    parse_settings,
)
from harness.plugin_support.targets import SettingsError, Target, TargetError, parse_target

__all__ = [
    "MAIN_WORKER",
    "ControlUnavailable",
    "HilSession",
    "InstrumentEndpoint",
    "InstrumentError",
    "Lease",
    "LeaseTimeout",
    "RunContext",
    "SessionSettings",
    "SettingsError",
    "Target",
    "TargetError",
    "TargetLimitation",
    "TestDevices",
    "device_spec",
    "parse_settings",
    "parse_target",
]
