"""A reusable sans-IO SCPI engine (spec: shared/spec/keithley.md §0.5, §1-§3).

Nothing here does I/O or reads a clock: bytes or message text and a host time go in,
events or ``Reply(text, ready_at)`` tuples come out.

Usage: a tiny instrument is a subclass of ``ScpiInstrument`` plus a ``CommandTable``::

    from devices.scpi import (
        Boolean, Call, Choice, Command, CommandTable, Numeric, ScpiError,
        ScpiInstrument, format_nr3, setting,
    )

    class Tiny(ScpiInstrument):
        def __init__(self) -> None:
            self.nplc = 1.0
            self.source = "IMM"
            self.output = False
            super().__init__(TINY_COMMANDS)

        def identity(self) -> str:                      # *IDN?
            return "ACME,TINY-1,0001,1.0"

        def reset(self, call: Call) -> None:            # *RST
            self.nplc, self.source, self.output = 1.0, "IMM", False

        def unit_duration(self, call: Call) -> float:   # device time each unit takes
            return 0.001 if call.is_query else 0.0

    def read_current(tiny: Tiny, call: Call) -> str:
        if tiny.source == "BUS":
            raise ScpiError(-214)                       # queued as -214,"Trigger deadlock"
        call.finish_at(call.time + 0.0537 * tiny.nplc)  # reply ready after the integration
        return format_nr3(1.234e-9)

    TINY_COMMANDS: CommandTable[Tiny] = CommandTable([
        # set + query + "? MIN|MAX|DEF", limits -> -222, words -> -148, MIN/MAX/DEF accepted
        setting("[:SENSe[1]]:CURRent[:DC]:NPLCycles", Numeric(0.01, 10.0, default=1.0), "nplc"),
        setting(":TRIGger[:SEQuence[1]]:SOURce", Choice("IMMediate", "BUS", "TIMer"), "source"),
        setting(":OUTPut[1][:STATe]", Boolean(), "output"),
        Command(":READ?", on_query=read_current),
    ])

    tiny = Tiny()
    tiny.receive(":sens:curr:nplc 2;NPLC?;*IDN?", now=0.0)
    # -> [Reply(text='2.000000E+00;ACME,TINY-1,0001,1.0', ready_at=0.002)]
    tiny.receive(":SENS:CURR:NPLC 50", now=1.0)      # -> []   (-222 queued, nothing changed)
    tiny.receive("SYST:ERR?", now=2.0)  # -> [Reply('-222,"Parameter data out of range"', 2.001)]
    tiny.receive("SENS:CURR:NPLC? MAX", now=3.0)     # -> [Reply('1.000000E+01', 3.001)]

Public API (all importable from ``devices.scpi``):

Framing (``framer``)
    ``Framer(max_message_length=2048, xonxoff=False)``; ``.feed(data: bytes) -> list[FramerEvent]``;
    ``.reset()``. Events: ``Message(text)`` (latin-1 decoded, terminator removed, zero-length
    messages are not emitted), ``DeviceClear()``, ``Overrun()``, ``FlowControl(state)`` with
    ``state`` ``"xon"`` or ``"xoff"``.

Commands (``commands``, ``parameters``, ``tree``)
    ``Command(pattern, on_set=None, on_query=None, params=(), query_params=(), duration=None,
    formatter=None)``: ``pattern`` is the documented spelling (``":SOURce:VOLTage[:LEVel]"``,
    ``"*IDN"``; a trailing ``?`` means query-only). Handlers are ``on_set(target, call) -> None``
    and ``on_query(target, call) -> str``; they raise ``ScpiError(code)`` to fail the unit,
    ``Blocked(retry_at=None)`` to wait for an unpredictable event (the engine retries the unit
    on ``poll``) and ``NoReply()`` to end the message with no reply and no error (earlier
    results of the message are still sent). ``duration`` (seconds, or
    ``fn(target, call) -> float``) overrides the instrument's ``unit_duration`` hook.
    ``formatter(value) -> str`` formats ``? MIN|MAX|DEF``.
    Suffix syntax inside a node: ``NAMe[1]`` optional suffix 1 only, ``NAMe[1-4]`` optional,
    1..4, absent = first; ``NAMe2`` exactly 2. ``[:NODE]`` is an optional node. A keyword
    may contain digits (``MA0Factor``, short form ``MA0F``) but trailing digits are always
    a suffix. Keywords of one spelling whose suffixes overlap (``OUTPut`` and ``OUTPut[1]``)
    share a tree node; each command still checks its own suffixes (-113/-114). One handler
    pair may be registered under two spellings (``VSOurce``/``VSOUrce``) of one header.
    ``setting(pattern, parameter, attribute, *, formatter=None, after_set=None,
    query=True) -> Command``: a stored setting bound to ``getattr/setattr(target, attribute)``.
    ``CommandTable(commands, *, status=StatusLayout(), save_slots=0, options_query=False,
    standard=True)``: compiles the tree once (share it between instances). With ``standard``
    it adds the IEEE-488.2 common commands, ``:SYSTem:ERRor[:NEXT]?``, ``:SYSTem:CLEar`` and the
    ``:STATus`` subsystem; a command of yours with the same header replaces the built-in one.
    ``Call``: ``engine`` (``engine.target`` is the instrument), ``command``, ``text`` (the unit
    as received), ``args: tuple`` (``arg`` = first), ``tokens`` (the parameters as received,
    ``Token(kind, text)`` with ``TokenKind.NUMBER/WORD/STRING/LIST``; ``is_word(i)`` tells
    ``MAX`` from a number), ``suffixes: tuple[int, ...]`` /
    ``suffix(i=0)`` (one per node that declares a suffix, in pattern order, defaults filled
    in), ``time`` (host time the unit starts), ``is_query``, ``finish_at(t)`` (the unit
    completes no earlier than ``t``; its end is max(time + duration, t)), ``finished_at``.
    Handlers are called again after ``Blocked``, so they must not change state before raising.
    Parameters: ``Numeric(minimum=None, maximum=None, default=None, *, integer=False,
    choices=None, keywords=None, up_down=False, optional=False, word_error=-148)`` -> float
    (int with ``integer``; ``UP``/``DOWN`` give ``Step.UP``/``Step.DOWN`` when accepted);
    ``Boolean(*, once=False, optional=False)`` -> bool or ``ONCE``;
    ``Choice(*names, optional=False)`` -> canonical short form (``"IMM"``, ``"SENS1"``);
    ``String(*, optional=False, word_error=-224)`` -> str; ``NumberList(*, optional=False)``
    -> ``ListValue``; ``ElementList(*names)`` -> tuple of short forms (consumes the rest);
    ``Raw(*, optional=False)`` -> the token text.

Status and errors (``status``, ``errors``)
    ``ScpiError(code, message=None)``; ``ERROR_MESSAGES``; ``format_error(code, message,
    plus=False)``; ``ErrorQueue(depth=10)`` with ``push``, ``pop``, ``clear``, ``len()``.
    ``StatusLayout(registers=(RegisterSpec(...), ...))``, ``RegisterSpec(name, path,
    summary_bit=None, parent=None, parent_bit=None)``; default layout = operation (STB bit 7)
    and questionable (STB bit 3). ``StatusRegister`` with ``condition``, ``event``, ``enable``,
    ``ptr``, ``ntr``, ``set_condition(value)``, ``set_bits(mask)``, ``clear_bits(mask)``,
    ``latch(mask)`` (event without condition), ``read_event()``, ``set_enable(v)``, ``preset()``.
    ``StatusModel`` (``engine.status``): ``error_queue``, ``event_status``,
    ``event_status_enable``, ``service_request_enable``, ``register(name)``,
    ``report_error(code, message=None, esr_bit=None)``, ``set_event(bits)``,
    ``status_byte(message_available=False)``, ``clear()`` (*CLS), ``preset()`` (:STAT:PRES),
    ``power_on()``, ``register_format`` (callable rendering register replies, for
    ``:FORMat:SREGister``). Layout constants: ``MEASUREMENT`` (STB bit 0), ``OPERATION``,
    ``QUESTIONABLE``.

Engine (``engine``)
    ``ScpiInstrument(commands, *, options=None)``: base class exposing the §0.5 surface
    ``receive(message, now)``, ``device_clear(now)``, ``input_overrun(now)``, ``poll(now)``,
    ``next_wakeup()``, holding ``self.engine``. Hooks to override: ``identity()``,
    ``reset(call)``, ``trigger(call)``, ``self_test(call) -> int``, ``save_setup(call, slot)``,
    ``recall_setup(call, slot)``, ``installed_options() -> str``,
    ``operations_done_at(now) -> float | None`` (``*OPC``/``*OPC?``/``*WAI``; ``None`` = pending
    until an unpredictable event), ``unit_duration(call) -> float``, ``on_device_clear(now)``,
    ``before_unit(call)`` (runs before every handler, also on a retry after ``Blocked``).
    The hooks alone are in ``InstrumentHooks`` (for a target used with a bare ``Engine``).
    ``Engine(target, commands, options=None)`` does the work and can be used without the base
    class; besides the §0.5 methods it offers ``status``, ``options`` / ``lenient`` (settable at
    run time), ``blocked``, ``busy_until``, ``unknown_headers`` (lenient-mode log),
    ``power_on()``, ``report_error(code, message=None)``, ``message_available(time)``,
    ``arm_operation_complete(time)``, ``cancel_operation_complete()``. ``DEVICE_CLEAR_REPLY``.
    ``EngineOptions(lenient=False, error_queue_depth=10, positive_error_plus=False,
    overrun_error_code=-363, numeric_up_down="reject", execution_errors_abort=True,
    max_queued_characters=2048)``; ``NumericUpDown`` is the type of ``numeric_up_down``.
    ``Reply(text, ready_at)``.

Formatting (``formatting``)
    ``format_nr1(value)``, ``format_nr3(value, digits=7, plus=False)``, ``format_bool(value)``,
    ``format_string(text)``, ``format_list(value)``.
"""

from devices.scpi.commands import Blocked, Call, Command, NoReply, default_formatter, setting
from devices.scpi.engine import DEVICE_CLEAR_REPLY, Engine, EngineOptions, NumericUpDown, Reply
from devices.scpi.errors import (
    ERROR_MESSAGES,
    ErrorQueue,
    ScpiError,
    esr_bit_for,
    format_error,
    message_for,
)
from devices.scpi.formatting import (
    format_bool,
    format_list,
    format_nr1,
    format_nr3,
    format_string,
)
from devices.scpi.framer import DeviceClear, FlowControl, Framer, FramerEvent, Message, Overrun
from devices.scpi.instrument import InstrumentHooks, ScpiInstrument
from devices.scpi.mnemonics import PatternError
from devices.scpi.parameters import (
    ONCE,
    Boolean,
    Choice,
    ElementList,
    ListValue,
    NumberList,
    Numeric,
    Parameter,
    Raw,
    Step,
    String,
    Token,
    TokenKind,
)
from devices.scpi.status import (
    MEASUREMENT,
    OPERATION,
    QUESTIONABLE,
    RegisterSpec,
    StatusLayout,
    StatusModel,
    StatusRegister,
)
from devices.scpi.table import CommandTable

__all__ = [
    "DEVICE_CLEAR_REPLY",
    "ERROR_MESSAGES",
    "MEASUREMENT",
    "ONCE",
    "OPERATION",
    "QUESTIONABLE",
    "Blocked",
    "Boolean",
    "Call",
    "Choice",
    "Command",
    "CommandTable",
    "DeviceClear",
    "ElementList",
    "Engine",
    "EngineOptions",
    "ErrorQueue",
    "FlowControl",
    "Framer",
    "FramerEvent",
    "InstrumentHooks",
    "ListValue",
    "Message",
    "NoReply",
    "NumberList",
    "Numeric",
    "NumericUpDown",
    "Overrun",
    "Parameter",
    "PatternError",
    "Raw",
    "RegisterSpec",
    "Reply",
    "ScpiError",
    "ScpiInstrument",
    "StatusLayout",
    "StatusModel",
    "StatusRegister",
    "Step",
    "String",
    "Token",
    "TokenKind",
    "default_formatter",
    "esr_bit_for",
    "format_bool",
    "format_error",
    "format_list",
    "format_nr1",
    "format_nr3",
    "format_string",
    "message_for",
    "setting",
]
