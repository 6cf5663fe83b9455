"""What to run: ``DeviceSpec`` and the checks shared by the Python API and fleet files."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from devices.keithley.registry import DeviceRegistry
from harness.supervisor.errors import SpecError

#: Output terminators by name (spec keithley.md §1.9).
TERMINATORS: Mapping[str, bytes] = {"LF": b"\n", "CR": b"\r", "CRLF": b"\r\n", "LFCR": b"\n\r"}
RESTART_POLICIES = ("fail", "restart")
MODES = ("strict", "lenient")
#: Device names end up in file names and logs.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: Bytes of JSON a launch request may carry to the fork server (it is one datagram).
MAX_SPEC_BYTES = 60_000
#: The device kind of a serial bridge (``harness.supervisor.bridge``), not a registry name.
BRIDGE_DEVICE = "bridge"


@dataclass(frozen=True)
class DeviceSpec:
    """One device to run: registry name, instance name and transport/model settings.

    ``terminator`` is a name (``"lf"``, ``"CR"``...); ``restart`` is
    ``"fail"`` or ``"restart"``; ``config`` holds extra model keys (for the
    Keithleys any ``KeithleyConfig`` key); ``pty`` also serves the device on a
    pseudo-terminal. ``record_dir`` (an absolute path) records each client
    connection, and the pty session, into its own cassette there;
    ``redact_serial`` zeroes the serial number in them. Raises ``SpecError``
    for bad values.
    """

    device: str
    name: str = ""
    terminator: str = "LF"
    speed: float = 1.0
    strict: bool = True
    seed: int = 0
    restart: str = "fail"
    host: str = "127.0.0.1"
    port: int = 0
    config: Mapping[str, Any] = field(default_factory=dict)
    pty: bool = False
    record_dir: str = ""
    redact_serial: bool = False

    def __post_init__(self) -> None:
        set_field = object.__setattr__
        set_field(self, "device", check_text("device", self.device).lower())
        if self.name:
            set_field(self, "name", check_name(self.name))
        set_field(self, "terminator", check_terminator(self.terminator))
        set_field(self, "speed", check_speed(self.speed))
        set_field(self, "strict", check_flag("strict", self.strict))
        set_field(self, "seed", check_integer("seed", self.seed))
        set_field(self, "restart", check_choice("restart", self.restart, RESTART_POLICIES))
        set_field(self, "host", check_text("host", self.host))
        set_field(self, "port", check_port(self.port))
        set_field(self, "config", check_config(self.config))
        set_field(self, "pty", check_flag("pty", self.pty))
        set_field(self, "record_dir", check_record_dir(self.record_dir))
        set_field(self, "redact_serial", check_flag("redact_serial", self.redact_serial))
        if self.pty and self.device == BRIDGE_DEVICE:
            raise SpecError("a bridge cannot be served on a pty; pty is for emulated devices")

    @property
    def terminator_bytes(self) -> bytes:
        return TERMINATORS[self.terminator]

    def named(self, name: str) -> DeviceSpec:
        """A copy with another instance name."""
        return dataclasses.replace(self, name=name)


@dataclass(frozen=True)
class FactoryPath:
    """Where the device process imports a registered factory from."""

    module: str
    qualname: str


def factory_path(registry: DeviceRegistry, device: str) -> FactoryPath:
    """The import path of ``device``'s factory; ``UnknownDevice`` lists the registered names.

    Raises ``SpecError`` if the factory cannot be imported by name in another process.
    """
    if device == BRIDGE_DEVICE:
        return FactoryPath("harness.supervisor.bridge", "SupervisedBridge")
    factory = registry[device]
    module = getattr(factory, "__module__", None)
    qualname = getattr(factory, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise SpecError(
            f"the factory registered as {device!r} ({factory!r}) cannot be imported by a device "
            "process; register a module-level class or function of an importable module")
    return FactoryPath(module, qualname)


def check_text(key: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise SpecError(f"{key} must be a non-empty string, got {value!r}")
    return value


def check_name(value: object) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise SpecError(f"name {value!r} is not a valid device name; use 1-64 letters, digits, "
                        "'_', '.' or '-', starting with a letter or digit")
    return value


def check_terminator(value: object) -> str:
    if isinstance(value, bytes):
        for name, data in TERMINATORS.items():
            if data == value:
                return name
    elif isinstance(value, str) and value.upper() in TERMINATORS:
        return value.upper()
    raise SpecError(f"terminator {value!r} is not one of "
                    f"{', '.join(name.lower() for name in TERMINATORS)}")


def check_speed(value: object) -> float:
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or value < 0):
        raise SpecError(f"speed must be a finite number >= 0 (1 realistic, 0 instantaneous), "
                        f"got {value!r}")
    return float(value)


def check_flag(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"{key} must be true or false, got {value!r}")
    return value


def check_integer(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{key} must be an integer, got {value!r}")
    return value


def check_choice(key: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SpecError(f"{key} must be one of {', '.join(repr(c) for c in choices)}, "
                        f"got {value!r}")
    return str(value)


def check_port(value: object) -> int:
    port = check_integer("port", value)
    if not 0 <= port <= 65535:
        raise SpecError(f"port {port} is outside 0-65535 (0 picks a free port)")
    return port


def check_record_dir(value: object) -> str:
    # The device process may not share the caller's working directory.
    if not isinstance(value, str) or (value and not os.path.isabs(value)):
        raise SpecError(f"record_dir must be an absolute directory path, got {value!r}")
    return value


def check_config(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(f"config must be a mapping of model keys, got {value!r}")
    config = dict(value)
    try:
        size = len(json.dumps(config, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise SpecError(f"config must hold only JSON data (strings, numbers, booleans, lists, "
                        f"tables): {e}") from None
    if size > MAX_SPEC_BYTES:
        raise SpecError(f"config is {size} bytes of JSON; keep it under {MAX_SPEC_BYTES}")
    return config
