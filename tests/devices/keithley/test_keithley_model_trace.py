"""Unit tests of the TRACe buffer rules (spec §4.7, §5.3)."""

from __future__ import annotations

import pytest

from devices.keithley.reading import Reading
from devices.keithley.trace import TraceBuffer, TraceSettings


def reading(t: float, value: float = 1e-12) -> Reading:
    return Reading(value, "N", "CURR", 20e-12, 6, time=t, timestamp=t, number=0)


def buffer(points: int, control: str) -> TraceBuffer:
    return TraceBuffer(TraceSettings(points=points, control=control))


def test_never_stores_nothing() -> None:
    """§4.7: NEVer: readings are not stored."""
    buf = buffer(3, "NEV")
    assert not buf.store(reading(0.0))
    assert len(buf) == 0


def test_next_fills_then_stops_and_reads_back_never() -> None:
    """§4.7 NEXT: store until POINts, then stop, BFL, feed control NEV (F24)."""
    buf = buffer(3, "NEXT")
    for k in range(5):
        buf.store(reading(float(k)))
    assert len(buf) == 3
    assert buf.full
    assert buf.settings.control == "NEV"
    assert [d.reading.time for d in buf.dump()] == [0.0, 1.0, 2.0]


def test_always_is_circular_and_full_stays_latched() -> None:
    """§4.7 ALWays: oldest overwritten; BFL set at first fill and stays."""
    buf = buffer(3, "ALW")
    for k in range(5):
        buf.store(reading(float(k)))
    assert [d.reading.time for d in buf.dump()] == [2.0, 3.0, 4.0]
    assert buf.full
    assert buf.settings.control == "ALW"


def test_conditions_available_half_full() -> None:
    """§2.6: BAV ≥ 2 readings (F38), BHF half full, BFL full."""
    buf = buffer(4, "NEXT")
    buf.store(reading(0.0))
    assert not buf.available and not buf.half_full
    buf.store(reading(1.0))
    assert buf.available and buf.half_full and not buf.full


def test_clear_resets_conditions_but_keeps_feed_control() -> None:
    """§4.7: TRAC:CLE deletes readings; feed control unchanged."""
    buf = buffer(2, "ALW")
    for k in range(3):
        buf.store(reading(float(k)))
    buf.clear()
    assert len(buf) == 0 and not buf.full
    assert buf.settings.control == "ALW"


def test_points_change_clears_buffer() -> None:
    """§4.7/F24: changing POINts clears the buffer."""
    buf = buffer(5, "NEXT")
    buf.store(reading(0.0))
    buf.set_points(10)
    assert len(buf) == 0
    assert buf.settings.points == 10


def test_dump_absolute_and_delta_timestamps() -> None:
    """§4.7: ABS from the first stored reading; DELT from the previous one."""
    buf = buffer(5, "NEXT")
    for t in (10.0, 10.5, 11.5):
        buf.store(reading(t))
    assert [d.timestamp for d in buf.dump()] == pytest.approx([0.0, 0.5, 1.5])
    assert [d.number for d in buf.dump()] == [0, 1, 2]
    buf.settings.tstamp_format = "DELT"
    assert [d.timestamp for d in buf.dump()] == pytest.approx([0.0, 0.5, 1.0])


def test_pretrigger_keeps_pre_part_and_numbers_it_negative() -> None:
    """§4.7 PRETrigger: circular until the event, then post-trigger fill; negative numbers."""
    buf = TraceBuffer(TraceSettings(points=4, pretrigger_percent=50.0))
    buf.set_control("PRET")
    for k in range(6):
        buf.store(reading(float(k)))
    assert buf.pretrigger_event()
    for k in range(6, 10):
        buf.store(reading(float(k)))
    dumped = list(buf.dump())
    assert [d.number for d in dumped] == [-2, -1, 0, 1]
    assert [d.reading.time for d in dumped] == [4.0, 5.0, 6.0, 7.0]
    assert buf.full


def test_free_reports_bytes_free_and_used() -> None:
    """§4.7: TRAC:FREE? with 16 bytes per reading."""
    buf = buffer(10, "NEXT")
    buf.store(reading(0.0))
    assert buf.free_bytes() == (144, 16)


def test_stored_elements_are_those_present_in_every_entry() -> None:
    """§4.7: the mismatch check looks at what every stored reading carries."""
    buf = buffer(5, "NEXT")
    buf.settings.elements = ("TST", "VSO")
    buf.store(reading(0.0))
    buf.settings.elements = ("VSO",)
    buf.store(reading(1.0))
    assert buf.stored_elements() == {"VSO"}
