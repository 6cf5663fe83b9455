"""Targets: what serves the instruments of a test run, chosen by one string.

``emulator`` (default)     emulated devices, one process each, per worker
``tcp:HOST:PORT``           an endpoint already running (a shared bench's bridge)
``serial:URL``              real hardware on a serial port, through the pyserial bridge
``replay:DIR``              recorded sessions (cassettes) in DIR, served as devices

Every target hands out ``InstrumentEndpoint`` objects with a TCP ``host`` and
``port``, so a test body runs unchanged against each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from harness.plugin_support.endpoint import InstrumentEndpoint
from harness.plugin_support.lease import DEFAULT_TIMEOUT
from harness.plugin_support.run import RunContext

if TYPE_CHECKING:
    from harness.supervisor import DeviceSpec

TARGET_FORMS = ("emulator, tcp:HOST:PORT (e.g. tcp:127.0.0.1:5025), serial:URL "
                "(e.g. serial:/dev/ttyUSB0), replay:DIR")


class TargetError(ValueError):
    """A target is malformed or unusable (unreachable, missing); a usage error, not a test's."""


class SettingsError(ValueError):
    """An option of the plugin has a bad value; the message names the option."""


@dataclass(frozen=True)
class TargetOptions:
    """Settings of the one-instrument targets.

    ``lease_timeout``: seconds a test waits for the instrument. ``instrument``:
    registry name of the instrument behind ``tcp:``/``serial:`` (tests asking for
    another model are skipped; None: not checked). ``serial``: ``BridgeServer``
    line settings (``baud``, ``parity``, ``instrument_terminator``...).
    ``record_mode``: what the replay target does per cassette (``none``, ``once``,
    ``new_episodes``, ``all``). ``record_from``: what it records missing cassettes
    from (``emulator``, ``tcp:HOST:PORT``, ``serial:URL``).
    """

    lease_timeout: float = DEFAULT_TIMEOUT
    instrument: str | None = None
    serial: dict[str, Any] = field(default_factory=dict)
    record_mode: str = "none"
    record_from: str = "emulator"


class Target(Protocol):
    """Hands out instruments to tests; ``shared`` targets are one physical instrument."""

    kind: str
    text: str
    shared: bool

    def check(self) -> None:
        """Raise ``TargetError`` if the target cannot work (run once, before any test)."""

    def open(self, spec: DeviceSpec, test_id: str) -> InstrumentEndpoint:
        """An instrument for the test ``test_id``, as close to ``spec`` as the target allows."""

    def release(self, instrument: InstrumentEndpoint, *, passed: bool = True) -> None:
        """The test is done with ``instrument``; ``passed`` is false if it failed or was
        interrupted (a recording that would replace a cassette is then dropped)."""

    def close(self) -> None:
        """Stop everything the target started."""


def parse_target(text: str, run: RunContext, options: TargetOptions | None = None) -> Target:
    """The target for ``text``; raises ``TargetError`` for a malformed or unknown one."""
    from harness.plugin_support.emulator import EmulatorTarget
    from harness.plugin_support.remote import SerialTarget, TcpTarget
    from harness.plugin_support.replay import ReplayTarget

    options = options if options is not None else TargetOptions()
    kind, colon, rest = text.strip().partition(":")
    if kind == "emulator" and not colon:
        return EmulatorTarget(run, text)
    if kind == "tcp":
        host, port = parse_address(rest)
        return TcpTarget(host, port, run, options, text=text)
    if kind == "serial":
        if not rest:
            raise TargetError("serial: needs the port's URL, e.g. serial:/dev/ttyUSB0 or "
                              "serial:rfc2217://host:port")
        return SerialTarget(rest, run, options, text=text)
    if kind == "replay":
        if not rest:
            raise TargetError("replay: needs the cassette directory, "
                              "e.g. replay:fixtures/cassettes")
        return ReplayTarget(rest, run, options, text=text)
    raise TargetError(f"unknown target {text!r}; use one of {TARGET_FORMS}")


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` as (host, port); raises ``TargetError``."""
    host, colon, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise TargetError(f"tcp: needs HOST:PORT with a port from 1 to 65535, got {text!r} "
                          "(e.g. tcp:benchhost:5025 or tcp:[::1]:5025)")
    return host, int(port_text)
