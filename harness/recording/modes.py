"""Record modes (as in pytest-recording) and where cassettes live.

``plan_cassette(path, mode)`` decides, for one cassette, whether to replay it,
record a new one, or both; the pytest plugin and the CLI act on the plan.

=============  ======================  ==========================================
mode           cassette exists         cassette missing
=============  ======================  ==========================================
none           replay                  ``CassetteNotFound``
once           replay                  record (never replaces a file)
new_episodes   replay; unmatched       record
               messages go to the
               live target; the whole
               session is re-recorded
all            record, replacing it    record
=============  ======================  ==========================================
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from harness.recording.errors import CassetteNotFound

CASSETTE_SUFFIX = ".jsonl"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
#: Longest file name stem built from a test id (file systems allow 255 bytes).
MAX_STEM = 180


class RecordMode(enum.StrEnum):
    NONE = "none"
    ONCE = "once"
    NEW_EPISODES = "new_episodes"
    ALL = "all"

    @classmethod
    def parse(cls, text: str) -> RecordMode:
        """The mode named ``text``; raises ``ValueError`` listing the modes."""
        try:
            return cls(text.lower())
        except ValueError:
            names = ", ".join(mode.value for mode in cls)
            raise ValueError(f"unknown record mode {text!r}; expected one of {names}") from None


@dataclass(frozen=True)
class CassettePlan:
    """What to do with one cassette.

    ``replay``: serve the existing cassette. ``record``: record the session
    to ``path``. ``overwrite``: the recording may replace an existing file.
    ``live_fallback``: messages the cassette does not hold go to the live
    target (lenient replay), so the new recording gains the new exchanges.
    """

    path: Path
    mode: RecordMode
    replay: bool
    record: bool
    overwrite: bool
    live_fallback: bool


def plan_cassette(path: Path | str, mode: RecordMode | str) -> CassettePlan:
    """The plan for ``path`` under ``mode``; raises ``CassetteNotFound`` for mode none."""
    path = Path(path)
    mode = RecordMode.parse(mode) if isinstance(mode, str) else mode
    exists = path.exists()
    if mode is RecordMode.ALL:
        return CassettePlan(path, mode, replay=False, record=True, overwrite=True,
                            live_fallback=False)
    if not exists:
        if mode is RecordMode.NONE:
            raise CassetteNotFound(path, mode.value)
        return CassettePlan(path, mode, replay=False, record=True, overwrite=False,
                            live_fallback=False)
    if mode is RecordMode.NEW_EPISODES:
        return CassettePlan(path, mode, replay=True, record=True, overwrite=True,
                            live_fallback=True)
    return CassettePlan(path, mode, replay=True, record=False, overwrite=False,
                        live_fallback=False)


def cassette_path(directory: Path | str, test_id: str, device: str = "") -> Path:
    """The cassette of one test and device: ``DIR/<test id>--<device>.jsonl``.

    The name depends only on the test and the device, so a replay finds what
    a recording wrote; unsafe characters become ``_``.
    """
    stem = _UNSAFE.sub("_", test_id).strip("._") or "session"
    if device:
        stem += "--" + (_UNSAFE.sub("_", device).strip("._") or "device")
    if len(stem) > MAX_STEM:
        # Keep long names distinct: a digest of the whole name replaces the cut part.
        digest = hashlib.sha256(stem.encode()).hexdigest()[:12]
        stem = f"{stem[:MAX_STEM - 13]}-{digest}"
    return Path(directory) / (stem + CASSETTE_SUFFIX)
