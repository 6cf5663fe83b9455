"""Built-in commands: IEEE-488.2 common commands, SYSTem:ERRor, STATus (spec §2, §3).

Handlers reach the instrument hooks through ``call.engine.target`` and the status model
through ``call.engine.status``.
"""

from __future__ import annotations

from typing import Any

from devices.scpi.commands import Blocked, Call, Command
from devices.scpi.errors import format_error
from devices.scpi.formatting import format_list, format_nr1
from devices.scpi.parameters import ListValue, NumberList, Numeric
from devices.scpi.status import REGISTER_MASK, RegisterSpec, StatusLayout

BYTE = Numeric(0, 255, integer=True)
WORD = Numeric(0, 65535, integer=True)


def _identity(target: Any, call: Call) -> str:
    return str(call.engine.target.identity())


def _reset(target: Any, call: Call) -> None:
    call.engine.cancel_operation_complete()
    call.engine.target.reset(call)


def _clear_status(target: Any, call: Call) -> None:
    call.engine.cancel_operation_complete()
    call.engine.status.clear()


def _set_event_enable(target: Any, call: Call) -> None:
    call.engine.status.event_status_enable = call.args[0]


def _event_enable(target: Any, call: Call) -> str:
    return format_nr1(call.engine.status.event_status_enable)


def _event_status(target: Any, call: Call) -> str:
    return format_nr1(call.engine.status.read_event_status())


def _set_service_enable(target: Any, call: Call) -> None:
    call.engine.status.service_request_enable = call.args[0] & ~64  # bit 6 is ignored


def _service_enable(target: Any, call: Call) -> str:
    return format_nr1(call.engine.status.service_request_enable)


def _status_byte(target: Any, call: Call) -> str:
    engine = call.engine
    return format_nr1(engine.status.status_byte(engine.message_available(call.time)))


def _operation_complete(target: Any, call: Call) -> None:
    call.engine.arm_operation_complete(call.time)


def _wait_operations(call: Call) -> None:
    done = call.engine.target.operations_done_at(call.time)
    if done is None:
        raise Blocked()
    call.finish_at(done)


def _operation_complete_query(target: Any, call: Call) -> str:
    _wait_operations(call)
    return "1"


def _wait(target: Any, call: Call) -> None:
    _wait_operations(call)


def _trigger(target: Any, call: Call) -> None:
    call.engine.target.trigger(call)


def _self_test(target: Any, call: Call) -> str:
    return format_nr1(call.engine.target.self_test(call))


def _save(target: Any, call: Call) -> None:
    call.engine.target.save_setup(call, call.args[0])


def _recall(target: Any, call: Call) -> None:
    call.engine.cancel_operation_complete()
    call.engine.target.recall_setup(call, call.args[0])


def _options(target: Any, call: Call) -> str:
    return str(call.engine.target.installed_options())


def _next_error(target: Any, call: Call) -> str:
    engine = call.engine
    code, message = engine.status.error_queue.pop()
    return format_error(code, message, engine.options.positive_error_plus)


def _clear_errors(target: Any, call: Call) -> None:
    call.engine.status.error_queue.clear()


def _preset(target: Any, call: Call) -> None:
    call.engine.status.preset()


def _set_queue_enable(target: Any, call: Call) -> None:
    call.engine.status.error_queue.set_enabled(_code_ranges(call.args[0]))


def _queue_enable(target: Any, call: Call) -> str:
    return format_list(ListValue(call.engine.status.error_queue.enabled))


def _set_queue_disable(target: Any, call: Call) -> None:
    call.engine.status.error_queue.set_disabled(_code_ranges(call.args[0]))


def _queue_disable(target: Any, call: Call) -> str:
    return format_list(ListValue(call.engine.status.error_queue.disabled))


def _code_ranges(value: ListValue) -> list[tuple[int, int]]:
    return [(int(min(low, high)), int(max(low, high))) for low, high in value.ranges]


def common_commands(save_slots: int, options_query: bool) -> list[Command[Any]]:
    """The IEEE-488.2 common commands of §2.2."""
    commands: list[Command[Any]] = [
        Command("*IDN?", on_query=_identity),
        Command("*RST", on_set=_reset),
        Command("*CLS", on_set=_clear_status),
        Command("*ESE", on_set=_set_event_enable, on_query=_event_enable, params=(BYTE,)),
        Command("*ESR?", on_query=_event_status),
        Command("*SRE", on_set=_set_service_enable, on_query=_service_enable, params=(BYTE,)),
        Command("*STB?", on_query=_status_byte),
        Command("*OPC", on_set=_operation_complete, on_query=_operation_complete_query),
        Command("*WAI", on_set=_wait),
        Command("*TRG", on_set=_trigger),
        Command("*TST?", on_query=_self_test),
    ]
    if save_slots > 0:
        slot = Numeric(0, save_slots - 1, integer=True)
        commands.append(Command("*SAV", on_set=_save, params=(slot,)))
        commands.append(Command("*RCL", on_set=_recall, params=(slot,)))
    if options_query:
        commands.append(Command("*OPT?", on_query=_options))
    return commands


def system_commands() -> list[Command[Any]]:
    """``:SYSTem:ERRor[:NEXT]?`` and ``:SYSTem:CLEar`` (§3.1)."""
    return [
        Command(":SYSTem:ERRor[:NEXT]?", on_query=_next_error),
        Command(":SYSTem:CLEar", on_set=_clear_errors),
    ]


def status_commands(layout: StatusLayout) -> list[Command[Any]]:
    """``:STATus:PRESet``, ``:STATus:QUEue…`` and the commands of every register (§2.6)."""
    commands: list[Command[Any]] = [
        Command(":STATus:PRESet", on_set=_preset),
        Command(":STATus:QUEue[:NEXT]?", on_query=_next_error),
        Command(":STATus:QUEue:CLEar", on_set=_clear_errors),
        Command(":STATus:QUEue:ENABle", on_set=_set_queue_enable, on_query=_queue_enable,
                params=(NumberList(),)),
        Command(":STATus:QUEue:DISable", on_set=_set_queue_disable, on_query=_queue_disable,
                params=(NumberList(),)),
    ]
    for spec in layout.registers:
        commands.extend(register_commands(spec))
    return commands


def register_commands(spec: RegisterSpec) -> list[Command[Any]]:
    """``<path>[:EVENt]?``, ``:CONDition?``, ``:ENABle``, ``:PTRansition``, ``:NTRansition``."""
    name = spec.name

    def event(target: Any, call: Call) -> str:
        status = call.engine.status
        return status.register_format(status.register(name).read_event())

    def condition(target: Any, call: Call) -> str:
        status = call.engine.status
        return status.register_format(status.register(name).condition)

    def set_enable(target: Any, call: Call) -> None:
        call.engine.status.register(name).set_enable(call.args[0])

    def enable(target: Any, call: Call) -> str:
        status = call.engine.status
        return status.register_format(status.register(name).enable)

    def set_ptr(target: Any, call: Call) -> None:
        call.engine.status.register(name).ptr = call.args[0] & REGISTER_MASK

    def ptr(target: Any, call: Call) -> str:
        status = call.engine.status
        return status.register_format(status.register(name).ptr)

    def set_ntr(target: Any, call: Call) -> None:
        call.engine.status.register(name).ntr = call.args[0] & REGISTER_MASK

    def ntr(target: Any, call: Call) -> str:
        status = call.engine.status
        return status.register_format(status.register(name).ntr)

    path = spec.path
    return [
        Command(f"{path}[:EVENt]?", on_query=event),
        Command(f"{path}:CONDition?", on_query=condition),
        Command(f"{path}:ENABle", on_set=set_enable, on_query=enable, params=(WORD,)),
        Command(f"{path}:PTRansition", on_set=set_ptr, on_query=ptr, params=(WORD,)),
        Command(f"{path}:NTRansition", on_set=set_ntr, on_query=ntr, params=(WORD,)),
    ]
