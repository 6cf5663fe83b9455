"""One suite, several targets: tcp (a running endpoint), serial (bridge), emulator-only skips."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from harness.plugin_support import InstrumentEndpoint
from harness.serial import PtyEndpoint

if TYPE_CHECKING:
    from conftest import InnerSuite

#: The same test bodies run on every target; some need the emulator.
PORTABLE_SUITE = """
def test_identification(electrometer):
    record("identification", idn=Scpi(electrometer).query("*IDN?"),
           model=electrometer.model, target=electrometer.emulated)

def test_control_channel(electrometer):
    electrometer.control.signal("CURR", "constant", value=1e-9)

@pytest.mark.hil_emulator_only(reason="injects faults")
def test_marked_emulator_only(electrometer):
    electrometer.control.delay(10)

def test_two_instruments(hil_device):
    hil_device()
    hil_device()

def test_own_supervisor(hil_supervisor):
    pass

@pytest.fixture
def quiet(electrometer):
    electrometer.control.silence(10)
    return electrometer

def test_fixture_using_control(quiet):
    pass
"""


@pytest.mark.hil(speed=0)
def test_the_portable_suite_runs_on_a_tcp_target_with_clear_skips(
        inner: InnerSuite, electrometer: InstrumentEndpoint) -> None:
    inner.write("test_portable", PORTABLE_SUITE)
    target = f"tcp:127.0.0.1:{electrometer.port}"

    result = inner.pytester.runpytest("--hil-target", target, "-rs")

    result.assert_outcomes(passed=1, skipped=5)
    result.stdout.fnmatch_lines_random([
        f"SKIPPED*the control channel exists only for emulated devices; the target is {target} "
        "(emulator-only feature: mark the test hil_emulator_only)",
        f"SKIPPED*emulator-only test (injects faults); the target is {target}",
        f"SKIPPED*the target {target} is one instrument and this test already uses it*",
        f"SKIPPED*hil_supervisor needs --hil-target emulator; the target is {target}",
    ])
    seen = inner.records()["identification"]
    assert "MODEL 6517B" in seen["idn"] and seen["model"] == "6517B" and not seen["target"]


def test_the_portable_suite_passes_on_the_emulator(inner: InnerSuite) -> None:
    inner.write("test_portable", PORTABLE_SUITE)

    result = inner.pytester.runpytest()

    result.assert_outcomes(passed=6)
    assert inner.records()["identification"]["target"] is True


@pytest.mark.hil(speed=0)
def test_a_test_for_another_model_than_the_bench_is_skipped(
        inner: InnerSuite, electrometer: InstrumentEndpoint) -> None:
    inner.write("test_models", """
@pytest.mark.hil(model="keithley6514")
def test_for_6514(electrometer):
    pass

def test_for_default_model(electrometer):
    pass
""")
    result = inner.pytester.runpytest(f"--hil-target=tcp:127.0.0.1:{electrometer.port}",
                                      "--hil-instrument=keithley6517b", "-rs")

    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*this test wants a keithley6514; the target "
                                 "tcp:127.0.0.1:* is a keithley6517b (--hil-instrument)"])


def test_the_serial_target_bridges_to_the_port(inner: InnerSuite) -> None:
    # loop:// is pyserial's echo port: what the client sends comes back.
    inner.write("test_echo", """
def test_echo(electrometer):
    record("echo", reply=Scpi(electrometer).query("*IDN?"), host=electrometer.host)
""")
    result = inner.pytester.runpytest("--hil-target", "serial:loop://")

    result.assert_outcomes(passed=1)
    assert inner.records()["echo"] == {"reply": "*IDN?", "host": "127.0.0.1"}


async def test_the_portable_suite_runs_on_a_serial_instrument(inner: InnerSuite) -> None:
    inner.write("test_portable", PORTABLE_SUITE)
    pty = PtyEndpoint.for_keithley(speed=0)
    await pty.start()
    try:
        result = await asyncio.to_thread(inner.run_subprocess, "-n", "2",
                                         "--hil-target", f"serial:{pty.path}")
    finally:
        await pty.close()

    result.assert_outcomes(passed=1, skipped=5)
    assert "MODEL 6517B" in inner.records()["identification"]["idn"]
