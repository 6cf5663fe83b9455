"""Sans-IO emulators of the Keithley 6517B and 6514 electrometers (spec keithley.md).

``Keithley6517B(**config)`` / ``Keithley6514(**config)`` (config keys of
``KeithleyConfig``) expose the §0.5 surface ``receive(message, now)``,
``device_clear(now)``, ``input_overrun(now)``, ``poll(now)``, ``next_wakeup()``
and the §7.6 control operations (``power_cycle``, ``set_signal``,
``reset_signals``, ``set_seed``, ``inject_trigger``, ``set_environment``,
``set_vsource_compliance``, ``set_interlock``, ``set_mode``, ``set_speed``,
``snapshot``, ``get_state``, ``set_state``).  ``MockKeithley(model, **config)``
builds either; ``devices`` is the name → factory registry.

Example::

    k = Keithley6517B(speed=0)
    k.receive("*IDN?", now=0.0)
    # [Reply(text='KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x ', ready_at=0.0)]
"""

from devices.keithley.config import KeithleyConfig
from devices.keithley.control import StateKeyError
from devices.keithley.keithley6514 import Keithley6514
from devices.keithley.keithley6517b import Keithley6517B
from devices.keithley.mock_keithley import MockKeithley, ModelMismatch, UnknownModel
from devices.keithley.registry import DeviceRegistry, UnknownDevice, devices

__all__ = [
    "DeviceRegistry",
    "Keithley6514",
    "Keithley6517B",
    "KeithleyConfig",
    "MockKeithley",
    "ModelMismatch",
    "StateKeyError",
    "UnknownDevice",
    "UnknownModel",
    "devices",
]
