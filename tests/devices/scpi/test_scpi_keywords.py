"""Keywords with digits and keywords that share a spelling (spec §1.5)."""

from __future__ import annotations

from typing import Any

import pytest

from devices.scpi import Call, Command, CommandTable, PatternError, ScpiInstrument


class Box(ScpiInstrument):
    def __init__(self, table: CommandTable[Box]) -> None:
        self.seen: list[tuple[str, tuple[int, ...]]] = []
        super().__init__(table)


def _record(name: str) -> Any:
    def handler(box: Box, call: Call) -> str:
        box.seen.append((name, call.suffixes))
        return name

    return handler


def _ask(box: Box, message: str) -> str | None:
    replies = box.receive(message, 0.0)
    return replies[0].text if replies else None


def _errors(box: Box) -> list[int]:
    codes = []
    while (code := box.engine.status.error_queue.pop()[0]) != 0:
        codes.append(code)
    return codes


@pytest.fixture
def math_box() -> Box:
    return Box(CommandTable([
        Command(f":CALCulate[1]:KMATh:MA{n}Factor?", on_query=_record(f"a{n}"))
        for n in range(3)
    ] + [Command(":CALCulate2:DATA?", on_query=_record("calc2"))]))


@pytest.mark.parametrize(
    ("message", "reply"),
    [(":CALC:KMAT:MA0F?", "a0"), (":calculate1:kmath:ma1factor?", "a1"),
     (":CALC1:KMAT:MA2FACTOR?", "a2"), (":CALC2:DATA?", "calc2")],
)
def test_keyword_with_embedded_digit_has_short_and_long_forms(
    math_box: Box, message: str, reply: str
) -> None:
    assert _ask(math_box, message) == reply
    assert _errors(math_box) == []


@pytest.mark.parametrize(
    ("message", "code"),
    [(":CALC:KMAT:MA0?", -113), (":CALC:KMAT:MA0FA?", -113), (":CALC:KMAT:MA3F?", -113),
     (":CALC:KMAT:MA0F1?", -113), (":CALC3:KMAT:MA0F?", -114)],
)
def test_keyword_digits_are_not_a_suffix(math_box: Box, message: str, code: int) -> None:
    assert _ask(math_box, message) is None
    assert _errors(math_box) == [code]


def test_trailing_digits_of_a_keyword_with_digits_are_its_suffix() -> None:
    box = Box(CommandTable([Command(":MA0Factor[1-2]?", on_query=_record("m"))]))
    assert _ask(box, ":MA0F2?") == "m"
    assert box.seen == [("m", (2,))]
    assert _ask(box, ":MA0F3?") is None
    assert _errors(box) == [-114]


@pytest.mark.parametrize("pattern", [":0Factor", ":ma0Factor", ":MA0Factor[", ":MA-0Factor"])
def test_malformed_keywords_with_digits_are_refused(pattern: str) -> None:
    with pytest.raises(PatternError):
        CommandTable([Command(pattern + "?", on_query=_record("x"))])


@pytest.fixture
def output_box() -> Box:
    # ``OUTPut`` and ``OUTPut[1]`` accept the same bare keyword; their subtrees merge.
    return Box(CommandTable([
        Command(":OUTPut:TTL?", on_query=_record("ttl")),
        Command(":OUTPut[1][:STATe]?", on_query=_record("state")),
        Command(":OUTPut2:LEVel?", on_query=_record("level2")),
    ]))


@pytest.mark.parametrize(
    ("message", "reply", "suffixes"),
    [(":OUTP:TTL?", "ttl", ()), (":OUTP?", "state", (1,)), (":OUTPUT1:STAT?", "state", (1,)),
     (":OUTP2:LEV?", "level2", (2,))],
)
def test_keywords_sharing_a_spelling_reach_every_command(
    output_box: Box, message: str, reply: str, suffixes: tuple[int, ...]
) -> None:
    assert _ask(output_box, message) == reply
    assert output_box.seen == [(reply, suffixes)]


@pytest.mark.parametrize(
    ("message", "code"),
    [(":OUTP1:TTL?", -113), (":OUTP3?", -114), (":OUTP2?", -113), (":OUTP:LEV?", -113)],
)
def test_merged_node_still_checks_each_commands_suffixes(
    output_box: Box, message: str, code: int
) -> None:
    assert _ask(output_box, message) is None
    assert _errors(output_box) == [code]


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1), (1, 2, 0)])
def test_overlapping_keywords_merge_whatever_their_order(order: tuple[int, ...]) -> None:
    commands = [Command(":X2:A?", on_query=_record("a")),
                Command(":X[1]:B?", on_query=_record("b")),
                Command(":X[1-4]:C?", on_query=_record("c"))]
    box = Box(CommandTable([commands[i] for i in order]))
    assert _ask(box, ":X2:A?;:X:B?;:X3:C?") == "a;b;c"
    assert box.seen == [("a", (2,)), ("b", (1,)), ("c", (3,))]


def test_relative_path_through_a_merged_node(output_box: Box) -> None:
    box = Box(CommandTable([Command(":SOURce:TTL?", on_query=_record("ttl")),
                            Command(":SOURce[1]:LEVel?", on_query=_record("level"))]))
    assert _ask(box, ":SOUR:TTL?;:SOUR1:LEV?;LEV?") == "ttl;level;level"


def test_one_command_may_have_two_short_spellings() -> None:
    query = Command(":VSOurce:OPERate?", on_query=_record("operate"))
    alias = Command(":VSOUrce:OPERate?", on_query=query.on_query)
    box = Box(CommandTable([query, alias]))
    assert _ask(box, ":VSO:OPER?;:VSOU:OPER?;:VSOURCE:OPER?") == "operate;operate;operate"


def test_two_spellings_with_different_handlers_are_refused() -> None:
    with pytest.raises(PatternError, match="already defines"):
        CommandTable([Command(":VSOurce:OPERate?", on_query=_record("a")),
                      Command(":VSOUrce:OPERate?", on_query=_record("b"))])
