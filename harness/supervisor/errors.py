"""Exceptions of the supervisor; each message says what happened and what to do."""

from __future__ import annotations


class SupervisorError(Exception):
    """Base class of the supervisor's errors."""


class SpecError(SupervisorError, ValueError):
    """A device specification is invalid (bad value, duplicate name, unimportable factory)."""


class ForkServerError(SupervisorError):
    """The fork server (the process that forks device processes) could not start or died."""


class DeviceStartError(SupervisorError):
    """A device process failed before it was ready; carries its exit code and log tail."""

    def __init__(self, name: str, reason: str, *, returncode: int | None = None,
                 log_tail: str = "", log_path: str = "") -> None:
        self.name = name
        self.reason = reason
        self.returncode = returncode
        self.log_tail = log_tail
        self.log_path = log_path
        super().__init__(_describe(f"device {name!r} did not start: {reason}", returncode,
                                   log_tail, log_path))


class DeviceUnavailable(SupervisorError):
    """The device behind an endpoint is not running (it failed, is restarting or was stopped)."""

    def __init__(self, name: str, status: str, detail: str, *, returncode: int | None = None,
                 log_tail: str = "", log_path: str = "") -> None:
        self.name = name
        self.status = status
        self.returncode = returncode
        self.log_tail = log_tail
        headline = f"device {name!r} is not running ({status}): {detail}"
        super().__init__(_describe(headline, returncode, log_tail, log_path))


class ControlError(SupervisorError):
    """The device answered a control request with ``ok: false``."""

    def __init__(self, name: str, op: str, error: str) -> None:
        self.name = name
        self.op = op
        self.error = error
        super().__init__(f"control {op!r} on device {name!r} failed: {error}")


class ControlConnectionError(SupervisorError, ConnectionError):
    """The control channel could not be reached or broke off mid-request."""


class FleetError(SupervisorError, ValueError):
    """A fleet file is invalid; the message names the file, the line and what to change."""


def _describe(headline: str, returncode: int | None, log_tail: str, log_path: str) -> str:
    parts = [headline]
    if returncode is not None:
        parts.append(f"exit code {returncode}" + (f" (signal {-returncode})"
                                                   if returncode < 0 else ""))
    if log_path:
        parts.append(f"log: {log_path}")
    text = "; ".join(parts)
    if log_tail:
        text += "\n--- last lines of the device log ---\n" + log_tail.rstrip("\n")
    return text
