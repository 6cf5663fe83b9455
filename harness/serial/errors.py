"""Exceptions of the serial endpoints; each message says what happened and what to do."""

from __future__ import annotations


class SerialEndpointError(Exception):
    """Base class of the errors of ``harness.serial``."""


class SerialSettingsError(SerialEndpointError, ValueError):
    """A line setting (baud, data bits, parity, stop bits, terminator) is invalid."""


class SerialUrlError(SerialSettingsError):
    """A serial URL is malformed or names a scheme pyserial does not know."""


class SerialPortNotFound(SerialEndpointError, FileNotFoundError):
    """The serial device named by a path does not exist."""


class SerialOpenError(SerialEndpointError, OSError):
    """The serial port exists (or is remote) but could not be opened."""


class PtyError(SerialEndpointError, OSError):
    """A pseudo-terminal could not be created or published."""
