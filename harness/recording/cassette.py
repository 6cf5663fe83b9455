"""The cassette format: a JSON header line, then one JSON event per line.

Header::

    {"format": "hil-cassette", "version": 1, "created_at": "2025-01-02T03:04:05.678Z",
     "source": "emulator", "transport": "tcp",
     "device": {"name": "keithley6517b", "model": "6517B", "idn": "KEITHLEY ...", "config": {}},
     "terminators": {"input": "\\n", "output": "\\n"}, "redacted": false}

Events (``t``: seconds since the cassette was opened)::

    {"t": 0.001234, "dir": "rx", "data": "*IDN?\\n"}          client -> device
    {"t": 0.001301, "dir": "tx", "data": "KEITHLEY ...\\n"}    device -> client
    {"t": 0.002, "dir": "tx", "data": "/w==", "enc": "b64"}   bytes that are not UTF-8
    {"t": 0.0, "event": "open", "data": "127.0.0.1:50000"}    a client connected
    {"t": 9.5, "event": "close"}                               the client left
    {"t": 1.0, "event": "note", "data": "device restarted"}
    {"t": 9.6, "event": "end", "data": "42"}                  last line of a finished cassette

``data`` of rx/tx events holds the bytes exactly as they crossed the wire,
terminators included: the concatenated rx (tx) events are the client's (device's)
byte stream.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import json
import math
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import Any, Literal

FORMAT_NAME = "hil-cassette"
FORMAT_VERSION = 1
#: Longest line a reader accepts, in bytes (a 50000-reading dump is ~2.6 MB).
MAX_LINE_BYTES = 8 * 1024 * 1024
#: Longest rx/tx payload per event; longer messages are split over several events,
#: so that every encoded line stays below ``MAX_LINE_BYTES``.
MAX_EVENT_DATA = 1024 * 1024
SOURCES = ("emulator", "hardware", "replay")
DIRECTIONS = ("rx", "tx")
MARKERS = ("open", "close", "note", "end")

EventKind = Literal["rx", "tx", "open", "close", "note", "end"]


@dataclass(frozen=True)
class DeviceInfo:
    """What was recorded: registry name, model, ``*IDN?`` reply, emulator configuration."""

    name: str = ""
    model: str = ""
    idn: str | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, "idn": self.idn, "config": self.config}


@dataclass(frozen=True)
class CassetteHeader:
    """The first line of a cassette."""

    device: DeviceInfo
    source: str = "emulator"
    transport: str = "tcp"
    output_terminator: str = "\n"
    input_terminator: str | None = None
    created_at: str = ""
    redacted: bool = False
    version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source={self.source!r}; expected one of {', '.join(SOURCES)}")
        if not self.output_terminator:
            raise ValueError("output_terminator must not be empty, e.g. '\\n'")

    def stamped(self) -> CassetteHeader:
        """A copy with ``created_at`` set to now (UTC) if it is empty."""
        if self.created_at:
            return self
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        return dataclasses.replace(self, created_at=now.replace("+00:00", "Z"))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "version": self.version,
            "created_at": self.created_at,
            "source": self.source,
            "transport": self.transport,
            "device": self.device.to_json(),
            "terminators": {"input": self.input_terminator, "output": self.output_terminator},
            "redacted": self.redacted,
        }

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), allow_nan=False).encode("ascii") + b"\n"


@dataclass(frozen=True, slots=True)
class Event:
    """One event line; ``data`` is the raw bytes (rx/tx) or UTF-8 text (markers)."""

    t: float
    kind: EventKind
    data: bytes = b""
    line: int = 0

    @property
    def text(self) -> str:
        """``data`` as text (latin-1 for rx/tx, as the instrument's ASCII link, UTF-8 else)."""
        if self.kind in DIRECTIONS:
            return self.data.decode("latin-1")
        return self.data.decode("utf-8", "replace")


def encode_event(t: float, kind: str, data: bytes) -> bytes:
    """One event as a JSON line (ASCII, ``\\n`` terminated)."""
    key = "dir" if kind in DIRECTIONS else "event"
    try:
        text = data.decode("utf-8")
        suffix = "}\n"
    except UnicodeDecodeError:
        text = base64.b64encode(data).decode("ascii")
        suffix = ',"enc":"b64"}\n'
    if not data and kind not in DIRECTIONS:
        return f'{{"t":{t:.6f},"{key}":"{kind}"}}\n'.encode("ascii")
    return (
        f'{{"t":{t:.6f},"{key}":"{kind}","data":{encode_basestring_ascii(text)}{suffix}'
    ).encode("ascii")


# -- decoding (strict: every problem is a ValueError with a readable message) --------


def decode_header(obj: Any) -> CassetteHeader:
    """The header from a parsed first line; raises ``ValueError`` naming the field."""
    if not isinstance(obj, dict):
        raise ValueError("the first line must be a JSON object (the cassette header)")
    if obj.get("format") != FORMAT_NAME:
        raise ValueError(f"not a hil cassette: the header's 'format' is {obj.get('format')!r}, "
                         f"expected {FORMAT_NAME!r}")
    expect_keys(obj, "header", required=("format", "version", "created_at", "source",
                                         "transport", "device", "terminators"),
                optional=("redacted",))
    device = expect_type(obj["device"], dict, "header 'device'")
    expect_keys(device, "header 'device'", required=("name", "model", "idn"),
                optional=("config",))
    terminators = expect_type(obj["terminators"], dict, "header 'terminators'")
    expect_keys(terminators, "header 'terminators'", required=("output",), optional=("input",))
    return CassetteHeader(
        device=DeviceInfo(
            name=expect_type(device["name"], str, "header 'device.name'"),
            model=expect_type(device["model"], str, "header 'device.model'"),
            idn=expect_optional_str(device["idn"], "header 'device.idn'"),
            config=expect_type(device.get("config", {}), dict, "header 'device.config'"),
        ),
        source=expect_choice(obj["source"], SOURCES, "header 'source'"),
        transport=expect_type(obj["transport"], str, "header 'transport'"),
        output_terminator=expect_nonempty_str(terminators["output"], "header 'terminators.output'"),
        input_terminator=expect_optional_str(terminators.get("input"),
                                             "header 'terminators.input'"),
        created_at=expect_type(obj["created_at"], str, "header 'created_at'"),
        redacted=expect_type(obj.get("redacted", False), bool, "header 'redacted'"),
        version=obj["version"],
    )


def decode_event(obj: Any, line: int) -> Event:
    """An event from a parsed line; raises ``ValueError`` naming the bad field."""
    if not isinstance(obj, dict):
        raise ValueError(f"an event must be a JSON object, got {type(obj).__name__}")
    t = obj.get("t")
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
        raise ValueError(f"'t' must be a number of seconds >= 0, got {t!r}")
    if "dir" in obj:
        expect_keys(obj, "an rx/tx event", required=("t", "dir", "data"), optional=("enc",))
        kind = expect_choice(obj["dir"], DIRECTIONS, "'dir'")
    elif "event" in obj:
        expect_keys(obj, "a marker event", required=("t", "event"), optional=("data",))
        kind = expect_choice(obj["event"], MARKERS, "'event'")
    else:
        raise ValueError("an event needs 'dir' (rx/tx) or 'event' (open/close/note/end)")
    text = expect_type(obj.get("data", ""), str, "'data'")
    encoding = obj.get("enc")
    if encoding is None:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("'data' holds a lone surrogate escape; it is not text") from None
    elif encoding == "b64":
        try:
            data = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as e:
            raise ValueError(f"'data' is not valid base64 ({e})") from None
    else:
        raise ValueError(f"'enc' must be \"b64\" when present, got {encoding!r}")
    return Event(float(t), kind, data, line)  # type: ignore[arg-type]


def expect_keys(obj: dict[str, Any], what: str, required: tuple[str, ...],
                optional: tuple[str, ...] = ()) -> None:
    missing = [key for key in required if key not in obj]
    if missing:
        raise ValueError(f"{what} lacks {', '.join(repr(key) for key in missing)}")
    unknown = sorted(set(obj) - set(required) - set(optional))
    if unknown:
        raise ValueError(f"{what} has unknown keys {', '.join(repr(key) for key in unknown)}; "
                         f"allowed: {', '.join(required + optional)}")


def expect_type(value: Any, kind: type[Any], what: str) -> Any:
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValueError(f"{what} must be a {kind.__name__}, got {value!r}")
    return value


def expect_optional_str(value: Any, what: str) -> str | None:
    if value is None:
        return None
    return str(expect_type(value, str, what))


def expect_nonempty_str(value: Any, what: str) -> str:
    text = str(expect_type(value, str, what))
    if not text:
        raise ValueError(f"{what} must not be empty")
    return text


def expect_choice(value: Any, choices: tuple[str, ...], what: str) -> str:
    if value not in choices:
        raise ValueError(f"{what} must be one of {', '.join(choices)}, got {value!r}")
    return str(value)
