"""Device registry: names → factories, from the built-ins and the ``hil.devices`` entry points.

Another package adds an instrument with one line in its ``pyproject.toml``::

    [project.entry-points."hil.devices"]
    mydevice = "mypackage.mymodule:factory"

A factory is called with keyword configuration and returns a device model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import entry_points
from typing import Any

from devices.keithley.keithley6514 import Keithley6514
from devices.keithley.keithley6517b import Keithley6517B

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "hil.devices"
DeviceFactory = Callable[..., Any]

BUILTIN_DEVICES: dict[str, DeviceFactory] = {
    "keithley6517b": Keithley6517B,
    "keithley6514": Keithley6514,
}


class UnknownDevice(KeyError):
    """No device is registered under a name; the message lists the registered ones."""

    def __str__(self) -> str:
        return str(self.args[0])


class DeviceRegistry(Mapping[str, DeviceFactory]):
    """Read-only mapping of lower-case device names to factories.

    Built-ins first, then the ``hil.devices`` entry points (loaded on first use);
    an entry point with a built-in's name does not replace it.
    """

    def __init__(self, builtins: Mapping[str, DeviceFactory] | None = None,
                 group: str = ENTRY_POINT_GROUP) -> None:
        self._factories: dict[str, DeviceFactory] = dict(
            BUILTIN_DEVICES if builtins is None else builtins)
        self._group = group
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for entry in entry_points(group=self._group):
            name = entry.name.lower()
            if name in self._factories:
                continue
            try:
                self._factories[name] = entry.load()
            except Exception:  # a broken plugin must not hide the other devices
                logger.exception("cannot load device %r from entry point %r", name, entry.value)

    def __getitem__(self, name: str) -> DeviceFactory:
        self._load()
        try:
            return self._factories[name.lower()]
        except KeyError:
            known = ", ".join(sorted(self._factories))
            raise UnknownDevice(f"no device called {name!r}; registered: {known}") from None

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(sorted(self._factories))

    def __len__(self) -> int:
        self._load()
        return len(self._factories)

    def register(self, name: str, factory: DeviceFactory) -> None:
        """Add a device at run time (tests, embedding applications)."""
        self._factories[name.lower()] = factory

    def create(self, name: str, **config: Any) -> Any:
        """Build the device registered as ``name`` with keyword configuration."""
        return self[name](**config)


#: The process-wide registry.
devices = DeviceRegistry()
