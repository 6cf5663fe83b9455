"""The SCPI engine: executes program messages and times their replies (spec §0.5, §1.7, §1.8).

Sans-IO: ``receive(message, now)`` returns ``Reply(text, ready_at)`` tuples; the caller
writes each reply when its clock reaches ``ready_at``. Messages run one after another: a
message starts at max(its arrival, the end of the previous one).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from devices.scpi.commands import Blocked, Call, Command, NoReply
from devices.scpi.errors import ESR_OPC, ScpiError
from devices.scpi.parameters import ParseOptions
from devices.scpi.plan import Plan, Step, prepare
from devices.scpi.status import StatusModel
from devices.scpi.table import CommandTable

logger = logging.getLogger(__name__)

T = TypeVar("T")

_PLAN_CACHE_LIMIT = 1024
_UNKNOWN_HEADER_LOG = 100
DEVICE_CLEAR_REPLY = "DCL"


NumericUpDown = Literal["reject", "accept"]


_new_tuple = tuple.__new__


class Reply(NamedTuple):
    """One reply line without terminator, to be sent at host time ``ready_at``."""

    text: str
    ready_at: float


@dataclass(frozen=True)
class EngineOptions:
    """Behaviour switches (spec §1.3, §1.6, §3, §9.1, §10 F4/F5/F7/F8/F9).

    ``join_queries``: the replies of one message's queries form one line joined
    with ``;`` (F4); otherwise each query answers with its own line.
    """

    lenient: bool = False
    error_queue_depth: int = 10
    positive_error_plus: bool = False
    overrun_error_code: int = -363
    numeric_up_down: NumericUpDown = "reject"
    execution_errors_abort: bool = True
    max_queued_characters: int = 2048
    join_queries: bool = True


@dataclass
class _Continuation:
    plan: Plan
    index: int
    results: list[str]
    time: float
    retry_at: float | None


class Engine(Generic[T]):
    """Runs messages against a ``CommandTable``; handlers get ``target`` as first argument.

    ``target`` must provide the hooks of ``InstrumentHooks`` that the built-in commands use.
    """

    def __init__(
        self, target: T, commands: CommandTable[T], options: EngineOptions | None = None
    ) -> None:
        self.target: Any = target
        self.commands = commands
        self._options = options if options is not None else EngineOptions()
        self.status = StatusModel(commands.status, self._options.error_queue_depth)
        self.unknown_headers: deque[str] = deque(maxlen=_UNKNOWN_HEADER_LOG)
        self.busy_until = float("-inf")
        self._parse_options = ParseOptions(self._options.numeric_up_down == "accept")
        self._plans: dict[str, Plan] = {}
        self._results: list[str] = []
        self._blocked: _Continuation | None = None
        self._queued: deque[tuple[str, float]] = deque()
        self._queued_characters = 0
        self._operation_complete_armed = False
        self._default_duration = getattr(target, "unit_duration", None)
        self._before_unit = getattr(target, "before_unit", None)
        self.status.power_on()

    # -- options -------------------------------------------------------------------------

    @property
    def options(self) -> EngineOptions:
        return self._options

    @options.setter
    def options(self, options: EngineOptions) -> None:
        self._options = options
        self._parse_options = ParseOptions(options.numeric_up_down == "accept")
        self.status.error_queue.depth = options.error_queue_depth
        self._plans.clear()

    @property
    def lenient(self) -> bool:
        return self._options.lenient

    @lenient.setter
    def lenient(self, value: bool) -> None:
        self.options = replace(self._options, lenient=value)

    # -- the §0.5 surface ----------------------------------------------------------------

    def receive(self, message: str, now: float) -> list[Reply]:
        """Execute one program message received at host time ``now``."""
        if self._blocked is not None or self._queued:
            self._enqueue(message, now)
            return []
        return self._run(self._plan(message), 0, [], max(now, self.busy_until))

    def device_clear(self, now: float) -> list[Reply]:
        """Cancel waiting units and queued messages; settings and status are kept (§8.3)."""
        self._blocked = None
        self._queued.clear()
        self._queued_characters = 0
        self._results = []
        self.busy_until = now
        return [Reply(DEVICE_CLEAR_REPLY, now)]

    def input_overrun(self, now: float) -> None:
        """Queue the overrun error of an overlong message (§1.3)."""
        self.status.report_error(self._options.overrun_error_code)

    def poll(self, now: float) -> list[Reply]:
        """Retry a blocked unit, then run the messages queued behind it."""
        if self._operation_complete_armed:
            self._settle_operation_complete(now)
        replies: list[Reply] = []
        blocked = self._blocked
        if blocked is not None:
            self._blocked = None
            replies += self._run(blocked.plan, blocked.index, blocked.results,
                                 max(now, blocked.time))
        while self._blocked is None and self._queued:
            message, arrived = self._queued.popleft()
            self._queued_characters -= len(message)
            replies += self._run(self._plan(message), 0, [], max(arrived, self.busy_until))
        return replies

    def next_wakeup(self) -> float | None:
        """When a blocked unit asked to be retried (None: nothing scheduled)."""
        return self._blocked.retry_at if self._blocked is not None else None

    # -- services for handlers -----------------------------------------------------------

    @property
    def queued_characters(self) -> int:
        """Characters of the messages waiting behind a blocked unit (received, not executed)."""
        return self._queued_characters

    @property
    def blocked(self) -> bool:
        """True while a unit waits for an unpredictable event."""
        return self._blocked is not None

    def power_on(self) -> None:
        """Power-on state of the status system (PON set, queue and registers cleared)."""
        self._operation_complete_armed = False
        self.status.power_on()

    def report_error(self, code: int, message: str | None = None) -> None:
        """Queue an error outside of a handler (e.g. an asynchronous fault)."""
        self.status.report_error(code, message)

    def message_available(self, time: float) -> bool:
        """MAV (§2.4): a result of an earlier unit of this message exists.

        Messages run one after another, so an earlier message's reply is always due by the
        time a later message starts.
        """
        return bool(self._results)

    def arm_operation_complete(self, time: float) -> None:
        """``*OPC``: set ESR bit 0 once ``operations_done_at`` says all is done."""
        self._operation_complete_armed = True
        self._settle_operation_complete(time)

    def cancel_operation_complete(self) -> None:
        self._operation_complete_armed = False

    def commands_of(self, message: str) -> list[Command[Any]]:
        """The commands the units of ``message`` resolve to (unknown ones left out)."""
        return [step.command for step in self._plan(message).steps if step.command is not None]

    # -- execution -----------------------------------------------------------------------

    def _plan(self, message: str) -> Plan:
        """The execution plan of ``message`` (cached by message text)."""
        plan = self._plans.get(message)
        if plan is None:
            tree = self.commands.tree
            plan = prepare(tree, message, self._options.lenient, self._parse_options)
            if len(self._plans) >= _PLAN_CACHE_LIMIT:
                self._plans.clear()
            self._plans[message] = plan
        return plan

    def _run(self, plan: Plan, index: int, results: list[str], time: float) -> list[Reply]:
        self._results = results
        steps = plan.steps
        count = len(steps)
        before_unit = self._before_unit
        target = self.target
        while index < count:
            step = steps[index]
            if self._operation_complete_armed:
                self._settle_operation_complete(time)
            command = step.command
            if command is None:
                self._log_unknown(step)
                index += 1
                continue
            call = Call(self, command, step.text, step.args, step.suffixes, time,
                        step.is_query, step.tokens)
            try:
                if step.handler is None:
                    text = step.reply or ""
                else:
                    if before_unit is not None:
                        before_unit(call)
                    text = step.handler(target, call)
            except Blocked as blocked:
                self._blocked = _Continuation(plan, index, results, time, blocked.retry_at)
                self.busy_until = time
                return []
            except NoReply:
                return self._finish(results, time)
            except ScpiError as error:
                self.status.report_error(error.code, error.message, error.esr_bit)
                if self._aborts(error.code):
                    return self._finish(results, time)
                index += 1
                continue
            if step.is_query:
                results.append(text)
            time = max(time + self._duration(command, call), call.finished_at)
            index += 1
        failure = plan.failure
        if failure is not None:
            self.status.report_error(failure.code, failure.message, failure.esr_bit)
        return self._finish(results, time)

    def _finish(self, results: list[str], time: float) -> list[Reply]:
        self.busy_until = time
        self._results = []
        if not results:
            return []
        if len(results) == 1:  # the usual case: tuple.__new__ skips Reply.__new__
            return [_new_tuple(Reply, (results[0], time))]
        if self._options.join_queries:
            return [Reply(";".join(results), time)]
        return [Reply(result, time) for result in results]

    def _duration(self, command: Command[Any], call: Call) -> float:
        duration = command.duration
        if duration is None:
            if self._default_duration is None:
                return 0.0
            return float(self._default_duration(call))
        if isinstance(duration, int | float):
            return float(duration)
        return float(duration(self.target, call))

    def _aborts(self, code: int) -> bool:
        if self._options.execution_errors_abort:
            return True
        return not -300 < code <= -200

    def _settle_operation_complete(self, time: float) -> None:
        done = self.target.operations_done_at(time)
        if done is not None and done <= time:
            self.status.set_event(ESR_OPC)
            self._operation_complete_armed = False

    def _enqueue(self, message: str, now: float) -> None:
        if self._queued_characters + len(message) > self._options.max_queued_characters:
            logger.warning("input queue full while blocked; message dropped: %.60r", message)
            self.status.report_error(self._options.overrun_error_code)
            return
        self._queued.append((message, now))
        self._queued_characters += len(message)

    def _log_unknown(self, step: Step) -> None:
        self.unknown_headers.append(step.text)
        if step.is_query:
            logger.warning("unknown query %r ignored (lenient mode); no reply sent, "
                           "a client may be waiting", step.text)
        else:
            logger.warning("unknown command %r ignored (lenient mode)", step.text)
