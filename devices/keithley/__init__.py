"""Sans-IO emulators of the Keithley 6517B and 6514 electrometers (spec keithley.md).

``Keithley6517B(**config)`` / ``Keithley6514(**config)`` (config keys of
``KeithleyConfig``) expose the §0.5 surface ``receive(message, now)``,
``device_clear(now)``, ``input_overrun(now)``, ``poll(now)``, ``next_wakeup()``
and the §7.6 control operations (``power_cycle``, ``set_signal``,
``reset_signals``, ``set_seed``, ``inject_trigger``, ``set_environment``,
``set_vsource_compliance``, ``set_interlock``, ``set_mode``, ``set_speed``,
``snapshot``, ``get_state``, ``set_state``).  ``MockKeithley(model, **config)``
builds either; ``devices`` is the name → factory registry.  ``MockServer``
(the model on a TCP port) is imported on first use, so importing this package
does not import ``harness``.

Example::

    k = Keithley6517B(speed=0)
    k.receive("*IDN?", now=0.0)
    # [Reply(text='KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x ', ready_at=0.0)]
"""

from typing import TYPE_CHECKING, Any

from devices.keithley.config import KeithleyConfig
from devices.keithley.control import StateKeyError
from devices.keithley.keithley6514 import Keithley6514
from devices.keithley.keithley6517b import Keithley6517B
from devices.keithley.mock_keithley import MockKeithley, ModelMismatch, UnknownModel
from devices.keithley.registry import DeviceRegistry, UnknownDevice, devices

if TYPE_CHECKING:
    from devices.keithley.mock_server import MockServer

__all__ = [
    "DeviceRegistry",
    "Keithley6514",
    "Keithley6517B",
    "KeithleyConfig",
    "MockKeithley",
    "MockServer",
    "ModelMismatch",
    "StateKeyError",
    "UnknownDevice",
    "UnknownModel",
    "devices",
]


def __getattr__(name: str) -> Any:
    # The one name that needs harness.tcpip: load it when asked for (PEP 562).
    if name == "MockServer":
        from devices.keithley.mock_server import MockServer

        globals()["MockServer"] = MockServer
        return MockServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
