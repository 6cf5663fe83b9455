"""What the replay target records missing cassettes from (``--hil-record-from``).

``EmulatorRecorder``: an emulated device of this worker's supervisor, recorded
by its own tap through the control channel. ``HardwareRecorder``: the bench
instrument of a ``tcp:`` or ``serial:`` target, under that target's lease and
one-instrument rule, recorded on the client side of the bridge or forwarder
the target puts in front of it (the cassette says ``source: hardware``).

Imported on first recording: it pulls in the recording package and pyserial.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from harness.plugin_support.emulator import EmulatorTarget
from harness.plugin_support.endpoint import InstrumentEndpoint
from harness.plugin_support.remote import SharedInstrumentTarget, model_of
from harness.plugin_support.run import RunContext
from harness.plugin_support.targets import TargetError, TargetOptions, parse_target
from harness.recording import RecordingMixin, RecordingTap, hardware_header
from harness.serial import BridgeServer

if TYPE_CHECKING:
    from harness.supervisor import DeviceSpec


class RecordingBridge(RecordingMixin, BridgeServer):
    """The per-test serial bridge, recording what its client and the instrument say."""


@dataclass(frozen=True)
class RecordingRequest:
    """Record a session into the cassette ``path``; ``overwrite`` may replace one."""

    path: Path
    overwrite: bool = False

    def tap_builder(self, spec: DeviceSpec, *, transport: str) -> Callable[[], RecordingTap]:
        """A function making the tap that records the client side of a session with the
        real instrument ``spec`` asks for (called in the server's event loop)."""
        terminator = spec.terminator_bytes
        header = hardware_header(terminator, name=spec.device, model=model_of(spec.device),
                                 transport=transport)

        def build() -> RecordingTap:
            tap = RecordingTap(terminator, header=header)
            tap.start_file(self.path, overwrite=self.overwrite)
            return tap

        return build


class Recorder(Protocol):
    """Hands out instruments whose sessions are recorded into cassettes."""

    text: str

    def check(self) -> None:
        """Raise ``TargetError`` if recording cannot work (run once, before any test)."""

    def record(self, spec: DeviceSpec, test_id: str,
               recording: RecordingRequest) -> InstrumentEndpoint:
        """An instrument for ``test_id`` whose session goes into ``recording``."""

    def release(self, instrument: InstrumentEndpoint) -> None:
        """Finish the recording and give the instrument back."""

    def close(self) -> None:
        """Stop everything the recorder started."""


class EmulatorRecorder:
    """Records from emulated devices (started on first use)."""

    def __init__(self, run: RunContext, text: str) -> None:
        self.text = text
        self.emulator = EmulatorTarget(run, text)

    def check(self) -> None:
        """Nothing to check before the first device starts."""

    def record(self, spec: DeviceSpec, test_id: str,
               recording: RecordingRequest) -> InstrumentEndpoint:
        endpoint = self.emulator.open(spec, test_id)
        try:
            endpoint.control.request("record_start", path=str(recording.path.resolve()),
                                     overwrite=recording.overwrite)
        except BaseException:
            self.emulator.release(endpoint)
            raise
        return endpoint

    def release(self, instrument: InstrumentEndpoint) -> None:
        try:
            instrument.control.request("record_stop")
        finally:
            self.emulator.release(instrument)

    def close(self) -> None:
        self.emulator.close()


class HardwareRecorder:
    """Records from the one instrument of a ``tcp:`` or ``serial:`` target."""

    def __init__(self, instrument: SharedInstrumentTarget) -> None:
        self.instrument = instrument
        self.text = instrument.text

    def check(self) -> None:
        try:
            self.instrument.check()
        except TargetError as e:
            raise TargetError(f"--hil-record-from {self.text}: {e}") from None

    def record(self, spec: DeviceSpec, test_id: str,
               recording: RecordingRequest) -> InstrumentEndpoint:
        return self.instrument.open(spec, test_id, recording=recording)

    def release(self, instrument: InstrumentEndpoint) -> None:
        self.instrument.release(instrument)

    def close(self) -> None:
        self.instrument.close()


def build_recorder(source: str, run: RunContext, options: TargetOptions,
                   replay_text: str) -> Recorder:
    """The recorder for ``--hil-record-from source`` (already checked by the settings)."""
    if source == "emulator":
        return EmulatorRecorder(run, replay_text)
    instrument = parse_target(source, run, options)
    if not isinstance(instrument, SharedInstrumentTarget):
        raise TargetError(f"--hil-record-from {source}: not an instrument to record from; "
                          "use emulator, tcp:HOST:PORT or serial:URL")
    return HardwareRecorder(instrument)
