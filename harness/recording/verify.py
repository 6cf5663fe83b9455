"""Verify: play a cassette's client messages to an emulator and diff the replies.

Each message reaches the model at its recorded time, so timestamps and
reading spacing can line up. The emulator's configuration is the cassette's
(recorded from the emulator) or the model's defaults with the cassette's
output terminator (recorded from hardware), plus ``config`` overrides.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from devices.keithley import KeithleyConfig, MockKeithley, devices
from devices.scpi import Reply
from harness.device_session import SansIoDevice
from harness.recording.compare import Tolerances, compare_reply
from harness.recording.exchanges import Exchange, build_session
from harness.recording.reader import Cassette, read_cassette

logger = logging.getLogger(__name__)

EXIT_AGREE = 0
EXIT_DIFFER = 1
#: Seconds of device time granted after the last message for replies still owed.
SETTLE_TIME = 3600.0
#: Polls after the last message, so an endless acquisition cannot loop forever.
MAX_FINAL_POLLS = 10_000
_TERMINATOR_NAMES = {"\r": "CR", "\n": "LF", "\r\n": "CRLF", "\n\r": "LFCR"}
#: Characters of a long reply shown around the first difference.
CONTEXT = 60


@dataclass(frozen=True)
class Difference:
    """One exchange whose replies differ."""

    exchange: Exchange
    expected: tuple[str, ...]
    actual: tuple[str, ...]
    reason: str

    def format(self) -> str:
        lines = [f"{self.exchange.describe()}: {self.reason}"]
        for index in range(max(len(self.expected), len(self.actual))):
            recorded = self.expected[index] if index < len(self.expected) else None
            emulated = self.actual[index] if index < len(self.actual) else None
            if recorded == emulated:
                continue
            recorded_text, emulated_text = _excerpts(recorded, emulated)
            lines.append(f"  - {recorded_text}    (recorded)")
            lines.append(f"  + {emulated_text}    (emulator)")
        return "\n".join(lines)


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of ``verify``; ``exit_code`` is 0 when everything agrees, else 1."""

    path: Path
    device: str
    exchanges: int
    differences: tuple[Difference, ...] = field(default_factory=tuple)

    @property
    def agree(self) -> bool:
        return not self.differences

    @property
    def exit_code(self) -> int:
        return EXIT_AGREE if self.agree else EXIT_DIFFER

    def format(self) -> str:
        if self.agree:
            return f"{self.path}: {self.device} agrees on all {self.exchanges} exchanges"
        head = (f"{self.path}: {self.device} differs on {len(self.differences)} of "
                f"{self.exchanges} exchanges")
        return "\n".join([head, *(difference.format() for difference in self.differences)])


def verify(cassette: Cassette | Path | str, device: str | None = None, *,
           config: Mapping[str, Any] | None = None,
           tolerances: Tolerances | None = None) -> VerifyResult:
    """Replay ``cassette``'s client messages to the emulator ``device`` and diff the replies.

    ``device`` is a registry name (default: the cassette's device);
    ``tolerances`` default to ``Tolerances.for_source`` of the cassette.
    Raises the reader's errors and ``UnknownDevice``.
    """
    if not isinstance(cassette, Cassette):
        cassette = read_cassette(cassette)
    header = cassette.header
    name = device or header.device.name or f"keithley{header.device.model.lower()}"
    tolerances = tolerances or Tolerances.for_source(header.source)
    exchanges = build_session(cassette).exchanges
    start = exchanges[0].t if exchanges else 0.0
    model = build_device(name, cassette, dict(config or {}), now=start)
    actual = _replies_by_exchange(model, exchanges)
    differences = []
    for exchange, replies in zip(exchanges, actual, strict=True):
        expected = tuple(reply.text for reply in exchange.replies)
        reason = _compare(exchange, expected, replies, tolerances)
        if reason is not None:
            differences.append(Difference(exchange, expected, replies, reason))
    return VerifyResult(cassette.path, name, len(exchanges), tuple(differences))


def build_device(name: str, cassette: Cassette, overrides: dict[str, Any],
                 now: float) -> SansIoDevice:
    """The emulator ``name`` configured like the recording."""
    factory = devices[name]
    header = cassette.header
    if isinstance(factory, type) and issubclass(factory, MockKeithley):
        settings: dict[str, Any] = {}
        if header.source == "emulator":
            settings.update(header.device.config)
        terminator = _TERMINATOR_NAMES.get(header.output_terminator)
        if terminator is not None:
            settings["output_terminator"] = terminator
        settings.update(overrides)
        settings["model"] = factory.MODEL or settings.get("model", "6517B")
        return factory(config=KeithleyConfig.from_mapping(settings), now=now)
    return cast(SansIoDevice, factory(**overrides))


def _replies_by_exchange(model: SansIoDevice,
                         exchanges: tuple[Exchange, ...]) -> list[tuple[str, ...]]:
    """The model's reply lines, each given to the last exchange sent before it."""
    collected: list[list[str]] = [[] for _ in exchanges]
    current = -1

    def take(replies: list[Reply]) -> None:
        if current >= 0:
            collected[current].extend(reply.text for reply in replies)

    for exchange in exchanges:
        take(_poll_until(model, exchange.t))
        current = exchange.index
        if exchange.kind == "device_clear":
            take(model.device_clear(exchange.t))
        elif exchange.kind == "overrun":
            model.input_overrun(exchange.t)
        else:
            take(model.receive(exchange.request, exchange.t))
    if exchanges:
        take(_poll_until(model, exchanges[-1].t + SETTLE_TIME, limit=MAX_FINAL_POLLS))
    return [tuple(replies) for replies in collected]


def _poll_until(model: SansIoDevice, now: float, limit: int = 1000) -> list[Reply]:
    replies: list[Reply] = []
    for _ in range(limit):
        wakeup = model.next_wakeup()
        if wakeup is None or wakeup > now:
            break
        replies += model.poll(max(wakeup, 0.0))
    return replies


def _compare(exchange: Exchange, expected: tuple[str, ...], actual: tuple[str, ...],
             tolerances: Tolerances) -> str | None:
    if len(expected) != len(actual):
        return f"{len(expected)} reply lines recorded, {len(actual)} from the emulator"
    for recorded, emulated in zip(expected, actual, strict=True):
        reason = compare_reply(exchange.request, recorded, emulated, tolerances)
        if reason is not None:
            return reason
    return None


def _excerpts(recorded: str | None, emulated: str | None) -> tuple[str, str]:
    if recorded is None or emulated is None:
        return ("(no reply)" if recorded is None else repr(recorded),
                "(no reply)" if emulated is None else repr(emulated))
    if len(recorded) <= 2 * CONTEXT and len(emulated) <= 2 * CONTEXT:
        return repr(recorded), repr(emulated)
    first = next((i for i, (a, b) in enumerate(zip(recorded, emulated, strict=False)) if a != b),
                 min(len(recorded), len(emulated)))
    start = max(0, first - CONTEXT // 2)
    return (f"[{start}:] {recorded[start:start + CONTEXT]!r}",
            f"[{start}:] {emulated[start:start + CONTEXT]!r}")
