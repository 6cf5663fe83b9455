"""Property tests: no input makes the engine raise, and it keeps answering."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.scpi import (
    DeviceClear,
    ErrorQueue,
    Framer,
    Message,
    Overrun,
    Reply,
    format_nr3,
)

IDN = "ACME INSTRUMENTS,MODEL 1,123,A01 "
SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

WORDS = ["*IDN?", "*RST", "*CLS", "*ESE", "*ESR?", "*SRE", "*STB?", "*OPC", "*OPC?", "*WAI",
         "*TRG", "*TST?", "*SAV", "*RCL", "*OPT?", ":SYST:ERR?", "SYST:CLE", ":STAT:PRES",
         ":STAT:QUE:ENAB", ":STAT:MEAS:ENAB", ":STAT:OPER?", ":CURR:NPLC", "NPLC?", "RANG",
         ":SENS:CURR:RANG:AUTO", ":FUNC", ":TRIG:SOUR", ":TRIG:COUN", ":FORM:ELEM", ":CALC2:FORM",
         ":ROUT:CLOS", ":SYST:TIME", ":SOUR:VOLT", ":READ?", ":FETC?", ":INIT", ":TEST:FAIL",
         "SENS", "CURR", "?", ":", ";", ",", " ", "'", '"', "(", ")", "@", "1", "-2.5e-3", "1e999",
         "MIN", "MAX", "DEF", "ON", "OFF", "ONCE", "UP", "INF", "IMM", "BUS", "READ", "TST",
         "#H1F", "\t", "\x00", "\x7f", "\xe9"]

message_texts = st.lists(st.sampled_from(WORDS), max_size=12).map("".join)


def drive(probe: Any, framer: Framer, data: bytes, now: float) -> list[Reply]:
    """What a transport does with bytes: frame them and hand the events to the model."""
    replies: list[Reply] = []
    for event in framer.feed(data):
        if isinstance(event, Message):
            replies += probe.receive(event.text, now)
        elif isinstance(event, DeviceClear):
            replies += probe.device_clear(now)
        elif isinstance(event, Overrun):
            probe.input_overrun(now)
    replies += probe.poll(now)
    return replies


def assert_well_formed(replies: list[Reply], now: float) -> None:
    times = [reply.ready_at for reply in replies]
    assert times == sorted(times)
    for reply in replies:
        assert reply.ready_at >= now
        assert reply.text.isascii()
        assert "\n" not in reply.text and "\r" not in reply.text


@SETTINGS
@given(chunks=st.lists(st.binary(max_size=300), max_size=8))
def test_random_bytes_never_raise_and_idn_still_answers(make_probe: Any,
                                                        chunks: list[bytes]) -> None:
    probe = make_probe()
    framer = Framer(max_message_length=128)
    now = 0.0
    for chunk in chunks:
        now += 0.01
        replies = drive(probe, framer, chunk, now)
        assert_well_formed(replies, now)
        assert framer.pending <= 128
    replies = drive(probe, framer, b"\x03*IDN?\n", now + 1.0)
    assert replies[-1].text == IDN


@SETTINGS
@given(messages=st.lists(message_texts, max_size=10))
def test_random_messages_never_raise_and_idn_still_answers(make_probe: Any,
                                                           messages: list[str]) -> None:
    probe = make_probe()
    now = 0.0
    for message in messages:
        now += 0.01
        replies = probe.receive(message, now)
        assert len(replies) <= 1
        assert_well_formed(replies, now)
        assert len(probe.engine.status.error_queue) <= 10
    probe.device_clear(now)
    assert probe.receive("*IDN?", now + 1.0)[0].text == IDN


@SETTINGS
@given(messages=st.lists(message_texts, max_size=10))
def test_lenient_mode_never_raises_either(make_probe: Any, messages: list[str]) -> None:
    probe = make_probe(lenient=True, numeric_up_down="accept", execution_errors_abort=False)
    for message in messages:
        assert_well_formed(probe.receive(message, 1.0), 1.0)


@settings(max_examples=200, deadline=None)
@given(value=st.floats(allow_nan=False, allow_infinity=False))
def test_nr3_reply_reads_back_as_the_same_value(value: float) -> None:
    assert float(format_nr3(value)) == value


@settings(max_examples=200, deadline=None)
@given(codes=st.lists(st.integers(-499, 999).filter(lambda code: code != 0), max_size=40),
       depth=st.integers(1, 12))
def test_error_queue_never_exceeds_its_depth(codes: list[int], depth: int) -> None:
    queue = ErrorQueue(depth)
    for code in codes:
        queue.push(code)
        assert len(queue) <= depth
    entries = queue.peek_all()
    if len(codes) > depth:
        assert entries[-1][0] == -350
        assert [code for code, _ in entries[:-1]] == codes[: depth - 1]
    else:
        assert [code for code, _ in entries] == codes


framer_bytes = st.lists(
    st.sampled_from([b"*IDN?", b"a", b" ", b"\r", b"\n", b"\x03", b"\x18", b"\x11", b"\x13",
                     b"\xff", b"x" * 20]),
    max_size=30,
).map(b"".join)


@settings(max_examples=200, deadline=None)
@given(data=framer_bytes, xonxoff=st.booleans(), split=st.integers(0, 200))
def test_framing_does_not_depend_on_how_bytes_are_chunked(data: bytes, xonxoff: bool,
                                                          split: int) -> None:
    whole = Framer(max_message_length=32, xonxoff=xonxoff).feed(data)
    bytewise = Framer(max_message_length=32, xonxoff=xonxoff)
    one_by_one = [event for byte in data for event in bytewise.feed(bytes([byte]))]
    halves = Framer(max_message_length=32, xonxoff=xonxoff)
    in_two = halves.feed(data[:split]) + halves.feed(data[split:])
    assert whole == one_by_one == in_two
