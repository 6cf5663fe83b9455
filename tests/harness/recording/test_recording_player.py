"""The cassette player as a sans-IO device: strict, lenient, repeats, fallback, timing."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from devices.keithley import Keithley6517B
from devices.scpi import Reply
from harness.recording import (
    CassetteNotFound,
    CassettePlayer,
    CassetteUnfinished,
    CassetteWriter,
    ReplayLeftovers,
    ReplayMismatch,
    ReplayOptions,
    ReplayUnmatched,
)
from harness.recording.exchanges import build_session
from harness.recording.reader import read_cassette

WriteCassette = Callable[..., Path]

SESSION = [
    ("*IDN?", ["KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x "]),
    (":SENS:FUNC 'CURR'", []),
    (":SENS:CURR:RANG 2e-09", []),
    (":SENS:CURR:RANG?", ["2.100000E-09"]),
    ("SYST:ERR?", ['0,"No error"']),
]


def texts(replies: Iterable[Reply]) -> list[str]:
    return [reply.text for reply in replies]


def play_all(player: CassettePlayer, messages: list[str], now: float = 0.0) -> list[str]:
    out: list[str] = []
    for message in messages:
        out += texts(player.receive(message, now))
    return out


def test_strict_replay_answers_the_recorded_replies(write_cassette: WriteCassette) -> None:
    player = CassettePlayer(write_cassette(SESSION))
    replies = play_all(player, [message for message, _ in SESSION])
    assert replies == [reply for _, recorded in SESSION for reply in recorded]
    player.check()
    assert player.plays == len(SESSION)


def test_normalised_spellings_are_accepted_in_strict_mode(write_cassette: WriteCassette) -> None:
    player = CassettePlayer(write_cassette(SESSION))
    replies = play_all(player, ["*idn?", ":sens:func 'CURR';", ":SENSe:CURRent:RANGe 2E-9",
                                ":sens:curr:rang?", "syst:err?"])
    assert replies[-1] == '0,"No error"'
    player.check()


def test_strict_mismatch_sends_nothing_and_names_index_expected_actual_and_candidates(
        write_cassette: WriteCassette) -> None:
    path = write_cassette(SESSION)
    player = CassettePlayer(path)
    play_all(player, ["*IDN?", ":SENS:FUNC 'CURR'"])
    assert player.receive(":SENS:CURR:RANG?", 1.0) == []
    with pytest.raises(ReplayMismatch) as raised:
        player.check()
    error = raised.value
    assert error.index == 2 and error.expected == ":SENS:CURR:RANG 2e-09"
    assert error.actual == ":SENS:CURR:RANG?"
    message = str(error)
    assert str(path) in message and "exchange 2 (line 6)" in message
    assert "expected ':SENS:CURR:RANG 2e-09', got ':SENS:CURR:RANG?'" in message
    assert "exchange 3 ':SENS:CURR:RANG?'" in message  # the nearest candidate


def test_after_a_mismatch_the_expected_exchange_stays_next(write_cassette: WriteCassette) -> None:
    player = CassettePlayer(write_cassette(SESSION))
    play_all(player, ["*IDN?", ":SENS:FUNC 'VOLT'", ":SENS:FUNC 'CURR'",
                      ":SENS:CURR:RANG 2e-09"])
    assert texts(player.receive(":SENS:CURR:RANG?", 0.0)) == ["2.100000E-09"]
    assert len(player.failures) == 1


def test_a_message_after_the_last_exchange_is_a_mismatch(write_cassette: WriteCassette) -> None:
    player = CassettePlayer(write_cassette(SESSION[:1]))
    play_all(player, ["*IDN?", "*IDN?"])
    with pytest.raises(ReplayMismatch, match="no exchange left: expected nothing more"):
        player.check()


def test_leftover_exchanges_fail_the_check(write_cassette: WriteCassette) -> None:
    player = CassettePlayer(write_cassette(SESSION))
    play_all(player, ["*IDN?", ":SENS:FUNC 'CURR'"])
    with pytest.raises(ReplayLeftovers) as raised:
        player.check()
    assert "3 of 5 recorded exchanges were never played" in str(raised.value)
    assert "exchange 2 ':SENS:CURR:RANG 2e-09' (line 6)" in str(raised.value)
    player.check(complete=False)  # no failure apart from the leftovers


def test_lenient_replay_plays_the_first_unplayed_match_in_any_order(
        write_cassette: WriteCassette) -> None:
    session = [("*STB?", ["0"]), ("*STB?", ["65"]), (":TRAC:POIN?", ["3"])]
    player = CassettePlayer(write_cassette(session), ReplayOptions(strict=False))
    assert play_all(player, [":TRAC:POIN?", "*STB?", "*STB?"]) == ["3", "0", "65"]
    player.check()


def test_lenient_unmatched_message_is_a_failure_with_candidates(
        write_cassette: WriteCassette) -> None:
    player = CassettePlayer(write_cassette(SESSION), ReplayOptions(strict=False))
    assert player.receive(":SENS:CURR:RANG 2e-08", 0.0) == []
    with pytest.raises(ReplayUnmatched) as raised:
        player.check(complete=False)
    assert "':SENS:CURR:RANG 2e-09'" in str(raised.value)


def test_repeats_let_a_polling_loop_run_longer_than_recorded(
        write_cassette: WriteCassette) -> None:
    session = [(":INIT", []), ("*STB?", ["65"]), (":TRAC:DATA?", ["1,2,3"])]
    strict = CassettePlayer(write_cassette(session), ReplayOptions(repeats=True))
    assert play_all(strict, [":INIT", "*STB?", "*STB?", "*STB?", ":TRAC:DATA?"]) == [
        "65", "65", "65", "1,2,3"]
    strict.check()
    lenient = CassettePlayer(write_cassette(session),
                             ReplayOptions(strict=False, repeats=True))
    assert play_all(lenient, ["*STB?", ":INIT", "*STB?", ":TRAC:DATA?"]) == [
        "65", "65", "1,2,3"]
    lenient.check()


def test_without_repeats_a_repeated_poll_is_a_failure(write_cassette: WriteCassette) -> None:
    player = CassettePlayer(write_cassette([("*STB?", ["65"])]))
    play_all(player, ["*STB?", "*STB?"])
    with pytest.raises(ReplayMismatch):
        player.check()


def test_lenient_fallback_answers_what_the_cassette_lacks(write_cassette: WriteCassette) -> None:
    emulator = Keithley6517B(speed=0)
    player = CassettePlayer(write_cassette(SESSION),
                            ReplayOptions(strict=False, fallback=emulator))
    play_all(player, ["*IDN?", ":SENS:FUNC 'CURR'", ":SENS:CURR:RANG 2e-09"])
    # Not in the cassette: the emulator answers, and it saw the range being set.
    assert play_all(player, [":SENS:CURR:RANG:AUTO?", ":SENS:CURR:RANG?"]) == [
        "0", "2.100000E-09"]
    assert player.failures == []


def test_a_fallback_needs_lenient_replay() -> None:
    with pytest.raises(ValueError, match="lenient"):
        ReplayOptions(fallback=Keithley6517B(speed=0))


def test_device_clear_is_played_in_its_place(tmp_path: Path,
                                             write_cassette: WriteCassette) -> None:
    path = tmp_path / "dcl.jsonl"
    source = read_cassette(write_cassette(SESSION[:1]))
    with CassetteWriter(path, source.header) as cassette:
        cassette.rx(b":READ?\n")
        cassette.rx(b"\x03")
        cassette.tx(b"DCL\n")
        cassette.rx(b"*IDN?\n")
        cassette.tx(b"X\n")
    player = CassettePlayer(path)
    assert player.receive(":READ?", 0.0) == []
    assert texts(player.device_clear(0.0)) == ["DCL"]
    assert texts(player.receive("*IDN?", 0.0)) == ["X"]
    player.check()


def test_replies_are_instant_by_default_and_recorded_gaps_over_speed_on_request(
        write_cassette: WriteCassette) -> None:
    path = write_cassette([("*IDN?", ["A"]), ("*STB?", ["0"])], gap=0.5)
    instant = CassettePlayer(path)
    assert [r.ready_at for r in instant.receive("*IDN?", 10.0)] == [10.0]
    paced = CassettePlayer(path, ReplayOptions(speed=2.0))
    # The reply was recorded 0.5 s after its message: 0.25 s at speed 2.
    assert [r.ready_at for r in paced.receive("*IDN?", 10.0)] == [pytest.approx(10.25)]
    assert [r.ready_at for r in paced.receive("*STB?", 10.0)] == [pytest.approx(10.25)]


def test_a_missing_cassette_is_its_own_error(tmp_path: Path) -> None:
    with pytest.raises(CassetteNotFound, match=r"nothing\.jsonl"):
        CassettePlayer(tmp_path / "nothing.jsonl")


def test_an_unfinished_cassette_is_refused_unless_allowed(tmp_path: Path,
                                                          write_cassette: WriteCassette) -> None:
    header = read_cassette(write_cassette(SESSION[:1])).header
    cassette = CassetteWriter(tmp_path / "cut.jsonl", header)
    cassette.rx(b"*IDN?\n")
    cassette.tx(b"X\n")
    with pytest.raises(CassetteUnfinished, match="allow_unfinished=True"):
        CassettePlayer(cassette.temporary_path)
    player = CassettePlayer(cassette.temporary_path, ReplayOptions(allow_unfinished=True))
    assert texts(player.receive("*IDN?", 0.0)) == ["X"]
    cassette.abandon()


def test_exchanges_join_split_chunks_and_skip_empty_messages(tmp_path: Path,
                                                             write_cassette: WriteCassette) -> None:
    header = read_cassette(write_cassette(SESSION[:1])).header
    path = tmp_path / "chunks.jsonl"
    with CassetteWriter(path, header) as cassette:
        cassette.rx(b"*ID")
        cassette.rx(b"N?\r")
        cassette.rx(b"\n")
        cassette.tx(b"KEITH")
        cassette.tx(b"LEY\n")
        cassette.rx(b"*RST")  # never terminated: never reached the device
    exchanges = build_session(read_cassette(path)).exchanges
    assert [(e.request, [r.text for r in e.replies]) for e in exchanges] == [
        ("*IDN?", ["KEITHLEY"])]
