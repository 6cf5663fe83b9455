"""Targets that are one physical instrument: a running TCP endpoint, or a serial port.

Tests on such a target take turns: each holds a ``Lease`` (a lock shared by
every process of this host) while it uses the instrument, and a test can use
only one instrument at a time. Given a ``RecordingRequest``, ``open`` records
the test's session into a cassette (``source: hardware``): the serial bridge
records through a tap, a TCP instrument through a recording ``TcpForwarder``.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from harness.endpoint_probe import probe_tcp
from harness.plugin_support.endpoint import InstrumentEndpoint, TargetLimitation
from harness.plugin_support.lease import Lease
from harness.plugin_support.run import RunContext
from harness.plugin_support.targets import TargetError, TargetOptions

if TYPE_CHECKING:
    from harness.plugin_support.recorders import RecordingRequest
    from harness.supervisor import DeviceSpec

#: Seconds a reachability check waits for the TCP connection.
CONNECT_TIMEOUT = 5.0


def model_of(device: str) -> str:
    """The model name of a registered device (``keithley6514`` -> ``6514``)."""
    from devices.keithley.registry import devices

    return str(getattr(devices[device], "MODEL", None) or device)


class SharedInstrumentTarget:
    """Base of the one-instrument targets: the lease, and one instrument per test."""

    kind = "shared"
    shared = True

    def __init__(self, text: str, run: RunContext, options: TargetOptions) -> None:
        self.text = text
        self.run = run
        self.options = options
        self._lease: Lease | None = None
        #: What ``connect`` started for the current test (a bridge, a forwarder).
        self._serving: contextlib.ExitStack | None = None

    def check(self) -> None:
        """Raise ``TargetError`` if the instrument cannot be reached."""

    def connect(self, spec: DeviceSpec,
                recording: RecordingRequest | None = None) -> tuple[str, int]:
        """The instrument's TCP address while the lease is held; servers it starts go
        into ``self._serving``. With ``recording``, the session is recorded there."""
        raise NotImplementedError

    def disconnect(self) -> None:
        """The test is done; called before the lease is released (finishes a recording)."""
        serving, self._serving = self._serving, None
        if serving is not None:
            serving.close()

    def serve(self, server: contextlib.AbstractContextManager[tuple[str, int]]) -> tuple[str, int]:
        """Enter ``server`` (a ``serve_in_background``) until ``disconnect``."""
        stack = contextlib.ExitStack()
        address = stack.enter_context(server)  # nothing to undo if this raises
        self._serving = stack
        return address

    def open(self, spec: DeviceSpec, test_id: str, *,
             recording: RecordingRequest | None = None) -> InstrumentEndpoint:
        instrument = self.options.instrument
        if instrument is not None and spec.device != instrument.lower():
            raise TargetLimitation(f"this test wants a {spec.device}; the target {self.text} "
                                   f"is a {instrument} (--hil-instrument)")
        if self._lease is not None:
            raise TargetLimitation(
                f"the target {self.text} is one instrument and this test already uses it; "
                "tests with several instruments run on the emulator")
        model = model_of(spec.device)
        lease = Lease(self.text, {"worker": self.run.worker, "test": test_id,
                                  "run": self.run.short_uid}, timeout=self.options.lease_timeout)
        lease.acquire()
        try:
            host, port = self.connect(spec, recording)
        except BaseException:
            lease.release()
            raise
        self._lease = lease
        return InstrumentEndpoint(name=f"{self.kind}-{self.run.worker}", device=spec.device,
                                  model=model, host=host, port=port, target=self.text)

    def release(self, instrument: InstrumentEndpoint, *, passed: bool = True) -> None:
        self._let_go()

    def close(self) -> None:
        self._let_go()

    def _let_go(self) -> None:
        """Disconnect the current test (finishing its recording), then free the lease."""
        lease, self._lease = self._lease, None
        if lease is None:
            return
        try:
            self.disconnect()
        finally:
            lease.release()


class TcpTarget(SharedInstrumentTarget):
    """An endpoint someone else runs (``hil bridge`` on a bench host, ``hil serve``)."""

    kind = "tcp"

    def __init__(self, host: str, port: int, run: RunContext, options: TargetOptions, *,
                 text: str) -> None:
        super().__init__(text, run, options)
        self.host = host
        self.port = port

    def check(self) -> None:
        try:
            probe_tcp(self.host, self.port, CONNECT_TIMEOUT)
        except OSError as e:
            raise TargetError(
                f"cannot reach {self.host}:{self.port} ({e}); start the endpoint there "
                f"(`hil bridge` on the bench host, or `hil serve`) or fix HOST:PORT") from None

    def connect(self, spec: DeviceSpec,
                recording: RecordingRequest | None = None) -> tuple[str, int]:
        if recording is None:
            return self.host, self.port
        from harness.plugin_support.background import serve_in_background
        from harness.recording.servers import RecordingForwarder

        host, port = self.host, self.port
        tap = recording.tap_builder(spec, transport="tcp")
        return self.serve(serve_in_background(lambda: RecordingForwarder(
            host, port, terminator=spec.terminator_bytes, recording_tap=tap())))


class SerialTarget(SharedInstrumentTarget):
    """Real hardware on a serial port, exposed on a local TCP port by the pyserial bridge.

    The worker holding the lease opens the port (a bridge whose client side uses
    the test's terminator), the others wait; the bridge stops and the port is
    closed when the test ends.
    """

    kind = "serial"

    def __init__(self, url: str, run: RunContext, options: TargetOptions, *, text: str) -> None:
        super().__init__(text, run, options)
        self.url = url

    def check(self) -> None:
        from harness.plugin_support.bridge import check_serial

        check_serial(self.url, self.options.serial)

    def connect(self, spec: DeviceSpec,
                recording: RecordingRequest | None = None) -> tuple[str, int]:
        from harness.plugin_support.bridge import start_bridge

        tap = recording.tap_builder(spec, transport="serial-bridge") if recording else None
        return self.serve(start_bridge(self.url, self.options.serial,
                                       terminator=spec.terminator_bytes, recording_tap=tap))
