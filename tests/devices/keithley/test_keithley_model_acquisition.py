"""Acquisitions, timing and waiting units (spec §4.1, §4.6, §6, §7.6, §8.3)."""

from __future__ import annotations

import itertools

import pytest
from model_helpers import errors, lines

from devices.keithley import Keithley6514, Keithley6517B, MockKeithley
from devices.keithley.config import SerialSettings

T_CONV_1PLC_60HZ = 3.07 / 60 + 0.00254


def volt_2v(device: MockKeithley, now: float = 0.0) -> None:
    """A fixed 2 V range with filters off: readings take exactly one conversion."""
    lines(device, "*RST", ":SYST:ZCH OFF", ":SENS:FUNC 'VOLT'", ":SENS:VOLT:RANG 2",
          ":SENS:VOLT:MED OFF", now=now)


def test_read_reply_is_ready_after_the_acquisition() -> None:
    """§6.4: READ? ready = execution start + the whole acquisition."""
    k = Keithley6517B(speed=1.0)
    volt_2v(k)
    lines(k, ":TRIG:COUN 10", "READ?", now=10.0)  # settle the range first
    (reply,) = k.receive(":READ?", 20.0)
    assert len(reply.text.split(",")) == 30
    assert reply.ready_at == pytest.approx(20.0 + 10 * T_CONV_1PLC_60HZ, abs=1e-6)


def test_speed_scales_host_delays() -> None:
    """§6.1: speed 10 makes the same acquisition ten times shorter on the host."""
    k = Keithley6517B(speed=10.0)
    volt_2v(k)
    lines(k, ":TRIG:COUN 10", "READ?", now=1.0)
    (reply,) = k.receive(":READ?", 5.0)
    assert reply.ready_at == pytest.approx(5.0 + 10 * T_CONV_1PLC_60HZ / 10, abs=1e-6)


def test_speed_zero_replies_at_once_with_realistic_timestamps() -> None:
    """§6.1 speed 0: reply ready at the host instant; timestamps spaced by reading time."""
    k = Keithley6517B(speed=0)
    volt_2v(k)
    lines(k, ":FORM:ELEM READ,TST", ":TRIG:COUN 3", "READ?")
    (reply,) = k.receive(":READ?", 7.0)
    assert reply.ready_at == 7.0
    stamps = [float(item) for item in reply.text.split(",")[1::2]]
    assert stamps[1] - stamps[0] == pytest.approx(T_CONV_1PLC_60HZ, abs=1e-6)


def test_messages_queue_behind_a_long_read() -> None:
    """§6.1: a message starts at max(arrival, end of the previous one)."""
    k = Keithley6517B(speed=1.0)
    volt_2v(k)
    lines(k, ":TRIG:COUN 100", "READ?", now=1.0)
    (read,) = k.receive(":READ?", 100.0)
    (idn,) = k.receive("*IDN?", 100.01)
    assert idn.ready_at > read.ready_at


def test_read_with_bus_source_is_trigger_deadlock() -> None:
    """§4.1/F20: READ? with a BUS layer → -214 and no reply."""
    k = Keithley6517B(speed=0)
    lines(k, "*RST", ":TRIG:SOUR BUS")
    assert lines(k, ":READ?;*IDN?") == []
    assert errors(k) == ['-214,"Trigger deadlock"']


def test_read_with_infinite_count_is_trigger_deadlock() -> None:
    """§4.1/F20: infinite total count → -214."""
    k = Keithley6517B(speed=0)
    lines(k, "*RST", ":TRIG:COUN INF")
    assert lines(k, ":TRIG:COUN?") == ["9.9E37"]
    assert lines(k, ":READ?") == []
    assert errors(k) == ['-214,"Trigger deadlock"']


def test_read_with_continuous_is_init_ignored() -> None:
    """§4.1/F20: READ? with INIT:CONT ON → -213."""
    k = Keithley6517B(speed=0)
    lines(k, "*RST", ":INIT:CONT ON")
    assert lines(k, ":READ?") == []
    assert errors(k) == ['-213,"Init ignored"']


def test_initiate_while_running_is_init_ignored() -> None:
    """§4.1: :INIT while not idle → -213."""
    k = Keithley6517B(speed=0)
    lines(k, "*RST", ":TRIG:SOUR BUS", ":INIT", ":INIT")
    assert errors(k) == ['-213,"Init ignored"']


def test_fetch_without_reading_is_data_stale() -> None:
    """§4.1: FETCh? with no reading since *RST → -230, no reply."""
    k = Keithley6517B(speed=0)
    lines(k, "*RST")
    assert lines(k, ":FETC?") == []
    assert errors(k) == ['-230,"Data corrupt or stale"']


def test_latest_before_any_reading_is_overflow_value() -> None:
    """§4.1/F21: DATA:LAT? before any reading → +9.9E37 with status O."""
    k = Keithley6517B(speed=0)
    lines(k, "*RST", ":FORM:ELEM READ,STAT")
    assert lines(k, ":DATA?") == ["+9.9E37O"]


def test_fresh_while_idle_is_data_stale() -> None:
    """§4.1/F21: DATA:FRES? with nothing pending and idle → -230."""
    k = Keithley6517B(speed=0)
    lines(k, "*RST")
    assert lines(k, ":SENS:DATA:FRES?") == []
    assert errors(k) == ['-230,"Data corrupt or stale"']


def test_fresh_returns_each_reading_once() -> None:
    """§4.1: DATA:FRES? returns a reading not yet returned, then waits for the next."""
    k = Keithley6517B(speed=1.0)
    volt_2v(k)
    lines(k, ":FORM:ELEM RNUM", ":INIT:CONT ON", now=1.0)
    first = lines(k, ":SENS:DATA:FRES?", now=2.0)
    second = lines(k, ":SENS:DATA:FRES?", now=2.0)
    assert int(second[0]) == int(first[0]) + 1


def test_manual_trigger_releases_waiting_read_through_poll() -> None:
    """§7.6: READ? with a MANual arm layer waits; inject_trigger + poll releases it."""
    k = Keithley6517B(speed=0)
    lines(k, "*RST", ":SYST:ZCH OFF", ":ARM:SOUR MAN", ":FORM:ELEM READ")
    assert lines(k, ":READ?") == []
    assert lines(k, "*IDN?") == []  # queued behind the waiting unit
    assert k.next_wakeup() is None
    assert k.inject_trigger("MAN", now=5.0)
    replies = [reply.text for reply in k.poll(5.0)]
    assert len(replies) == 2
    assert float(replies[0]) == pytest.approx(1e-3, rel=0.1)
    assert replies[1].startswith("KEITHLEY")


def test_opc_query_blocks_forever_with_continuous_until_device_clear() -> None:
    """§2.3/§8.3: *OPC? with INIT:CONT ON never answers; device clear sends DCL."""
    k = Keithley6517B(speed=0)
    lines(k, "*RST", ":INIT:CONT ON")
    assert lines(k, "*OPC?") == []
    assert lines(k, "*RST", "*IDN?") == []
    assert [reply.text for reply in k.device_clear(1.0)] == ["DCL"]
    assert lines(k, ":INIT:CONT?", now=2.0) == ["1"]
    assert lines(k, "*IDN?", now=2.0)[0].startswith("KEITHLEY")


def test_opc_query_waits_for_a_finite_acquisition() -> None:
    """§2.3: *OPC? answers 1 once the trigger model is idle."""
    k = Keithley6517B(speed=1.0)
    volt_2v(k)
    lines(k, ":TRIG:COUN 20", "READ?", now=1.0)
    k.receive(":INIT", 10.0)
    (reply,) = k.receive("*OPC?", 10.0)
    assert reply.text == "1"
    assert reply.ready_at == pytest.approx(10.0 + 20 * T_CONV_1PLC_60HZ, abs=1e-6)


def test_opc_sets_esr_bit_when_idle() -> None:
    """§2.3: *OPC sets ESR bit 0 at the device time the trigger model becomes idle."""
    k = Keithley6517B(speed=1.0)
    volt_2v(k)
    lines(k, "*CLS", ":TRIG:COUN 100", now=1.0)
    lines(k, ":INIT;*OPC", now=2.0)
    assert lines(k, "*ESR?", now=3.0) == ["0"]
    assert lines(k, "*ESR?", now=20.0) == ["1"]


def test_abort_stops_and_keeps_buffer() -> None:
    """§4.1: :ABORt stops at once; buffer contents kept."""
    k = Keithley6517B(speed=1.0)
    volt_2v(k)
    lines(k, ":TRIG:COUN 100", ":TRAC:FEED:CONT NEXT", ":INIT", now=1.0)
    lines(k, ":ABOR", now=2.0)
    count = lines(k, ":TRAC:POIN:ACT?", now=2.0)
    assert 10 < int(count[0]) < 30
    assert lines(k, ":TRAC:POIN:ACT?", now=10.0) == count


def test_timer_source_paces_buffer_fill() -> None:
    """§4.6: TIMer trigger source stores one reading per interval."""
    k = Keithley6517B(speed=1.0)
    volt_2v(k)
    lines(k, ":TRIG:SOUR TIM", ":TRIG:TIM 1", ":TRIG:COUN 10", ":TRAC:FEED:CONT NEXT",
          ":INIT", now=0.0)
    assert lines(k, ":TRAC:POIN:ACT?", now=4.5) == ["5"]


def test_infinite_acquisition_at_speed_zero_advances_one_reading_per_message() -> None:
    """§6.1: speed 0 infinite acquisition: one reading per received message."""
    k = Keithley6517B(speed=0)
    volt_2v(k)
    lines(k, ":TRIG:COUN INF", ":TRAC:POIN 50000", ":TRAC:FEED:CONT NEXT", ":INIT")
    counts = [int(lines(k, ":TRAC:POIN:ACT?")[0]) for _ in range(4)]
    assert [b - a for a, b in itertools.pairwise(counts)] == [1, 1, 1]


def test_star_trg_with_nothing_waiting_silent_with_f10() -> None:
    """F10 = silent: *TRG with nothing waiting queues nothing."""
    k = MockKeithley("6517B", speed=0, fidelity={"F10": "silent"})
    lines(k, "*TRG")
    assert errors(k) == []


def test_6514_auto_trigger_delay_inserts_settling() -> None:
    """§6.3: 6514 TRIG:DEL:AUTO ON inserts the range's settling delay before each reading."""
    k = Keithley6514(speed=0)
    lines(k, "*RST", "SYST:ZCH OFF", "VOLT:RANG 2", "FORM:ELEM TIME", "TRIG:COUN 2",
          "TRIG:DEL:AUTO ON")
    (reply,) = lines(k, "READ?")
    stamps = [float(item) for item in reply.split(",")]
    assert stamps[1] - stamps[0] == pytest.approx(T_CONV_1PLC_60HZ + 5e-3, abs=1e-5)


IDN_6517B = "KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x "


def test_line_rate_adds_the_transmission_time_of_each_reply() -> None:
    """§6.4 simulate_line_rate: ready once the reply and its terminator crossed the line."""
    k = Keithley6517B(speed=1.0, simulate_line_rate=True, output_terminator="CRLF",
                      serial=SerialSettings(baud=9600))
    (reply,) = k.receive("*IDN?", 5.0)
    assert reply.text == IDN_6517B
    assert reply.ready_at == pytest.approx(5.0 + 0.001 + (len(IDN_6517B) + 2) * 10 / 9600)


def test_line_rate_sends_replies_one_after_another() -> None:
    """§6.4: a reply ready while the previous one is still on the line waits for it."""
    k = Keithley6517B(speed=1.0, simulate_line_rate=True, serial=SerialSettings(baud=1200))
    first, second = (k.receive("*IDN?", 0.0)[0], k.receive("*TST?", 0.0)[0])
    assert second.ready_at == pytest.approx(first.ready_at + len("0\n") * 10 / 1200)
    assert first.ready_at == pytest.approx(0.001 + len(IDN_6517B + "\n") * 10 / 1200)


def test_line_rate_follows_the_serial_settings_and_speed() -> None:
    """§6.4, §6.1: 7 data bits + parity = 10 bits per character; speed 4 divides the time."""
    serial = SerialSettings(baud=57600, data_bits=7, parity="even")
    k = Keithley6517B(speed=4.0, simulate_line_rate=True, serial=serial)
    (reply,) = k.receive("*TST?", 0.0)
    assert reply.ready_at == pytest.approx((0.001 + 2 * 10 / 57600) / 4)


def test_line_rate_is_off_by_default_and_ignored_at_speed_zero() -> None:
    """§6.4 default off; §6.1 speed 0: replies are ready at the host instant."""
    assert Keithley6517B(speed=1.0).receive("*TST?", 1.0)[0].ready_at == pytest.approx(1.001)
    k = Keithley6517B(speed=0, simulate_line_rate=True, serial=SerialSettings(baud=300))
    assert k.receive("*IDN?", 1.0)[0].ready_at == 1.0


def test_device_clear_frees_the_line_and_its_reply_takes_line_time() -> None:
    """§8.3: undelivered replies are dropped; ``DCL`` plus terminator crosses the line."""
    k = Keithley6517B(speed=1.0, simulate_line_rate=True, serial=SerialSettings(baud=300))
    k.receive("*IDN?", 0.0)  # about 1.9 s on the line at 300 baud
    (dcl,) = k.device_clear(0.5)
    assert dcl.text == "DCL"
    assert dcl.ready_at == pytest.approx(0.5 + 4 * 10 / 300)
