"""``Framer(terminator=...)``: only the configured terminator ends a message (F1 ``configured``)."""

from __future__ import annotations

import pytest

from devices.scpi import DeviceClear, FlowControl, Framer, Message, Overrun
from devices.scpi.framer import TERMINATORS

OTHER_BREAKS = {b"\r": b"\n", b"\n": b"\r", b"\r\n": b"\n\r", b"\n\r": b"\r\n"}


@pytest.mark.parametrize("terminator", TERMINATORS)
def test_only_the_configured_terminator_ends_a_message(terminator: bytes) -> None:
    framer = Framer(terminator=terminator)
    other = OTHER_BREAKS[terminator]
    text = f"*IDN?{other.decode()}*OPT?"
    assert framer.feed(b"*IDN?" + other + b"*OPT?" + terminator) == [Message(text)]


@pytest.mark.parametrize("terminator", TERMINATORS)
def test_a_lone_cr_and_a_lone_lf_that_are_not_the_terminator_stay_in_the_message(
        terminator: bytes) -> None:
    framer = Framer(terminator=terminator)
    events = framer.feed(b"A\rB" + terminator) + framer.feed(b"C\nD" + terminator)
    texts = [event.text for event in events if isinstance(event, Message)]
    if terminator == b"\r":
        assert texts == ["A", "B", "C\nD"]
    elif terminator == b"\n":
        assert texts == ["A\rB", "C", "D"]
    else:
        assert texts == ["A\rB", "C\nD"]


@pytest.mark.parametrize("terminator", [b"\r\n", b"\n\r"])
def test_a_two_byte_terminator_split_between_reads(terminator: bytes) -> None:
    framer = Framer(terminator=terminator)
    assert framer.feed(b"*IDN?" + terminator[:1]) == []
    assert framer.pending == 6
    assert framer.feed(terminator[1:] + b"*OPT?" + terminator[:1]) == [Message("*IDN?")]
    assert framer.feed(terminator[1:]) == [Message("*OPT?")]
    assert framer.pending == 0


@pytest.mark.parametrize("terminator", TERMINATORS)
def test_several_messages_in_one_read_and_byte_by_byte(terminator: bytes) -> None:
    stream = b"A" + terminator + b"BB" + terminator + terminator + b"C" + terminator
    whole = Framer(terminator=terminator).feed(stream)
    framer = Framer(terminator=terminator)
    one_by_one = [event for k in range(len(stream)) for event in framer.feed(stream[k:k + 1])]
    assert whole == one_by_one == [Message("A"), Message("BB"), Message("C")]


@pytest.mark.parametrize("terminator", TERMINATORS)
def test_length_limit_counts_the_message_without_its_terminator(terminator: bytes) -> None:
    framer = Framer(8, terminator=terminator)
    assert framer.feed(b"12345678" + terminator) == [Message("12345678")]
    assert framer.feed(b"123456789" + terminator + b"OK" + terminator) == [
        Overrun(), Message("OK")]
    # Arriving piece by piece, the overlong message is dropped up to its terminator.
    assert framer.feed(b"12345") + framer.feed(b"6789ABC") + framer.feed(terminator[:1]) == [
        Overrun()]
    assert framer.feed(terminator[1:] + b"OK" + terminator) == [Message("OK")]


@pytest.mark.parametrize("terminator", [b"\r\n", b"\n\r"])
def test_a_full_message_ending_in_the_terminator_s_first_byte_is_not_overlong(
        terminator: bytes) -> None:
    framer = Framer(4, terminator=terminator)
    assert framer.feed(b"ABCD" + terminator[:1]) == []
    assert framer.feed(terminator[1:]) == [Message("ABCD")]
    assert framer.feed(b"ABCD" + terminator[:1] + b"E" + terminator) == [Overrun()]


@pytest.mark.parametrize("terminator", TERMINATORS)
def test_device_clear_and_flow_control_still_act(terminator: bytes) -> None:
    framer = Framer(xonxoff=True, terminator=terminator)
    assert framer.feed(b"*ID\x13N?\x03*OPT?\x11" + terminator) == [
        FlowControl("xoff"), DeviceClear(), FlowControl("xon"), Message("*OPT?")]


def test_flow_control_byte_inside_a_two_byte_terminator_does_not_break_it() -> None:
    framer = Framer(xonxoff=True, terminator=b"\r\n")
    assert framer.feed(b"*OPT?\r\x11\n") == [FlowControl("xon"), Message("*OPT?")]


def test_default_still_ends_messages_on_cr_and_on_lf() -> None:
    framer = Framer()
    assert framer.feed(b"A\rB\nC\r\nD\n\r") == [
        Message("A"), Message("B"), Message("C"), Message("D")]


def test_an_unknown_terminator_is_refused() -> None:
    with pytest.raises(ValueError, match="not an input terminator"):
        Framer(terminator=b";")
