"""pytest plugin ``hil``: instruments as fixtures, the same tests on emulator, bench or replay.

Fixtures: ``electrometer`` (a factory-fresh instrument per test, adjusted by
``@pytest.mark.hil(model=..., terminator=..., speed=..., strict=..., **config)``),
``hil_device`` (a factory for several instruments), ``hil_supervisor`` (this
worker's supervisor, emulator target only). Options: ``--hil-target``,
``--hil-keep-logs``, ``--hil-lease-timeout``, ``--hil-instrument``, ``--hil-serial``,
``--hil-record-mode``, ``--hil-record-from``. Under xdist every worker has its
own devices; the run uid and directory come from the controller.

The logic lives in ``harness.plugin_support``; nothing heavy is imported and no
process starts until a test uses an instrument.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any, NoReturn

import pytest

from harness.plugin_support import (
    MAIN_WORKER,
    HilSession,
    InstrumentEndpoint,
    InstrumentError,
    SettingsError,
    TargetError,
    TargetLimitation,
    TestDevices,
    parse_settings,
)
from harness.plugin_support.lease import DEFAULT_TIMEOUT
from harness.plugin_support.report import device_sections

SESSION = pytest.StashKey[HilSession]()
DEVICES = pytest.StashKey[TestDevices]()
#: Whether the test's call phase passed (absent: it never ran or was interrupted).
CALL_PASSED = pytest.StashKey[bool]()
DeviceFactory = Callable[..., InstrumentEndpoint]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hil", "hil instruments (emulated, bench hardware, replay)")
    group.addoption("--hil-target", default=None, metavar="TARGET",
                    help="what serves the instruments: emulator (default), tcp:HOST:PORT, "
                         "serial:URL or replay:DIR (ini: hil_target)")
    group.addoption("--hil-keep-logs", action="store_true", default=False,
                    help="keep the run directory (device logs) after the session")
    group.addoption("--hil-lease-timeout", default=None, metavar="SECONDS",
                    help="seconds a test waits for a shared instrument held by another "
                         f"test (default {DEFAULT_TIMEOUT:g}; ini: hil_lease_timeout)")
    group.addoption("--hil-instrument", default=None, metavar="DEVICE",
                    help="the instrument behind a tcp: or serial: target, e.g. keithley6517b; "
                         "tests that ask for another model are skipped (ini: hil_instrument)")
    group.addoption("--hil-serial", default=None, metavar="KEY=VALUE,...",
                    help="serial target line settings: baud, data_bits, parity, stop_bits, "
                         "xonxoff, instrument_terminator (ini: hil_serial)")
    group.addoption("--hil-record-mode", default=None, metavar="MODE",
                    help="with --hil-target replay:DIR: none (default: replay only), once "
                         "(record missing cassettes), new_episodes (replay leniently, the "
                         "emulator answers new messages, the cassette is re-recorded if the "
                         "test passes), all (re-record every cassette) (ini: hil_record_mode)")
    group.addoption("--hil-record-from", default=None, metavar="SOURCE",
                    help="with --hil-target replay:DIR and --hil-record-mode once or all: "
                         "what cassettes are recorded from: emulator (default), "
                         "tcp:HOST:PORT or serial:URL (a bench instrument, taken under a "
                         "lease like the tcp: and serial: targets; cassettes say source: "
                         "hardware) (ini: hil_record_from)")
    parser.addini("hil_target", "default of --hil-target", default="emulator")
    parser.addini("hil_record_mode", "default of --hil-record-mode", default="none")
    parser.addini("hil_record_from", "default of --hil-record-from", default="emulator")
    parser.addini("hil_lease_timeout", "default of --hil-lease-timeout", default="")
    parser.addini("hil_instrument", "default of --hil-instrument", default="")
    parser.addini("hil_serial", "default of --hil-serial", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "hil(model='keithley6517b', terminator='lf', speed=1.0, strict=True, "
                   "seed=0, **config): the instrument the electrometer and hil_device fixtures "
                   "give this test")
    config.addinivalue_line(
        "markers", "hil_emulator_only(reason=''): skip this test unless --hil-target is "
                   "emulator (it uses the control channel or several instruments)")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Parse and check the options before xdist starts workers: bad input is a usage error."""
    config = session.config
    worker_input: dict[str, Any] | None = getattr(config, "workerinput", None)
    try:
        settings = parse_settings(
            target=_option(config, "hil_target"), keep_logs=config.getoption("hil_keep_logs"),
            lease_timeout=_option(config, "hil_lease_timeout"),
            instrument=_option(config, "hil_instrument"), serial=_option(config, "hil_serial"),
            record_mode=_option(config, "hil_record_mode"),
            record_from=_option(config, "hil_record_from"))
    except SettingsError as e:
        raise pytest.UsageError(str(e)) from None
    try:
        hil = HilSession(settings, worker=(worker_input or {}).get("workerid", MAIN_WORKER),
                         worker_input=worker_input,
                         run_uid=getattr(config.option, "testrunuid", None))
        hil.check()
    except TargetError as e:
        raise pytest.UsageError(f"--hil-target {settings.target}: {e}") from None
    config.stash[SESSION] = hil


def _option(config: pytest.Config, name: str) -> str:
    """A command-line option, else its ini value ("" if neither is set)."""
    value = config.getoption(name)
    return str(value if value is not None else config.getini(name) or "")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: every worker shares this run's uid and directory."""
    hil = node.config.stash.get(SESSION, None)
    if hil is not None:
        node.workerinput.update(hil.worker_input())


def pytest_unconfigure(config: pytest.Config) -> None:
    hil = config.stash.get(SESSION, None)
    if hil is not None:
        hil.close()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    hil = config.stash.get(SESSION, None)
    if hil is not None and hil.settings.keep_logs and hil.owns_run and hil.run.root.exists():
        terminalreporter.write_line(f"hil: device logs kept in {hil.run.root}")


def _session(config: pytest.Config) -> HilSession:
    try:
        return config.stash[SESSION]
    except KeyError:
        raise RuntimeError("the hil plugin has no session (pytest_sessionstart did not run)") \
            from None


# -- skips ------------------------------------------------------------------------------------

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip emulator-only tests before their fixtures take an instrument (or a lease)."""
    marker = item.get_closest_marker("hil_emulator_only")
    if marker is None:
        return
    target = _session(item.config).target
    if target.kind != "emulator":
        reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
        pytest.skip(f"emulator-only test{f' ({reason})' if reason else ''}; "
                    f"the target is {target.text}")


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    try:
        return (yield)
    except TargetLimitation as e:
        pytest.skip(str(e))


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Generator[
        None, object, object]:
    try:
        return (yield)
    except TargetLimitation as e:
        pytest.skip(str(e))


# -- reports ----------------------------------------------------------------------------------

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[
        None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when == "call":
        item.stash[CALL_PASSED] = report.passed
    devices = item.stash.get(DEVICES, None)
    if report.failed and devices is not None and call.when in ("setup", "call"):
        for endpoint in devices.endpoints:
            report.sections.extend(device_sections(endpoint))
    return report


# -- fixtures ---------------------------------------------------------------------------------

def _marker_options(item: pytest.Item) -> dict[str, Any]:
    """The ``hil`` markers' keywords, the closest (function) winning over class and module."""
    options: dict[str, Any] = {}
    for marker in reversed(list(item.iter_markers("hil"))):
        if marker.args:
            options["model"] = marker.args[0]
        options.update(marker.kwargs)
    return options


@pytest.fixture(scope="session")
def hil_supervisor(request: pytest.FixtureRequest) -> Any:
    """This worker's ``Supervisor`` (emulator target), for devices a test manages itself."""
    target = _session(request.config).target
    supervisor = getattr(target, "supervisor", None)
    if target.kind != "emulator" or supervisor is None:
        pytest.skip(f"hil_supervisor needs --hil-target emulator; the target is {target.text}")
    return supervisor


@pytest.fixture
def hil_device(request: pytest.FixtureRequest) -> Iterator[DeviceFactory]:
    """``hil_device(model=None, **options)``: a fresh instrument; all are released after the
    test. Unspecified options come from the test's ``hil`` marker."""
    devices = _session(request.config).devices(request.node.nodeid,
                                               _marker_options(request.node))
    request.node.stash[DEVICES] = devices

    def open_device(model: str | None = None, **options: Any) -> InstrumentEndpoint:
        try:
            return devices.open(model, **options)
        except InstrumentError as e:
            error = e
        _fail(error)  # outside the except block: the message alone, no chained traceback

    try:
        yield open_device
    finally:
        try:
            devices.close(passed=request.node.stash.get(CALL_PASSED, False))
            error = None
        except InstrumentError as e:
            error = e
        if error is not None:
            _fail(error)


def _fail(error: InstrumentError) -> NoReturn:
    pytest.fail(f"hil: {error}", pytrace=False)


@pytest.fixture
def electrometer(hil_device: DeviceFactory) -> InstrumentEndpoint:
    """A factory-fresh instrument (power-on state) for this test, as the ``hil`` marker says:
    ``host``, ``port``, ``model``, ``control`` (emulator only), ``log_tail()``."""
    return hil_device()
