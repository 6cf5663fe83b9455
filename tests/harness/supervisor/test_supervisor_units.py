"""Pure pieces of the supervisor: specs, the control line splitter, JSON conversion."""

from __future__ import annotations

import math

import pytest

from harness.supervisor import DeviceSpec, SpecError
from harness.supervisor.control import OVERLONG, LineSplitter, decode_request, to_json_value
from harness.supervisor.spec import check_terminator


def test_spec_normalises_terminators_and_lowercases_the_device() -> None:
    assert DeviceSpec("Keithley6517B", terminator="crlf").terminator == "CRLF"
    assert check_terminator(b"\r") == "CR"
    assert DeviceSpec("Keithley6517B").device == "keithley6517b"


@pytest.mark.parametrize(("options", "complaint"), [
    ({"terminator": "nl"}, "terminator 'nl' is not one of lf, cr, crlf, lfcr"),
    ({"speed": -1}, "speed must be a finite number >= 0"),
    ({"speed": math.inf}, "speed must be a finite number >= 0"),
    ({"speed": True}, "speed must be a finite number >= 0"),
    ({"restart": "always"}, "restart must be one of 'fail', 'restart'"),
    ({"port": 70000}, "port 70000 is outside 0-65535"),
    ({"seed": 1.5}, "seed must be an integer"),
    ({"name": "a b"}, "not a valid device name"),
    ({"config": {"blob": b"\x00"}}, "config must hold only JSON data"),
])
def test_spec_rejects_bad_values_with_the_rule(options: dict[str, object],
                                                complaint: str) -> None:
    with pytest.raises(SpecError, match=complaint):
        DeviceSpec("keithley6517b", **options)  # type: ignore[arg-type]


def test_line_splitter_joins_chunks_and_splits_lines() -> None:
    splitter = LineSplitter(limit=100)

    assert splitter.feed(b'{"op": "pi') == []
    assert splitter.feed(b'ng"}\n{"op": "stats"}\n{"op"') == [b'{"op": "ping"}',
                                                              b'{"op": "stats"}']
    assert splitter.feed(b': "drop"}\n') == [b'{"op": "drop"}']


def test_line_splitter_reports_an_overlong_line_once_and_recovers() -> None:
    splitter = LineSplitter(limit=10)

    assert splitter.feed(b"x" * 8) == []
    assert splitter.feed(b"x" * 8) == []  # over the limit: discarded, nothing kept
    assert splitter.feed(b"x" * 50) == []
    assert splitter.feed(b"xx\nok\n") == [OVERLONG, b"ok"]
    assert splitter.feed(b"y" * 11 + b"\n") == [OVERLONG]


def test_decode_request_explains_what_is_wrong() -> None:
    assert decode_request(b'{"op": "ping"}') == {"op": "ping"}
    assert "malformed JSON" in str(decode_request(b"{op: ping}"))
    assert "JSON object" in str(decode_request(b'"ping"'))
    assert "longer than" in str(decode_request(OVERLONG))


def test_to_json_value_makes_plain_json() -> None:
    value = {"count": math.inf, "low": -math.inf, "bad": math.nan, "pair": (1, 2),
             "raw": b"\xb5A", 3: None, "other": object}

    converted = to_json_value(value)

    assert converted["count"] == "INF" and converted["low"] == "-INF"
    assert converted["bad"] == "NAN" and converted["pair"] == [1, 2]
    assert converted["raw"] == "\xb5A" and converted["3"] is None
    assert converted["other"] == str(object)
