"""Writing cassettes: append and flush per event, rename into place when finished.

A ``CassetteWriter`` writes to its own temporary file next to the target
(``<name>.<pid>-<token>.partial``, created exclusively, so two processes never
share a file). ``record`` writes an event at once; ``buffer`` + ``flush`` write
several with one ``os.write`` of complete lines (a tap flushes once per
exchange). The OS keeps what was written when the process is killed, so a
SIGKILL leaves a readable cassette up to the last flushed event. ``finish``
writes the ``end`` event, syncs, and moves the file into place atomically,
never over an existing cassette unless ``overwrite`` is true.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import time
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from pathlib import Path
from types import TracebackType
from typing import Self

from harness.recording.cassette import (
    DIRECTIONS,
    MAX_EVENT_DATA,
    CassetteHeader,
    encode_event,
)
from harness.recording.errors import CassetteExists
from harness.recording.redaction import SerialRedactor, redact_device

logger = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".partial"
#: Event lines of the hot path (``encode_event`` writes the same for UTF-8 data).
_DIRECTION_LINES = {kind: '{"t":%.6f,"dir":"' + kind + '","data":%s}\n' for kind in DIRECTIONS}
#: An rx event and its tx reply: the usual exchange, written with one format and one write.
_EXCHANGE_LINES = _DIRECTION_LINES["rx"] + _DIRECTION_LINES["tx"]


class CassetteWriter:
    """Records events into a new cassette at ``path``.

    ``clock`` gives seconds (monotonic); ``t`` of each event counts from the
    writer's creation. ``redact_serial`` replaces the ``*IDN?`` serial number
    with zeros in the header and in every reply. Raises ``CassetteExists`` if
    ``path`` exists and ``overwrite`` is false.
    """

    def __init__(self, path: Path | str, header: CassetteHeader, *, overwrite: bool = False,
                 redact_serial: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self.overwrite = overwrite
        if not overwrite and self.path.exists():
            raise CassetteExists(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._redactor = SerialRedactor(header.device.idn) if redact_serial else None
        if redact_serial:
            header = dataclasses.replace(header, device=redact_device(header.device),
                                         redacted=True)
        self.header = header.stamped()
        #: Seconds, monotonic; event times count from the writer's creation.
        self.clock = clock
        self._start = clock()
        self.events = 0
        #: Event lines buffered by ``buffer`` until ``flush``.
        self.unwritten: list[str] = []
        self.temporary_path, self._fd = _create_exclusive(self.path)
        self._closed = False
        try:
            _write_all(self._fd, self.header.encode())
        except BaseException:
            self._discard()
            raise
        logger.info("Recording to %s (finished as %s)", self.temporary_path, self.path)

    @property
    def closed(self) -> bool:
        return self._closed

    def elapsed(self) -> float:
        """Seconds since the cassette was opened."""
        return self.clock() - self._start

    def record(self, kind: str, data: bytes) -> None:
        """Append one event now (after any buffered ones) and write."""
        if kind in DIRECTIONS:
            self.buffer(kind, [data])
        elif not self._closed:
            self.unwritten.append(encode_event(self.clock() - self._start, kind, data).decode())
            self.events += 1
        self.flush()

    def buffer(self, kind: str, pieces: list[bytes], at: float | None = None) -> None:
        """Queue rx or tx events, one per piece, for ``flush``.

        ``at`` is when they happened, on ``clock`` (default: now). A tap holds
        the bytes it sees and buffers them later, off the reply's path.
        """
        if self._closed:
            return
        template = _DIRECTION_LINES[kind]
        t = (self.clock() if at is None else at) - self._start
        unwritten = self.unwritten
        for piece in pieces:
            if self._redactor is not None:
                piece = self._redact(kind, piece)
            try:
                if len(piece) > MAX_EVENT_DATA:
                    raise ValueError("split below")
                unwritten.append(template % (t, encode_basestring_ascii(piece.decode("utf-8"))))
                self.events += 1
            except (UnicodeDecodeError, ValueError):
                for start in range(0, len(piece), MAX_EVENT_DATA):
                    chunk = piece[start:start + MAX_EVENT_DATA]
                    unwritten.append(encode_event(t, kind, chunk).decode("ascii"))
                    self.events += 1

    def write_exchange(self, rx_at: float, rx: bytes, tx_at: float, tx: bytes) -> bool:
        """Write one rx and one tx event now, with one ``os.write``; times on ``clock``.

        Returns false, writing nothing, where the general path is needed (events
        buffered, redaction, data not UTF-8 or longer than one event holds).
        """
        if (self._redactor is not None or self.unwritten or self._closed
                or len(rx) > MAX_EVENT_DATA or len(tx) > MAX_EVENT_DATA):
            return False
        start = self._start
        try:
            line = _EXCHANGE_LINES % (rx_at - start, encode_basestring_ascii(rx.decode()),
                                      tx_at - start, encode_basestring_ascii(tx.decode()))
        except UnicodeDecodeError:
            return False
        self.events += 2
        _write_all(self._fd, line.encode("ascii"))
        return True

    def flush(self) -> None:
        """Write the buffered events with one ``os.write``."""
        unwritten = self.unwritten
        if unwritten and not self._closed:
            text = "".join(unwritten)
            unwritten.clear()
            _write_all(self._fd, text.encode("ascii"))

    def _redact(self, kind: str, piece: bytes) -> bytes:
        assert self._redactor is not None
        if kind == "rx":
            self._redactor.rx(piece)
            return piece
        return self._redactor.tx(piece)

    def rx(self, data: bytes) -> None:
        self.record("rx", data)

    def tx(self, data: bytes) -> None:
        self.record("tx", data)

    def note(self, text: str) -> None:
        self.record("note", text.encode("utf-8"))

    def finish(self) -> Path:
        """Write ``end``, sync and move the cassette into place; returns its path.

        Raises ``CassetteExists`` (the temporary file is kept and named in the
        message) if another recording claimed ``path`` in the meantime.
        """
        if self._closed:
            return self.path
        self.record("end", str(self.events).encode("ascii"))
        self._closed = True
        try:
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
        if self.overwrite:
            os.replace(self.temporary_path, self.path)
        else:
            _move_without_overwrite(self.temporary_path, self.path)
        logger.info("Cassette %s finished: %d events", self.path, self.events)
        return self.path

    def abandon(self) -> None:
        """Close and delete the temporary file: nothing of this recording is kept."""
        self.unwritten.clear()
        if not self._closed:
            self._closed = True
            os.close(self._fd)
        self._discard()

    def _discard(self) -> None:
        try:
            os.unlink(self.temporary_path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        # A failed session's recording is kept too: it shows what led to the failure.
        self.finish()


def _create_exclusive(path: Path) -> tuple[Path, int]:
    for _ in range(100):
        candidate = path.with_name(
            f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        except FileExistsError:
            continue
        return candidate, fd
    raise FileExistsError(f"could not create a temporary cassette next to {path}")


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    if written < len(data):
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view):]


def _move_without_overwrite(source: Path, target: Path) -> None:
    try:
        # link() fails if the target exists: no window in which another cassette is replaced.
        os.link(source, target)
    except FileExistsError:
        raise CassetteExists(target, kept=source) from None
    except OSError:
        _move_reserving_name(source, target)
        return
    os.unlink(source)


def _move_reserving_name(source: Path, target: Path) -> None:
    # For file systems without hard links: reserve the name, then replace the placeholder.
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        raise CassetteExists(target, kept=source) from None
    os.replace(source, target)
