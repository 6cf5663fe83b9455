"""The fixtures on the emulator target: fresh devices, the ``hil`` marker, several devices."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import InnerSuite


def test_each_test_gets_a_factory_fresh_device_from_the_pool(inner: InnerSuite) -> None:
    inner.write("test_fresh", """
FRESH_CHECKS = ["*RCL 1;:SENS:FUNC?", ":SYST:ERR?", ":TRAC:POIN:ACT?"]

def test_a_dirties_the_device(electrometer):
    scpi = Scpi(electrometer)
    record("a", pid=electrometer.pid, port=electrometer.port,
           fresh=[scpi.query(q) for q in FRESH_CHECKS])
    scpi.send(":SENS:FUNC 'CHAR';*SAV 1;:BOGUS")
    scpi.query("*OPC?")
    electrometer.control.delay(5000)
    # The connection stays open: the next test must still be able to connect.

def test_b_sees_power_on_state(electrometer):
    scpi = Scpi(electrometer)
    record("b", pid=electrometer.pid, port=electrometer.port,
           fresh=[scpi.query(q) for q in FRESH_CHECKS],
           stats=electrometer.control.stats())
""")
    result = inner.pytester.runpytest("-p", "no:randomly")

    result.assert_outcomes(passed=2)
    a, b = inner.records()["a"], inner.records()["b"]
    assert (b["pid"], b["port"]) == (a["pid"], a["port"]), "the device was not reused"
    assert b["fresh"] == a["fresh"]
    assert a["fresh"][1].startswith("0,")
    assert b["stats"]["faults"]["delay_ms"] == 0
    assert b["stats"]["stats"]["connections"] == 1


def test_the_hil_marker_configures_the_device(inner: InnerSuite) -> None:
    inner.write("test_marker", """
@pytest.mark.hil(model="keithley6514", terminator="cr", speed=0, strict=False,
                 serial_number="H1L")
def test_marked(electrometer):
    scpi = Scpi(electrometer, terminator=b"\\r")
    snapshot = electrometer.control.get()
    record("marked", model=electrometer.model, idn=scpi.query("*IDN?"),
           mode=snapshot["mode"], speed=snapshot["speed"])

def test_default(electrometer):
    snapshot = electrometer.control.get()
    record("default", model=electrometer.model, mode=snapshot["mode"], speed=snapshot["speed"])
""")
    result = inner.pytester.runpytest()

    result.assert_outcomes(passed=2)
    marked, default = inner.records()["marked"], inner.records()["default"]
    assert marked["model"] == "6514" and "MODEL 6514,H1L" in marked["idn"]
    assert (marked["mode"], marked["speed"]) == ("lenient", 0)
    assert default["model"] == "6517B"
    assert (default["mode"], default["speed"]) == ("strict", 1)


def test_a_function_marker_overrides_its_class_marker(inner: InnerSuite) -> None:
    inner.write("test_class_marker", """
@pytest.mark.hil(model="keithley6514", speed=0)
class TestBench:
    def test_class_default(self, electrometer):
        record("class", model=electrometer.model, speed=electrometer.control.get()["speed"])

    @pytest.mark.hil(model="keithley6517b")
    def test_override(self, electrometer):
        record("override", model=electrometer.model,
               speed=electrometer.control.get()["speed"])
""")
    result = inner.pytester.runpytest()

    result.assert_outcomes(passed=2)
    records = inner.records()
    assert records["class"] == {"model": "6514", "speed": 0}
    assert records["override"] == {"model": "6517B", "speed": 0}


def test_hil_device_gives_several_instruments(inner: InnerSuite) -> None:
    inner.write("test_several", """
@pytest.mark.hil(speed=0)
def test_three(hil_device):
    first = hil_device()
    second = hil_device("keithley6514")
    third = hil_device(speed=2)
    record("three", ports=[d.port for d in (first, second, third)],
           pids=[d.pid for d in (first, second, third)],
           models=[d.model for d in (first, second, third)],
           speeds=[d.control.get()["speed"] for d in (first, second, third)],
           idn=Scpi(second).query("*IDN?"))
""")
    result = inner.pytester.runpytest()

    result.assert_outcomes(passed=1)
    three = inner.records()["three"]
    assert len(set(three["ports"])) == 3 and len(set(three["pids"])) == 3
    assert three["models"] == ["6517B", "6514", "6517B"]
    assert three["speeds"] == [0, 0, 2]
    assert "MODEL 6514" in three["idn"]


def test_hil_supervisor_is_the_one_behind_the_devices(inner: InnerSuite) -> None:
    inner.write("test_supervisor", """
def test_own_device(hil_supervisor, electrometer):
    extra = hil_supervisor.spawn("keithley6514", name="extra", speed=0)
    names = [endpoint.name for endpoint in hil_supervisor.endpoints]
    record("supervisor", names=names, device=electrometer.name,
           idn=Scpi(extra).query("*IDN?"))
""")
    result = inner.pytester.runpytest()

    result.assert_outcomes(passed=1)
    seen = inner.records()["supervisor"]
    assert seen["device"] in seen["names"] and "extra" in seen["names"]
    assert "MODEL 6514" in seen["idn"]


@pytest.mark.parametrize(("marker", "expected"), [
    ('model="keithley9999"', "*no device called 'keithley9999'; registered: *keithley6514*"),
    ('terminator="semicolon"', "*terminator 'semicolon' is not one of lf, cr, crlf, lfcr*"),
], ids=["unknown-model", "bad-option-value"])
def test_a_bad_hil_marker_is_an_error_saying_why(inner: InnerSuite, marker: str,
                                                  expected: str) -> None:
    inner.write("test_bad_marker", f"""
@pytest.mark.hil({marker})
def test_bad(electrometer):
    pass
""")
    result = inner.pytester.runpytest()

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([expected])


def test_a_run_without_instruments_starts_nothing_and_imports_no_models(
        inner: InnerSuite) -> None:
    inner.write("test_lazy", """
import sys

def children():
    return Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()

def test_no_instrument():
    record("lazy", children=children(),
           modules=sorted(name for name in sys.modules
                          if name.startswith(("harness.supervisor", "devices"))))
""")
    result = inner.run_subprocess()

    result.assert_outcomes(passed=1)
    assert inner.records()["lazy"] == {"children": [], "modules": []}
