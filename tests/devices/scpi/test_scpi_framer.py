"""Framer: terminators, control bytes, length limit (spec §1.1-§1.3, §8.2, §8.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.scpi import DeviceClear, FlowControl, Framer, Message, Overrun


@pytest.mark.parametrize("terminator", [b"\r", b"\n", b"\r\n", b"\n\r"])
def test_every_input_terminator_ends_a_message(terminator: bytes) -> None:
    framer = Framer()
    assert framer.feed(b"*IDN?" + terminator + b"*STB?" + terminator) == [
        Message("*IDN?"),
        Message("*STB?"),
    ]


def test_empty_segments_produce_no_message() -> None:
    assert Framer().feed(b"\r\n\r\n\n\r") == []


def test_whitespace_only_message_is_passed_on_for_the_engine_to_ignore() -> None:
    assert Framer().feed(b"  \t\n") == [Message("  \t")]


def test_message_split_across_feeds_is_reassembled() -> None:
    framer = Framer()
    assert framer.feed(b":SYST:") == []
    assert framer.pending == 6
    assert framer.feed(b"ERR?\r") == [Message(":SYST:ERR?")]
    assert framer.pending == 0


def test_embedded_lf_makes_two_messages_in_order() -> None:
    data = b":sens:curr:rang:auto OFF;\n:sens:CURR:rang 2e-08;\r"
    assert Framer().feed(data) == [
        Message(":sens:curr:rang:auto OFF;"),
        Message(":sens:CURR:rang 2e-08;"),
    ]


@pytest.mark.parametrize("clear", [b"\x03", b"\x18"])
def test_device_clear_discards_the_partial_message(clear: bytes) -> None:
    framer = Framer()
    assert framer.feed(b"*ID" + clear + b"*STB?\n") == [DeviceClear(), Message("*STB?")]


def test_caret_c_text_is_not_a_device_clear() -> None:
    assert Framer().feed(b"^C\n") == [Message("^C")]


def test_xon_xoff_are_flow_control_when_enabled_and_removed_from_the_message() -> None:
    framer = Framer(xonxoff=True)
    assert framer.feed(b"*ID\x13N?\x11\n") == [
        FlowControl("xoff"),
        FlowControl("xon"),
        Message("*IDN?"),
    ]


def test_xon_xoff_are_ordinary_bytes_when_disabled() -> None:
    assert Framer().feed(b"*ID\x13N?\n") == [Message("*ID\x13N?")]


def test_non_ascii_bytes_reach_the_engine_unchanged() -> None:
    assert Framer().feed(b"*IDN?\xff\x00\n") == [Message("*IDN?\xff\x00")]


def test_message_of_exactly_the_limit_is_accepted() -> None:
    framer = Framer(max_message_length=8)
    assert framer.feed(b"12345678\n") == [Message("12345678")]


def test_overlong_message_gives_one_overrun_and_is_dropped_up_to_its_terminator() -> None:
    framer = Framer(max_message_length=8)
    events = framer.feed(b"123456789" + b"x" * 100 + b"\n*IDN?\n")
    assert events == [Overrun(), Message("*IDN?")]


def test_overrun_detected_across_many_small_feeds() -> None:
    framer = Framer(max_message_length=8)
    events = []
    for byte in b"0123456789abcdef\r*STB?\r":
        events += framer.feed(bytes([byte]))
    assert events == [Overrun(), Message("*STB?")]


def test_device_clear_inside_an_overlong_message_still_acts() -> None:
    framer = Framer(max_message_length=5)
    events = framer.feed(b"1234567\x03*IDN?\n")
    assert events == [Overrun(), DeviceClear(), Message("*IDN?")]


def test_default_limit_is_2048_characters() -> None:
    framer = Framer()
    assert framer.feed(b"a" * 2048 + b"\n") == [Message("a" * 2048)]
    assert framer.feed(b"a" * 2049 + b"\n") == [Overrun()]


def test_memory_stays_bounded_whatever_the_input() -> None:
    framer = Framer(max_message_length=64)
    for _ in range(100):
        framer.feed(b"z" * 10_000)
        assert framer.pending <= 64


def test_reset_forgets_the_partial_message() -> None:
    framer = Framer()
    framer.feed(b"*ID")
    framer.reset()
    assert framer.feed(b"*STB?\n") == [Message("*STB?")]


def test_invalid_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="max_message_length"):
        Framer(max_message_length=0)


CHUNKS = (b"*IDN?\n", b"*IDN?\n", b"*ID", b"N?\n", b"\n", b"\r\n", b"A\x03B\n", b"*IDN?\r",
          b":SENS:DATA?\n", b"\x11*IDN?\n")


@pytest.mark.parametrize("xonxoff", [False, True])
@pytest.mark.parametrize("terminator", [None, b"\n", b"\r\n"])
@given(chunks=st.lists(st.sampled_from(CHUNKS), max_size=30))
def test_repeated_chunks_frame_as_the_same_bytes_fed_one_by_one(
        chunks: list[bytes], xonxoff: bool, terminator: bytes | None) -> None:
    """A whole message fed again is remembered, never when a partial one is pending."""
    chunked = Framer(xonxoff=xonxoff, terminator=terminator)
    bytewise = Framer(xonxoff=xonxoff, terminator=terminator)
    events = [event for chunk in chunks for event in chunked.feed(chunk)]
    expected = [event for byte in b"".join(chunks) for event in bytewise.feed(bytes([byte]))]
    assert events == expected
