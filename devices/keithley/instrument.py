"""``KeithleyInstrument``: the state and timing core shared by the 6517B and 6514 models.

The SCPI engine (``devices.scpi``) parses and sequences messages in host time; this
class maps host time to device time (§6.1), runs the trigger model lazily up to the
device time of every unit (``sync``), records readings into the buffer and the
status registers, and implements the engine hooks (*RST, *TRG, *SAV/*RCL, *OPC).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from typing import Any, NamedTuple

from devices.keithley.commands_common import TableOptions
from devices.keithley.config import KeithleyConfig
from devices.keithley.measurement import AuxiliaryValues, Measurement
from devices.keithley.ranges import Model, ModelLimits, model_limits, range_table
from devices.keithley.reading import OVERFLOW_VALUE, Reading
from devices.keithley.reading_format import (
    ReadingFormat6514,
    ReadingFormat6517B,
    format_register,
)
from devices.keithley.signal import SignalSimulator
from devices.keithley.state import Setup, preset_setup, rst_setup
from devices.keithley.steady_step import SteadyStep
from devices.keithley.timing import DeviceClock, RealTimeClock, SerialLine, TimingModel
from devices.keithley.trace import TraceBuffer, TraceSettings
from devices.keithley.trigger import TriggerModel
from devices.scpi import (
    Call,
    CommandTable,
    EngineOptions,
    NoReply,
    Reply,
    ScpiError,
    ScpiInstrument,
)
from devices.scpi.errors import ESR_OPC

logger = logging.getLogger(__name__)

#: Readings of one acquisition kept for ``READ?``/``FETCh?`` (a full 6517B buffer).
MAX_ACQUISITION_READINGS = 50000
#: *SAV/*RCL slots kept by every instance (the command table limits what a client may use).
SAVE_SLOTS = 10
_RESET_PATTERNS = frozenset({"*RST", "*RCL", ":SYSTem:PRESet"})
#: Queries that change no setting: readings during and after them may reuse what the
#: settings imply (``Measurement``).  Anything else counts as a possible change.
_SETTINGS_READERS = ("*IDN?", "*OPT?", ":SYST:VERS?", ":SENS:DATA:LAT?", ":FETC?", "*STB?",
                     "*ESR?", ":SYST:ERR?")


class _Acquisition:
    """The trigger model's device action: one reading through ``Measurement``."""

    def __init__(self, instrument: KeithleyInstrument) -> None:
        self.instrument = instrument
        self.pending: Reading | None = None

    def begin(self, start: float) -> float:
        self.pending = self.instrument.measurement.take(start)
        return self.pending.time

    def commit(self) -> None:
        reading, self.pending = self.pending, None
        if reading is not None:
            self.instrument.record(reading)

    def discard(self) -> None:
        self.pending = None


class KeithleyInstrument(ScpiInstrument):
    """State, timing and engine hooks of one emulated electrometer."""

    model: Model

    def __init__(self, config: KeithleyConfig, commands: CommandTable[Any], now: float = 0.0):
        self.config = config
        self.table_options = TableOptions.from_config(config)
        #: F38 ``rav_sticky``: a reading query leaves RAV set (looked up once: every
        #: ``DATA:LAT?`` asks).
        self.rav_sticky = config.fidelity_has("F38", "rav_sticky")
        self.model = config.model
        self.limits: ModelLimits = model_limits(self.model)
        self.timing = TimingModel.from_config(config)
        self.clock = DeviceClock(config.speed, now)
        self.line = SerialLine(self.timing, self.clock)
        self.rtc = RealTimeClock(config.rtc_epoch)
        self.signals = SignalSimulator(dict(config.signals), config.seed, config.environment)
        self.line_frequency = config.line_frequency
        self.setup = self.default_setup("PRES")
        self.saved: list[Setup] = [self.default_setup("RST") for _ in range(SAVE_SLOTS)]
        self.posetup = "PRES" if config.power_on_state == "preset" else "RST"
        self.trace = TraceBuffer(TraceSettings(), bav_minimum=1 if self.model == "6517B"
                                 and config.fidelity_has("F38", "bav_one_reading") else 2)
        self.measurement = Measurement(
            self.model, lambda: self.setup, self.signals, self.timing,
            lambda: self.line_frequency, self._auxiliary, config.zero_check_reading,
            timestamp_at_start=config.fidelity_has("F30", "timestamp_at_start"),
        )
        self.measurement.pipeline.median_sets_filter_bit = not config.fidelity_has(
            "F29", "median_no_filter_bit")
        self.acquisition_action = _Acquisition(self)
        self.trigger_model = TriggerModel(
            lambda: self.setup.layers(), self.acquisition_action, lambda: self.setup.continuous,
            self.trigger_delay, lambda: self.setup.trigger,
        )
        # Bounded and O(1) at both ends: a speed-0 power-on model adds a reading per message.
        self.acquisition: deque[Reading] = deque(maxlen=MAX_ACQUISITION_READINGS)
        self.steady_step = SteadyStep(self)
        self.latest: Reading | None = None
        self.fresh = False
        self.read_pending = False
        self.opc_armed = False
        self.display_enabled = True
        self.display_text: dict[int, tuple[str, bool]] = {}
        self.remote_state = "LOC"
        self.key = 0
        self._formats: dict[tuple[Any, ...], ReadingFormat6517B | ReadingFormat6514] = {}
        self._last_text: tuple[Reading, ReadingFormat6517B | ReadingFormat6514, str] | None = None
        super().__init__(commands, options=self._engine_options())
        self._measurement_bits = _MEASUREMENT_BITS[self.model]
        self._tracked_measurement_bits = _TRACKED_BITS[self.model]
        # Looked up once: the status model keeps its registers for the engine's lifetime.
        self._measurement_register = self.engine.status.register("measurement")
        self._operation_register = self.engine.status.register("operation")
        self._reset_commands = frozenset(
            command for command in commands.commands if command.header in _RESET_PATTERNS)
        self._settings_readers = frozenset(
            command for query in _SETTINGS_READERS for command in self.engine.commands_of(query)
            if command.on_set is None)
        self.power_on(now)

    # -- configuration ------------------------------------------------------------------

    def _engine_options(self) -> EngineOptions:
        config = self.config
        return EngineOptions(
            lenient=config.mode == "lenient",
            error_queue_depth=config.error_queue_depth,
            positive_error_plus=config.positive_error_plus,
            overrun_error_code=config.overrun_error_code,
            numeric_up_down=config.numeric_up_down,
            execution_errors_abort=config.fidelity_choice("F7") == "discard",
            max_queued_characters=config.max_message_length,
            join_queries=config.fidelity_choice("F4") != "separate",
        )

    def default_setup(self, which: str) -> Setup:
        """A fresh *RST (``RST``) or :SYST:PRES (``PRES``) setup for this model."""
        factory = rst_setup if which == "RST" else preset_setup
        setup = factory(self.model, zero_check=self.config.zero_check_default,
                        per_function_filters=self.config.fidelity_has("F31",
                                                                      "per_function_filters"))
        for settings in setup.functions.values():
            settings.nplc = self.config.nplc_default
        if self.model == "6517B" and self.config.fidelity_has("F40", "hsc_default_on"):
            setup.system.hsc = True
        return setup

    # -- time -------------------------------------------------------------------------------

    def device_time(self, host: float) -> float:
        """Device time of a unit executing at host time ``host``."""
        return self.clock.device_time(host)

    def finish(self, call: Call, device_end: float) -> None:
        """The unit of ``call`` completes at device time ``device_end``."""
        if self.clock.speed == 0:
            self.clock.advance_to(device_end)
        else:
            call.finish_at(self.clock.host_time(device_end, call.time))

    def before_unit(self, call: Call) -> None:
        """Every unit sees the readings and status of its own device time (§6.4)."""
        if call.command in self._settings_readers:
            self.measurement.settings_settled()
        else:
            self.measurement.settings_may_change()
        self._sync_to(self.clock.device_time(call.time))

    def sync(self, call: Call) -> float:
        """Run the trigger model up to the unit's device time; return that time."""
        return self._sync_to(self.clock.device_time(call.time))

    def _sync_to(self, t: float) -> float:
        model = self.trigger_model
        if model.running:
            model.advance(t)
            self.update_operation_status()
        if self.opc_armed and not model.running:
            self.opc_armed = False
            self.engine.status.set_event(ESR_OPC)
        return t

    def arm_operation_complete(self, call: Call) -> None:
        """``*OPC``: ESR bit 0 is set when the trigger model is idle (§2.3)."""
        self.opc_armed = True
        self.sync(call)

    def instantaneous_step(self) -> None:
        """Speed 0: a finite acquisition completes; an infinite one advances one reading."""
        model = self.trigger_model
        if self.clock.speed != 0 or not model.running:
            return
        # A continuous acquisition never goes idle: skip asking (this runs for every message).
        end = None if self.setup.continuous else model.run_until_idle()
        if end is None and (self.steady_step.step() or model.step_steady()):
            end = model.cursor
        elif end is None:
            step = model.next_event_time()
            before = self.measurement.reading_counter
            while step is not None:
                model.advance(step)
                if self.measurement.reading_counter != before:
                    break
                step = model.next_event_time()
            end = model.cursor
        self.clock.advance_to(end)
        self.update_operation_status()

    def receive(self, message: str, now: float) -> list[Reply]:
        """Execute one program message (§0.5); speed 0 steps acquisitions first (§6.1)."""
        self.measurement.settings_settled()
        engine = self.engine
        if not engine.blocked:
            self.instantaneous_step()
        replies = engine.receive(message, now)
        if self.clock.speed == 0:  # no line time at speed 0 (SerialLine.send)
            return replies
        return self.line.send(replies, self.config.terminator)

    def poll(self, now: float) -> list[Reply]:
        """Replies released by unpredictable events (§0.5)."""
        self.measurement.settings_settled()
        self.instantaneous_step()
        return self.line.send(super().poll(now), self.config.terminator)

    def device_clear(self, now: float) -> list[Reply]:
        """Device clear (§8.3): waiting units and undelivered replies go; ``DCL`` is sent."""
        self.line.clear()
        replies = super().device_clear(now)
        return self.line.send(replies, self.config.dcl_reply_terminator)

    # -- engine hooks -------------------------------------------------------------------

    def identity(self) -> str:
        return self.config.idn()

    def unit_duration(self, call: Call) -> float:
        if call.command in self._reset_commands:
            seconds = self.timing.reset_duration_s
        elif call.is_query:
            seconds = self.timing.query_latency_s
        else:
            return 0.0
        speed = self.clock.speed
        if speed == 0:
            self.clock.advance_by(seconds)
            return 0.0
        return seconds / speed

    def reset(self, call: Call) -> None:
        """*RST (§2.2, §4.13): *RST setup, trigger model aborted, no readings."""
        self.load_setup(self.default_setup("RST"), self.sync(call))
        self.forget_readings()

    def preset(self, call: Call) -> None:
        """:SYST:PRES (§4.9): front-panel defaults with INIT:CONT ON."""
        self.load_setup(self.default_setup("PRES"), self.sync(call))

    def save_setup(self, call: Call, slot: int) -> None:
        self.saved[slot] = self.setup.clone()

    def recall_setup(self, call: Call, slot: int) -> None:
        self.load_setup(self.saved[slot].clone(), self.sync(call))

    def load_setup(self, setup: Setup, t: float) -> None:
        """Replace the setup; the trigger model is aborted (and restarts if continuous)."""
        self.opc_armed = False
        self.setup = setup
        self.apply_register_format()
        self.trigger_model.abort(t)
        self.start_if_continuous(t)

    def apply_register_format(self) -> None:
        """Status register replies follow the setup's ``FORM:SREG`` style (6514)."""
        style = self.setup.format.sregister
        self.engine.status.register_format = lambda value: format_register(int(value), style)

    def trigger(self, call: Call) -> None:
        """*TRG: a BUS event for the waiting layer; -211 when nothing waits (F10)."""
        t = self.sync(call)
        if self.trigger_model.deliver("BUS", t):
            self.update_operation_status()
            return
        if self.config.fidelity_choice("F10") == "error":
            raise ScpiError(-211)

    def installed_options(self) -> str:
        return "0"

    def operations_done_at(self, now: float) -> float | None:
        model = self.trigger_model
        if not model.running:
            return now
        end = model.run_until_idle()
        self.update_operation_status()
        if end is None:
            return None
        if self.clock.speed == 0:
            self.clock.advance_to(end)
            return now
        return self.clock.host_time(end, now)

    def on_device_clear(self, now: float) -> None:
        self.read_pending = False

    # -- acquisitions -------------------------------------------------------------------

    def start_if_continuous(self, t: float) -> None:
        """INIT:CONT ON while idle starts the trigger model."""
        if self.setup.continuous and not self.trigger_model.running:
            self.start_acquisition(t)
        self.update_operation_status()

    def start_acquisition(self, t: float) -> None:
        """Leave idle (``:INIT``); the readings of this acquisition are collected anew."""
        self.acquisition.clear()
        self.trigger_model.start(t)
        if self.clock.speed == 0:
            self.instantaneous_step()
        self.update_operation_status()

    def forget_readings(self) -> None:
        """No reading since *RST / :CONF (FETCh? → -230, DATA:LAT? → +9.9E37)."""
        self.acquisition.clear()
        self.latest = None
        self.fresh = False

    def record(self, reading: Reading) -> None:
        """A reading completed: latest value, acquisition, buffer, status (§6.4).

        ``SteadyStep.step`` does the same inline, with ``reading_available`` when the buffer
        takes nothing (the equivalence tests hold them equal).
        """
        self.measurement.committed()
        self.latest = reading
        self.fresh = True
        self.acquisition.append(reading)
        self.trace.store(reading)
        self.update_measurement_status(reading_available=True)

    def trigger_delay(self) -> float:
        """Device seconds from a trigger-layer pass to the start of the reading."""
        trigger = self.setup.trigger
        if trigger.delay_auto:
            sense = self.setup.sense()
            return self.timing.settling_delay(self.setup.function, sense.range_nominal)
        return trigger.delay

    def _auxiliary(self) -> AuxiliaryValues:
        system = self.setup.system
        env = self.signals.environment
        source = self.setup.source
        vsource = 0.0
        if source.operate:
            vsource = source.level
            if source.limit_state:
                vsource = max(-source.limit, min(source.limit, vsource))
        return AuxiliaryValues(env.temperature_reading(system.tsc),
                               env.humidity_reading(system.hsc), vsource)

    # -- status -------------------------------------------------------------------------

    def update_measurement_status(self, reading_available: bool | None = None) -> None:
        """Recompute the measurement condition register (§2.6)."""
        # Runs twice per message at speed 0: locals and one tuple instead of attribute look-ups.
        rof, rav, bav, bhf, bfl, lid, vsc = self._measurement_bits
        signals = self.signals
        latest = self.latest
        value = self.trace.status_bits(bav, bhf, bfl)
        if latest is not None and latest.status == "O":  # ``Reading.overflow``
            value |= rof
        if not signals.interlock_closed:
            value |= lid
        if signals.vsource_compliance:
            value |= vsc
        updated = self._tracked_measurement_bits
        if reading_available is not None:
            updated |= rav
            if reading_available:
                value |= rav
        register = self._measurement_register
        condition = (register.condition & ~updated) | value
        if condition != register.condition:
            register.set_condition(condition)

    def reading_available(self, overflow: bool) -> None:
        """RAV sets and ROF follows a new reading; nothing else changed (§2.6).

        ``update_measurement_status(True)`` for a reading the buffer did not take.
        """
        rof, rav = self._measurement_bits.rof, self._measurement_bits.rav
        register = self._measurement_register
        condition = (register.condition & ~rof) | rav | (rof if overflow else 0)
        if condition != register.condition:
            register.set_condition(condition)

    def clear_reading_available(self) -> None:
        """RAV clears: a query returned the latest reading (§2.6).

        The other bits are current: every change of what they reflect updates them.
        """
        register = self._measurement_register
        rav = self._measurement_bits.rav
        if register.condition & rav:
            register.set_condition(register.condition & ~rav)

    def update_operation_status(self) -> None:
        """Operation condition: idle (bit 10); 6517B waiting for trigger/arm (bits 5/6)."""
        model = self.trigger_model
        condition = 0 if model.running else 1 << 10
        # A reading in progress means nothing waits (the common case at speed 0).
        if model.running and model.measuring_until is None and self.model == "6517B":
            waiting = model.waiting_source()
            if waiting is not None:
                condition |= 1 << 5 if model.level == len(self.setup.arm) else 1 << 6
        register = self._operation_register
        if condition != register.condition:
            register.set_condition(condition)

    # -- power ----------------------------------------------------------------------------

    def power_on(self, now: float) -> None:
        """Power-on state (§4.13): POSetup selection, cleared status, empty buffer."""
        t = self.clock.device_time(now)
        self.engine.power_on()
        self.line.clear()
        self.opc_armed = False
        self.trigger_model.running = False
        self.trigger_model.measuring_until = None
        self.trace.power_on(retain_readings=self.model == "6517B"
                            and self.config.fidelity_has("F25", "buffer_retained"))
        self.measurement.power_on(t)
        self.signals.power_on(t)
        self.display_enabled = True
        self.display_text = {}
        self.forget_readings()
        self.setup = self._power_on_setup()
        self.update_measurement_status(reading_available=False)
        self.start_if_continuous(t)

    def _power_on_setup(self) -> Setup:
        if self.posetup.startswith("SAV"):
            return self.saved[int(self.posetup[3:])].clone()
        return self.default_setup(self.posetup)

    # -- replies --------------------------------------------------------------------------

    def reading_format(self) -> ReadingFormat6517B | ReadingFormat6514:
        """The formatter of the current ``FORM:ELEM`` and related settings (§5)."""
        fmt = self.setup.format
        system = self.setup.system
        key = (fmt.elements, system.temperature_unit, system.tstamp_type)
        formatter = self._formats.get(key)
        if formatter is None:
            if self.model == "6514":
                formatter = ReadingFormat6514(
                    frozenset(fmt.elements),
                    short_overflow=self.config.fidelity_has("F29", "short_overflow"))
            else:
                formatter = ReadingFormat6517B(
                    frozenset(fmt.elements),
                    special_value_style=self.config.special_value_style,
                    emit_channel=self.config.emit_channel,
                    temperature_unit=system.temperature_unit,
                    timestamp_type="RTC" if system.tstamp_type == "RTC" else "REL",
                    buffer_rnum_suffix=self.config.buffer_rnum_suffix,
                    wrap_numbers=not self.config.fidelity_has("F30", "no_rnum_wrap"),
                    rtc=self.rtc.at,
                )
            self._formats[key] = formatter
        return formatter

    def format_reading(self, reading: Reading) -> str:
        """``reading`` as the current format prints it (``DATA:LAT?``, ``FETCh?``).

        The text of the last reading is kept: an idle instrument polled with
        ``DATA:LAT?`` prints the same reading again and again.
        """
        setup = self.setup  # reading_format's look-up, inline: once per reading query
        formatter = self._formats.get((setup.format.elements, setup.system.temperature_unit,
                                       setup.system.tstamp_type)) or self.reading_format()
        last = self._last_text
        if last is not None and last[0] is reading and last[1] is formatter:
            return last[2]
        text = formatter.format(reading)
        # An RTC timestamp follows :SYST:TIME/DATE adjustments: such text is not kept.
        self._last_text = (reading, formatter, text) if formatter.reading_only else None
        return text

    def invalid_reading(self, t: float) -> Reading:
        """The +9.9E37 (status O) reading of ``DATA:LAT?`` before any reading (F21)."""
        sense = self.setup.sense()
        return Reading(OVERFLOW_VALUE, "O", self.setup.function, sense.range_nominal,
                       sense.digits, t, 0.0, 0)

    def check_reading_reply(self) -> None:
        """Zero check with ``no_reply``: reading queries stay silent (§7.3)."""
        if self.setup.system.zero_check and self.config.zero_check_reading == "no_reply":
            raise NoReply()

    def range_reply(self, function: str) -> float:
        """The value ``RANGe?`` reports (§4.3 ``range_readback``)."""
        settings = self.setup.functions[function]
        if self.config.range_readback == "as_set" and settings.range_as_set is not None \
                and not settings.range_auto:
            return settings.range_as_set
        return range_table(self.model, function).by_nominal(settings.range_nominal).full_scale


class _MeasurementBits(NamedTuple):
    """Measurement condition bits of one model (§2.6); 0 where the model has none."""

    rof: int
    rav: int
    bav: int
    bhf: int
    bfl: int
    lid: int
    vsc: int


_MEASUREMENT_BITS: dict[str, _MeasurementBits] = {
    "6517B": _MeasurementBits(rof=1, rav=1 << 5, bav=1 << 7, bhf=1 << 8, bfl=1 << 9,
                              lid=1 << 13, vsc=1 << 14),
    "6514": _MeasurementBits(rof=1 << 7, rav=1 << 6, bav=1 << 8, bhf=0, bfl=1 << 9, lid=0,
                             vsc=0),
}
#: The bits every update recomputes (RAV only when a reading event says so).
_TRACKED_BITS = {model: bits.rof | bits.bav | bits.bhf | bits.bfl | bits.lid | bits.vsc
                 for model, bits in _MEASUREMENT_BITS.items()}

INFINITE = math.inf
