"""Control-channel operations of spec §7.6 on top of ``KeithleyInstrument``.

Host times are optional keyword arguments: when omitted, the last host time the
model saw (``receive``/``poll``/a control call) is used.  After ``inject_trigger``
the caller runs ``poll(now)`` to collect replies the event released.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from devices.keithley.instrument import KeithleyInstrument
from devices.keithley.state_checks import (
    Rule,
    StateRules,
    flag,
    group,
    like,
    number,
    one_of,
)
from devices.keithley.trace import TraceSettings
from devices.scpi import Reply

#: Event kinds ``inject_trigger`` accepts (§4.6, §7.6).
TRIGGER_KINDS = ("MAN", "TLIN", "EXT", "RTCL", "STES", "PST", "NST", "BUS")
_KIND_ALIASES = {"MANUAL": "MAN", "TLINK": "TLIN", "EXTERNAL": "EXT", "RTCLOCK": "RTCL",
                 "STEST": "STES", "PSTEST": "PST", "NSTEST": "NST"}


class StateKeyError(KeyError):
    """An unknown or read-only state key; the message lists the known keys."""

    def __str__(self) -> str:
        return str(self.args[0])


class ControlOperations(KeithleyInstrument):
    """§7.6: signals, triggers, environment, power cycle, mode, speed, state access."""

    _last_now: float = 0.0

    # -- host time bookkeeping --------------------------------------------------------------

    def _host(self, now: float | None) -> float:
        if now is not None:
            self._last_now = max(self._last_now, now)
            return now
        return self._last_now

    def receive(self, message: str, now: float) -> list[Reply]:
        if now > self._last_now:  # _host(now), inline: this runs for every message
            self._last_now = now
        return super().receive(message, now)

    def poll(self, now: float) -> list[Reply]:
        self._host(now)
        return super().poll(now)

    def device_clear(self, now: float) -> list[Reply]:
        self._host(now)
        return super().device_clear(now)

    def _device_now(self, now: float | None) -> float:
        t = self.device_time(self._host(now))
        if self.trigger_model.running:
            self.trigger_model.advance(t)
        return t

    # -- §7.6 operations ----------------------------------------------------------------------

    def power_cycle(self, now: float | None = None) -> None:
        """Power-on state per ``:SYST:POS`` (§4.13); saved setups are kept."""
        self.engine.device_clear(self._host(now))
        self.read_pending = False
        self.power_on(self._host(now))

    def set_signal(self, function: str, kind: str, *, now: float | None = None,
                   **params: Any) -> None:
        """Replace a function's signal source (§7.1); raises ``SignalError`` if invalid."""
        self.signals.set_signal(function, kind, self._device_now(now), **params)

    def reset_signals(self, now: float | None = None) -> None:
        """All signal sources back to the configured ones."""
        self.signals.reset_signals(self._device_now(now))

    def set_seed(self, seed: int) -> None:
        """A new noise seed; conversion counters restart."""
        self.signals.set_seed(seed)

    def inject_trigger(self, kind: str, now: float | None = None) -> bool:
        """One MANual/TLINk/EXTernal/RTCLock/STESt/PSTest/NSTest (or pretrigger) event.

        Returns whether a waiting layer or the buffer pretrigger took it; call
        ``poll(now)`` afterwards for the replies it released.  Raises ``ValueError``
        for an unknown kind.
        """
        name = _KIND_ALIASES.get(kind.upper(), kind.upper())
        if name not in TRIGGER_KINDS:
            raise ValueError(f"unknown trigger kind {kind!r}; expected one of "
                             f"{', '.join(TRIGGER_KINDS)}")
        t = self._device_now(now)
        taken = False
        settings = self.trace.settings
        if settings.control == "PRET" and settings.pretrigger_source == name:
            taken = self.trace.pretrigger_event()
        taken = self.trigger_model.deliver(name, t) or taken
        self.update_operation_status()
        self.update_measurement_status()
        return taken

    def set_environment(self, temperature_c: float | None = None,
                        humidity_pct: float | None = None, temp_probe: bool | None = None,
                        humidity_probe: bool | None = None) -> None:
        """6517B temperature/humidity values and probe presence (§4.12)."""
        self.measurement.settings_may_change()
        self.signals.set_environment(temperature_c, humidity_pct, temp_probe, humidity_probe)

    def set_vsource_compliance(self, in_compliance: bool) -> None:
        """6517B V-source compliance flag (measurement bit 14, ``:SOUR:CURR:LIM?``)."""
        self.signals.set_vsource_compliance(in_compliance)
        self.update_measurement_status()

    def set_interlock(self, closed: bool) -> None:
        """6517B fixture lid (measurement bit 13, ``:SYST:INT?``)."""
        self.signals.set_interlock(closed)
        self.update_measurement_status()

    def set_mode(self, mode: str) -> None:
        """``strict`` or ``lenient`` (§9.1)."""
        if mode not in ("strict", "lenient"):
            raise ValueError(f"mode must be 'strict' or 'lenient', got {mode!r}")
        self.engine.lenient = mode == "lenient"

    @property
    def mode(self) -> str:
        """The current parsing mode."""
        return "lenient" if self.engine.lenient else "strict"

    def set_speed(self, speed: float, now: float | None = None) -> None:
        """Change the speed factor at run time (§6.1); 0 = instantaneous."""
        self.clock.set_speed(speed, self._host(now))

    def error_counts(self) -> dict[int, int]:
        """SCPI errors queued since power-on, by code (for the control channel's ``stats``).

        Counts every error the queue filters admitted, also when the full queue had to
        drop it; -350 counts the overflows.  ``*CLS``, ``*RST`` and ``:SYST:ERR?`` keep
        the counts; ``power_cycle`` (the control ``reset``) restarts them.
        """
        return self.engine.status.error_queue.counts()

    # -- state access -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Read-only view: settings, trigger model, buffer, errors, status, unknown headers."""
        status = self.engine.status
        model = self.trigger_model
        return {
            "model": self.model,
            "mode": self.mode,
            "speed": self.clock.speed,
            "device_time": self.device_time(self._last_now),
            "setup": _plain(dataclasses.asdict(self.setup)),
            "trace": {
                "settings": _plain(dataclasses.asdict(self.trace.settings)),
                "count": len(self.trace),
                "values": [entry.reading.value for entry in self.trace.entries],
            },
            "trigger_model": {"running": model.running, "waiting_for": model.waiting_source(),
                              "layer": model.level},
            "errors": status.error_queue.peek_all(),
            "status": {
                "esr": status.event_status, "ese": status.event_status_enable,
                "sre": status.service_request_enable, "stb": status.status_byte(),
                "registers": {name: {"condition": reg.condition, "event": reg.event,
                                     "enable": reg.enable}
                              for name, reg in status.registers.items()},
            },
            "unknown_headers": list(self.engine.unknown_headers),
            "signals": self.signals.snapshot(),
            "line_frequency": self.line_frequency,
            "display_enabled": self.display_enabled,
            "remote_state": self.remote_state,
            "latest": None if self.latest is None else self.latest._asdict(),
        }

    def get_state(self, keys: Iterable[str]) -> dict[str, Any]:
        """Values of state keys: aliases (``nplc``, ``range``, ...) or dotted paths."""
        return {key: self._accessor(key).get() for key in keys}

    def set_state(self, values: Mapping[str, Any], now: float | None = None) -> None:
        """Set state keys, all or none.

        Raises ``StateKeyError`` for an unknown or read-only key and ``ValueError``
        (naming the key and the accepted values) for a value of the wrong type or
        range; then nothing has changed.
        """
        changes: list[tuple[Callable[[Any], None], Any]] = []
        for key, value in values.items():
            accessor = self._accessor(key)
            if accessor.set is None:
                raise StateKeyError(f"state key {key!r} is read-only")
            changes.append((accessor.set, accessor.check(key, value)))
        self.measurement.settings_may_change()
        for setter, checked in changes:
            setter(checked)
        t = self._device_now(now)
        self.start_if_continuous(t)
        self.update_measurement_status()

    def _accessor(self, key: str) -> _Accessor:
        alias = self._aliases().get(key)
        if alias is not None:
            return alias
        head, _, rest = key.partition(".")
        roots: dict[str, Any] = {"setup": self.setup, "trace": self.trace.settings}
        if head not in roots or not rest:
            known = ", ".join(sorted(self._aliases()))
            raise StateKeyError(f"unknown state key {key!r}; use one of {known} or a dotted "
                                "path under 'setup.' or 'trace.' (see snapshot())")
        return self._path_accessor(roots[head], rest.split("."), key)

    def _field(self, owner: Any, name: str) -> _Accessor:
        """An accessor for field ``name`` of a settings object, checked by its state rule."""
        return _Accessor(
            lambda: getattr(owner, name),
            lambda value: setattr(owner, name, value),
            self._state_rules.for_field(self.setup, owner, name),
        )

    def _aliases(self) -> dict[str, _Accessor]:
        setup = self.setup
        sense = setup.sense()
        trigger = setup.trigger
        trace: TraceSettings = self.trace.settings
        rules = self._state_rules
        return {
            "function": self._field(setup, "function"),
            "nplc": self._field(sense, "nplc"),
            "range": _Accessor(lambda: self.range_reply(self.setup.function)),
            "autorange": self._field(sense, "range_auto"),
            "digits": self._field(sense, "digits"),
            "zero_check": self._field(setup.system, "zero_check"),
            "zero_correct": self._field(setup.system, "zero_correct"),
            "continuous": self._field(setup, "continuous"),
            "trigger_source": self._field(trigger, "source"),
            "trigger_count": self._field(trigger, "count"),
            "trigger_delay": self._field(trigger, "delay"),
            "trigger_timer": self._field(trigger, "timer"),
            "buffer_points": _Accessor(lambda: trace.points, self.trace.set_points,
                                       rules.for_field(setup, trace, "points")),
            "buffer_count": _Accessor(lambda: len(self.trace)),
            "feed_control": _Accessor(lambda: trace.control, self.trace.set_control,
                                      rules.for_field(setup, trace, "control")),
            "line_frequency": _Accessor(lambda: self.line_frequency,
                                        lambda value: setattr(self, "line_frequency", value),
                                        one_of(*self.limits.line_frequencies)),
            "mode": _Accessor(lambda: self.mode, self.set_mode, one_of("strict", "lenient")),
            "speed": _Accessor(lambda: self.clock.speed, lambda value: self.set_speed(value),
                               number(minimum=0.0)),
            "running": _Accessor(lambda: self.trigger_model.running),
            "vsource_level": self._field(setup.source, "level"),
            "vsource_operate": self._field(setup.source, "operate"),
            "display_enabled": _Accessor(lambda: self.display_enabled,
                                         lambda value: setattr(self, "display_enabled", value),
                                         flag),
        }

    def _path_accessor(self, root: Any, parts: list[str], key: str) -> _Accessor:
        target = root
        for part in parts[:-1]:
            target = _step(target, part, key)
        last = parts[-1]
        current = _step(target, last, key)
        if isinstance(target, dict):
            return _Accessor(lambda: target[last], lambda value: target.__setitem__(last, value),
                             like(current))
        if isinstance(target, list):
            return _Accessor(lambda: target[int(last)], None)
        return self._field(target, last)

    @functools.cached_property
    def _state_rules(self) -> StateRules:
        return StateRules(self.model)


@dataclasses.dataclass(frozen=True)
class _Accessor:
    """How to read, write (None: read-only) and check one state key."""

    get: Callable[[], Any]
    set: Callable[[Any], None] | None = None
    check: Rule = group


def _step(target: Any, part: str, key: str) -> Any:
    if isinstance(target, dict):
        if part in target:
            return target[part]
    elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
        return target[int(part)]
    elif dataclasses.is_dataclass(target) and part in {f.name for f in dataclasses.fields(target)}:
        return getattr(target, part)
    raise StateKeyError(f"unknown state key {key!r}: no {part!r} there (see snapshot())")


def _plain(value: Any) -> Any:
    """JSON-friendly: infinite counts as the string ``INF``."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, float) and math.isinf(value):
        return "INF"
    return value
