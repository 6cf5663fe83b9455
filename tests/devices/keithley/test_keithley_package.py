"""What ``import devices.keithley`` brings in: the models, not the TCP harness."""

from __future__ import annotations

import json
import subprocess
import sys

IMPORT_CHECK = """
import json, sys
import devices.keithley as keithley
before = sorted(name for name in sys.modules if name.split(".")[0] == "harness")
from devices.keithley import MockServer
from devices.keithley.mock_server import MockServer as Defined
try:
    keithley.NoSuchThing
    missing = "no error"
except AttributeError as error:
    missing = str(error)
print(json.dumps({"before": before, "same": MockServer is Defined,
                  "after": "harness.tcpip" in sys.modules, "missing": missing,
                  "listed": "MockServer" in keithley.__all__ and "MockServer" in dir(keithley)}))
"""


def test_models_import_without_harness_and_mock_server_loads_on_demand() -> None:
    # A fresh interpreter: this test process has long imported harness for other tests.
    result = subprocess.run([sys.executable, "-c", IMPORT_CHECK], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["before"] == []
    assert report["same"] and report["after"] and report["listed"]
    assert "NoSuchThing" in report["missing"]
