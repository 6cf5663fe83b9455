"""The TRACe reading buffer of spec §4.7, as a pure class."""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from devices.keithley.reading import Reading

#: Bytes ``TRAC:FREE?`` counts per stored reading (§4.7, [U]).
READING_BYTES = 16
#: Bytes each extra stored element adds with ``fidelity.F25 = "reduced_capacity"`` ([U]).
ELEMENT_BYTES = 8


def bytes_per_reading(elements: Iterable[str], *, reading_bytes: int = READING_BYTES) -> int:
    """Memory one stored reading takes with the extra ``elements`` stored with it."""
    return reading_bytes + ELEMENT_BYTES * len(tuple(elements))


def reduced_capacity(maximum_points: int, elements: Iterable[str], *,
                     reading_bytes: int = READING_BYTES) -> int:
    """F25 alternative: the memory of ``maximum_points`` bare readings shared by bigger ones."""
    size = bytes_per_reading(elements, reading_bytes=reading_bytes)
    return maximum_points * reading_bytes // size


@dataclass(slots=True)
class TraceSettings:
    """TRACe settings; *RST and :SYST:PRES leave them alone (§4.7)."""

    points: int = 100
    feed: str = "SENS1"
    control: str = "NEV"
    tstamp_format: str = "ABS"
    elements: tuple[str, ...] = ()
    pretrigger_source: str = "EXT"
    pretrigger_percent: float = 0.0
    pretrigger_readings: int = 0


@dataclass(frozen=True, slots=True)
class BufferEntry:
    """A stored reading with the auxiliary elements stored with it."""

    reading: Reading
    elements: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DumpedReading:
    """One reading as ``TRAC:DATA?`` reports it: position and buffer timestamp."""

    reading: Reading
    number: int
    timestamp: float


@dataclass(slots=True)
class TraceBuffer:
    """Stored readings and the feed-control rules (NEVer, NEXT, ALWays, PRETrigger)."""

    settings: TraceSettings = field(default_factory=TraceSettings)
    entries: deque[BufferEntry] = field(default_factory=deque)
    filled_once: bool = False
    pretriggered: bool = False
    pre_count: int = 0
    #: A NEXT fill stopped storage (the feed control became NEV); F24 may read NEXT back.
    fill_stopped: bool = False
    #: Readings stored before BAV is set: 2, or 1 with ``fidelity.F38 = "bav_one_reading"``.
    bav_minimum: int = 2

    def store(self, reading: Reading) -> bool:
        """Offer a completed reading to the buffer; return whether it was stored."""
        control = self.settings.control
        if control == "NEV":
            return False
        entry = BufferEntry(reading, self.settings.elements)
        capacity = self.settings.points
        if control == "NEXT" or (control == "PRET" and self.pretriggered):
            self.entries.append(entry)
            if len(self.entries) >= capacity:
                self._stop_filled()
            return True
        # ALWays, and PRETrigger before its event: circular.
        if len(self.entries) >= capacity:
            self.entries.popleft()
        self.entries.append(entry)
        if len(self.entries) >= capacity:
            self.filled_once = True
        return True

    def pretrigger_event(self) -> bool:
        """The pretrigger event arrived: keep the pre-trigger part, then fill the rest."""
        if self.settings.control != "PRET" or self.pretriggered:
            return False
        pre = self._pretrigger_size()
        while len(self.entries) > pre:
            self.entries.popleft()
        self.pre_count = len(self.entries)
        self.pretriggered = True
        self.filled_once = False
        return True

    def _stop_filled(self) -> None:
        self.filled_once = True
        self.fill_stopped = self.settings.control == "NEXT"
        self.settings.control = "NEV"

    def resume_fill(self) -> bool:
        """Restart a NEXT fill that filling stopped, once there is room (F24 alternative)."""
        if not self.fill_stopped or len(self.entries) >= self.settings.points:
            return False
        self.settings.control = "NEXT"
        self.fill_stopped = False
        self.filled_once = False
        return True

    def _pretrigger_size(self) -> int:
        points = self.settings.points
        if self.settings.pretrigger_readings:
            return min(points, self.settings.pretrigger_readings)
        return min(points, round(points * self.settings.pretrigger_percent / 100.0))

    def clear(self) -> None:
        """Delete all readings; BAV/BHF/BFL conditions become false."""
        self.entries.clear()
        self.filled_once = False
        self.pretriggered = False
        self.pre_count = 0

    def set_points(self, points: int, *, keep_readings: bool = False) -> None:
        """Change the capacity, which clears the buffer (F24).

        ``keep_readings`` (F24 alternative) keeps the oldest readings that fit; a
        NEXT fill that no longer has room stops as if it had filled.
        """
        self.settings.points = points
        if not keep_readings:
            self.clear()
            return
        while len(self.entries) > points:
            self.entries.pop()
        if len(self.entries) >= points and self.settings.control == "NEXT":
            self._stop_filled()

    def set_control(self, control: str) -> None:
        """Change the feed control; choosing PRETrigger re-arms the pretrigger."""
        self.settings.control = control
        self.fill_stopped = False
        if control == "PRET":
            self.pretriggered = False
            self.pre_count = 0

    def restore_settings(self, *, keep_readings: bool = False) -> None:
        """TRACe settings back to their power-on values, as if sent by commands (F25).

        A capacity change follows ``set_points`` (``keep_readings`` as there).
        """
        points = self.settings.points
        _reset_fields(self.settings, TraceSettings(points=points))
        self.fill_stopped = False
        default_points = TraceSettings().points
        if points != default_points:
            self.set_points(default_points, keep_readings=keep_readings)

    def power_on(self, *, retain_readings: bool = False) -> None:
        """Power-on (§4.13): settings to power-on values and an empty buffer.

        ``retain_readings`` (F25 alternative) keeps the stored readings and the
        capacity that holds them; storage does not resume (feed control NEV).
        """
        _reset_fields(self.settings, TraceSettings(points=self.settings.points))
        self.fill_stopped = False
        if not retain_readings:
            self.settings.points = TraceSettings().points
            self.clear()

    def __len__(self) -> int:
        return len(self.entries)

    def status_bits(self, available: int, half_full: int, full: int) -> int:
        """The given bits of the conditions that hold: BAV, BHF, BFL (§2.6), in one call."""
        count = len(self.entries)
        points = self.settings.points
        value = 0
        if count:  # an empty buffer is neither available nor half full
            if count >= self.bav_minimum:
                value = available
            if 2 * count >= points:
                value |= half_full
        if self.filled_once or count >= points:
            value |= full
        return value

    @property
    def full(self) -> bool:
        """BFL condition: the buffer holds ``POINts`` readings (ALWays: has filled once)."""
        return self.filled_once or len(self.entries) >= self.settings.points

    @property
    def half_full(self) -> bool:
        """BHF condition."""
        return 2 * len(self.entries) >= self.settings.points and len(self.entries) > 0

    @property
    def available(self) -> bool:
        """BAV condition: at least ``bav_minimum`` readings stored (F38)."""
        return len(self.entries) >= self.bav_minimum

    def free_bytes(self, bytes_per_reading: int = READING_BYTES) -> tuple[int, int]:
        """``TRAC:FREE?``: bytes free and bytes in use."""
        used = len(self.entries) * bytes_per_reading
        return self.settings.points * bytes_per_reading - used, used

    def stored_elements(self) -> set[str]:
        """Auxiliary elements present in every stored reading."""
        result: set[str] | None = None
        for entry in self.entries:
            items = set(entry.elements)
            result = items if result is None else result & items
            if not result:
                return set()
        return result or set()

    def dump(self) -> Iterator[DumpedReading]:
        """Stored readings oldest first with position and ABS/DELT timestamp (§5.3)."""
        delta = self.settings.tstamp_format == "DELT"
        first: float | None = None
        previous = 0.0
        offset = self.pre_count if self.pretriggered else 0
        for index, entry in enumerate(self.entries):
            t = entry.reading.time
            if first is None:
                first = previous = t
            stamp = t - previous if delta else t - first
            previous = t
            yield DumpedReading(entry.reading, index - offset, stamp)


def _reset_fields(settings: TraceSettings, values: TraceSettings) -> None:
    # In place: the control channel and handlers may hold on to ``settings``.
    for item in dataclasses.fields(TraceSettings):
        setattr(settings, item.name, getattr(values, item.name))
