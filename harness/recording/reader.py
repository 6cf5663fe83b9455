"""Reading cassettes: strict validation, errors that name the file and the line.

Nothing in a cassette is ever executed: lines are parsed with ``json.loads`` and
checked field by field. A truncated last line (a recording killed mid-write)
is the one tolerated defect; it is reported in ``Cassette.incomplete_tail``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from harness.recording.cassette import (
    FORMAT_VERSION,
    MAX_LINE_BYTES,
    CassetteHeader,
    Event,
    decode_event,
    decode_header,
)
from harness.recording.errors import CassetteFormatError, CassetteNotFound, CassetteVersionError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cassette:
    """A parsed cassette.

    ``finished`` is true when the last event is ``end`` (the recording was
    closed properly); ``incomplete_tail`` describes a truncated last line that
    was dropped, or is ``None``.
    """

    path: Path
    header: CassetteHeader
    events: tuple[Event, ...]
    finished: bool
    incomplete_tail: str | None = None

    @property
    def idn(self) -> str | None:
        """The header's ``*IDN?`` reply, else the first recorded reply to ``*IDN?``."""
        if self.header.device.idn:
            return self.header.device.idn
        asked = False
        for event in self.events:
            if event.kind == "rx":
                asked = "*IDN?" in event.text.upper()
            elif event.kind == "tx" and asked:
                return event.text.rstrip("\r\n")
        return None


def read_cassette(path: Path | str, *, max_line_bytes: int = MAX_LINE_BYTES,
                  mode: str = "none") -> Cassette:
    """Parse and validate the cassette at ``path``.

    Raises ``CassetteNotFound`` (``mode`` is named in its message),
    ``CassetteVersionError`` or ``CassetteFormatError``.
    """
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise CassetteNotFound(path, mode) from None
    with handle:
        return _parse(path, handle, max_line_bytes)


def _parse(path: Path, handle: BinaryIO, max_line_bytes: int) -> Cassette:
    lines = _Lines(path, handle, max_line_bytes)
    first = lines.next()
    if first is None:
        raise CassetteFormatError(path, 1, "the file is empty; a cassette starts with a header "
                                  "line")
    number, raw, terminated = first
    if not terminated:
        raise CassetteFormatError(path, 1, "the header line is truncated (no newline); the "
                                  "recording died before it began, so there is nothing to read")
    header = _header(path, raw)
    events: list[Event] = []
    tail: str | None = None
    previous_t = 0.0
    while (item := lines.next()) is not None:
        number, raw, terminated = item
        try:
            event = decode_event(_json(raw), number)
        except ValueError as e:
            if not terminated:
                tail = (f"line {number} is truncated ({len(raw)} bytes, no newline) and was "
                        f"ignored: the recording stopped while writing it")
                logger.warning("%s: %s", path, tail)
                break
            raise CassetteFormatError(path, number, str(e)) from None
        if events and events[-1].kind == "end":
            raise CassetteFormatError(path, number, "an event follows the 'end' event; the end "
                                      "event must be the last line")
        if event.t < previous_t:
            raise CassetteFormatError(path, number, f"'t' goes back in time ({event.t} after "
                                      f"{previous_t}); events must be in time order")
        previous_t = event.t
        events.append(event)
    finished = bool(events) and events[-1].kind == "end"
    return Cassette(path, header, tuple(events), finished, tail)


def _header(path: Path, raw: bytes) -> CassetteHeader:
    try:
        obj = _json(raw)
    except ValueError as e:
        raise CassetteFormatError(path, 1, f"the header is not valid JSON ({e})") from None
    version = obj.get("version") if isinstance(obj, dict) else None
    if isinstance(obj, dict) and obj.get("format") == "hil-cassette" and (
            version != FORMAT_VERSION):
        raise CassetteVersionError(path, 1, f"cassette format version {version!r} is not "
                                   f"supported; this hil reads version {FORMAT_VERSION} "
                                   "(upgrade hil or re-record the cassette)")
    try:
        return decode_header(obj)
    except ValueError as e:
        raise CassetteFormatError(path, 1, str(e)) from None


def _json(raw: bytes) -> object:
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 text ({e})") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e.msg} at column {e.colno})") from None


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


class _Lines:
    """Numbered lines of a binary file, each bounded by ``limit`` bytes."""

    def __init__(self, path: Path, handle: BinaryIO, limit: int) -> None:
        self._path = path
        self._handle = handle
        self._limit = limit
        self._number = 0

    def next(self) -> tuple[int, bytes, bool] | None:
        """``(line number, bytes without newline, had a newline)`` or ``None`` at EOF."""
        self._number += 1
        raw = self._handle.readline(self._limit + 1)
        if not raw:
            return None
        terminated = raw.endswith(b"\n")
        if not terminated and len(raw) > self._limit:
            raise CassetteFormatError(self._path, self._number,
                                      f"line longer than {self._limit} bytes; a cassette line "
                                      "holds one event (is this file a cassette?)")
        if not raw.strip() and terminated:
            raise CassetteFormatError(self._path, self._number, "blank line; every line must "
                                      "be one JSON object")
        return self._number, raw.rstrip(b"\n"), terminated
