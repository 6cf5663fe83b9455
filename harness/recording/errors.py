"""Exceptions of the recording package; each message says what happened and what to do."""

from __future__ import annotations

from pathlib import Path


class RecordingError(Exception):
    """Base class of every error raised by ``harness.recording``."""


class CassetteFormatError(RecordingError):
    """A cassette file is not valid: the message names the file and the line."""

    def __init__(self, path: Path | str, line: int, problem: str) -> None:
        self.path = Path(path)
        self.line = line
        self.problem = problem
        super().__init__(f"{self.path}:{line}: {problem}")


class CassetteVersionError(CassetteFormatError):
    """A cassette was written in a format version this hil does not read."""


class CassetteExists(RecordingError):
    """Recording would replace a cassette that the record mode says to keep."""

    def __init__(self, path: Path | str, kept: Path | str | None = None) -> None:
        self.path = Path(path)
        self.kept = None if kept is None else Path(kept)
        where = f"; this recording was kept as {self.kept}" if self.kept else ""
        super().__init__(
            f"cassette {self.path} already exists and the record mode keeps it{where}; "
            "delete it or use record mode 'all' to replace it"
        )


class CassetteNotFound(RecordingError):
    """No cassette exists where replay looked for one."""

    def __init__(self, path: Path | str, mode: str = "none") -> None:
        self.path = Path(path)
        self.mode = mode
        super().__init__(
            f"no cassette at {self.path} (record mode {mode!r} does not record); "
            "record it with record mode 'once' (pytest --hil-record-mode=once, or "
            "hil serve --record DIR against the emulator or hil bridge --record DIR "
            "against the instrument)"
        )


class CassetteUnfinished(RecordingError):
    """A cassette ends without its ``end`` event: its recording was interrupted."""

    def __init__(self, path: Path | str, events: int) -> None:
        self.path = Path(path)
        super().__init__(
            f"cassette {self.path} was not finished (its recording stopped after {events} "
            "events, e.g. the process was killed); re-record it, or replay it with "
            "allow_unfinished=True"
        )


class ReplayError(RecordingError):
    """A replayed session differs from its cassette."""


class ReplayMismatch(ReplayError):
    """The client sent something other than what the cassette expects next."""

    def __init__(
        self,
        path: Path | str,
        index: int | None,
        line: int | None,
        expected: str | None,
        actual: str,
        candidates: list[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.index = index
        self.expected = expected
        self.actual = actual
        self.candidates = list(candidates or [])
        where = "no exchange left" if index is None else f"exchange {index} (line {line})"
        expected_text = "nothing more" if expected is None else repr(expected)
        message = f"{self.path}: {where}: expected {expected_text}, got {actual!r}"
        if self.candidates:
            message += "; nearest recorded: " + "; ".join(self.candidates)
        super().__init__(message)


class ReplayUnmatched(ReplayError):
    """Lenient replay: the cassette holds no exchange for a message."""

    def __init__(self, path: Path | str, actual: str, candidates: list[str] | None = None) -> None:
        self.path = Path(path)
        self.actual = actual
        self.candidates = list(candidates or [])
        message = f"{self.path}: no recorded exchange matches {actual!r}"
        if self.candidates:
            message += "; nearest recorded: " + "; ".join(self.candidates)
        message += " (re-record with record mode 'new_episodes' or 'all' if the client changed)"
        super().__init__(message)


class ReplayLeftovers(ReplayError):
    """The session ended before every recorded exchange was played."""

    def __init__(self, path: Path | str, unplayed: list[str], total: int) -> None:
        self.path = Path(path)
        self.unplayed = list(unplayed)
        shown = "; ".join(unplayed[:5]) + ("; ..." if len(unplayed) > 5 else "")
        super().__init__(
            f"{self.path}: {len(unplayed)} of {total} recorded exchanges were never played: "
            f"{shown} (the client stopped early or skipped them; re-record if that is intended)"
        )
