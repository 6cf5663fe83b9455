"""Building blocks of the Keithley command tables: options and setting factories.

Every handler, the engine's built-in ones included (*STB?, :STAT:MEAS?, ...), runs
after ``KeithleyInstrument.before_unit`` has brought the trigger model up to the
unit's device time, so a query sees the readings and status of that time (§6.4).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devices.keithley.config import KeithleyConfig
from devices.keithley.ranges import Model, ModelLimits, NumericLimit, model_limits
from devices.keithley.reading_format import (
    InfiniteStyle,
    VsourceFormat,
    format_count,
    format_nr3,
    format_vsource,
)
from devices.scpi import Call, Command, Numeric, Raw, ScpiError
from devices.scpi.common import common_commands, status_commands, system_commands
from devices.scpi.formatting import format_bool, format_nr1
from devices.scpi.parameters import Parameter
from devices.scpi.status import StatusLayout

if TYPE_CHECKING:
    from devices.keithley.instrument import KeithleyInstrument

Handler = Callable[["KeithleyInstrument", Call], Any]
Locate = Callable[["KeithleyInstrument", Call], Any]
Formatter = Callable[[Any], str]

INFINITE = math.inf
BOOL = format_bool
NR1 = format_nr1


@dataclass(frozen=True)
class TableOptions:
    """The configuration keys that change a command table (tables are cached per value)."""

    model: Model
    nplc_limits: tuple[float, float] = (0.01, 10.0)
    nplc_default: float = 1.0
    nr3_plus: bool = False
    infinite_style: InfiniteStyle = "short"
    vsource_alias: bool = True
    vsource_format: VsourceFormat = "integer_when_integral"
    aperture_on_6514: bool = False
    per_function_filters: bool = False
    save_slots_0_9: bool = False
    opt_query: bool = False
    separate_operate: bool = False
    rlim_state_required: bool = False
    lfr_on_6517b: bool = False
    version_on_6514: bool = True
    function_word_error: int = -224
    generic_errors: bool = False

    @classmethod
    def from_config(cls, config: KeithleyConfig) -> TableOptions:
        """The table-relevant part of a configuration."""
        return cls(
            model=config.model,
            nplc_limits=config.nplc_limits,
            nplc_default=config.nplc_default,
            nr3_plus=config.nr3_plus_sign,
            infinite_style="nr3" if config.fidelity_choice("F15") == "nr3" else "short",
            vsource_alias=config.vsource_alias,
            vsource_format=config.vsource_reply_format,
            aperture_on_6514=config.aperture_on_6514,
            per_function_filters=config.fidelity_has("F31", "per_function_filters"),
            save_slots_0_9=config.fidelity_has("F11", "sav_0_9"),
            opt_query=config.fidelity_has("F11", "opt_query"),
            separate_operate=config.fidelity_has("F18", "separate_operate_states"),
            rlim_state_required=config.fidelity_has("F18", "rlim_state_required"),
            lfr_on_6517b=config.fidelity_has("F40", "lfr_on_6517b"),
            version_on_6514=not config.fidelity_has("F37", "no_version_6514"),
            function_word_error=int(config.fidelity_choice("F6")),
            generic_errors=config.fidelity_choice("F39") == "generic",
        )

    @property
    def b(self) -> bool:
        """True for the 6517B personality."""
        return self.model == "6517B"

    @property
    def limits(self) -> ModelLimits:
        """The model's numeric limits (§4)."""
        return model_limits(self.model)

    def nr3(self, value: float) -> str:
        """A real setting reply (§4.0)."""
        return format_nr3(value, plus_sign=self.nr3_plus)

    def nr3_derived(self, value: float) -> str:
        """A computed real reply (aperture): always seven digits (§9.4)."""
        return format_nr3(value, plus_sign=self.nr3_plus, exact=False)

    def count(self, value: float) -> str:
        """A count reply; INF per F15."""
        return format_count(value, infinite_style=self.infinite_style, plus_sign=self.nr3_plus)

    def vsource(self, value: float) -> str:
        """A V-source reply (§4.11)."""
        return format_vsource(value, self.vsource_format)


def standard_commands(layout: StatusLayout, save_slots: int, options_query: bool
                      ) -> list[Command[Any]]:
    """The engine's built-in commands, with the model's own ``*OPC`` bookkeeping."""
    builtins = [*common_commands(save_slots, options_query), *system_commands(),
                *status_commands(layout)]
    result = []
    for builtin in builtins:
        if builtin.header == "*OPC":
            builtin = dataclasses.replace(builtin, on_set=_arm_operation_complete)
        elif builtin.header == "*CLS":
            builtin = dataclasses.replace(builtin, on_set=_then_disarm(builtin.on_set))
        elif builtin.header == "*RST":
            builtin = dataclasses.replace(builtin, on_set=_then_restore_trace(builtin.on_set))
        result.append(builtin)
    return result


def _arm_operation_complete(instrument: KeithleyInstrument, call: Call) -> None:
    # The model settles *OPC itself, at the device time the trigger model goes idle,
    # instead of letting the engine predict (and so run ahead) the acquisition.
    instrument.arm_operation_complete(call)


def _then_disarm(handler: Handler | None) -> Handler:
    def run(instrument: KeithleyInstrument, call: Call) -> Any:
        instrument.opc_armed = False
        return handler(instrument, call) if handler is not None else None

    return run


def _then_restore_trace(handler: Handler | None) -> Handler:
    def run(instrument: KeithleyInstrument, call: Call) -> Any:
        result = handler(instrument, call) if handler is not None else None
        reset_touches_trace(instrument)
        return result

    return run


def reset_touches_trace(instrument: KeithleyInstrument) -> None:
    """After *RST or :SYST:PRES: the 6517B TRACe settings too, with ``F25`` alternative."""
    config = instrument.config
    if instrument.model == "6517B" and config.fidelity_has("F25", "reset_touches_trace"):
        keep = config.fidelity_has("F24", "points_keeps_buffer")
        instrument.trace.restore_settings(keep_readings=keep)
        instrument.update_measurement_status()


def reading_fetched(instrument: KeithleyInstrument) -> None:
    """A query returned the latest reading: RAV clears, unless ``F38`` makes it sticky."""
    if not instrument.rav_sticky:
        instrument.clear_reading_available()


def execution_error(instrument: KeithleyInstrument, code: int) -> ScpiError:
    """The execution error ``code``, or the generic -200 with the ``F39`` alternative."""
    return ScpiError(-200 if instrument.table_options.generic_errors else code)


def numeric(limit: NumericLimit, **options: Any) -> Numeric:
    """A ``Numeric`` parameter with the limits and *RST default of ``limit``."""
    return Numeric(limit.minimum, limit.maximum, limit.default, **options)


def command(pattern: str, on_set: Handler | None = None, on_query: Handler | None = None,
            params: Iterable[Parameter] = (), formatter: Formatter | None = None
            ) -> Command[Any]:
    """A command of the Keithley tables."""
    return Command(pattern, on_set=on_set, on_query=on_query, params=tuple(params),
                   formatter=formatter)


def field(pattern: str, parameter: Parameter, locate: Locate, attribute: str,
          formatter: Formatter, *, after: Handler | None = None, query: bool = True,
          convert: Callable[[Any], Any] | None = None) -> Command[Any]:
    """A setting stored as ``locate(instrument, call).<attribute>``."""

    def on_set(instrument: KeithleyInstrument, call: Call) -> None:
        value = call.args[0] if convert is None else convert(call.args[0])
        setattr(locate(instrument, call), attribute, value)
        if after is not None:
            after(instrument, call)

    def on_query(instrument: KeithleyInstrument, call: Call) -> str:
        return formatter(getattr(locate(instrument, call), attribute))

    return command(pattern, on_set, on_query if query else None, (parameter,), formatter)


def stored_only(pattern: str, default: str = "0", query: bool = True) -> Command[Any]:
    """A node accepted and stored without behaviour (§4.10); the query echoes the text."""
    key = pattern.upper()

    def on_set(instrument: KeithleyInstrument, call: Call) -> None:
        instrument.setup.stored[key] = "" if call.arg is None else str(call.arg)

    def on_query(instrument: KeithleyInstrument, call: Call) -> str:
        return instrument.setup.stored.get(key, default)

    return command(pattern, on_set, on_query if query else None, (Raw(optional=True),))


def failing(pattern: str, code: int, query: bool = True) -> Command[Any]:
    """A node that always fails with ``code`` (``:ROUTe`` without a card → -241)."""

    def fail(instrument: KeithleyInstrument, call: Call) -> Any:
        raise ScpiError(code)

    return command(pattern, fail, fail if query else None, (Raw(optional=True),))


def sense(function: str) -> Locate:
    """Locator of one function's settings."""
    return lambda instrument, call: instrument.setup.functions[function]


def filters(function: str | None) -> Locate:
    """Locator of a function's filters (None: the active function, for 6514 globals)."""
    if function is None:
        return lambda instrument, call: instrument.setup.sense().filters
    return lambda instrument, call: instrument.setup.functions[function].filters
