"""The cassette player: a sans-IO device model that answers from a cassette.

``CassettePlayer`` has the device surface of spec keithley.md §0.5
(``receive``, ``device_clear``, ``input_overrun``, ``poll``, ``next_wakeup``),
so every endpoint that serves a model serves a cassette too.

Strict (default): each message must equal the next recorded one after the
declared ``Normalisation``; otherwise nothing is sent, the position stays, and
a ``ReplayMismatch`` is kept in ``failures``. Lenient: the first unplayed
exchange that matches is played, wherever it is. ``repeats`` lets the last
played exchange (strict) or any played exchange (lenient) play again, for
polling loops that ran a different number of times. Unmatched messages in
lenient mode go to ``fallback`` (an emulator model) if there is one.

The player never invents a reply: failures are collected for ``check()``,
which the test fixture or the CLI calls when the session is over.
"""

from __future__ import annotations

import difflib
import logging
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path

from devices.scpi import Reply
from harness.device_session import SansIoDevice
from harness.recording.errors import (
    CassetteUnfinished,
    ReplayError,
    ReplayLeftovers,
    ReplayMismatch,
    ReplayUnmatched,
)
from harness.recording.exchanges import Exchange, build_session
from harness.recording.normalise import Normalisation
from harness.recording.reader import Cassette, read_cassette

logger = logging.getLogger(__name__)

#: Failures kept in detail; later ones are only counted.
MAX_FAILURES = 100
#: Recorded exchanges that ``difflib`` compares a stray message with.
MAX_CANDIDATES_SCANNED = 5000


@dataclass(frozen=True)
class ReplayOptions:
    """How a cassette is played.

    ``speed``: 0 sends replies at once (default); otherwise each reply comes
    its recorded delay divided by ``speed`` after its message (1 = as
    recorded). ``fallback`` answers unmatched messages in lenient mode; it
    sees every message, so its state follows the session (use ``speed=0``).
    """

    strict: bool = True
    repeats: bool = False
    speed: float = 0.0
    normalisation: Normalisation = field(default_factory=Normalisation)
    fallback: SansIoDevice | None = None
    allow_unfinished: bool = False

    def __post_init__(self) -> None:
        if not self.speed >= 0 or self.speed == float("inf"):
            raise ValueError(f"speed={self.speed!r} must be a finite number >= 0 (0: instant)")
        if self.strict and self.fallback is not None:
            raise ValueError("a fallback device needs lenient replay (strict=False)")


class CassettePlayer:
    """Plays ``cassette`` (a ``Cassette`` or a path) as a device.

    Raises ``CassetteNotFound``, ``CassetteFormatError`` or, for a cassette
    whose recording was interrupted, ``CassetteUnfinished`` (unless
    ``options.allow_unfinished``).
    """

    def __init__(self, cassette: Cassette | Path | str,
                 options: ReplayOptions | None = None) -> None:
        self.cassette = cassette if isinstance(cassette, Cassette) else read_cassette(cassette)
        self.options = options or ReplayOptions()
        if not self.cassette.finished and not self.options.allow_unfinished:
            raise CassetteUnfinished(self.cassette.path, len(self.cassette.events))
        self.exchanges: tuple[Exchange, ...] = build_session(self.cassette).exchanges
        self.failures: list[ReplayError] = []
        self.failure_count = 0
        self.played = [False] * len(self.exchanges)
        self.plays = 0
        self._key = self.options.normalisation.key
        self._keys = [self._key(exchange.request) if exchange.kind == "message" else ""
                      for exchange in self.exchanges]
        self._position = 0
        self._last_played: Exchange | None = None
        self._last_ready = float("-inf")
        self._unplayed: dict[tuple[str, str], deque[int]] = defaultdict(deque)
        self._played_by_key: dict[tuple[str, str], Exchange] = {}
        for exchange, key in zip(self.exchanges, self._keys, strict=True):
            self._unplayed[(exchange.kind, key)].append(exchange.index)

    @property
    def path(self) -> Path:
        return self.cassette.path

    # -- the device surface ----------------------------------------------------------------

    def receive(self, message: str, now: float) -> list[Reply]:
        fallback = self.options.fallback
        fallback_replies = fallback.receive(message, now) if fallback is not None else []
        exchange = self._match("message", message)
        if exchange is not None:
            return self._play(exchange, now)
        if fallback is not None:
            return fallback_replies
        return []

    def device_clear(self, now: float) -> list[Reply]:
        fallback = self.options.fallback
        fallback_replies = fallback.device_clear(now) if fallback is not None else []
        exchange = self._match("device_clear", "")
        if exchange is not None:
            return self._play(exchange, now)
        return fallback_replies

    def input_overrun(self, now: float) -> None:
        if self.options.fallback is not None:
            self.options.fallback.input_overrun(now)
        self._match("overrun", "<message longer than the input limit>")

    def poll(self, now: float) -> list[Reply]:
        fallback = self.options.fallback
        return fallback.poll(now) if fallback is not None else []

    def next_wakeup(self) -> float | None:
        fallback = self.options.fallback
        return fallback.next_wakeup() if fallback is not None else None

    # -- results -------------------------------------------------------------------------

    def unplayed(self) -> list[Exchange]:
        return [exchange for exchange, done in zip(self.exchanges, self.played, strict=True)
                if not done]

    def check(self, *, complete: bool = True) -> None:
        """Raise the first failure of the session; with ``complete``, leftovers are one.

        Raises ``ReplayMismatch``, ``ReplayUnmatched`` or ``ReplayLeftovers``.
        """
        if self.failures:
            raise self.failures[0]
        if complete:
            unplayed = self.unplayed()
            if unplayed:
                raise ReplayLeftovers(self.path, [e.describe() for e in unplayed],
                                      len(self.exchanges))

    def report(self) -> list[str]:
        """Every failure and leftover as text, for the CLI."""
        lines = [str(failure) for failure in self.failures]
        if self.failure_count > len(self.failures):
            lines.append(f"... and {self.failure_count - len(self.failures)} more failures")
        unplayed = self.unplayed()
        if unplayed:
            lines.append(str(ReplayLeftovers(self.path, [e.describe() for e in unplayed],
                                             len(self.exchanges))))
        return lines

    # -- matching --------------------------------------------------------------------------

    def _match(self, kind: str, message: str) -> Exchange | None:
        if self.options.strict:
            return self._match_next(kind, message)
        return self._match_any(kind, message)

    def _match_next(self, kind: str, message: str) -> Exchange | None:
        exchanges = self.exchanges
        position = self._position
        if position < len(exchanges) and self._same(exchanges[position], kind, message):
            self._position = position + 1
            return exchanges[position]
        last = self._last_played
        if self.options.repeats and last is not None and self._same(last, kind, message):
            return last
        expected_exchange = exchanges[position] if position < len(exchanges) else None
        self._fail(ReplayMismatch(
            self.path,
            expected_exchange.index if expected_exchange else None,
            expected_exchange.line if expected_exchange else None,
            _shown(expected_exchange) if expected_exchange else None,
            _received(kind, message),
            self._candidates(message)))
        return None

    def _match_any(self, kind: str, message: str) -> Exchange | None:
        key = (kind, self._key(message) if kind == "message" else "")
        waiting = self._unplayed.get(key)
        if waiting:
            return self.exchanges[waiting.popleft()]
        if self.options.repeats and key in self._played_by_key:
            return self._played_by_key[key]
        if self.options.fallback is None:
            self._fail(ReplayUnmatched(self.path, _received(kind, message),
                                       self._candidates(message)))
        return None

    def _same(self, exchange: Exchange, kind: str, message: str) -> bool:
        if exchange.kind != kind:
            return False
        return kind != "message" or exchange.request == message or (
            self._keys[exchange.index] == self._key(message))

    def _play(self, exchange: Exchange, now: float) -> list[Reply]:
        if not self.played[exchange.index]:
            self.played[exchange.index] = True
            if not self.options.strict:
                self._played_by_key[(exchange.kind, self._keys[exchange.index])] = exchange
        self._last_played = exchange
        self.plays += 1
        speed = self.options.speed
        replies = []
        for reply in exchange.replies:
            ready = now if speed == 0 else now + reply.delay / speed
            ready = max(ready, self._last_ready)
            self._last_ready = ready
            replies.append(Reply(reply.text, ready))
        return replies

    def _fail(self, failure: ReplayError) -> None:
        self.failure_count += 1
        logger.error("Replay: %s", failure)
        if len(self.failures) < MAX_FAILURES:
            self.failures.append(failure)

    def _candidates(self, message: str) -> list[str]:
        pool = [e for e in self.unplayed()[:MAX_CANDIDATES_SCANNED] if e.kind == "message"]
        by_request = {e.request: e for e in reversed(pool)}
        close = difflib.get_close_matches(message, list(by_request), n=3, cutoff=0.5)
        return [by_request[request].describe() for request in close]


def _shown(exchange: Exchange) -> str:
    return "<device clear>" if exchange.kind == "device_clear" else exchange.request


def _received(kind: str, message: str) -> str:
    return "<device clear>" if kind == "device_clear" else message
