"""Long fuzz run of the Keithley models behind the SCPI framer (spec keithley.md §1-§3, §8.3, §9.1).

Sessions run one after another until the time is up. Each session builds a fresh model
(6517B or 6514, strict or lenient, speed 0 or 1, XON/XOFF off or on) behind a ``Framer``
and feeds it random chunks: random bytes, messages built from real and broken headers and
parameters, control bytes, device clears, overlong and 1 MiB lines, deep headers, long
mnemonics, huge numbers, runs of ``;``. After every framer event it checks that the framer
buffer, the error queue, the TRACe buffer and every reply stay within their limits and that
replies keep their order; now and then a probe checks that a targeted malformed unit
queues exactly its §3.3 code; at the end of a session a device clear and ``*IDN?`` must
answer and the error queue must drain to ``0,"No error"``.

Prints messages processed, messages/s, peak sizes and the slowest input; exits 1 on any
exception or invariant failure, naming the session to replay with ``--session``.
Not a test. Run: ``python bench/fuzz_scpi.py --seconds 60 --seed 1``.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import re
import resource
import sys
import time
import traceback
from collections import deque
from dataclasses import dataclass, field

from devices.keithley import MockKeithley
from devices.scpi import DeviceClear, Framer, Message, Overrun, Reply

IDN = {
    "6517B": "KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x ",
    "6514": "KEITHLEY INSTRUMENTS INC.,MODEL 6514,4691930,A13   Aug 30 2011 15:09:19/B01  /H",
}
CONFIGURATIONS = [
    (model, mode, speed, xonxoff)
    for model in ("6517B", "6514")
    for mode in ("strict", "lenient")
    for speed in (0.0, 1.0)
    for xonxoff in (False, True)
]
QUEUE_DEPTH = 10  # §3.1
BUFFER_CAPACITY = 50000  # §4.7
MAX_ACQUISITION = 50000
MAX_REPLY_CHARS = 8 * 1024 * 1024
MEBIBYTE = 1 << 20
ERROR_LINE = re.compile(r'(-?\d+),"([^",]*)"')
CHUNKS_PER_SESSION = (20, 200)
PROBE_PROBABILITY = 0.05
RECENT_CHUNKS = 8

HEADERS = [
    "*IDN", "*RST", "*CLS", "*ESE", "*ESR", "*SRE", "*STB", "*OPC", "*WAI", "*TRG", "*TST",
    "*SAV", "*RCL", "*OPT", ":*CLS", ":SYST:ERR", ":SYSTem:ERRor:NEXT", ":SYST:CLE",
    ":SYST:PRES", ":SYST:ZCH", ":SYST:ZCOR", ":SYST:ZCOR:ACQ", ":SYST:LFR", ":SYST:TIME",
    ":SYST:DATE", ":SYST:POS", ":SYST:AZER", ":SYST:TSC", ":SYST:HSC", ":SYST:KEY",
    ":SYST:VERS", ":SYST:RNUM:RES", ":SYST:TST:REL:RES", ":STAT:PRES", ":STAT:QUE:ENAB",
    ":STAT:QUE:DIS", ":STAT:QUE:CLE", ":STAT:QUE", ":STAT:MEAS:ENAB", ":STAT:MEAS",
    ":STAT:MEAS:COND", ":STAT:OPER", ":STAT:OPER:PTR", ":STAT:QUES:NTR", ":SENS:FUNC",
    ":SENS:CURR:NPLC", ":SENS:CURR:NPLC:AUTO", ":CURR:RANG", ":CURR:RANG:AUTO",
    ":CURR:RANG:AUTO:ULIM", "RANG", "NPLC", "AUTO", ":VOLT:DIG", ":VOLT:GUAR", ":CHAR:RANG",
    ":CHAR:ADIS", ":RES:RANG", ":SENS:CURR:AVER", ":SENS:CURR:AVER:COUN",
    ":SENS:CURR:AVER:TYPE", ":SENS:CURR:MED", ":SENS:CURR:MED:RANK", ":SENS:CURR:REF",
    ":SENS:CURR:DAMP", ":TRIG:SOUR", ":TRIG:COUN", ":TRIG:DEL", ":TRIG:TIM", ":TRIG:IMM",
    ":ARM:SOUR", ":ARM:COUN", ":ARM:LAY2:SOUR", ":ARM:LAY2:COUN", ":ARM:TIM", ":INIT",
    ":INIT:CONT", ":ABOR", ":READ", ":FETC", ":MEAS", ":MEAS:CURR", ":CONF", ":CONF:VOLT",
    ":SENS:DATA", ":SENS:DATA:LAT", ":SENS:DATA:FRES", ":TRAC:CLE", ":TRAC:POIN",
    ":TRAC:POIN:ACT", ":TRAC:FREE", ":TRAC:FEED", ":TRAC:FEED:CONT", ":TRAC:DATA",
    ":TRAC:ELEM", ":TRAC:TST:FORM", ":FORM:ELEM", ":FORM:DATA", ":FORM:SREG", ":FORM:BORD",
    ":CALC:STAT", ":CALC2:FORM", ":CALC2:IMM", ":CALC2:DATA", ":CALC3:FORM", ":CALC3:DATA",
    ":DISP:ENAB", ":DISP:TEXT:DATA", ":DISP:WIND2:TEXT:STAT", ":SOUR:VOLT", ":SOUR:VOLT:RANG",
    ":SOUR:VOLT:LIM", ":SOUR:CURR:RLIM", ":OUTP", ":OUTP1:STAT", ":VSO:OPER", ":UNIT:TEMP",
    ":ROUT:CLOS", ":SENSe1:CURRent:DC:NPLCycles", ":TSEQ:TYPE", "SYSTe", "CALC9", "SENS2",
    ":SENS:CURR:NPLCYCLESXX",
]
PARAMETERS = [
    "0", "1", "2", "5", "10", "-1", "+.5", "2e-09", "2e-8", "20e-3", "1.000000", "99999",
    "2500", "1e999", "-1e999", "1e-999", "-1E3", "1.2.3", "1e", ".", "+", "#H1F", "#B101",
    "#Q7", "#HZZ", "9" * 300, "0" * 255 + "1", "ON", "OFF", "ONCE", "MIN", "MAX", "DEF",
    "UP", "DOWN", "INF", "IMM", "BUS", "TIM", "MAN", "HOLD", "TLIN", "EXT", "NEXT", "NEV",
    "ALW", "PRET", "ASC", "SRE", "REAL", "CURR", "VOLT", "CHAR", "RES", "READ", "TST",
    "RNUM", "STAT", "VSO", "ETEM", "HUM", "CHAN", "UNIT", "NONE", "MEAN", "SDEV", "PKPK",
    "SAV0", "PRES", "'CURR'", "'VOLT:DC'", "'abc'", "'unterminated", '"x""y"', "''",
    "(1:3)", "(@1:10)", "(-440:+958)", "(", "()", "(1:2:3)", "FOO", "A" * 20,
]
JUNK = ["\x00", "\x01", "\x7f", "\x80", "\xe9", "\xff", "\x11", "\x13", "\x1b", "^C", "&",
        "?", ":", "::", "*", ",", "(", ")", "'", '"', "\t", "  ", ";", ";;", "#", "@"]
TERMINATORS = [b"\n", b"\r", b"\r\n", b"\n\r", b"\x03", b"\x18", b""]
#: (unit, §3.3 code); the unit fails on both models whatever the session did before.
PROBES = [
    ("RANG100", -113), (":SYST :ERR?", -113), ("SYSTe:ERR?", -113), ("*RST?", -113),
    (":SYST:ERR:ALL?", -113), (":SYST4:ERR?", -113), ("ABCDEFGHIJKLM", -112),
    (":SENS:CURR:" + "N" * 40 + "?", -112), (":CALC9:FORM?", -114),
    (":SENS2:CURR:NPLC?", -114), (":SENS:CURR:NPLC 1.2.3", -121), ("*ESE 1e", -121),
    ("*ESE 1e999", -123), ("*ESE 1" + "0" * 255, -124), (":DISP:TEXT:DATA 'abc", -151),
    ("*RST 1", -108), ("*IDN? 1", -108), (":SENS:CURR:NPLC", -109), ("*ESE", -109),
    ("*ESE 1 2", -103), ("SYST&ERR?", -101), ("*ESE 1\x00", -101), ("*ESE 1\xe9", -101),
    ("^C", -101), (":TRIG:SOUR 1", -128), (":TRIG:SOUR FOO", -141), (":TRIG:COUN FOO", -148),
    (":TRIG:SOUR 'IMM'", -158), (":STAT:QUE:ENAB (abc)", -102), ("*ESE 256", -222),
]

log = logging.getLogger("bench.fuzz_scpi")


class InvariantViolation(Exception):
    """The model broke a rule the fuzz run checks; the message says which."""


def check(condition: bool, what: str) -> None:
    if not condition:
        raise InvariantViolation(what)


@dataclass
class Stats:
    """Counters and peaks over the whole run."""

    sessions: int = 0
    chunks: int = 0
    input_bytes: int = 0
    messages: int = 0
    device_clears: int = 0
    overruns: int = 0
    replies: int = 0
    probes: int = 0
    peak_framer_pending: int = 0
    peak_error_queue: int = 0
    peak_reply_chars: int = 0
    peak_trace: int = 0
    peak_acquisition: int = 0
    slowest_feed_s: float = 0.0
    slowest_input: bytes = b""


# -- input generation ------------------------------------------------------------------


def random_unit(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return rng.choice(JUNK)
    text = rng.choice(HEADERS)
    if rng.random() < 0.4:
        text += "?"
    count = rng.choice((0, 0, 1, 1, 1, 2, 3))
    if count:
        separator = rng.choice((",", ",", ", ", " ,"))
        text += rng.choice((" ", " ", "\t", "  ")) + separator.join(
            rng.choice(PARAMETERS) for _ in range(count))
    if rng.random() < 0.05:
        position = rng.randrange(len(text) + 1)
        text = text[:position] + rng.choice(JUNK) + text[position:]
    return text


def random_message(rng: random.Random) -> bytes:
    units = [random_unit(rng) for _ in range(rng.choice((1, 1, 2, 3, 5, 8)))]
    return ";".join(units).encode("latin-1") + rng.choice(TERMINATORS)


def extreme_chunk(rng: random.Random) -> bytes:
    """An input that probes a limit."""
    size = rng.choice((2047, 2048, 2049, 4096, 65536, MEBIBYTE))
    kind = rng.randrange(10)
    if kind == 0:
        return b"X" * size + rng.choice(TERMINATORS)
    if kind == 1:
        return (b":SENS" * (size // 5))[:size] + b"?\n"
    if kind == 2:
        return b"A" * rng.choice((12, 13, 100, 2040)) + b"?\n"
    if kind == 3:
        return b"*ESE " + b"9" * rng.choice((255, 256, 2000)) + b"\n"
    if kind == 4:
        return b";" * size + b"\n"
    if kind == 5:
        return b"*TST?;" * rng.choice((10, 341, 342)) + b"\n"
    if kind == 6:
        return b":DISP:TEXT:DATA '" + b"x" * rng.choice((10, 40, 2000)) + b"\n"
    if kind == 7:
        # A device clear in the middle of a long line.
        return b"*ESE 1;" + b"Q" * size + b"\x03*ESE?\n"
    if kind == 8:
        return (b":STAT:QUE:ENAB (" + b",".join([b"-1:1"] * rng.choice((10, 400))) + b")\n")
    return b"*ESE 1E" + str(rng.choice((308, 309, 5000, 10**9))).encode() + b"\n"


def random_chunk(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.55:
        return b"".join(random_message(rng) for _ in range(rng.choice((1, 1, 2, 4))))
    if roll < 0.80:
        return rng.randbytes(rng.choice((1, 8, 64, 512, 4096)))
    if roll < 0.92:
        return bytes(rng.choice(b"\x00\x03\x11\x13\x18\r\n\t ;:*?'\"(),A1")
                     for _ in range(rng.choice((1, 16, 256))))
    return extreme_chunk(rng)


# -- one session ------------------------------------------------------------------------


@dataclass
class Session:
    """One model behind one framer, driven like a transport, checked after every event."""

    model: str
    mode: str
    speed: float
    xonxoff: bool
    stats: Stats
    device: MockKeithley = field(init=False)
    framer: Framer = field(init=False)
    now: float = 0.0
    last_ready: float = -math.inf
    recent: deque[bytes] = field(default_factory=lambda: deque(maxlen=RECENT_CHUNKS))

    def __post_init__(self) -> None:
        self.device = MockKeithley(self.model, speed=self.speed, mode=self.mode)
        self.framer = Framer(self.device.config.max_message_length, self.xonxoff)

    def feed(self, data: bytes) -> list[str]:
        self.recent.append(data)
        stats = self.stats
        stats.chunks += 1
        stats.input_bytes += len(data)
        started = time.perf_counter()
        texts: list[str] = []
        device = self.device
        for event in self.framer.feed(data):
            if isinstance(event, Message):
                stats.messages += 1
                texts += self._accept(device.receive(event.text, self.now))
            elif isinstance(event, DeviceClear):
                stats.device_clears += 1
                self.last_ready = self.now
                texts += self._accept(device.device_clear(self.now))
            elif isinstance(event, Overrun):
                stats.overruns += 1
                device.input_overrun(self.now)
            self._check_bounds()
        texts += self._accept(device.poll(self.now))
        self._check_bounds()
        elapsed = time.perf_counter() - started
        if elapsed > stats.slowest_feed_s:
            stats.slowest_feed_s, stats.slowest_input = elapsed, data
        return texts

    def ask(self, message: str) -> list[str]:
        return self.feed(message.encode("latin-1") + b"\n")

    def advance(self, rng: random.Random) -> None:
        """Host time moves on; sometimes to the wakeup the model asked for."""
        wakeup = self.device.next_wakeup()
        if wakeup is not None and wakeup > self.now and rng.random() < 0.5:
            self.now = wakeup
        else:
            self.now += rng.choice((0.0, 0.0001, 0.001, 0.01, 0.1, 1.0))

    def drain_errors(self) -> list[int]:
        codes: list[int] = []
        for _ in range(QUEUE_DEPTH + 1):
            replies = self.ask(":SYST:ERR?")
            check(len(replies) == 1, f":SYST:ERR? gave {replies!r}, expected one line")
            match = ERROR_LINE.fullmatch(replies[0])
            check(match is not None, f"malformed error reply {replies[0]!r} (§3.2)")
            assert match is not None
            code = int(match[1])
            if code == 0:
                check(replies[0] == '0,"No error"', f"bad empty-queue reply {replies[0]!r}")
                return codes
            codes.append(code)
        raise InvariantViolation(f"error queue did not drain in {QUEUE_DEPTH + 1} reads: {codes}")

    def probe(self, rng: random.Random) -> None:
        """From whatever state the session is in: one targeted unit, exactly its code."""
        self.stats.probes += 1
        unit, code = rng.choice(PROBES)
        value = rng.randrange(256)
        check(self.feed(b"\x03") == ["DCL"], "device clear did not answer DCL alone")
        self.ask("*CLS;:STAT:PRES")
        lenient_skip = self.mode == "lenient" and code == -113
        replies = self.ask(f"*ESE {value};*ESE?;{unit};*ESE?")
        wanted = [f"{value};{value}"] if lenient_skip else [str(value)]
        check(replies == wanted, f"probe {unit!r}: replies {replies!r}, expected {wanted!r}")
        codes = self.drain_errors()
        wanted_codes = [] if lenient_skip else [code]
        check(codes == wanted_codes, f"probe {unit!r}: queued {codes}, expected {wanted_codes}")

    def recover(self) -> None:
        """§8.3, §2.1, §3.1: device clear, *IDN?, drain the queue."""
        check(self.feed(b"\x03") == ["DCL"], "device clear did not answer DCL alone")
        idn = self.ask("*IDN?")
        check(idn == [IDN[self.model]], f"*IDN? answered {idn!r}")
        self.drain_errors()

    def _accept(self, replies: list[Reply]) -> list[str]:
        stats = self.stats
        texts = []
        for text, ready_at in replies:
            check(ready_at >= self.now, f"reply {text[:60]!r} ready at {ready_at} < now")
            check(ready_at >= self.last_ready, f"reply {text[:60]!r} out of order")
            self.last_ready = ready_at
            check(text.isascii(), f"non-ASCII reply {text[:60]!r} (§1.7)")
            check("\r" not in text and "\n" not in text, f"terminator inside {text[:60]!r}")
            check(len(text) <= MAX_REPLY_CHARS, f"reply of {len(text)} characters")
            stats.replies += 1
            stats.peak_reply_chars = max(stats.peak_reply_chars, len(text))
            texts.append(text)
        return texts

    def _check_bounds(self) -> None:
        stats = self.stats
        device = self.device
        pending = self.framer.pending
        errors = len(device.engine.status.error_queue)
        trace = len(device.trace)
        acquisition = len(device.acquisition)
        check(pending <= self.framer.max_message_length, f"framer holds {pending} bytes")
        check(errors <= QUEUE_DEPTH, f"error queue holds {errors} entries")
        check(trace <= min(device.trace.settings.points, BUFFER_CAPACITY),
              f"TRACe holds {trace} readings, points {device.trace.settings.points}")
        check(acquisition <= MAX_ACQUISITION, f"acquisition holds {acquisition} readings")
        stats.peak_framer_pending = max(stats.peak_framer_pending, pending)
        stats.peak_error_queue = max(stats.peak_error_queue, errors)
        stats.peak_trace = max(stats.peak_trace, trace)
        stats.peak_acquisition = max(stats.peak_acquisition, acquisition)


def start_session(seed: int, index: int, stats: Stats) -> tuple[Session, random.Random]:
    """Session ``index`` of ``seed``: its configuration and its own random stream."""
    rng = random.Random(f"{seed}:{index}")
    model, mode, speed, xonxoff = CONFIGURATIONS[index % len(CONFIGURATIONS)]
    return Session(model, mode, speed, xonxoff, stats), rng


def drive(session: Session, rng: random.Random) -> None:
    for _ in range(rng.randint(*CHUNKS_PER_SESSION)):
        session.feed(random_chunk(rng))
        session.advance(rng)
        if rng.random() < PROBE_PROBABILITY:
            session.probe(rng)
    session.recover()
    session.stats.sessions += 1


# -- reporting --------------------------------------------------------------------------


def peak_rss_mib() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    per_mib = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / per_mib


def report(stats: Stats, elapsed: float, rss_start: float) -> None:
    rate = stats.messages / elapsed if elapsed > 0 else 0.0
    print(f"sessions {stats.sessions}, chunks {stats.chunks}, "
          f"input {stats.input_bytes / 1e6:.1f} MB in {elapsed:.1f} s")
    print(f"messages processed {stats.messages} ({rate:.0f} messages/s), device clears "
          f"{stats.device_clears}, overruns {stats.overruns}, replies {stats.replies}, "
          f"probes {stats.probes}")
    print(f"peak framer buffer {stats.peak_framer_pending} bytes, error queue "
          f"{stats.peak_error_queue} entries, reply {stats.peak_reply_chars} characters, "
          f"TRACe {stats.peak_trace} readings, acquisition {stats.peak_acquisition} readings")
    print(f"peak RSS {peak_rss_mib():.0f} MiB (at start {rss_start:.0f} MiB); slowest feed "
          f"{stats.slowest_feed_s * 1000:.1f} ms for {stats.slowest_input[:80]!r}")


def fail(seed: int, index: int, session: Session | None, error: BaseException) -> None:
    print(f"FAILED in session {index} (replay: --seed {seed} --session {index})",
          file=sys.stderr)
    if session is not None:
        print(f"configuration: model={session.model} mode={session.mode} "
              f"speed={session.speed} xonxoff={session.xonxoff}", file=sys.stderr)
        for chunk in session.recent:
            print(f"  input {chunk[:120]!r}{' ...' if len(chunk) > 120 else ''}",
                  file=sys.stderr)
    traceback.print_exception(error, file=sys.stderr)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=60.0, help="run time (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--session", type=int, default=None,
                        help="replay only this session of --seed")
    parser.add_argument("--max-rss-mib", type=float, default=1024.0,
                        help="fail when the peak RSS exceeds this (default 1024)")
    parser.add_argument("--verbose", action="store_true", help="show the models' log")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Lenient mode logs every unknown header at WARNING: far too much for a fuzz run.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.ERROR)
    stats = Stats()
    rss_start = peak_rss_mib()
    start = time.perf_counter()
    deadline = start + args.seconds
    index = args.session if args.session is not None else 0
    while True:
        session: Session | None = None
        try:
            session, rng = start_session(args.seed, index, stats)
            drive(session, rng)
            check(peak_rss_mib() <= args.max_rss_mib,
                  f"peak RSS {peak_rss_mib():.0f} MiB over --max-rss-mib {args.max_rss_mib}")
        except Exception as error:  # the run's purpose: any exception is a finding
            fail(args.seed, index, session, error)
            report(stats, time.perf_counter() - start, rss_start)
            return 1
        index += 1
        if args.session is not None or time.perf_counter() >= deadline:
            break
    report(stats, time.perf_counter() - start, rss_start)
    print("OK: no exception, every invariant held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
