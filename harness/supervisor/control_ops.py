"""The control operations: parameter checks and their effect on the model and transport.

Each operation declares its required and optional parameters; a request with a
missing, unknown or ill-typed parameter gets ``ok: false`` naming it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.recording.errors import RecordingError
from harness.supervisor.faults import (
    MAX_DELAY_MS,
    MAX_GARBAGE_BYTES,
    MAX_SILENCE_MS,
    FaultInjectingServer,
)
from harness.supervisor.history import HISTORY_LENGTH

logger = logging.getLogger(__name__)

Reply = dict[str, Any]


class BadRequest(ValueError):
    """A request parameter is missing, unknown or has a bad value."""


@dataclass(frozen=True)
class Operation:
    handler: Callable[[dict[str, Any]], Reply]
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    open_ended: bool = False  # further parameters go to the model (signal kinds)


class ControlOperations:
    """Dispatches control requests to the server's model, faults and counters."""

    def __init__(self, server: FaultInjectingServer,
                 identity: Callable[[], dict[str, Any]] | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.server = server
        self._identity = identity or dict
        self._clock = clock or (lambda: asyncio.get_running_loop().time())
        self.operations: dict[str, Operation] = {
            "ping": Operation(self.ping),
            "reset": Operation(self.reset),
            "get": Operation(self.get, optional=("keys",)),
            "set": Operation(self.set, required=("values",)),
            "signal": Operation(self.signal, required=("function", "kind"), open_ended=True),
            "trigger": Operation(self.trigger, optional=("kind",)),
            "delay": Operation(self.delay, required=("ms",)),
            "drop": Operation(self.drop),
            "garbage": Operation(self.garbage, required=("bytes",)),
            "silence": Operation(self.silence, required=("ms",)),
            "stats": Operation(self.stats),
            "history": Operation(self.history, optional=("count",)),
            "renew": Operation(self.renew),
            "record_start": Operation(self.record_start, required=("path",),
                                      optional=("overwrite",)),
            "record_stop": Operation(self.record_stop),
        }

    def dispatch(self, request: Mapping[str, Any]) -> Reply:
        """The reply to one decoded request; never raises."""
        op = request.get("op")
        operation = self.operations.get(op) if isinstance(op, str) else None
        if operation is None:
            return {"ok": False, "error": f"unknown op {op!r}; known ops: "
                                          f"{', '.join(sorted(self.operations))}"}
        params = {key: value for key, value in request.items() if key != "op"}
        try:
            check_parameters(str(op), operation, params)
            return {"ok": True, **operation.handler(params)}
        except (BadRequest, KeyError, ValueError, TypeError) as e:
            return {"ok": False, "error": f"{op}: {_message(e)}"}
        except Exception as e:
            logger.exception("Control operation %r failed", op)
            return {"ok": False, "error": f"{op}: internal error {type(e).__name__}: {e}"}

    # -- model ------------------------------------------------------------------------

    def ping(self, params: dict[str, Any]) -> Reply:
        server = self.server
        return {**self._identity(), "model": server.config.model, "port": server.port,
                "connected": server.connected}

    def reset(self, params: dict[str, Any]) -> Reply:
        """Power-on state: model power cycle, configured signals, no faults."""
        now = self._clock()
        device = self.server.device
        device.power_cycle(now)
        device.reset_signals(now)
        self.server.reset_faults()
        self.server.wakeup()
        return {}

    def renew(self, params: dict[str, Any]) -> Reply:
        """Factory-fresh: client dropped, a new model from the launch configuration, no faults,
        counters and history cleared (``reset`` keeps saved setups and noise counters)."""
        server = self.server
        dropped = server.drop()
        # Model classes take (config=, now=), as the child's build_server relies on.
        server.device = type(server.device)(config=server.config, now=self._clock())
        server.reset_faults()
        server.stats.clear()
        server.history.clear()
        server.wakeup()
        return {"dropped": dropped}

    def get(self, params: dict[str, Any]) -> Reply:
        if "keys" not in params:
            return {"values": self.server.device.snapshot()}
        keys = params["keys"]
        if (not isinstance(keys, list) or not keys
                or not all(isinstance(key, str) for key in keys)):
            raise BadRequest("'keys' must be a non-empty list of state key names, "
                             "e.g. [\"nplc\"]; omit it for the whole snapshot")
        return {"values": self.server.device.get_state(keys)}

    def set(self, params: dict[str, Any]) -> Reply:
        values = params["values"]
        if not isinstance(values, dict) or not values:
            raise BadRequest("'values' must be a non-empty object of state keys, "
                             "e.g. {\"nplc\": 1}")
        device = self.server.device
        device.set_state(values, now=self._clock())
        self.server.wakeup()
        return {"values": device.get_state(list(values))}

    def signal(self, params: dict[str, Any]) -> Reply:
        function, kind = params.pop("function"), params.pop("kind")
        if not isinstance(function, str) or not isinstance(kind, str):
            raise BadRequest("'function' and 'kind' must be strings, e.g. "
                             "{\"function\": \"CURR\", \"kind\": \"constant\", \"value\": 1e-9}")
        self.server.device.set_signal(function, kind, now=self._clock(), **params)
        self.server.wakeup()
        return {}

    def trigger(self, params: dict[str, Any]) -> Reply:
        kind = params.get("kind", "MAN")
        if not isinstance(kind, str):
            raise BadRequest(f"'kind' must be a string such as \"MAN\", got {kind!r}")
        taken = self.server.device.inject_trigger(kind, now=self._clock())
        self.server.wakeup()
        return {"taken": taken}

    # -- transport faults --------------------------------------------------------------------

    def delay(self, params: dict[str, Any]) -> Reply:
        self.server.faults.delay = bounded_number(params, "ms", MAX_DELAY_MS) / 1000
        return self._faults()

    def silence(self, params: dict[str, Any]) -> Reply:
        milliseconds = bounded_number(params, "ms", MAX_SILENCE_MS)
        self.server.faults.silent_until = self._clock() + milliseconds / 1000
        return self._faults()

    def garbage(self, params: dict[str, Any]) -> Reply:
        count = params["bytes"]
        if isinstance(count, bool) or not isinstance(count, int) or not 0 < count:
            raise BadRequest(f"'bytes' must be a positive integer, got {count!r}")
        if len(self.server.faults.pending_garbage) + count > MAX_GARBAGE_BYTES:
            raise BadRequest(f"at most {MAX_GARBAGE_BYTES} garbage bytes may be pending")
        self.server.faults.add_garbage(count)
        return self._faults()

    def drop(self, params: dict[str, Any]) -> Reply:
        return {"dropped": self.server.drop()}

    def stats(self, params: dict[str, Any]) -> Reply:
        server = self.server
        device = server.device
        counts = getattr(device, "error_counts", None)
        return {"stats": server.stats.as_dict(), **self._faults(),
                "connected": server.connected,
                "error_queue": device.snapshot()["errors"],
                # Totals since power-on, by code: the queue alone forgets drained errors.
                "error_counts": ({str(code): n for code, n in counts().items()}
                                 if counts is not None else {})}

    def history(self, params: dict[str, Any]) -> Reply:
        count = params.get("count", HISTORY_LENGTH)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise BadRequest(f"'count' must be a positive integer, got {count!r}")
        return {"history": self.server.history.entries(count)}

    def record_start(self, params: dict[str, Any]) -> Reply:
        """Record the client traffic into a new cassette at the absolute ``path``.

        Refused while a cassette is being recorded: an earlier ``record_start``'s,
        or the connection that ``hil serve --record`` is recording.
        """
        path, overwrite = params["path"], params.get("overwrite", False)
        if not isinstance(path, str) or not os.path.isabs(path):
            raise BadRequest(f"'path' must be an absolute file path, got {path!r}")
        if not isinstance(overwrite, bool):
            raise BadRequest(f"'overwrite' must be true or false, got {overwrite!r}")
        tap = self.server.recording_tap
        if tap.cassette is not None:
            # Finishing it silently would cut short a recording someone else started.
            raise BadRequest(f"already recording into {tap.cassette.path}; send record_stop "
                             "first")
        try:
            cassette = tap.start_file(path, overwrite=overwrite)
        except (RecordingError, OSError) as e:
            raise BadRequest(str(e)) from None
        return {"path": str(cassette.path), "writing": str(cassette.temporary_path)}

    def record_stop(self, params: dict[str, Any]) -> Reply:
        """Finish the cassette being recorded; ``path`` is ``null`` if none was."""
        try:
            path = self.server.recording_tap.stop()
        except (RecordingError, OSError) as e:
            raise BadRequest(str(e)) from None
        return {"path": None if path is None else str(path)}

    def _faults(self) -> Reply:
        return {"faults": self.server.faults.describe(self._clock())}


def check_parameters(op: str, operation: Operation, params: Mapping[str, Any]) -> None:
    missing = [name for name in operation.required if name not in params]
    if missing:
        raise BadRequest(f"missing parameter {', '.join(repr(m) for m in missing)}")
    if operation.open_ended:
        return
    allowed = (*operation.required, *operation.optional)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        takes = f"takes {', '.join(allowed)}" if allowed else "takes no parameters"
        raise BadRequest(f"unknown parameter {', '.join(repr(u) for u in unknown)}; "
                         f"{op} {takes}")


def bounded_number(params: Mapping[str, Any], key: str, maximum: float) -> float:
    value = params[key]
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or not 0 <= value <= maximum):
        raise BadRequest(f"{key!r} must be a number from 0 to {maximum}, got {value!r}")
    return float(value)


def _message(error: Exception) -> str:
    # KeyError's str() is the repr of its argument; the model's key errors override it.
    return str(error) if type(error) is not KeyError else f"unknown key {error.args[0]!r}"
