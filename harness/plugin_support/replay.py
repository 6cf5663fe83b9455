"""``ReplayTarget``: each test's instruments are players of its recorded cassettes.

Cassettes live in the target's directory, one per test and instrument:
``cassette_path(DIR, test id, device)``, where the device part is the registry
name, then ``-2``, ``-3``... for further instruments of the same name in one
test. A record mode (as in pytest-recording) decides per cassette: replay it,
or record it from an emulated device (``once``: only missing ones; ``all``:
every one, replacing).

A replayed session that differs from its cassette (mismatch, leftovers) fails
the test at teardown with the player's message.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.plugin_support.background import serve_in_background
from harness.plugin_support.emulator import EmulatorTarget
from harness.plugin_support.endpoint import InstrumentEndpoint
from harness.plugin_support.run import RunContext
from harness.plugin_support.targets import SettingsError, TargetError, TargetOptions

if TYPE_CHECKING:
    from harness.recording import CassettePlayer
    from harness.supervisor import DeviceSpec

RECORD_MODES = ("none", "once", "new_episodes", "all")
#: Record modes the plugin can act on (new_episodes needs a recording replay server).
SUPPORTED_RECORD_MODES = ("none", "once", "all")


def check_record_mode(mode: str, target_kind: str) -> None:
    """Raise ``SettingsError`` for a mode the target cannot honour."""
    if mode not in RECORD_MODES:
        raise SettingsError(f"--hil-record-mode {mode!r} is not one of {', '.join(RECORD_MODES)}")
    if mode not in SUPPORTED_RECORD_MODES:
        raise SettingsError(f"--hil-record-mode {mode} is not supported by the pytest plugin yet; "
                          "use once (record missing cassettes) or all (re-record every one)")
    if mode != "none" and target_kind != "replay":
        raise SettingsError(f"--hil-record-mode {mode} needs --hil-target replay:DIR (cassettes "
                          "are replayed from DIR, and the ones to record are recorded there "
                          "from the emulator)")


@dataclass
class _Session:
    """One instrument a test holds: replayed (``player``) or being recorded (``recorded``)."""

    test_id: str
    device: str
    cassette: Path
    stack: contextlib.ExitStack
    player: CassettePlayer | None = None
    recorded: InstrumentEndpoint | None = None


class ReplayTarget:
    """Cassettes in ``directory`` served as instruments, one per test and device."""

    kind = "replay"
    shared = False

    def __init__(self, directory: str, run: RunContext, options: TargetOptions | None = None,
                 *, text: str) -> None:
        self.directory = Path(directory)
        self.run = run
        self.options = options if options is not None else TargetOptions()
        self.text = text
        self._held: dict[str, _Session] = {}
        self._opened = 0
        self._recorder: EmulatorTarget | None = None

    @property
    def record_mode(self) -> str:
        return self.options.record_mode

    def check(self) -> None:
        try:
            import harness.recording  # noqa: F401
        except ImportError as e:
            raise TargetError(f"the replay target needs harness.recording, which cannot be "
                              f"imported ({e}); use --hil-target emulator meanwhile") from None
        if self.record_mode != "none":
            self.directory.mkdir(parents=True, exist_ok=True)
        elif not self.directory.is_dir():
            raise TargetError(f"cassette directory {self.directory} does not exist (or is not "
                              "a directory); record cassettes first (--hil-record-mode once) "
                              "or fix the path")

    def cassette_for(self, test_id: str, device: str) -> Path:
        from harness.recording import cassette_path

        same = sum(1 for session in self._held.values()
                   if session.test_id == test_id and session.device == device)
        return cassette_path(self.directory, test_id, f"{device}-{same + 1}" if same else device)

    def open(self, spec: DeviceSpec, test_id: str) -> InstrumentEndpoint:
        from harness.recording import plan_cassette

        cassette = self.cassette_for(test_id, spec.device)
        plan = plan_cassette(cassette, self.record_mode)
        stack = contextlib.ExitStack()
        try:
            if plan.replay:
                endpoint, session = self._replay(spec, test_id, cassette, stack)
            else:
                endpoint, session = self._record(spec, test_id, cassette, plan.overwrite, stack)
        except BaseException:
            stack.close()
            raise
        self._held[endpoint.name] = session
        return endpoint

    def _replay(self, spec: DeviceSpec, test_id: str, cassette: Path,
                stack: contextlib.ExitStack) -> tuple[InstrumentEndpoint, _Session]:
        from harness.recording import CassettePlayer, ReplayServer

        player = CassettePlayer(cassette)
        host, port = stack.enter_context(serve_in_background(lambda: ReplayServer(player)))
        self._opened += 1
        endpoint = InstrumentEndpoint(
            name=f"replay-{self.run.worker}-{self._opened}", device=spec.device,
            model=player.cassette.header.device.model or spec.device, host=host, port=port,
            target=self.text, details=lambda: replay_details(player))
        return endpoint, _Session(test_id, spec.device, cassette, stack, player=player)

    def _record(self, spec: DeviceSpec, test_id: str, cassette: Path, overwrite: bool,
                stack: contextlib.ExitStack) -> tuple[InstrumentEndpoint, _Session]:
        recorder = self.recorder
        endpoint = recorder.open(spec, test_id)
        stack.callback(recorder.release, endpoint)
        endpoint.control.request("record_start", path=str(cassette.resolve()),
                                 overwrite=overwrite)
        stack.callback(endpoint.control.request, "record_stop")
        return endpoint, _Session(test_id, spec.device, cassette, stack, recorded=endpoint)

    @property
    def recorder(self) -> EmulatorTarget:
        """The emulated devices that missing cassettes are recorded from (started on use)."""
        if self._recorder is None:
            self._recorder = EmulatorTarget(self.run, self.text)
        return self._recorder

    def release(self, instrument: InstrumentEndpoint) -> None:
        """Stop serving or recording; raises the player's ``ReplayError`` if the session
        differed from the cassette."""
        session = self._held.pop(instrument.name, None)
        if session is None:
            return
        session.stack.close()
        if session.player is not None:
            session.player.check()

    def close(self) -> None:
        for session in list(self._held.values()):
            session.stack.close()
        self._held.clear()
        if self._recorder is not None:
            self._recorder.close()


def replay_details(player: CassettePlayer) -> str:
    lines = [f"cassette {player.path}: {sum(player.played)} of {len(player.exchanges)} "
             "exchanges played"]
    lines.extend(player.report())
    return "\n".join(lines)

