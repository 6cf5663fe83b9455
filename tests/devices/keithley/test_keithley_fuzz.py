"""Fuzzing the Keithley models with random and malformed input (spec §1-§3, §8.3, §9.1).

Bytes go through the ``Framer`` into the model the way a transport hands them over. After
every framer event the test checks that nothing raised and that every buffer stayed within
its limit; afterwards a device clear and ``*IDN?`` must still answer and the error queue
must drain to ``0,"No error"``. Targeted malformed inputs must queue exactly the codes the
spec names. ``bench/fuzz_scpi.py`` runs the same kind of input for longer.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.keithley import MockKeithley
from devices.keithley.mock_server import MockServer
from devices.scpi import DeviceClear, Framer, Message, Overrun, Reply

MODELS = ("6517B", "6514")
MODES = ("strict", "lenient")
#: §2.1, between the quotes of the table.
IDN = {
    "6517B": "KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x ",
    "6514": "KEITHLEY INSTRUMENTS INC.,MODEL 6514,4691930,A13   Aug 30 2011 15:09:19/B01  /H",
}
MAX_MESSAGE_LENGTH = 2048  # §1.3 default
QUEUE_DEPTH = 10  # §3.1 default
BUFFER_CAPACITY = 50000  # §4.7: the largest TRACe buffer
#: Generous bound on one reply line: a full 50000-reading dump with every element fits.
MAX_REPLY_CHARS = 8 * 1024 * 1024
MEBIBYTE = 1 << 20
#: §3.2: ``<code>,"<message>"``, exactly one comma, no quote inside the message.
ERROR_LINE = re.compile(r'(-?\d+),"([^",]*)"')
#: §3.3 message texts of the codes these tests provoke.
SPEC_MESSAGES = {
    0: "No error",
    -101: "Invalid character",
    -102: "Syntax error",
    -103: "Invalid separator",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -112: "Program mnemonic too long",
    -113: "Undefined header",
    -114: "Header suffix out of range",
    -121: "Invalid character in number",
    -123: "Exponent too large",
    -124: "Too many digits",
    -128: "Numeric data not allowed",
    -141: "Invalid character data",
    -148: "Character data not allowed",
    -151: "Invalid string data",
    -158: "String data not allowed",
    -222: "Parameter data out of range",
    -223: "Too much data",
    -350: "Queue overflow",
    -363: "Input buffer overrun",
}
#: About 4 ms an example: both property tests together stay under ~5 s on two busy cores.
FUZZ_SETTINGS = settings(max_examples=400, deadline=None)


@dataclass
class Rig:
    """A model behind a framer, driven like a transport, checking its bounds as it goes."""

    device: MockKeithley
    framer: Framer
    now: float = 0.0
    last_ready: float = -math.inf
    replies: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, model: str, mode: str = "strict", speed: float = 0.0,
              xonxoff: bool = False, **config: Any) -> Rig:
        device = MockKeithley(model, speed=speed, mode=mode, **config)
        return cls(device, Framer(device.config.max_message_length, xonxoff))

    @property
    def depth(self) -> int:
        return self.device.config.error_queue_depth

    def feed(self, data: bytes, advance: float = 0.0) -> list[str]:
        """Frame ``data``, hand each event to the model, poll; return the reply texts."""
        self.now += advance
        self.replies = []
        device = self.device
        for event in self.framer.feed(data):
            if isinstance(event, Message):
                self._accept(device.receive(event.text, self.now))
            elif isinstance(event, DeviceClear):
                # Replies not yet delivered are discarded (§8.3): order restarts here.
                self.last_ready = self.now
                self._accept(device.device_clear(self.now))
            elif isinstance(event, Overrun):
                device.input_overrun(self.now)
            self.check_bounds()
        self._accept(device.poll(self.now))
        self.check_bounds()
        return self.replies

    def ask(self, message: str) -> list[str]:
        return self.feed(message.encode("ascii") + b"\n")

    def check_bounds(self) -> None:
        assert self.framer.pending <= self.framer.max_message_length
        assert len(self.device.engine.status.error_queue) <= self.depth
        trace = self.device.trace
        assert len(trace) <= min(trace.settings.points, BUFFER_CAPACITY)

    def drain_errors(self) -> list[int]:
        """Read the error queue until ``0,"No error"`` (§3.1); at most depth + 1 reads."""
        codes: list[int] = []
        for _ in range(self.depth + 1):
            (line,) = self.ask(":SYST:ERR?")
            match = ERROR_LINE.fullmatch(line)
            assert match is not None, f"malformed error reply {line!r} (§3.2)"
            code = int(match[1])
            assert match[2] == SPEC_MESSAGES.get(code, match[2]), line
            if code == 0:
                return codes
            codes.append(code)
        raise AssertionError(f"the error queue did not drain in {self.depth + 1} reads: {codes}")

    def recovers(self, model: str) -> None:
        """A device clear, then ``*IDN?`` answers and the error queue drains (§8.3, §3.1)."""
        assert self.feed(b"\x03") == ["DCL"]
        assert self.ask("*IDN?") == [IDN[model]]
        self.drain_errors()
        assert self.ask(":SYST:ERR?") == ['0,"No error"']

    def _accept(self, replies: list[Reply]) -> None:
        for text, ready_at in replies:
            assert ready_at >= self.now
            assert ready_at >= self.last_ready, "replies must not be reordered (§0.5)"
            self.last_ready = ready_at
            assert text.isascii(), "output is 7-bit ASCII (§1.7)"
            assert "\r" not in text and "\n" not in text
            assert len(text) <= MAX_REPLY_CHARS
            self.replies.append(text)


# -- targeted malformed input: the spec names the code -----------------------------------


@dataclass(frozen=True)
class Case:
    """Bytes sent (a LF is appended), then the replies and queued codes the spec demands.

    ``lenient_*`` default to the strict values; in lenient mode an unknown header (-113)
    is no error and the rest of the message runs (§9.1).
    """

    data: bytes
    codes: tuple[int, ...]
    replies: tuple[str, ...] = ()
    lenient_codes: tuple[int, ...] | None = None
    lenient_replies: tuple[str, ...] | None = None


def unknown_header(data: bytes) -> Case:
    """-113 in strict mode, silently ignored in lenient mode (§1.4, §1.5, §9.1)."""
    return Case(data, (-113,), lenient_codes=())


CASES: dict[str, Case] = {
    # §1.4: no whitespace between header and parameter / whitespace inside a header.
    "RANG100": unknown_header(b"RANG100"),
    "space_in_header": unknown_header(b":SYST :ERR?"),
    # §1.5: in-between forms, unknown 12-character keyword, digits on a suffix-less node.
    "in_between_form": unknown_header(b"SYSTe:ERR?"),
    "unknown_12_chars": unknown_header(b"ABCDEFGHIJKL"),
    "digits_on_plain_node": unknown_header(b":SYST4:ERR?"),
    # §1.5: query form of a set-only command and vice versa.
    "query_of_set_only": unknown_header(b"*RST?"),
    "set_of_query_only": unknown_header(b"*IDN"),
    # §3.1: ERR:ALL? is not documented for these models.
    "error_all": unknown_header(b":SYST:ERR:ALL?"),
    # Deep headers (§1.4): many ':' levels of a real or an unknown node.
    "deep_sens": unknown_header(b":SENS" * 400 + b"?"),
    "deep_unknown": unknown_header(b":A" * 1000),
    # §1.5: keyword longer than 12 characters.
    "mnemonic_13": Case(b"ABCDEFGHIJKLM", (-112,)),
    "mnemonic_200_in_tree": Case(b":SENS:CURR:" + b"N" * 200 + b"?", (-112,)),
    # §1.5: suffix outside the documented set.
    "suffix_calc9": Case(b":CALC9:FORM?", (-114,)),
    "suffix_sens2": Case(b":SENS2:CURR:NPLC?", (-114,)),
    # §1.6 <NRf>.
    "number_1.2.3": Case(b":SENS:CURR:NPLC 1.2.3", (-121,)),
    "number_1e": Case(b":SENS:CURR:NPLC 1e", (-121,)),
    "number_1e999": Case(b":SENS:CURR:NPLC 1e999", (-123,)),
    "number_huge_exponent": Case(b"*ESE 1E5000000000", (-123,)),
    "mantissa_256_digits": Case(b":SENS:CURR:NPLC 1" + b"0" * 255, (-124,)),
    # 255 digits are allowed: the value is then simply out of range.
    "mantissa_255_digits": Case(b":SENS:CURR:NPLC 1" + b"0" * 254, (-222,)),
    "number_out_of_limits": Case(b":SENS:CURR:NPLC 50", (-222,)),
    "ese_out_of_range": Case(b"*ESE 256", (-222,)),
    # §1.6 parameter counts.
    "rst_with_parameter": Case(b"*RST 1", (-108,)),
    "idn_with_parameter": Case(b"*IDN? 1", (-108,)),
    "missing_parameter": Case(b":SENS:CURR:NPLC", (-109,)),
    "ese_missing_parameter": Case(b"*ESE", (-109,)),
    "space_separated_parameters": Case(b"*ESE 1 2", (-103,)),
    # §1.6 types.
    "number_for_name": Case(b":TRIG:SOUR 1", (-128,)),
    "unknown_name": Case(b":TRIG:SOUR FOO", (-141,)),
    "word_for_number": Case(b":TRIG:COUN FOO", (-148,)),
    "string_for_name": Case(b":TRIG:SOUR 'IMM'", (-158,)),
    "malformed_list": Case(b":STAT:QUE:ENAB (abc)", (-102,)),
    # §1.6 unterminated string; the open quote swallows the units after it.
    "unterminated_string": Case(b":DISP:TEXT:DATA 'abc", (-151,)),
    "unterminated_swallows_query": Case(b':DISP:TEXT:DATA "abc;*IDN?', (-151,)),
    # §1.2 / §3.3 invalid characters: illegal header character, NUL, DEL, ESC, bytes >= 0x80
    # (invalid UTF-8 too), XON while XON/XOFF is disabled.
    "ampersand_in_header": Case(b"SYST&ERR?", (-101,)),
    "nul": Case(b"*ESE 1\x00", (-101,)),
    "del": Case(b"*ES\x7fE 1", (-101,)),
    "escape": Case(b"\x1b[A*IDN?", (-101,)),
    "latin1_byte": Case(b"*ESE 1\xe9", (-101,)),
    "invalid_utf8": Case(b"*IDN?\xc3\x28", (-101,)),
    "xon_without_flow_control": Case(b"*ESE\x11 8", (-101,)),
    # §8.3: the text ^C is an ordinary, invalid header, not a device clear.
    "caret_c_text": Case(b"^C", (-101,)),
    # §1.8: units before the failing one ran and their results are sent; the rest is not.
    "mixed_units": Case(b"*ESE 4;*ESE?;BOGUS;*ESE 8;*ESE?", (-113,), ("4",),
                        lenient_codes=(), lenient_replies=("4;8",)),
    "mixed_units_number": Case(b"*ESE 4;*ESE?;*ESE 1.2.3;*ESE?", (-121,), ("4",)),
    # §1.1, §1.4: empty units and stray terminators do nothing; many units, one reply line.
    "many_empty_units": Case(b";" * MAX_MESSAGE_LENGTH + b"\r\n\n\r \t\n", ()),
    "many_query_units": Case(b";".join([b"*TST?"] * 341), (), (";".join(["0"] * 341),)),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", list(CASES))
def test_targeted_malformed_input_queues_the_spec_code(name: str, model: str, mode: str) -> None:
    case = CASES[name]
    lenient = mode == "lenient"
    codes = case.lenient_codes if lenient and case.lenient_codes is not None else case.codes
    replies = (case.lenient_replies if lenient and case.lenient_replies is not None
               else case.replies)
    rig = Rig.build(model, mode)
    assert rig.feed(case.data + b"\n") == list(replies)
    assert rig.drain_errors() == list(codes)
    rig.recovers(model)


@pytest.mark.parametrize("model", MODELS)
def test_error_queue_overflow_keeps_nine_and_ends_with_350(model: str) -> None:
    """§3.1: the 11th error turns the newest entry into -350; later ones are dropped."""
    rig = Rig.build(model)
    provoking = ["RANG100", "ABCDEFGHIJKLM", "*ESE 1.2.3", "*ESE 1e999", "*RST 1", "*ESE",
                 "SYST&ERR?", ":CALC9:FORM?", ":TRIG:SOUR 1", ":TRIG:SOUR FOO",
                 ":TRIG:COUN FOO", "*ESE 256"]
    for message in provoking:
        assert rig.ask(message) == []
    assert rig.drain_errors() == [-113, -112, -121, -123, -108, -109, -101, -114, -128, -350]
    rig.recovers(model)


# -- overlong input and device clear bytes ----------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_error_queue_depth_is_configurable(model: str) -> None:
    """§3.1 ``error_queue_depth``: the overflow rule applies at the configured depth."""
    rig = Rig.build(model, error_queue_depth=3)
    for message in ("RANG100", "*RST 1", "*ESE", "*ESE 256"):
        assert rig.ask(message) == []
    assert rig.drain_errors() == [-113, -108, -350]


@pytest.mark.parametrize("model", MODELS)
def test_overrun_error_code_is_configurable(model: str) -> None:
    """§1.3 ``overrun_error_code``: -223 "Too much data" instead of -363."""
    rig = Rig.build(model, overrun_error_code=-223)
    assert rig.feed(b"X" * (MAX_MESSAGE_LENGTH + 1) + b"\n") == []
    assert rig.drain_errors() == [-223]


@pytest.mark.parametrize("model", MODELS)
def test_message_of_exactly_the_limit_runs(model: str) -> None:
    rig = Rig.build(model)
    message = b"*ESE 8".ljust(MAX_MESSAGE_LENGTH)
    assert rig.feed(message + b"\n") == []
    assert rig.ask("*ESE?") == ["8"]
    assert rig.drain_errors() == []


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("size", [MAX_MESSAGE_LENGTH + 1, 4 * MAX_MESSAGE_LENGTH, MEBIBYTE])
def test_overlong_message_is_discarded_with_one_363(model: str, size: int) -> None:
    """§1.3: nothing of it runs, one -363, the next message runs normally."""
    rig = Rig.build(model)
    data = b"*ESE 8;".ljust(size, b"A") + b"\n*ESE?\n"
    replies: list[str] = []
    for start in range(0, len(data), 65536):
        replies += rig.feed(data[start:start + 65536])
    assert replies == ["0"]
    assert rig.drain_errors() == [-363]
    rig.recovers(model)


@pytest.mark.parametrize("model", MODELS)
def test_each_overlong_message_queues_its_own_363(model: str) -> None:
    rig = Rig.build(model)
    assert rig.feed(b"X" * 3000 + b"\r" + b"Y" * 3000 + b"\n") == []
    assert rig.drain_errors() == [-363, -363]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("clear", [b"\x03", b"\x18"])
def test_device_clear_inside_a_message_discards_the_partial_message(model: str,
                                                                    clear: bytes) -> None:
    """§1.2, §8.3: the bytes before Ctrl-C/Ctrl-X never run; what follows is a new message."""
    rig = Rig.build(model)
    assert rig.feed(b"*ESE 8;*ES" + clear + b"*ESE?\n") == ["DCL", "0"]
    assert rig.drain_errors() == []


@pytest.mark.parametrize("model", MODELS)
def test_device_clear_inside_an_overlong_message_still_acts(model: str) -> None:
    """§1.3: device-clear bytes inside an overlong message still act."""
    rig = Rig.build(model)
    assert rig.feed(b"*ESE 8;" + b"A" * 3000 + b"\x03*ESE?\n") == ["DCL", "0"]
    assert rig.drain_errors() == [-363]


@pytest.mark.parametrize("model", MODELS)
def test_flow_control_bytes_are_removed_when_xonxoff_is_enabled(model: str) -> None:
    """§1.2: with XON/XOFF on, 0x11/0x13 are taken out of the input."""
    rig = Rig.build(model, xonxoff=True)
    assert rig.feed(b"*ES\x13E 8;\x11*ESE?\n") == ["8"]
    assert rig.drain_errors() == []


# -- random input -----------------------------------------------------------------------

HEADERS = [
    "*IDN", "*RST", "*CLS", "*ESE", "*ESR", "*SRE", "*STB", "*OPC", "*WAI", "*TRG", "*TST",
    "*SAV", "*RCL", "*OPT", ":SYST:ERR", ":SYSTem:ERRor:NEXT", ":SYST:CLE", ":SYST:PRES",
    ":SYST:ZCH", ":SYST:ZCOR", ":SYST:ZCOR:ACQ", ":SYST:LFR", ":SYST:TIME", ":SYST:POS",
    ":STAT:PRES", ":STAT:QUE:ENAB", ":STAT:QUE:DIS", ":STAT:QUE:CLE", ":STAT:MEAS:ENAB",
    ":STAT:MEAS", ":STAT:OPER:COND", ":SENS:FUNC", ":SENS:CURR:NPLC", ":CURR:RANG",
    ":SENS:CURR:RANG:AUTO", "RANG", "NPLC", ":VOLT:DIG", ":CHAR:RANG", ":RES:RANG",
    ":SENS:CURR:AVER", ":SENS:CURR:MED:RANK", ":TRIG:SOUR", ":TRIG:COUN", ":TRIG:DEL",
    ":ARM:SOUR", ":ARM:LAY2:COUN", ":INIT", ":INIT:CONT", ":ABOR", ":READ", ":FETC",
    ":MEAS:CURR", ":CONF:VOLT", ":SENS:DATA:LAT", ":TRAC:CLE", ":TRAC:POIN", ":TRAC:FEED",
    ":TRAC:FEED:CONT", ":TRAC:DATA", ":TRAC:ELEM", ":FORM:ELEM", ":FORM:DATA", ":FORM:SREG",
    ":CALC2:FORM", ":CALC3:DATA", ":DISP:ENAB", ":DISP:TEXT:DATA", ":SOUR:VOLT",
    ":OUTP", ":UNIT:TEMP", ":SENSe1:CURRent:DC:NPLCycles", "SYSTe", "CALC9", "SENS2",
]
PARAMETERS = [
    "0", "1", "2", "5", "-1", "+.5", "2e-09", "1.000000", "1e999", "-1E3", "1.2.3", "1e",
    "#H1F", "9" * 300, "ON", "OFF", "ONCE", "MIN", "DEF", "UP", "IMM", "BUS", "TIM", "MAN",
    "NEXT", "NEV", "ALW", "ASC", "CURR", "VOLT", "CHAR", "RES", "READ", "TST", "VSO", "ETEM",
    "'CURR'", "'abc'", "'unterminated", '"x""y"', "(1:3)", "(@1:10)", "(-440:+958)", "(",
]
JUNK = ["\x00", "\x7f", "\xe9", "\xff", "\x11", "\x13", "\x1b", "^C", "&", "?", ":", "::",
        "*", ",", "(", ")", "'", '"', "\t", "  ", ";", ";;"]
TERMINATORS = [b"\n", b"\r", b"\r\n", b"\n\r", b"\x03", b"\x18", b""]
#: Whole chunks that probe a limit: overlong lines, deep headers, long mnemonics, numbers.
EXTREMES = [
    b"X" * (MAX_MESSAGE_LENGTH - 1), b"X" * MAX_MESSAGE_LENGTH,
    b"X" * (MAX_MESSAGE_LENGTH + 1), b"*ESE 1;" * 1000, b"Z" * MEBIBYTE,
    b":SENS" * 409, b":A" * 1024, b"A" * 13, b"A" * 2000, b"*ESE " + b"9" * 2000,
    b":SENS:CURR:NPLC 1e" + b"9" * 1000, b";" * 4096, b"*TST?;" * 341, b"'" * 7,
    b":DISP:TEXT:DATA '" + b"x" * 1000,
]

units = st.builds(
    lambda header, query, parameters: header + ("?" if query else "")
    + (" " + ",".join(parameters) if parameters else ""),
    st.sampled_from(HEADERS), st.booleans(),
    st.lists(st.sampled_from(PARAMETERS), max_size=3),
)
message_texts = st.lists(st.one_of(units, st.sampled_from(JUNK)), min_size=1, max_size=8).map(
    lambda pieces: ";".join(pieces))
structured_chunks = st.builds(
    lambda text, terminator: text.encode("latin-1") + terminator,
    message_texts, st.sampled_from(TERMINATORS))
chunks = st.one_of(structured_chunks, st.binary(max_size=200), st.sampled_from(EXTREMES))


@FUZZ_SETTINGS
@given(model=st.sampled_from(MODELS), mode=st.sampled_from(MODES),
       speed=st.sampled_from([0.0, 1.0]), xonxoff=st.booleans(),
       stream=st.lists(chunks, max_size=12))
def test_random_and_malformed_bytes_never_break_the_model(
        model: str, mode: str, speed: float, xonxoff: bool, stream: list[bytes]) -> None:
    rig = Rig.build(model, mode, speed, xonxoff)
    for chunk in stream:
        rig.feed(chunk, advance=0.01)
    rig.recovers(model)


# -- mixed valid and invalid units against a reference of the error queue -----------------


@dataclass
class Expected:
    """What §1.7, §1.8 and §3.1 predict: ``*ESE`` value, error queue, reply lines."""

    ese: int = 0
    queue: list[int] = field(default_factory=list)

    def push(self, code: int) -> None:
        if len(self.queue) < QUEUE_DEPTH:
            self.queue.append(code)
        elif self.queue[-1] != -350:
            self.queue[-1] = -350

    def pop(self) -> str:
        code = self.queue.pop(0) if self.queue else 0
        return f'{code},"{SPEC_MESSAGES[code]}"'


Effect = Callable[[Expected], str | None]


def set_ese(value: int) -> tuple[str, Effect]:
    def effect(expected: Expected) -> None:
        expected.ese = value
    return f"*ESE {value}", effect


VALID_UNITS: list[tuple[str, Effect]] = [
    ("*ESE?", lambda expected: str(expected.ese)),
    ("*TST?", lambda expected: "0"),
    (":SYST:ERR?", Expected.pop),
    (":STATus:QUEue?", Expected.pop),
    (":SENS:CURR:NPLC 1", lambda expected: None),
    (":STAT:PRES", lambda expected: None),  # does not clear the error queue (§2.6)
    ("*SRE 0", lambda expected: None),
]
#: (unit, code); the last ones leave a quote open and so end the message.
INVALID_UNITS = [
    (case.data.decode("latin-1"), case.codes[0]) for name, case in CASES.items()
    if len(case.codes) == 1 and not case.replies and b";" not in case.data
    and not name.startswith("unterminated") and len(case.data) <= 300
]
UNTERMINATED_UNITS = [(":DISP:TEXT:DATA 'abc", -151), ('*ESE "', -151)]

unit_choices = st.one_of(
    st.integers(0, 255).map(set_ese), st.sampled_from(VALID_UNITS),
    st.sampled_from(INVALID_UNITS),
)
mixed_messages = st.builds(
    lambda body, tail: [*body, *tail],
    st.lists(unit_choices, min_size=1, max_size=6),
    st.lists(st.sampled_from(UNTERMINATED_UNITS), max_size=1),
)


def expect(message: list[tuple[str, Effect | int]], expected: Expected,
           lenient: bool) -> list[str]:
    """Run ``message`` on the reference; return the reply lines the device must send."""
    results: list[str] = []
    for _, action in message:
        if isinstance(action, int):
            if lenient and action == -113:
                continue  # §9.1: the unknown header is a no-op, processing continues
            expected.push(action)
            break  # §1.8: the rest of the message is discarded
        result = action(expected)
        if result is not None:
            results.append(result)
    return [";".join(results)] if results else []


@FUZZ_SETTINGS
@given(model=st.sampled_from(MODELS), mode=st.sampled_from(MODES),
       messages=st.lists(mixed_messages, min_size=1, max_size=15))
def test_mixed_units_queue_exactly_the_expected_errors(
        model: str, mode: str, messages: list[list[tuple[str, Effect | int]]]) -> None:
    rig = Rig.build(model, mode)
    expected = Expected()
    for message in messages:
        text = ";".join(unit for unit, _ in message)
        want = expect(message, expected, mode == "lenient")
        assert rig.feed(text.encode("latin-1") + b"\n") == want, text
    assert rig.drain_errors() == expected.queue
    rig.recovers(model)


# -- the same through a real socket -------------------------------------------------------

READ_TIMEOUT = 30.0


async def read_until(reader: asyncio.StreamReader, wanted: bytes) -> list[bytes]:
    """Lines up to and including ``wanted``."""
    seen: list[bytes] = []
    while not seen or seen[-1] != wanted:
        seen.append(await asyncio.wait_for(reader.readline(), READ_TIMEOUT))
        assert seen[-1].endswith(b"\n"), f"connection closed after {seen[-5:]!r}"
    return seen


@pytest.mark.parametrize(("seed", "model"), [(1, "6517B"), (2, "6514")])
async def test_mock_server_survives_random_bytes_and_a_mebibyte_line(seed: int,
                                                                     model: str) -> None:
    """§1.3, §9.1: junk and an overlong line never close the connection."""
    rng = random.Random(seed)
    async with MockServer(speed=0, model=model) as server:
        assert server.port is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            for _ in range(8):
                writer.write(rng.randbytes(4096))
            writer.write(b"\x03*CLS\n")
            writer.write(b"*ESE 8;".ljust(MEBIBYTE, b"A") + b"\n")
            writer.write(b"*ESE?;*IDN?\n")
            await writer.drain()
            idn = b"0;" + IDN[model].encode() + b"\n"
            await read_until(reader, idn)
            writer.write(b":SYST:ERR?\n:SYST:ERR?\n")
            await writer.drain()
            assert await read_until(reader, b'0,"No error"\n') == [
                b'-363,"Input buffer overrun"\n', b'0,"No error"\n']
            assert server.connected and not reader.at_eof()
        finally:
            writer.close()
            await writer.wait_closed()
