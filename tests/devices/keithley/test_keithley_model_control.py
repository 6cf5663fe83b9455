"""Control operations (§7.6), MockKeithley and the device registry."""

from __future__ import annotations

import pytest
from model_helpers import lines

from devices.keithley import (
    Keithley6514,
    Keithley6517B,
    KeithleyConfig,
    MockKeithley,
    ModelMismatch,
    StateKeyError,
    UnknownDevice,
    UnknownModel,
    devices,
)
from devices.keithley.registry import DeviceRegistry


def test_mock_keithley_builds_the_right_model() -> None:
    """MockKeithley(model) and MockKeithley(config) return the model's class."""
    assert isinstance(MockKeithley(), Keithley6517B)
    k = MockKeithley("6514", speed=0)
    assert isinstance(k, Keithley6514) and isinstance(k, MockKeithley)
    config = KeithleyConfig.for_model("6514", speed=0)
    assert isinstance(MockKeithley(config), Keithley6514)
    with pytest.raises(UnknownModel):
        MockKeithley("2000")
    with pytest.raises(ModelMismatch):
        Keithley6517B(config)


def test_registry_has_builtins_and_creates_devices() -> None:
    """Registry: keithley6517b / keithley6514 names, case-insensitive, clear errors."""
    assert {"keithley6517b", "keithley6514"} <= set(devices)
    device = devices.create("Keithley6514", speed=0)
    assert lines(device, "*IDN?")[0].startswith("KEITHLEY INSTRUMENTS INC.,MODEL 6514")
    with pytest.raises(UnknownDevice, match="keithley6517b"):
        devices["nosuch"]
    local = DeviceRegistry(builtins={}, group="hil.devices.none")
    local.register("Demo", Keithley6517B)
    assert list(local) == ["demo"]


def test_power_cycle_restores_power_on_state_and_keeps_saved_setups() -> None:
    """§7.6 power_cycle: POSetup selection, PON, cleared errors, *SAV slots kept."""
    k = Keithley6517B(speed=0)
    lines(k, "*RST", ":SENS:CURR:NPLC 4", "*SAV 1", ":SYST:POS SAV1", "FOO", ":TRAC:POIN 7")
    k.power_cycle(now=1.0)
    assert lines(k, ":SENS:CURR:NPLC?", "*ESR?", "SYST:ERR?", ":TRAC:POIN?", now=1.0) == [
        "4.000000E+00", "128", '0,"No error"', "100"]


def test_default_power_on_is_preset_with_continuous_measuring() -> None:
    """§4.13: power-on state is PRESet: INIT:CONT ON, autorange off."""
    k = Keithley6517B(speed=0)
    assert lines(k, ":INIT:CONT?", ":SENS:VOLT:RANG:AUTO?", ":TRIG:COUN?") == [
        "1", "0", "9.9E37"]
    rst = Keithley6517B(speed=0, power_on_state="rst")
    assert lines(rst, ":INIT:CONT?") == ["0"]


def test_set_signal_and_seed_are_deterministic() -> None:
    """§7.1: same config, seed and messages give identical replies."""
    def run(seed: int) -> list[str]:
        k = Keithley6517B(speed=0, seed=seed)
        lines(k, "*RST", ":SYST:ZCH OFF", ":SENS:FUNC 'CURR'", ":TRIG:COUN 5")
        return lines(k, ":READ?")
    assert run(1) == run(1)
    assert run(1) != run(2)
    k = Keithley6517B(speed=0)
    k.set_signal("CURR", "constant", value=3e-9)
    lines(k, "*RST", ":SYST:ZCH OFF", ":SENS:FUNC 'CURR'", ":FORM:ELEM READ")
    assert float(lines(k, ":READ?")[0]) == pytest.approx(3e-9)
    k.reset_signals()
    assert float(lines(k, ":READ?")[0]) == pytest.approx(1e-12, rel=0.1)


def test_inject_trigger_rejects_unknown_kind() -> None:
    """§7.6 trigger(kind): unknown kinds are a ValueError naming the kinds."""
    k = Keithley6517B(speed=0)
    with pytest.raises(ValueError, match="MAN"):
        k.inject_trigger("BOGUS")
    assert not k.inject_trigger("EXT")


def test_pretrigger_event_from_control_channel() -> None:
    """§4.7 PRETrigger: the pretrigger source event fixes the pre/post split."""
    k = Keithley6517B(speed=0)
    lines(k, "*RST", ":SYST:ZCH OFF", ":TRAC:POIN 4", ":TRAC:FEED:PRET:AMO 50",
          ":TRAC:FEED:PRET:SOUR MAN", ":TRAC:FEED:CONT PRET", ":FORM:ELEM RNUM",
          ":TRIG:COUN INF", ":INIT", "*IDN?", "*IDN?", "*IDN?")
    assert k.inject_trigger("MAN")
    lines(k, "*IDN?", "*IDN?", "*IDN?")
    (dump,) = lines(k, ":TRAC:DATA?")
    assert [int(item) for item in dump.split(",")] == [-2, -1, 0, 1]


def test_mode_and_speed_switch_at_run_time() -> None:
    """§7.6 set_mode, set_speed."""
    k = Keithley6517B(speed=1.0)
    k.set_mode("lenient")
    assert lines(k, ":FOO;*IDN?")[0].startswith("KEITHLEY")
    k.set_speed(0, now=5.0)
    (reply,) = k.receive(":SYST:ERR?", 6.0)
    assert reply.ready_at == 6.0
    with pytest.raises(ValueError):
        k.set_mode("loose")


def test_snapshot_and_state_keys() -> None:
    """§7.6 snapshot, get/set state by key (aliases and dotted paths)."""
    k = Keithley6517B(speed=0)
    lines(k, "*RST", ":SENS:FUNC 'CURR'", "FOO")
    snapshot = k.snapshot()
    assert snapshot["setup"]["function"] == "CURR"
    assert snapshot["errors"] == [(-113, "Undefined header")]
    assert lines(k, "SYST:ERR?") == ['-113,"Undefined header"']  # snapshot did not consume
    assert k.get_state(["function", "nplc", "setup.functions.VOLT.digits"]) == {
        "function": "CURR", "nplc": 1.0, "setup.functions.VOLT.digits": 6}
    k.set_state({"nplc": 2.0, "trace.points": 10})
    assert lines(k, ":SENS:CURR:NPLC?", ":TRAC:POIN?") == ["2.000000E+00", "10"]
    with pytest.raises(StateKeyError, match="nplc"):
        k.get_state(["nosuch"])
    with pytest.raises(StateKeyError, match="read-only"):
        k.set_state({"buffer_count": 3})
