"""A real ``-n 4`` run: every test's device is fresh and its worker's own; nothing survives."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tests.process_probes import still_running

if TYPE_CHECKING:
    from conftest import InnerSuite

TESTS = 24

ISOLATION_SUITE = f"""
# The reading's value only: noise values depend on the conversions since power-on.
READING = "*RST;:SYST:ZCH OFF;:FORM:ELEM READ;:VOLT:MED OFF;:VOLT:AVER OFF;:READ?"

@pytest.mark.hil(speed=0)
@pytest.mark.parametrize("n", range({TESTS}))
def test_isolated(electrometer, hil_supervisor, worker_id, n):
    stats = electrometer.control.stats()
    scpi = Scpi(electrometer)
    seen = dict(
        recalled_function=scpi.query("*RCL 1;:SENS:FUNC?"),
        errors=scpi.query(":SYST:ERR?"),
        buffer_points=scpi.query(":TRAC:POIN:ACT?"),
        first_reading=scpi.query(READING),
        messages_before=stats["stats"]["messages_received"],
        delay_before=stats["faults"]["delay_ms"],
    )
    # Leave every kind of state behind for whoever gets this device next.
    scpi.send(":SENS:FUNC 'CHAR';*SAV 1;:TRAC:FEED:CONT ALW;:INIT;:NOT:A:COMMAND")
    electrometer.control.set({{"nplc": 5}})
    electrometer.control.signal("VOLT", "constant", value=42.0)
    electrometer.control.delay(2000)
    record(f"test{{n}}", worker=worker_id, pid=electrometer.pid, port=electrometer.port,
           fork_server=hil_supervisor.fork_server_pid, log=str(electrometer.log_path), **seen)
"""


def test_isolated_devices_under_four_workers_and_no_process_survives(inner: InnerSuite) -> None:
    inner.write("test_isolation", ISOLATION_SUITE)

    result = inner.run_subprocess("-n", "4")

    result.assert_outcomes(passed=TESTS)
    records = list(inner.records().values())
    assert len(records) == TESTS
    workers = {record["worker"] for record in records}
    assert workers == {"gw0", "gw1", "gw2", "gw3"}
    for field in ("recalled_function", "errors", "first_reading", "buffer_points",
                  "messages_before", "delay_before"):
        values = {record[field] for record in records}
        assert len(values) == 1, f"{field} differs between tests: {values}"
    assert records[0]["errors"].startswith("0,") and records[0]["delay_before"] == 0
    assert records[0]["messages_before"] == 0

    devices_of = {worker: {(r["pid"], r["port"]) for r in records if r["worker"] == worker}
                  for worker in workers}
    all_devices = [device for devices in devices_of.values() for device in devices]
    assert len(all_devices) == len(set(all_devices)), "two workers shared a device"
    assert len({port for _, port in all_devices}) == len(all_devices), "a port was reused"
    assert len({record["fork_server"] for record in records}) == 4

    logs = [Path(record["log"]) for record in records]
    run_roots = {log.parent.parent for log in logs}
    assert len(run_roots) == 1, "the workers did not share one run directory"
    uids = {log.parent.name.rpartition("-")[2] for log in logs}
    assert len(uids) == 1
    (uid,) = uids
    for record, log in zip(records, logs, strict=True):
        assert log.name.startswith(f"keithley6517b-{record['worker']}-{uid}-")
        assert log.parent.name == f"{record['worker']}-{uid}"

    pids = {pid for pid, _ in all_devices} | {record["fork_server"] for record in records}
    assert not still_running(pids), "device processes survived the session"
    assert not run_roots.pop().exists(), "the run directory was not removed"
