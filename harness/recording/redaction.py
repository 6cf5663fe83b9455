"""Redaction of the instrument's serial number (the third ``*IDN?`` field) from cassettes."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from harness.recording.cassette import DeviceInfo

_IDN_QUERY = re.compile(rb"\*IDN\?", re.IGNORECASE)


def idn_serial(idn: str | None) -> str | None:
    """The serial number field of an ``*IDN?`` reply, or ``None``."""
    if not idn:
        return None
    fields = idn.split(",")
    if len(fields) < 4 or not fields[2].strip():
        return None
    return fields[2].strip()


def redact_idn(idn: str | None) -> str | None:
    """``idn`` with its serial number replaced by zeros of the same length."""
    serial = idn_serial(idn)
    if idn is None or serial is None:
        return idn
    fields = idn.split(",")
    fields[2] = fields[2].replace(serial, "0" * len(serial))
    return ",".join(fields)


def redact_device(device: DeviceInfo) -> DeviceInfo:
    """``device`` with the ``*IDN?`` serial zeroed in ``idn`` and wherever ``config`` holds it.

    An emulator's configuration repeats the serial (``serial_number``), so
    zeroing the ``idn`` alone would leave it in the header.
    """
    serial = idn_serial(device.idn)
    if serial is None:
        return device
    return dataclasses.replace(device, idn=redact_idn(device.idn),
                               config=_zero_value(device.config, serial))


def _zero_value(value: Any, serial: str) -> Any:
    if isinstance(value, dict):
        return {key: _zero_value(item, serial) for key, item in value.items()}
    if isinstance(value, list):
        return [_zero_value(item, serial) for item in value]
    if isinstance(value, str) and value.strip() == serial:
        return value.replace(serial, "0" * len(serial))
    return value


class SerialRedactor:
    """Replaces the serial number in device replies with zeros.

    The serial comes from the header's ``*IDN?`` or from the first reply that
    follows a client message containing ``*IDN?``.
    """

    def __init__(self, idn: str | None = None) -> None:
        self._pattern: re.Pattern[bytes] | None = None
        self._replacement = b""
        self._idn_asked = False
        self._learn(idn)

    def _learn(self, idn: str | None) -> None:
        serial = idn_serial(idn)
        if serial is None:
            return
        raw = serial.encode("latin-1", "replace")
        self._pattern = re.compile(rb"(?<=,)" + re.escape(raw) + rb"(?=,)")
        self._replacement = b"0" * len(raw)

    def rx(self, data: bytes) -> None:
        if self._pattern is None and _IDN_QUERY.search(data):
            self._idn_asked = True

    def tx(self, data: bytes) -> bytes:
        if self._pattern is None and self._idn_asked:
            self._idn_asked = False
            self._learn(data.decode("latin-1").rstrip("\r\n"))
        if self._pattern is None:
            return data
        return self._pattern.sub(self._replacement, data)
