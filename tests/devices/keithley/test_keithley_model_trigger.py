"""Unit tests of the arm/trigger layer state machine (spec §4.6)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from devices.keithley.state import LayerSettings
from devices.keithley.trigger import TriggerModel


@dataclass
class FixedAction:
    """A device action whose readings take ``duration`` device seconds."""

    duration: float = 0.05
    begun: list[float] = field(default_factory=list)
    committed: list[float] = field(default_factory=list)
    discarded: int = 0

    def begin(self, start: float) -> float:
        self.begun.append(start)
        return start + self.duration

    def commit(self) -> None:
        self.committed.append(self.begun[-1] + self.duration)

    def discard(self) -> None:
        self.discarded += 1


@dataclass
class Rig:
    layers: list[LayerSettings]
    action: FixedAction
    continuous: bool = False

    def model(self) -> TriggerModel:
        return TriggerModel(lambda: self.layers, self.action, lambda: self.continuous)


def rig(*layers: LayerSettings, duration: float = 0.05) -> tuple[Rig, TriggerModel]:
    r = Rig(list(layers), FixedAction(duration))
    return r, r.model()


def test_immediate_finite_cycle_takes_count_readings_back_to_back() -> None:
    """§4.6: IMM layers pass at once; TRIG:COUN readings then idle."""
    r, tm = rig(LayerSettings(), LayerSettings(count=3))
    tm.start(1.0)
    assert tm.run_until_idle() == pytest.approx(1.15)
    assert r.action.committed == pytest.approx([1.05, 1.10, 1.15])
    assert not tm.running


def test_advance_commits_only_readings_completed_by_then() -> None:
    """§6.4: a reading is visible from its completion time on."""
    r, tm = rig(LayerSettings(count=10))
    tm.start(0.0)
    tm.advance(0.12)
    assert len(r.action.committed) == 2
    tm.advance(0.1500001)
    assert len(r.action.committed) == 3


def test_total_count_is_product_of_layer_counts() -> None:
    """§4.6: total readings per cycle = ARM:COUN * LAY2:COUN * TRIG:COUN."""
    r, tm = rig(LayerSettings(count=2), LayerSettings(count=3), LayerSettings(count=4))
    assert tm.total_count() == 24
    tm.start(0.0)
    tm.run_until_idle()
    assert len(r.action.committed) == 24


def test_timer_source_paces_readings_at_the_timer_interval() -> None:
    """§4.6: TIMer passes at layer start and then every interval."""
    r, tm = rig(LayerSettings(), LayerSettings(source="TIM", timer=0.2, count=3), duration=0.03)
    tm.start(0.0)
    tm.run_until_idle()
    assert r.action.begun == pytest.approx([0.0, 0.2, 0.4])


def test_timer_shorter_than_reading_gives_reading_period() -> None:
    """§4.6: effective period is max(timer, delay + reading time)."""
    r, tm = rig(LayerSettings(), LayerSettings(source="TIM", timer=0.01, count=3), duration=0.05)
    tm.start(0.0)
    tm.run_until_idle()
    assert r.action.begun == pytest.approx([0.0, 0.05, 0.10])


def test_trigger_delay_precedes_each_reading() -> None:
    """§4.6: each trigger-layer pass waits TRIG:DEL first."""
    r, tm = rig(LayerSettings(), LayerSettings(count=2, delay=0.5))
    tm.start(0.0)
    tm.run_until_idle()
    assert r.action.begun == pytest.approx([0.5, 1.05])


def test_bus_source_waits_for_bus_event() -> None:
    """§4.6: BUS waits for *TRG; the event releases one pass."""
    r, tm = rig(LayerSettings(), LayerSettings(source="BUS", count=2))
    tm.start(0.0)
    assert tm.run_until_idle() is None
    assert tm.waiting_source() == "BUS"
    assert tm.deliver("BUS", 3.0)
    tm.advance(10.0)
    assert r.action.committed == pytest.approx([3.05])
    assert tm.deliver("BUS", 11.0)
    tm.advance(20.0)
    assert not tm.running
    assert not tm.deliver("BUS", 21.0)


def test_event_of_wrong_kind_is_not_taken() -> None:
    """§4.6: MANual waits for a manual event, not for BUS."""
    _, tm = rig(LayerSettings(source="MAN"), LayerSettings())
    tm.start(0.0)
    assert not tm.deliver("BUS", 1.0)
    assert tm.deliver("MAN", 1.0)


def test_hold_never_passes() -> None:
    """§4.6: HOLD never passes."""
    r, tm = rig(LayerSettings(), LayerSettings(source="HOLD"))
    tm.start(0.0)
    tm.advance(1e6)
    assert r.action.begun == []
    assert tm.waiting_source() == "HOLD"


def test_release_lets_one_event_pass() -> None:
    """§4.6: :TRIG:IMM releases the layer's next event once."""
    r, tm = rig(LayerSettings(), LayerSettings(source="HOLD", count=2))
    tm.start(0.0)
    tm.release(1)
    tm.advance(5.0)
    assert len(r.action.committed) == 1
    assert tm.running


def test_continuous_restarts_after_each_cycle() -> None:
    """§4.1: INIT:CONT ON re-arms after each completed cycle."""
    r, tm = rig(LayerSettings(), LayerSettings(count=2))
    r.continuous = True
    tm.start(0.0)
    assert tm.run_until_idle() is None
    tm.advance(0.5)
    assert len(r.action.committed) == 10
    assert tm.running


def test_infinite_count_has_no_idle_time() -> None:
    """§4.1: an infinite total count never completes."""
    _, tm = rig(LayerSettings(), LayerSettings(count=math.inf))
    tm.start(0.0)
    assert tm.total_count() == math.inf
    assert tm.run_until_idle() is None


def test_abort_discards_reading_in_progress_and_goes_idle() -> None:
    """§4.1: :ABORt stops at once and discards a conversion in progress."""
    r, tm = rig(LayerSettings(), LayerSettings(count=5))
    tm.start(0.0)
    tm.advance(0.07)
    tm.abort(0.07)
    assert r.action.discarded == 1
    assert len(r.action.committed) == 1
    assert not tm.running


def test_abort_with_continuous_restarts() -> None:
    """§4.1: :ABORt with INIT:CONT ON restarts immediately."""
    r, tm = rig(LayerSettings(), LayerSettings())
    r.continuous = True
    tm.start(0.0)
    tm.abort(2.0)
    assert tm.running
    tm.advance(2.05)
    assert r.action.committed == pytest.approx([2.05])


def test_settings_change_takes_effect_at_next_pass() -> None:
    """§4.6: settings changed while running apply at the next pass."""
    r, tm = rig(LayerSettings(), LayerSettings(count=3))
    tm.start(0.0)
    tm.advance(0.06)
    r.layers[1].source = "BUS"
    tm.advance(5.0)
    assert len(r.action.committed) == 2
    assert tm.waiting_source() == "BUS"
