"""Serial endpoints: devices on pseudo-terminals and the bridge to a real instrument.

``PtyEndpoint`` serves any sans-IO device model on a pseudo-terminal, so serial
clients (pyserial, pyvisa ``ASRL...::INSTR``) test without hardware.
``BridgeServer`` is a ``OneClientServer`` whose far side is an instrument on a
serial port opened with ``serial.serial_for_url``.
"""

from harness.serial.bridge import BridgeServer
from harness.serial.errors import (
    PtyError,
    SerialEndpointError,
    SerialOpenError,
    SerialPortNotFound,
    SerialSettingsError,
    SerialUrlError,
)
from harness.serial.pty_endpoint import PtyEndpoint
from harness.serial.settings import LineSettings

__all__ = [
    "BridgeServer",
    "LineSettings",
    "PtyEndpoint",
    "PtyError",
    "SerialEndpointError",
    "SerialOpenError",
    "SerialPortNotFound",
    "SerialSettingsError",
    "SerialUrlError",
]
