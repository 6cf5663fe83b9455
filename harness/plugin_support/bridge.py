"""The serial target's use of ``harness.serial``: settings, URL checks, a bridge per test."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from harness.plugin_support.background import serve_in_background
from harness.plugin_support.targets import SettingsError, TargetError

if TYPE_CHECKING:
    from harness.recording import RecordingTap

#: ``--hil-serial`` keys: the ``BridgeServer`` line settings and how to read them.
SERIAL_KEYS: dict[str, type] = {"baud": int, "data_bits": int, "parity": str,
                                "stop_bits": float, "xonxoff": bool,
                                "instrument_terminator": str}
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def parse_serial_settings(text: str) -> dict[str, Any]:
    """``baud=19200,instrument_terminator=cr`` as bridge keywords; raises ``SettingsError``."""
    settings: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, equals, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not equals or key not in SERIAL_KEYS:
            raise SettingsError(f"--hil-serial: {item!r} is not KEY=VALUE with KEY one of "
                              f"{', '.join(SERIAL_KEYS)} "
                              "(e.g. baud=19200,instrument_terminator=cr)")
        settings[key] = _convert(key, value.strip())
    return settings


def _convert(key: str, value: str) -> Any:
    kind = SERIAL_KEYS[key]
    if kind is bool:
        if value.lower() not in TRUE_WORDS + FALSE_WORDS:
            raise SettingsError(f"--hil-serial: {key} must be true or false, got {value!r}")
        return value.lower() in TRUE_WORDS
    try:
        return kind(value)
    except ValueError:
        raise SettingsError(f"--hil-serial: {key} must be a {kind.__name__}, "
                            f"got {value!r}") from None


def check_serial(url: str, settings: dict[str, Any]) -> None:
    """Raise ``TargetError`` if ``url`` names no port pyserial can open or a setting is bad."""
    from harness.serial import LineSettings, SerialEndpointError
    from harness.serial.settings import check_url, terminator_bytes

    line = {key: value for key, value in settings.items() if key != "instrument_terminator"}
    try:
        check_url(url)
        LineSettings(**line)
        terminator_bytes(settings.get("instrument_terminator", "lf"), "instrument terminator")
    except SerialEndpointError as e:
        raise TargetError(str(e)) from None


@contextlib.contextmanager
def start_bridge(url: str, settings: dict[str, Any], *, terminator: bytes,
                 recording_tap: Callable[[], RecordingTap] | None = None,
                 ) -> Iterator[tuple[str, int]]:
    """A bridge from a free local TCP port to the serial port ``url``, for one test.

    ``recording_tap`` builds the tap (in the bridge's event loop) that records the
    session on the client side. Raises the bridge's ``SerialOpenError`` if the
    port cannot be opened.
    """
    from harness.serial import BridgeServer

    def build() -> BridgeServer:
        options: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "terminator": terminator,
                                   **settings}
        if recording_tap is None:
            return BridgeServer(url, **options)
        from harness.plugin_support.recorders import RecordingBridge

        return RecordingBridge(url, recording_tap=recording_tap(), **options)

    with serve_in_background(build) as address:
        yield address
