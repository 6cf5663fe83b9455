"""``HilSession``: one test run's target, run directory and per-test instruments.

Everything the pytest plugin does, without pytest: the plugin builds one
``HilSession`` per pytest process (controller and each xdist worker), asks it
for instruments per test and closes it at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.plugin_support.bridge import parse_serial_settings
from harness.plugin_support.endpoint import InstrumentEndpoint
from harness.plugin_support.lease import DEFAULT_TIMEOUT
from harness.plugin_support.replay import check_record_from, check_record_mode
from harness.plugin_support.run import MAIN_WORKER, RunContext, default_run_root, new_run_uid
from harness.plugin_support.targets import SettingsError, Target, TargetOptions, parse_target

if TYPE_CHECKING:
    from harness.supervisor import DeviceSpec

DEFAULT_DEVICE = "keithley6517b"
#: Options of a device request that are ``DeviceSpec`` fields; the rest are model keys.
SPEC_OPTIONS = ("terminator", "speed", "strict", "seed", "restart")


@dataclass(frozen=True)
class SessionSettings:
    """``target`` as given (``tcp:HOST:PORT``...); ``keep_logs``: keep the run directory."""

    target: str = "emulator"
    keep_logs: bool = False
    options: TargetOptions = field(default_factory=TargetOptions)


def parse_settings(*, target: str = "", keep_logs: bool = False, lease_timeout: str = "",
                   instrument: str = "", serial: str = "",
                   record_mode: str = "", record_from: str = "") -> SessionSettings:
    """Settings from option texts ("" for unset); raises ``SettingsError`` naming the option."""
    target = target.strip() or "emulator"
    timeout = DEFAULT_TIMEOUT
    if lease_timeout:
        try:
            timeout = float(lease_timeout)
        except ValueError:
            timeout = math.nan
        if not 0 < timeout < math.inf:
            raise SettingsError(f"--hil-lease-timeout {lease_timeout!r}: give a number of "
                                "seconds > 0")
    mode = record_mode.strip().lower() or "none"
    target_kind = target.partition(":")[0]
    check_record_mode(mode, target_kind)
    source = check_record_from(record_from, mode, target_kind)
    options = TargetOptions(lease_timeout=timeout, instrument=instrument.strip() or None,
                            serial=parse_serial_settings(serial), record_mode=mode,
                            record_from=source)
    return SessionSettings(target=target, keep_logs=keep_logs, options=options)


def device_spec(model: str = DEFAULT_DEVICE, **options: Any) -> DeviceSpec:
    """A ``DeviceSpec`` from a test's request: ``model`` is a registry name
    (``keithley6514``); ``terminator``, ``speed``, ``strict``, ``seed`` and ``restart``
    are spec fields, other keys model configuration. Raises ``SpecError``."""
    from harness.supervisor import DeviceSpec

    fields = {key: options.pop(key) for key in SPEC_OPTIONS if key in options}
    return DeviceSpec(model, **fields, config=options)


class HilSession:
    """The target of this process and the run it belongs to.

    ``worker_input`` is None in a controller or a run without xdist (this
    process owns the run directory and checks the target), else what the
    controller passed to this worker.
    """

    def __init__(self, settings: SessionSettings, *, worker: str = MAIN_WORKER,
                 worker_input: dict[str, Any] | None = None, run_uid: str | None = None) -> None:
        self.settings = settings
        self.owns_run = worker_input is None
        given = worker_input or {}
        uid = str(given.get("hil_run_uid") or given.get("testrunuid") or run_uid or new_run_uid())
        root = Path(given["hil_run_root"]) if "hil_run_root" in given else default_run_root(uid)
        self.run = RunContext(uid=uid, worker=worker, root=root)
        self.target: Target = parse_target(settings.target, self.run, settings.options)
        self._closed = False

    def check(self) -> None:
        """Raise ``TargetError`` if the target is unusable (only the run's owner looks)."""
        if self.owns_run:
            self.target.check()

    def worker_input(self) -> dict[str, Any]:
        return {"hil_run_uid": self.run.uid, "hil_run_root": str(self.run.root)}

    def devices(self, test_id: str, defaults: dict[str, Any] | None = None) -> TestDevices:
        return TestDevices(self.target, test_id, defaults or {})

    def close(self) -> None:
        """Stop the target; the run owner also deletes the run directory unless kept."""
        if self._closed:
            return
        self._closed = True
        try:
            self.target.close()
        finally:
            if self.owns_run and not self.settings.keep_logs:
                self.run.remove()


class InstrumentError(Exception):
    """An instrument could not be given to a test, or its session failed (a replay that
    differed from its cassette); the message says why, no traceback needed."""


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors of the harness whose messages tell the user what to do."""
    from harness.plugin_support.lease import LeaseTimeout
    from harness.recording import RecordingError
    from harness.serial import SerialEndpointError
    from harness.supervisor import SupervisorError, UnknownDevice

    return LeaseTimeout, RecordingError, SerialEndpointError, SupervisorError, UnknownDevice


class TestDevices:
    """The instruments one test uses; ``close`` hands them all back."""

    __test__ = False  # not a pytest test class

    def __init__(self, target: Target, test_id: str, defaults: dict[str, Any]) -> None:
        self.target = target
        self.test_id = test_id
        self.defaults = defaults
        #: Every instrument the test got, in order (kept after ``close`` for reports).
        self.endpoints: list[InstrumentEndpoint] = []
        self._held: list[InstrumentEndpoint] = []

    def open(self, model: str | None = None, **options: Any) -> InstrumentEndpoint:
        """An instrument; unspecified options come from ``defaults`` (the ``hil`` marker).

        Raises ``InstrumentError`` (the harness's explanation) or ``TargetLimitation``.
        """
        merged = {**self.defaults, **options}
        if model is not None:
            merged["model"] = model
        try:
            endpoint = self.target.open(device_spec(**merged), self.test_id)
        except user_errors() as e:
            raise InstrumentError(f"{type(e).__name__}: {e}") from e
        self.endpoints.append(endpoint)
        self._held.append(endpoint)
        return endpoint

    def close(self, *, passed: bool = True) -> None:
        """Hand every instrument back; ``passed``: the test passed (see ``Target.release``)."""
        held, self._held = self._held, []
        errors: list[BaseException] = []
        for endpoint in reversed(held):
            try:
                self.target.release(endpoint, passed=passed)
            except user_errors() as e:
                errors.append(InstrumentError(f"{type(e).__name__}: {e}"))
        if errors:
            raise errors[0]
