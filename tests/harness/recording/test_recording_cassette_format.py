"""The cassette file: what the writer produces and what the reader accepts or rejects."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from harness.recording import (
    CassetteExists,
    CassetteFormatError,
    CassetteHeader,
    CassetteNotFound,
    CassetteVersionError,
    CassetteWriter,
    DeviceInfo,
    read_cassette,
)

IDN = "KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x "


def header(**changes: object) -> CassetteHeader:
    fields: dict[str, object] = {"device": DeviceInfo("keithley6517b", "6517B", IDN),
                                 "output_terminator": "\n"}
    fields.update(changes)
    return CassetteHeader(**fields)  # type: ignore[arg-type]


def finished_cassette(path: Path) -> Path:
    ticks = itertools.count()
    with CassetteWriter(path, header(), clock=lambda: float(next(ticks))) as cassette:
        cassette.record("open", b"127.0.0.1:4000")
        cassette.rx(b"*IDN?\r\n")
        cassette.tx(IDN.encode() + b"\n")
        cassette.rx(b"\xff\xfe garbage\n")
        cassette.note("a note with unicode: \u00b5A")
    return path


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines()


def rewrite(path: Path, number: int, text: str) -> None:
    lines = lines_of(path)
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


def test_written_events_read_back_exactly(tmp_path: Path) -> None:
    cassette = read_cassette(finished_cassette(tmp_path / "a.jsonl"))
    kinds = [event.kind for event in cassette.events]
    assert kinds == ["open", "rx", "tx", "rx", "note", "end"]
    assert cassette.events[1].data == b"*IDN?\r\n"
    assert cassette.events[2].data == IDN.encode() + b"\n"
    assert cassette.events[3].data == b"\xff\xfe garbage\n"
    assert cassette.events[4].text == "a note with unicode: \u00b5A"
    assert cassette.finished and cassette.incomplete_tail is None
    assert cassette.header.device.idn == IDN
    assert cassette.header.created_at.endswith("Z")


def test_bytes_that_are_not_utf8_are_stored_as_base64(tmp_path: Path) -> None:
    path = finished_cassette(tmp_path / "a.jsonl")
    stored = json.loads(lines_of(path)[4])
    assert stored["enc"] == "b64" and stored["dir"] == "rx"
    assert "garbage" not in stored["data"]


def test_times_count_from_the_opening_and_never_decrease(tmp_path: Path) -> None:
    times = [event.t for event in read_cassette(finished_cassette(tmp_path / "a.jsonl")).events]
    assert times == sorted(times) and times[0] >= 0


def test_the_cassette_appears_only_when_finished(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    cassette = CassetteWriter(path, header())
    cassette.rx(b"*IDN?\n")
    assert not path.exists()
    assert cassette.temporary_path.exists()
    assert cassette.temporary_path.parent == tmp_path
    assert cassette.finish() == path
    assert path.exists() and not cassette.temporary_path.exists()


def test_an_existing_cassette_is_not_replaced_without_overwrite(tmp_path: Path) -> None:
    path = finished_cassette(tmp_path / "a.jsonl")
    before = path.read_bytes()
    with pytest.raises(CassetteExists, match="record mode 'all'"):
        CassetteWriter(path, header())
    assert path.read_bytes() == before


def test_a_cassette_claimed_meanwhile_is_kept_and_the_new_one_is_named(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    late = CassetteWriter(path, header())
    late.note("late")
    finished_cassette(path)
    with pytest.raises(CassetteExists) as raised:
        late.finish()
    assert raised.value.kept == late.temporary_path
    assert "late" in late.temporary_path.read_text()
    assert "late" not in path.read_text()


def test_overwrite_replaces_an_existing_cassette(tmp_path: Path) -> None:
    path = finished_cassette(tmp_path / "a.jsonl")
    with CassetteWriter(path, header(), overwrite=True) as cassette:
        cassette.note("second")
    assert [e.text for e in read_cassette(path).events if e.kind == "note"] == ["second"]


def test_abandon_leaves_nothing(tmp_path: Path) -> None:
    cassette = CassetteWriter(tmp_path / "a.jsonl", header())
    cassette.abandon()
    assert list(tmp_path.iterdir()) == []


def test_serial_number_is_redacted_in_header_and_replies(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with CassetteWriter(path, header(), redact_serial=True) as cassette:
        cassette.rx(b"*idn?;\r")
        cassette.tx(IDN.encode() + b"\r")
    text = path.read_text()
    assert "4114292" not in text
    cassette_read = read_cassette(path)
    assert cassette_read.header.redacted
    assert cassette_read.header.device.idn == IDN.replace("4114292", "0000000")
    assert cassette_read.events[1].data == IDN.replace("4114292", "0000000").encode() + b"\r"


def test_serial_number_is_learned_from_the_first_idn_reply(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with CassetteWriter(path, header(device=DeviceInfo("x", "6514", None)),
                        redact_serial=True) as cassette:
        cassette.rx(b"*IDN?\n")
        cassette.tx(b"KEITHLEY INSTRUMENTS INC.,MODEL 6514,1234567,A03\n")
        cassette.rx(b"*IDN?\n")
        cassette.tx(b"KEITHLEY INSTRUMENTS INC.,MODEL 6514,1234567,A03\n")
    assert "1234567" not in path.read_text()


# -- the reader's errors --------------------------------------------------------------------


def test_missing_cassette_says_which_file_and_which_mode_records_it(tmp_path: Path) -> None:
    with pytest.raises(CassetteNotFound) as raised:
        read_cassette(tmp_path / "absent.jsonl")
    message = str(raised.value)
    assert "absent.jsonl" in message and "'once'" in message


@pytest.mark.parametrize(
    ("line", "text", "problem"),
    [
        (3, '{"t": 0.1, "dir": "rx", "data": "*IDN?\\n"', "not valid JSON"),
        (3, '{"t": "0.1", "dir": "rx", "data": "x\\n"}', "'t' must be a number"),
        (3, '{"t": 0.1, "dir": "sideways", "data": "x\\n"}', "'dir' must be one of rx, tx"),
        (3, '{"t": 0.1, "dir": "rx", "data": 42}', "'data' must be a str"),
        (3, '{"t": 0.1, "dir": "rx", "data": "x", "extra": 1}', "unknown keys 'extra'"),
        (3, '{"t": 0.1, "dir": "rx", "data": "%%%", "enc": "b64"}', "not valid base64"),
        (3, '{"t": 0.1, "dir": "rx", "data": "x", "enc": "rot13"}', "'enc' must be"),
        (3, '{"t": NaN, "dir": "rx", "data": "x"}', "NaN"),
        (3, '[1, 2]', "must be a JSON object"),
        (3, "", "blank line"),
        (3, '{"t": 0.0, "event": "open"}', "goes back in time"),
        (1, '{"format": "hil-cassette", "version": 1}', "header lacks"),
        (1, "not json", "header is not valid JSON"),
    ],
)
def test_a_bad_line_is_reported_with_file_and_line_number(
        tmp_path: Path, line: int, text: str, problem: str) -> None:
    path = finished_cassette(tmp_path / "bad.jsonl")
    rewrite(path, line, text)
    with pytest.raises(CassetteFormatError) as raised:
        read_cassette(path)
    assert raised.value.line == line
    assert raised.value.path == path
    assert str(raised.value).startswith(f"{path}:{line}: ")
    assert problem in str(raised.value)


def test_an_event_after_the_end_is_an_error(tmp_path: Path) -> None:
    path = finished_cassette(tmp_path / "a.jsonl")
    with path.open("a") as handle:
        handle.write('{"t": 99.0, "dir": "rx", "data": "*RST\\n"}\n')
    with pytest.raises(CassetteFormatError, match=r":8: an event follows the 'end'"):
        read_cassette(path)


def test_another_format_version_is_its_own_error(tmp_path: Path) -> None:
    path = finished_cassette(tmp_path / "a.jsonl")
    first = json.loads(lines_of(path)[0])
    first["version"] = 2
    rewrite(path, 1, json.dumps(first))
    with pytest.raises(CassetteVersionError, match=r":1: cassette format version 2"):
        read_cassette(path)


def test_a_hand_edited_header_with_a_wrong_type_names_the_field(tmp_path: Path) -> None:
    path = finished_cassette(tmp_path / "a.jsonl")
    first = json.loads(lines_of(path)[0])
    first["device"]["idn"] = 6517
    rewrite(path, 1, json.dumps(first))
    with pytest.raises(CassetteFormatError, match=r":1: header 'device.idn' must be a str"):
        read_cassette(path)


def test_a_truncated_last_line_is_dropped_and_flagged(tmp_path: Path) -> None:
    path = finished_cassette(tmp_path / "a.jsonl")
    data = path.read_bytes()
    cut = data[: data.rindex(b"\n", 0, len(data) - 1) + 15]  # part of the end event
    path.write_bytes(cut)
    cassette = read_cassette(path)
    assert not cassette.finished
    assert cassette.incomplete_tail is not None and "line 7 is truncated" in (
        cassette.incomplete_tail)
    assert [event.kind for event in cassette.events][-1] == "note"


def test_a_truncated_line_in_the_middle_is_corruption(tmp_path: Path) -> None:
    path = finished_cassette(tmp_path / "a.jsonl")
    rewrite(path, 4, '{"t": 0.1, "dir": "rx", "da')
    with pytest.raises(CassetteFormatError, match=r":4: not valid JSON"):
        read_cassette(path)


def test_an_overlong_line_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = finished_cassette(tmp_path / "a.jsonl")
    rewrite(path, 3, '{"t": 0.1, "dir": "rx", "data": "' + "A" * 5000 + '"}')
    with pytest.raises(CassetteFormatError, match=r":3: line longer than 1000 bytes"):
        read_cassette(path, max_line_bytes=1000)


def test_an_empty_file_is_not_a_cassette(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    with pytest.raises(CassetteFormatError, match=r"empty.jsonl:1: the file is empty"):
        read_cassette(path)


def test_another_json_lines_file_is_not_a_cassette(tmp_path: Path) -> None:
    path = tmp_path / "other.jsonl"
    path.write_text('{"format": "something-else", "version": 1}\n')
    with pytest.raises(CassetteFormatError, match=r"other.jsonl:1: not a hil cassette"):
        read_cassette(path)


def test_text_in_a_cassette_is_only_ever_data(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    payload = b"__import__('os').system('touch pwned')\n"
    with CassetteWriter(path, header()) as cassette:
        cassette.rx(payload)
    assert read_cassette(path).events[0].data == payload
    assert not (tmp_path / "pwned").exists()
