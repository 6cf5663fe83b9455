"""Record, replay and verify SCPI sessions (cassettes).

* ``CassetteWriter`` / ``read_cassette``: the JSON Lines cassette format.
* ``RecordingTap``, ``RecordingMixin``, ``RecordingMockServer``: record what a
  client and any ``OneClientServer`` endpoint say to each other
  (``hardware_header`` for a bridge to a real instrument).
* ``CassettePlayer`` (a sans-IO device model), ``ReplayServer``: replay;
  ``RecordingReplayServer`` records a replay again (``new_episodes``).
* ``verify``: a cassette's client messages against an emulator, replies diffed.
* ``export_pymeasure``, ``export_pyvisa_sim``: other tools' test formats.
* ``RecordMode``, ``plan_cassette``, ``cassette_path``: record modes.
"""

from harness.recording.cassette import FORMAT_VERSION, CassetteHeader, DeviceInfo, Event
from harness.recording.compare import Tolerances
from harness.recording.errors import (
    CassetteExists,
    CassetteFormatError,
    CassetteNotFound,
    CassetteUnfinished,
    CassetteVersionError,
    RecordingError,
    ReplayError,
    ReplayLeftovers,
    ReplayMismatch,
    ReplayUnmatched,
)
from harness.recording.exchanges import Exchange, build_session
from harness.recording.export import export_pymeasure, export_pyvisa_sim
from harness.recording.modes import CassettePlan, RecordMode, cassette_path, plan_cassette
from harness.recording.normalise import EXACT, Normalisation
from harness.recording.reader import Cassette, read_cassette
from harness.recording.replay import CassettePlayer, ReplayOptions
from harness.recording.servers import (
    RecordingMockServer,
    RecordingReplayServer,
    ReplayServer,
    emulator_header,
    hardware_header,
)
from harness.recording.tap import RecordingMixin, RecordingTap
from harness.recording.verify import VerifyResult, verify
from harness.recording.writer import CassetteWriter

__all__ = [
    "EXACT",
    "FORMAT_VERSION",
    "Cassette",
    "CassetteExists",
    "CassetteFormatError",
    "CassetteHeader",
    "CassetteNotFound",
    "CassettePlan",
    "CassettePlayer",
    "CassetteUnfinished",
    "CassetteVersionError",
    "CassetteWriter",
    "DeviceInfo",
    "Event",
    "Exchange",
    "Normalisation",
    "RecordMode",
    "RecordingError",
    "RecordingMixin",
    "RecordingMockServer",
    "RecordingReplayServer",
    "RecordingTap",
    "ReplayError",
    "ReplayLeftovers",
    "ReplayMismatch",
    "ReplayOptions",
    "ReplayServer",
    "ReplayUnmatched",
    "Tolerances",
    "VerifyResult",
    "build_session",
    "cassette_path",
    "emulator_header",
    "export_pymeasure",
    "export_pyvisa_sim",
    "hardware_header",
    "plan_cassette",
    "read_cassette",
    "verify",
]
