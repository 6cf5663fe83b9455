"""``ReplayTarget``: each test's instruments are players of its recorded cassettes.

Cassettes live in the target's directory, one per test and instrument:
``cassette_path(DIR, test id, device)``, where the device part is the registry
name, then ``-2``, ``-3``... for further instruments of the same name in one
test. A record mode (as in pytest-recording) decides per cassette: replay it,
or record it from the record source (``--hil-record-from``: the emulator, or
a bench instrument): ``once`` records only missing ones, ``all`` every one,
replacing. ``new_episodes`` replays an existing cassette leniently, lets an
emulator built like the recording answer the messages it lacks, and records
the whole session again; the new cassette replaces the old one only when the
test passed (a failed or interrupted test leaves the old cassette as it was).

A replayed session that differs from its cassette (mismatch, leftovers) fails
the test at teardown with the player's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.plugin_support.background import serve_in_background
from harness.plugin_support.endpoint import InstrumentEndpoint
from harness.plugin_support.run import RunContext
from harness.plugin_support.targets import (
    SettingsError,
    TargetError,
    TargetOptions,
    parse_address,
)

if TYPE_CHECKING:
    from harness.plugin_support.recorders import Recorder
    from harness.recording import Cassette, CassettePlayer
    from harness.recording.servers import NewEpisodesServer
    from harness.supervisor import DeviceSpec

logger = logging.getLogger(__name__)

RECORD_MODES = ("none", "once", "new_episodes", "all")
RECORD_SOURCES = "emulator, tcp:HOST:PORT or serial:URL"


def check_record_mode(mode: str, target_kind: str) -> None:
    """Raise ``SettingsError`` for a mode the target cannot honour."""
    if mode not in RECORD_MODES:
        raise SettingsError(f"--hil-record-mode {mode!r} is not one of {', '.join(RECORD_MODES)}")
    if mode != "none" and target_kind != "replay":
        raise SettingsError(f"--hil-record-mode {mode} needs --hil-target replay:DIR (cassettes "
                            "are replayed from DIR, and the ones to record are recorded there "
                            "from the record source, --hil-record-from)")


def check_record_from(source: str, mode: str, target_kind: str) -> str:
    """``source`` checked against the mode and target; raises ``SettingsError``."""
    source = source.strip() or "emulator"
    kind, colon, rest = source.partition(":")
    if kind == "tcp":
        try:
            parse_address(rest)
        except TargetError as e:
            raise SettingsError(f"--hil-record-from {source}: {e}") from None
    elif not (kind == "emulator" and not colon) and not (kind == "serial" and rest):
        raise SettingsError(f"--hil-record-from {source!r} is not something to record from; "
                            f"use {RECORD_SOURCES}")
    if source == "emulator":
        return source
    if target_kind != "replay":
        raise SettingsError(f"--hil-record-from {source} needs --hil-target replay:DIR: it "
                            "says where the cassettes of DIR are recorded from (to run the "
                            f"tests on that instrument, use --hil-target {source})")
    if mode == "none":
        raise SettingsError(f"--hil-record-from {source} records nothing with "
                            "--hil-record-mode none (replay only); add --hil-record-mode once "
                            "(record missing cassettes) or all (re-record every one)")
    if mode == "new_episodes":
        raise SettingsError(f"--hil-record-mode new_episodes cannot record from {source}: the "
                            "instrument never saw the replayed part of the session, so its "
                            "answers to the new messages would not fit it; use "
                            "--hil-record-mode all to re-record the cassettes from the "
                            "instrument, or new_episodes with --hil-record-from emulator")
    return source


@dataclass
class _Session:
    """One instrument a test holds: replayed (``player``), replayed and recorded again
    (``episodes``), or being recorded (neither)."""

    test_id: str
    device: str
    cassette: Path
    stack: contextlib.ExitStack
    player: CassettePlayer | None = None
    episodes: NewEpisodesServer | None = None


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
        self._recorder: Recorder | None = None

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
            self.recorder.check()
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
            if plan.live_fallback:
                endpoint, session = self._replay_new_episodes(spec, test_id, cassette, stack)
            elif plan.replay:
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
        endpoint = self._replay_endpoint(spec, player, host, port)
        return endpoint, _Session(test_id, spec.device, cassette, stack, player=player)

    def _replay_new_episodes(self, spec: DeviceSpec, test_id: str, cassette: Path,
                             stack: contextlib.ExitStack) -> tuple[InstrumentEndpoint, _Session]:
        from harness.recording import read_cassette

        recorded = read_cassette(cassette)
        check_new_episodes_source(recorded)
        built: list[NewEpisodesServer] = []

        def build() -> NewEpisodesServer:
            built.append(new_episodes_server(spec, recorded))
            return built[-1]

        host, port = stack.enter_context(serve_in_background(build))
        server = built[0]
        endpoint = self._replay_endpoint(spec, server.player, host, port)
        return endpoint, _Session(test_id, spec.device, cassette, stack, episodes=server)

    def _replay_endpoint(self, spec: DeviceSpec, player: CassettePlayer, host: str,
                         port: int) -> InstrumentEndpoint:
        self._opened += 1
        return InstrumentEndpoint(
            name=f"replay-{self.run.worker}-{self._opened}", device=spec.device,
            model=player.cassette.header.device.model or spec.device, host=host, port=port,
            target=self.text, details=lambda: replay_details(player))

    def _record(self, spec: DeviceSpec, test_id: str, cassette: Path, overwrite: bool,
                stack: contextlib.ExitStack) -> tuple[InstrumentEndpoint, _Session]:
        from harness.plugin_support.recorders import RecordingRequest

        recorder = self.recorder
        endpoint = recorder.record(spec, test_id, RecordingRequest(cassette, overwrite))
        stack.callback(recorder.release, endpoint)
        return endpoint, _Session(test_id, spec.device, cassette, stack)

    @property
    def recorder(self) -> Recorder:
        """What missing cassettes are recorded from (``--hil-record-from``; started on use)."""
        if self._recorder is None:
            from harness.plugin_support.recorders import build_recorder

            self._recorder = build_recorder(self.options.record_from, self.run, self.options,
                                            self.text)
        return self._recorder

    def release(self, instrument: InstrumentEndpoint, *, passed: bool = True) -> None:
        """Stop serving or recording; raises the player's ``ReplayError`` if the session
        differed from the cassette. Under ``new_episodes`` the new recording replaces the
        cassette only if the test ``passed``."""
        session = self._held.pop(instrument.name, None)
        if session is None:
            return
        if session.episodes is not None:
            session.episodes.keep_recording = passed
            if not passed:
                logger.warning("new_episodes: %s did not pass; its cassette %s stays as it "
                               "was", session.test_id, session.cassette)
        session.stack.close()
        if session.episodes is not None:
            check_rerecorded(session.episodes, session.cassette, passed)
        elif session.player is not None:
            session.player.check()

    def close(self) -> None:
        # Interrupted sessions: a new_episodes recording is dropped (keep_recording unset).
        for session in list(self._held.values()):
            session.stack.close()
        self._held.clear()
        if self._recorder is not None:
            self._recorder.close()


def check_new_episodes_source(cassette: Cassette) -> None:
    """Refuse to mix emulator replies into a cassette recorded from hardware."""
    from harness.recording import RecordingError

    if cassette.header.source == "hardware":
        raise RecordingError(
            f"cassette {cassette.path} was recorded from a real instrument; new_episodes would "
            "mix emulator replies into it; re-record it from the instrument (--hil-record-mode "
            "all --hil-record-from tcp:HOST:PORT or serial:URL) or delete it")


def new_episodes_server(spec: DeviceSpec, cassette: Cassette) -> NewEpisodesServer:
    """A lenient replay of ``cassette`` whose unmatched messages an emulator configured
    like the recording answers, recorded again over the cassette (when kept).

    Called in the server's event loop: the emulator's clock is the loop's.
    """
    from harness.recording import CassettePlayer, ReplayOptions
    from harness.recording.servers import NewEpisodesServer
    from harness.recording.verify import build_device

    # speed 0: the fallback sees every message, and instant answers keep its state in
    # step with the replayed ones (a measurement never still running when asked).
    emulator = build_device(spec.device, cassette, {**spec.config, "speed": 0},
                            now=asyncio.get_running_loop().time())
    player = CassettePlayer(cassette, ReplayOptions(strict=False, fallback=emulator))
    server = NewEpisodesServer(player)
    server.recording_tap.start_file(cassette.path, overwrite=True)
    server.recording_tap.note(f"re-recorded with record mode new_episodes: messages the "
                              f"cassette lacked were answered by the emulator {spec.device}")
    return server


def check_rerecorded(server: NewEpisodesServer, cassette: Path, passed: bool) -> None:
    """Raise ``RecordingError`` if a kept new_episodes recording could not be written."""
    from harness.recording import RecordingError

    error = server.recording_tap.error
    if passed and error is not None:
        raise RecordingError(f"new_episodes: the new recording of {cassette} failed ({error}); "
                             "the cassette is unchanged; free disk space or fix the directory's "
                             "permissions and run again")


def replay_details(player: CassettePlayer) -> str:
    lines = [f"cassette {player.path}: {sum(player.played)} of {len(player.exchanges)} "
             "exchanges played"]
    lines.extend(player.report())
    return "\n".join(lines)

