"""Line settings and terminators of the serial endpoints, checked before anything starts.

``LineSettings`` holds baud, data bits, parity, stop bits and XON/XOFF (spec
keithley.md §8.1); ``check_url`` refuses serial URLs pyserial cannot open or that
would open a port the user did not name; ``terminator_bytes`` turns ``"cr"``,
``"lf"``, ``"crlf"`` or ``"lfcr"`` into bytes.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import serial

from harness.serial.errors import SerialPortNotFound, SerialSettingsError, SerialUrlError

if TYPE_CHECKING:
    from devices.keithley.config import SerialSettings

#: Baud rates pyserial knows on every platform (the instrument's are a subset, §8.1).
BAUD_RATES: tuple[int, ...] = tuple(serial.SerialBase.BAUDRATES)
DATA_BITS = (5, 6, 7, 8)
STOP_BITS = (1, 1.5, 2)
PARITIES: dict[str, str] = {
    "none": serial.PARITY_NONE,
    "odd": serial.PARITY_ODD,
    "even": serial.PARITY_EVEN,
    "mark": serial.PARITY_MARK,
    "space": serial.PARITY_SPACE,
}
#: Terminator names (spec §1.9) and their bytes.
TERMINATORS: dict[str, bytes] = {"lf": b"\n", "cr": b"\r", "crlf": b"\r\n", "lfcr": b"\n\r"}
#: URL schemes that pick a port by themselves; the bridge opens only the port it is given.
REFUSED_SCHEMES = {"hwgrep": "it opens whichever port matches a pattern"}


@dataclass(frozen=True)
class LineSettings:
    """RS-232 line settings; raises ``SerialSettingsError`` for a value the port cannot take.

    ``parity`` is ``none``, ``odd``, ``even``, ``mark`` or ``space`` (or its
    first letter, any case).
    """

    baud: int = 9600
    data_bits: int = 8
    parity: str = "none"
    stop_bits: float = 1
    xonxoff: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.baud, bool) or self.baud not in BAUD_RATES:
            raise SerialSettingsError(
                f"baud rate {self.baud!r} is not a standard rate; use one of "
                f"{', '.join(map(str, BAUD_RATES))} (the Keithleys take 300-57600)")
        if isinstance(self.data_bits, bool) or self.data_bits not in DATA_BITS:
            raise SerialSettingsError(f"data bits {self.data_bits!r} must be 5, 6, 7 or 8 "
                                      "(the Keithleys use 7 or 8)")
        object.__setattr__(self, "parity", parity_name(self.parity))
        if isinstance(self.stop_bits, bool) or self.stop_bits not in STOP_BITS:
            raise SerialSettingsError(f"stop bits {self.stop_bits!r} must be 1, 1.5 or 2")
        if not isinstance(self.xonxoff, bool):
            raise SerialSettingsError(f"xonxoff must be true or false, got {self.xonxoff!r}")

    @classmethod
    def from_keithley(cls, settings: SerialSettings) -> LineSettings:
        """The line settings of an emulated Keithley's ``serial.*`` configuration."""
        return cls(baud=settings.baud, data_bits=settings.data_bits, parity=settings.parity,
                   stop_bits=settings.stop_bits, xonxoff=settings.xonxoff)

    @property
    def bits_per_character(self) -> float:
        """Start bit + data bits + parity bit + stop bits (8N1: 10)."""
        return 1 + self.data_bits + (0 if self.parity == "none" else 1) + self.stop_bits

    @property
    def seconds_per_character(self) -> float:
        return self.bits_per_character / self.baud

    def pyserial_options(self) -> dict[str, Any]:
        """Keyword arguments of ``serial.serial_for_url`` for these settings."""
        return {"baudrate": self.baud, "bytesize": self.data_bits,
                "parity": PARITIES[self.parity], "stopbits": self.stop_bits,
                "xonxoff": self.xonxoff}


def parity_name(value: object) -> str:
    """``"none"``, ``"odd"``, ``"even"``, ``"mark"`` or ``"space"`` for a name or letter."""
    if isinstance(value, str):
        text = value.strip().lower()
        for name in PARITIES:
            if text in (name, name[0]):
                return name
    raise SerialSettingsError(f"parity {value!r} is unknown; use none, odd or even "
                              "(or mark, space)")


def terminator_bytes(value: object, what: str = "terminator") -> bytes:
    """The bytes of a terminator given by name (``"cr"``) or as bytes (``b"\\r"``)."""
    if isinstance(value, bytes) and value in TERMINATORS.values():
        return value
    if isinstance(value, str) and value.lower() in TERMINATORS:
        return TERMINATORS[value.lower()]
    raise SerialSettingsError(f"{what} {value!r} is not one of cr, lf, crlf, lfcr")


def terminator_label(value: bytes) -> str:
    """The name of terminator bytes (``b"\\r\\n"`` → ``"crlf"``)."""
    for name, data in TERMINATORS.items():
        if data == value:
            return name
    raise SerialSettingsError(f"terminator {value!r} is not one of cr, lf, crlf, lfcr")


def url_scheme(url: str) -> str | None:
    """The lower-case scheme of ``url`` (``"socket"``), or None for a device path."""
    scheme, separator, _ = url.partition("://")
    return scheme.lower() if separator else None


def check_url(url: object) -> str:
    """``url`` if pyserial can open it; raises ``SerialUrlError`` or ``SerialPortNotFound``.

    A device path must exist; a URL scheme must be one of pyserial's handlers.
    """
    if not isinstance(url, str) or not url.strip() or "\0" in url:
        raise SerialUrlError(f"serial port {url!r} must be a device path such as /dev/ttyUSB0 "
                             "or a URL such as socket://host:port, rfc2217://host:port, loop://")
    scheme = url_scheme(url)
    if scheme is None:
        if not os.path.exists(url):
            raise SerialPortNotFound(
                f"serial device {url} does not exist; check the cable and the name "
                "(ls /dev/ttyUSB* /dev/ttyACM* /dev/serial/by-id/)")
        return url
    if scheme in REFUSED_SCHEMES:
        raise SerialUrlError(f"{scheme}:// is refused: {REFUSED_SCHEMES[scheme]}; "
                             "name the port itself")
    if not scheme.isidentifier() or not _has_handler(scheme):
        raise SerialUrlError(f"serial URL {url!r} has an unknown scheme {scheme!r}; use a device "
                             "path or socket://, rfc2217://, loop://, spy://")
    return url


def _has_handler(scheme: str) -> bool:
    for package in serial.protocol_handler_packages:
        try:
            if importlib.util.find_spec(f"{package}.protocol_{scheme}") is not None:
                return True
        except ImportError:
            continue
    return False
