"""Fleet files: TOML describing the devices ``hil serve --fleet`` runs.

Example (see ``fixtures/fleets/example.toml``)::

    [defaults]            # optional, applies to every device
    speed = 1.0

    [devices.em1]         # the table name is the device name
    device = "keithley6517b"
    terminator = "cr"
    mode = "lenient"
    restart = "restart"

    [devices.em1.config]  # any KeithleyConfig key
    max_message_length = 2048

Errors name the file, the line and what to change.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devices.keithley.config import KeithleyConfig
from devices.keithley.registry import DeviceRegistry, UnknownDevice
from devices.keithley.registry import devices as default_registry
from harness.supervisor.errors import FleetError, SpecError
from harness.supervisor.spec import MODES, DeviceSpec, check_choice, check_name

TOP_LEVEL_KEYS = ("defaults", "devices")
DEVICE_KEYS = ("device", "terminator", "speed", "mode", "seed", "restart", "host", "port",
               "config", "pty")
EXAMPLE = '[devices.em1]\ndevice = "keithley6517b"'

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')"
                  r"(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*=")


class TomlLocator:
    """Best-effort line numbers of tables and keys (tomllib does not report them)."""

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                table = _dotted(header.group(1))
                self._note(table, number)
                continue
            key = _KEY.match(line)
            if key:
                self._note((*table, *_dotted(key.group(1))), number)

    def _note(self, path: tuple[str, ...], number: int) -> None:
        # A header or dotted key also opens every enclosing table.
        for end in range(1, len(path) + 1):
            self.lines.setdefault(path[:end], number)

    def line_of(self, path: tuple[str, ...]) -> int | None:
        """Line of ``path``, or of the nearest enclosing table that has one."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None


def _dotted(text: str) -> tuple[str, ...]:
    parts = re.findall(r"\"([^\"]*)\"|'([^']*)'|([^.\s]+)", text)
    return tuple(next(part for part in groups if part) if any(groups) else ""
                 for groups in parts)


class _Context:
    """Where errors point: the file and its line numbers."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.locator = TomlLocator(text)

    def error(self, path: tuple[str, ...], message: str) -> FleetError:
        line = self.locator.line_of(path)
        where = f"{self.source}:{line}" if line is not None else self.source
        key = ".".join(path)
        return FleetError(f"{where}: {key + ': ' if key else ''}{message}")


def load_fleet(path: str | Path, registry: DeviceRegistry | None = None) -> list[DeviceSpec]:
    """The devices of a fleet file; raises ``FleetError``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise FleetError(f"cannot read fleet file {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise FleetError(f"{path}: not UTF-8 text ({e}); save it as UTF-8") from None
    return parse_fleet(text, source=str(path), registry=registry)


def parse_fleet(text: str, *, source: str = "<fleet>",
                registry: DeviceRegistry | None = None) -> list[DeviceSpec]:
    """The devices described by fleet TOML ``text``; raises ``FleetError``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        found = re.search(r"at line (\d+)", str(e))
        where = f"{source}:{found.group(1)}" if found else source
        raise FleetError(f"{where}: invalid TOML: {e}") from None
    context = _Context(source, text)
    check_keys(context, (), data, TOP_LEVEL_KEYS)
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise context.error(("defaults",), "must be a table: write [defaults] on its own line")
    check_keys(context, ("defaults",), defaults, DEVICE_KEYS)
    devices = data.get("devices")
    if not isinstance(devices, dict) or not devices:
        raise context.error(("devices",) if "devices" in data else (),
                            f"a fleet needs at least one device table, e.g.\n{EXAMPLE}")
    registry = registry if registry is not None else default_registry
    return [device_spec(context, name, table, defaults, registry)
            for name, table in devices.items()]


def check_keys(context: _Context, path: tuple[str, ...], table: Mapping[str, Any],
               allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise context.error((*path, key), f"unknown key {key!r}; {hint}allowed keys: "
                                f"{', '.join(allowed)}")


def device_spec(context: _Context, name: str, table: object, defaults: Mapping[str, Any],
                registry: DeviceRegistry) -> DeviceSpec:
    path = ("devices", name)
    if not isinstance(table, dict):
        raise context.error(path, f"must be a table of settings, e.g. [devices.{name}] "
                                  "followed by device = \"keithley6517b\"")
    check_keys(context, path, table, DEVICE_KEYS)
    settings = {**defaults, **table}
    config = {**defaults.get("config", {}), **table.get("config", {})}

    def origin(key: str) -> tuple[str, ...]:
        return (*path, key) if key in table else ("defaults", key)

    try:
        check_name(name)
    except SpecError as e:
        raise context.error(path, f"{e}; rename the table") from None
    if "device" not in settings:
        raise context.error(path, "missing 'device'; add e.g. device = \"keithley6517b\" "
                                  f"(registered: {', '.join(registry)})")
    try:
        factory = registry[str(settings["device"])]
    except UnknownDevice as e:
        raise context.error(origin("device"), f"{e}") from None
    options = {key: settings[key] for key in DEVICE_KEYS
               if key in settings and key not in ("mode", "config")}
    for key, value in options.items():
        try:
            DeviceSpec(**{"device": "x", key: value})
        except SpecError as e:
            raise context.error(origin(key), str(e)) from None
    try:
        strict = check_choice("mode", settings.get("mode", "strict"), MODES) == "strict"
    except SpecError as e:
        raise context.error(origin("mode"), str(e)) from None
    check_model_config(context, path, factory, config)
    try:
        return DeviceSpec(name=name, strict=strict, config=config, **options)
    except SpecError as e:
        raise context.error((*path, "config"), str(e)) from None


def check_model_config(context: _Context, path: tuple[str, ...], factory: object,
                       config: Mapping[str, Any]) -> None:
    """Validate Keithley configuration keys here, where the line is still known."""
    model = config.get("model") or getattr(factory, "MODEL", None)
    if model is None:
        return
    try:
        KeithleyConfig.from_mapping({**config, "model": model})
    except (ValueError, TypeError) as e:
        raise context.error((*path, "config"), f"{e}; see the KeithleyConfig keys in "
                            "devices/keithley/config.py") from None
