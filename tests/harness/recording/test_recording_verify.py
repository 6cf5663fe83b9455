"""Verify: a cassette's messages replayed to the emulator, replies diffed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.recording import Tolerances, read_cassette, verify
from harness.recording.compare import compare_reply

SESSIONS = Path(__file__).resolve().parents[3] / "fixtures" / "sessions"
FIXTURES = ["pymeasure_6517b.jsonl", "observatory_6517b.jsonl"]


def tamper(source: Path, target: Path, old: str, new: str, occurrence: int = 1) -> Path:
    """Copy ``source`` with the ``occurrence``-th tx event containing ``old`` edited."""
    lines = source.read_text().splitlines()
    seen = 0
    for number, line in enumerate(lines):
        event = json.loads(line)
        if event.get("dir") == "tx" and old in event["data"]:
            seen += 1
            if seen == occurrence:
                event["data"] = event["data"].replace(old, new)
                lines[number] = json.dumps(event)
                break
    else:
        raise AssertionError(f"no tx event with {old!r} in {source}")
    target.write_text("\n".join(lines) + "\n")
    return target


@pytest.mark.parametrize("name", FIXTURES)
def test_emulator_cassettes_verify_against_the_emulator(name: str) -> None:
    result = verify(SESSIONS / name, "keithley6517b")
    assert result.agree, result.format()
    assert result.exit_code == 0
    assert result.exchanges == len([e for e in read_cassette(SESSIONS / name).events
                                    if e.kind == "rx"])
    assert "agrees on all" in result.format()


def test_a_tampered_setting_reply_fails_with_a_readable_diff(tmp_path: Path) -> None:
    path = tamper(SESSIONS / "observatory_6517b.jsonl", tmp_path / "t.jsonl",
                  "1.666667E-03", "1.666667E-02")
    result = verify(path)
    assert not result.agree and result.exit_code == 1
    assert len(result.differences) == 1
    text = result.format()
    assert "differs on 1 of" in text
    assert "':sens:CURR:aper?;'" in text
    assert "- '1.666667E-02'    (recorded)" in text
    assert "+ '1.666667E-03'    (emulator)" in text


def test_a_tampered_measurement_fails_unless_within_tolerance(tmp_path: Path) -> None:
    path = tamper(SESSIONS / "pymeasure_6517b.jsonl", tmp_path / "m.jsonl",
                  "+001.0017E-12NADC", "+001.0117E-12NADC")
    strict = verify(path)
    assert not strict.agree
    assert "field 1" in strict.format() and "tolerance 0" in strict.format()
    assert verify(path, tolerances=Tolerances(value_rel=0.02)).agree


def test_a_changed_reading_format_fails_even_with_loose_tolerances(tmp_path: Path) -> None:
    path = tamper(SESSIONS / "pymeasure_6517b.jsonl", tmp_path / "f.jsonl",
                  "+001.0017E-12NADC", "+1.0017E-12NADC")
    loose = Tolerances.for_source("hardware")
    result = verify(path, tolerances=loose)
    assert not result.agree
    assert "number format differs" in result.format()


def test_a_missing_reply_is_reported(tmp_path: Path) -> None:
    source = (SESSIONS / "pymeasure_6517b.jsonl").read_text().splitlines()
    kept = [line for line in source if '"data":"65\\n"' not in line]
    assert len(kept) == len(source) - 1
    path = tmp_path / "missing.jsonl"
    path.write_text("\n".join(kept) + "\n")
    result = verify(path)
    assert "0 reply lines recorded, 1 from the emulator" in result.format()


@pytest.mark.parametrize(
    ("request_text", "recorded", "emulated", "tolerances", "agrees"),
    [
        (":READ?", "+001.0012E-12NADC,+0000012.345678secs,+00042RDNG#",
         "+001.0012E-12NADC,+0000013.345678secs,+00042RDNG#", Tolerances(timestamp_abs=2), True),
        (":READ?", "+001.0012E-12NADC,+0000012.345678secs,+00042RDNG#",
         "+001.0012E-12NADC,+0000013.345678secs,+00042RDNG#", Tolerances(), False),
        (":READ?", "+001.0012E-12NADC", "+001.0012E-12ZADC",
         Tolerances(value_abs=math.inf), False),
        (":READ?", "+001.0012E-12NADC,+00042RDNG#", "+001.0012E-12NADC,+00043RDNG#",
         Tolerances(reading_number_abs=1), True),
        (":SENS:CURR:RANG?", "2.100000E-09", "2.100000E-08", Tolerances.for_source("hardware"),
         False),
        (":SYST:TIME?", "09:00:20.00", "10:11:12.13", Tolerances(timestamp_abs=1), True),
        (":TRAC:DATA?", "+1.0E-12,+2.0E-12", "+1.0E-12", Tolerances.for_source("hardware"),
         False),
    ],
)
def test_reply_comparison(request_text: str, recorded: str, emulated: str,
                          tolerances: Tolerances, agrees: bool) -> None:
    reason = compare_reply(request_text, recorded, emulated, tolerances)
    assert (reason is None) is agrees, reason
