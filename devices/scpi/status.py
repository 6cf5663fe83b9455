"""Status byte, standard event status register and STATus registers (spec §2.4-§2.6)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from devices.scpi.errors import ESR_PON, ErrorQueue, esr_bit_for
from devices.scpi.formatting import format_nr1

REGISTER_MASK = 0x7FFF  # bit 15 is never used (§2.6)

STB_ERROR_AVAILABLE = 4
STB_MESSAGE_AVAILABLE = 16
STB_EVENT_SUMMARY = 32
STB_MASTER_SUMMARY = 64


class StatusRegister:
    """A SCPI condition/event/enable register with transition filters."""

    __slots__ = ("_on_change", "condition", "enable", "event", "name", "ntr", "ptr")

    def __init__(self, name: str) -> None:
        self.name = name
        self.condition = 0
        self.event = 0
        self.enable = 0
        self.ptr = REGISTER_MASK
        self.ntr = 0
        self._on_change: Callable[[], None] | None = None

    @property
    def summary(self) -> bool:
        """True when an enabled event bit is set."""
        return bool(self.event & self.enable)

    def set_condition(self, value: int) -> None:
        """New condition; latches events for transitions allowed by PTR (0->1) and NTR (1->0)."""
        value &= REGISTER_MASK
        rising = value & ~self.condition
        falling = self.condition & ~value
        self.condition = value
        latched = (rising & self.ptr) | (falling & self.ntr)
        if latched & ~self.event:
            self.event |= latched
            self._changed()

    def set_bits(self, mask: int) -> None:
        self.set_condition(self.condition | mask)

    def clear_bits(self, mask: int) -> None:
        self.set_condition(self.condition & ~mask)

    def latch(self, mask: int) -> None:
        """Set event bits directly (an event without a lasting condition)."""
        self.event |= mask & REGISTER_MASK
        self._changed()

    def read_event(self) -> int:
        """Return and clear the event register."""
        value = self.event
        self.clear_event()
        return value

    def clear_event(self) -> None:
        if self.event:
            self.event = 0
            self._changed()

    def set_enable(self, value: int) -> None:
        self.enable = value & REGISTER_MASK
        self._changed()

    def preset(self) -> None:
        """``:STAT:PRES``: enable 0, PTR all ones, NTR 0; events kept."""
        self.ptr = REGISTER_MASK
        self.ntr = 0
        self.set_enable(0)

    def power_on(self) -> None:
        self.condition = 0
        self.event = 0
        self.preset()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()


@dataclass(frozen=True)
class RegisterSpec:
    """A STATus register: ``name`` to find it, ``path`` its SCPI node.

    ``summary_bit``: status-byte bit its summary sets. ``parent``/``parent_bit``: the
    register (by name) whose condition bit its summary drives instead.
    """

    name: str
    path: str
    summary_bit: int | None = None
    parent: str | None = None
    parent_bit: int | None = None


OPERATION = RegisterSpec("operation", ":STATus:OPERation", summary_bit=7)
QUESTIONABLE = RegisterSpec("questionable", ":STATus:QUEStionable", summary_bit=3)
MEASUREMENT = RegisterSpec("measurement", ":STATus:MEASurement", summary_bit=0)


@dataclass(frozen=True)
class StatusLayout:
    """The STATus registers an instrument has (default: operation and questionable)."""

    registers: Sequence[RegisterSpec] = (OPERATION, QUESTIONABLE)

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.registers]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate status register names in {names}")
        for spec in self.registers:
            if spec.parent is not None and spec.parent not in names:
                raise ValueError(f"register {spec.name!r}: unknown parent {spec.parent!r}")


class StatusModel:
    """Error queue, standard event register, service request enable and STATus registers.

    ``register_format`` renders register values in replies (``:FORMat:SREGister``).
    """

    def __init__(self, layout: StatusLayout, error_queue_depth: int = 10) -> None:
        self.error_queue = ErrorQueue(error_queue_depth)
        self.event_status = 0
        self.event_status_enable = 0
        self.service_request_enable = 0
        self.register_format: Callable[[int], str] = format_nr1
        self.registers: dict[str, StatusRegister] = {}
        self._summary_bits: list[tuple[StatusRegister, int]] = []
        for spec in layout.registers:
            self.registers[spec.name] = StatusRegister(spec.name)
        for spec in layout.registers:
            register = self.registers[spec.name]
            if spec.summary_bit is not None:
                self._summary_bits.append((register, 1 << spec.summary_bit))
            if spec.parent is not None and spec.parent_bit is not None:
                register._on_change = _summary_link(
                    register, self.registers[spec.parent], 1 << spec.parent_bit
                )

    def register(self, name: str) -> StatusRegister:
        """The register called ``name`` in the layout; KeyError names the known ones."""
        try:
            return self.registers[name]
        except KeyError:
            known = ", ".join(self.registers)
            raise KeyError(f"no status register {name!r}; this layout has: {known}") from None

    def report_error(
        self, code: int, message: str | None = None, esr_bit: int | None = None
    ) -> None:
        """Set the code's ESR bit and queue it (when the queue filters admit it)."""
        self.event_status |= esr_bit if esr_bit is not None else esr_bit_for(code)
        self.error_queue.push(code, message)

    def set_event(self, bits: int) -> None:
        """Set standard event register bits."""
        self.event_status |= bits & 0xFF

    def read_event_status(self) -> int:
        """``*ESR?``: return and clear the standard event register."""
        value = self.event_status
        self.event_status = 0
        return value

    def status_byte(self, message_available: bool = False) -> int:
        """``*STB?`` with MSS computed from ``*SRE`` (§2.4)."""
        value = 0
        for register, bit in self._summary_bits:
            if register.event & register.enable:
                value |= bit
        if len(self.error_queue):
            value |= STB_ERROR_AVAILABLE
        if message_available:
            value |= STB_MESSAGE_AVAILABLE
        if self.event_status & self.event_status_enable:
            value |= STB_EVENT_SUMMARY
        if value & self.service_request_enable & ~STB_MASTER_SUMMARY:
            value |= STB_MASTER_SUMMARY
        return value

    def clear(self) -> None:
        """``*CLS``: error queue, standard event register and all STATus event registers."""
        self.error_queue.clear()
        self.event_status = 0
        for register in self.registers.values():
            register.clear_event()

    def preset(self) -> None:
        """``:STAT:PRES``: enables, transition filters and queue filters to defaults."""
        for register in self.registers.values():
            register.preset()
        self.error_queue.reset_filters()

    def power_on(self) -> None:
        """Power-on: everything cleared, PON set."""
        for register in self.registers.values():
            register.power_on()
        self.error_queue.clear()
        self.error_queue.reset_counts()
        self.error_queue.reset_filters()
        self.event_status = ESR_PON
        self.event_status_enable = 0
        self.service_request_enable = 0


def _summary_link(child: StatusRegister, parent: StatusRegister, bit: int) -> Callable[[], None]:
    def update() -> None:
        if child.summary:
            parent.set_bits(bit)
        else:
            parent.clear_bits(bit)

    return update
