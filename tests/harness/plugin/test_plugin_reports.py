"""A failing test's report shows its devices' last SCPI messages and log; a passing one not."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import InnerSuite


def test_a_failure_report_shows_this_tests_messages_and_log(inner: InnerSuite) -> None:
    inner.write("test_report", """
def test_1_passes(electrometer):
    Scpi(electrometer).query(":SENS:FUNC?")

def test_2_fails(electrometer):
    scpi = Scpi(electrometer)
    idn = scpi.query("*IDN?")
    record("failing", name=electrometer.name, idn=idn)
    assert idn == "something else"
""")
    result = inner.pytester.runpytest("-p", "no:randomly", "-rA")

    result.assert_outcomes(passed=1, failed=1)
    name, idn = inner.records()["failing"]["name"], inner.records()["failing"]["idn"]
    result.stdout.fnmatch_lines([
        f"*hil {name} (6517B at 127.0.0.1:*): last SCPI messages*",
        "-> to the device, <- from the device (oldest first)",
        "??:??:??.??? -> [*]IDN?",
        f"??:??:??.??? <- {idn}*",
        f"*hil {name} (6517B at 127.0.0.1:*): device log*",
        f"*/{name}.log (the end, from this test on):",
        "==== hil: test_report.py::test_2_fails (worker main, run *) uses this device ====",
    ])
    output = result.stdout.str()
    assert ":SENS:FUNC?" not in output, "the previous test's messages leaked into the report"
    assert "test_1_passes (worker" not in output, "the previous test's log leaked in"
    assert output.count("last SCPI messages") == 1


def test_the_report_of_a_dead_device_explains_and_the_next_test_gets_a_new_one(
        inner: InnerSuite) -> None:
    inner.write("test_dead", """
import signal

def test_1_kills_its_device(electrometer):
    record("killed", pid=electrometer.pid)
    os.kill(electrometer.pid, signal.SIGKILL)
    assert electrometer.emulator.wait_until(lambda e: e.status == "failed", timeout=10)
    assert False, "the device died"

def test_2_gets_a_working_device(electrometer):
    record("next", pid=electrometer.pid, idn=Scpi(electrometer).query("*IDN?"))
""")
    result = inner.pytester.runpytest("-p", "no:randomly")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*last SCPI messages*",
                                 "(no message history: device * is not running (failed)*"])
    records = inner.records()
    assert records["next"]["pid"] != records["killed"]["pid"]
    assert "MODEL 6517B" in records["next"]["idn"]


def test_a_failure_in_setup_reports_the_devices_already_given(inner: InnerSuite) -> None:
    inner.write("test_setup_failure", """
@pytest.fixture
def configured(electrometer):
    Scpi(electrometer).query("*IDN?")
    raise RuntimeError("configuration failed")

def test_needs_configuration(configured):
    pass
""")
    result = inner.pytester.runpytest()

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*last SCPI messages*", "??:??:??.??? -> [*]IDN?"])
