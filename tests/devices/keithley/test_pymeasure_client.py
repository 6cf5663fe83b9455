"""pymeasure's ``Keithley6517B`` driver over pyvisa-py against a MockServer (spec §9.2).

pyvisa blocks, so the server runs on an event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from pymeasure.instruments.keithley import Keithley6517B  # type: ignore[import-untyped]

from devices.keithley.mock_server import MockServer

WAIT = 10.0
T = TypeVar("T")


class ServerThread:
    """A ``MockServer`` served by an event loop running in a daemon thread."""

    def __init__(self, **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = self.run(self._start(kwargs))

    async def _start(self, kwargs: dict[str, Any]) -> MockServer:
        server = MockServer(**kwargs)
        await server.start_task
        return server

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(WAIT)

    def call(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the server's loop (the device is not thread-safe)."""

        async def wrapper() -> T:
            return function()

        return self.run(wrapper())

    @property
    def resource(self) -> str:
        return f"TCPIP::127.0.0.1::{self.server.port}::SOCKET"

    def stop(self) -> None:
        try:
            self.run(self.server.close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(WAIT)
            self.loop.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., ServerThread]]:
    servers: list[ServerThread] = []

    def start(**kwargs: Any) -> ServerThread:
        servers.append(ServerThread(**kwargs))
        return servers[-1]

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def connect() -> Iterator[Callable[..., Keithley6517B]]:
    instruments: list[Keithley6517B] = []

    def open_instrument(server: ServerThread, termination: str = "\n") -> Keithley6517B:
        instrument = Keithley6517B(
            server.resource,
            visa_library="@py",
            read_termination=termination,
            write_termination="\n",
            timeout=int(WAIT * 1000),
        )
        instruments.append(instrument)
        return instrument

    yield open_instrument
    for instrument in reversed(instruments):
        instrument.adapter.close()


@pytest.fixture
def keithley(
    serve: Callable[..., ServerThread], connect: Callable[..., Keithley6517B]
) -> Keithley6517B:
    """A driver talking to a fresh 6517B at speed 0, after ``reset()``."""
    instrument = connect(serve(speed=0))
    instrument.reset()
    return instrument


def no_error(instrument: Keithley6517B) -> bool:
    code, _ = instrument.next_error
    return bool(code == 0)


@pytest.mark.parametrize(("terminator", "termination"), [(b"\n", "\n"), (b"\r\n", "\r\n")])
def test_id_with_matching_read_termination(
    serve: Callable[..., ServerThread],
    connect: Callable[..., Keithley6517B],
    terminator: bytes,
    termination: str,
) -> None:
    instrument = connect(serve(speed=0, terminator=terminator), termination)
    assert instrument.id.startswith("KEITHLEY INSTRUMENTS INC.,MODEL 6517B,")


def test_reset_is_silent_and_error_free(keithley: Keithley6517B) -> None:
    keithley.reset()
    assert keithley.next_error[0] == 0
    assert int(keithley.status) == 0  # the driver returns the *STB? text


def test_measure_current_defaults(keithley: Keithley6517B) -> None:
    keithley.measure_current()
    assert no_error(keithley)
    assert keithley.current_nplc == 1.0
    assert keithley.ask(":SENS:FUNC?").strip() == '"CURR:DC"'
    assert keithley.ask(":SENS:CURR:RANG:AUTO?").strip() == "1"


def test_measure_current_fixed_range(keithley: Keithley6517B) -> None:
    keithley.measure_current(nplc=0.1, current=2e-9, auto_range=False)
    assert no_error(keithley)
    assert keithley.current_nplc == pytest.approx(0.1)
    # The 2 nA range reads back its full scale, 2.1 nA (range_readback = full_scale).
    assert keithley.current_range == pytest.approx(2.1e-9)
    assert keithley.ask(":SENS:CURR:RANG:AUTO?").strip() == "0"


@pytest.mark.parametrize(
    ("method", "function"),
    [("measure_voltage", '"VOLT:DC"'), ("measure_resistance", '"RES"')],
)
def test_measure_voltage_and_resistance_select_the_function(
    keithley: Keithley6517B, method: str, function: str
) -> None:
    getattr(keithley, method)()
    assert no_error(keithley)
    assert keithley.ask(":SENS:FUNC?").strip() == function


def test_current_reads_the_zero_check_value_until_zero_check_is_released(
    keithley: Keithley6517B,
) -> None:
    keithley.measure_current()
    assert keithley.current == pytest.approx(9.91e37)
    keithley.write(":SYST:ZCH OFF")
    current = keithley.current
    assert isinstance(current, float)
    assert abs(current) < 1e-3


def test_voltage_property_parses_the_default_reading_format(keithley: Keithley6517B) -> None:
    keithley.write(":SYST:ZCH OFF")
    voltage = keithley.voltage
    assert isinstance(voltage, float)
    assert abs(voltage) < 210


@pytest.mark.parametrize(
    ("name", "value", "full_scale"),
    [("current_range", 2e-6, 2.1e-6), ("voltage_range", 20, 21.0)],
)
def test_ranges_round_trip_as_full_scale(
    keithley: Keithley6517B, name: str, value: float, full_scale: float
) -> None:
    setattr(keithley, name, value)
    assert getattr(keithley, name) == pytest.approx(full_scale)
    assert no_error(keithley)


@pytest.mark.parametrize("name", ["current_nplc", "voltage_nplc", "resistance_nplc"])
def test_nplc_round_trips(keithley: Keithley6517B, name: str) -> None:
    setattr(keithley, name, 5)
    assert getattr(keithley, name) == 5.0
    assert no_error(keithley)


def test_buffer_configure_start_wait_read(keithley: Keithley6517B) -> None:
    keithley.write(":SYST:ZCH OFF")
    keithley.config_buffer(points=3)
    assert no_error(keithley)
    keithley.write(":TRIG:COUN 3")
    keithley.start_buffer()
    keithley.wait_for_buffer(timeout=WAIT)
    assert keithley.is_buffer_full()
    assert keithley.buffer_points == 3
    assert keithley.ask(":TRAC:POIN:ACT?").strip() == "3"
    keithley.write(":FORM:ELEM READ")
    data = keithley.buffer_data
    assert len(data) == 3
    assert all(abs(value) < 210 for value in data)


def test_buffer_data_with_default_elements_does_not_parse(keithley: Keithley6517B) -> None:
    # Faithful: every field carries its suffix, which the driver cannot convert (§9.2).
    keithley.config_buffer(points=2)
    keithley.write(":TRIG:COUN 2")
    keithley.start_buffer()
    keithley.wait_for_buffer(timeout=WAIT)
    with pytest.raises(ValueError):
        keithley.buffer_data  # noqa: B018


def test_config_buffer_alone_stores_one_reading_as_on_hardware(keithley: Keithley6517B) -> None:
    # The driver does not send the trigger count; after *RST it is 1 (pymeasure issue #186).
    keithley.config_buffer(points=3)
    keithley.start_buffer()
    assert keithley.ask("*OPC?").strip() == "1"
    assert not keithley.is_buffer_full()
    assert keithley.ask(":TRAC:POIN:ACT?").strip() == "1"


def test_buffer_fills_over_device_time_at_speed_one(
    serve: Callable[..., ServerThread], connect: Callable[..., Keithley6517B]
) -> None:
    keithley = connect(serve(speed=1.0))
    keithley.reset()
    keithley.config_buffer(points=3)
    keithley.write(":SENS:VOLT:NPLC 1;:TRIG:COUN 3")
    started = time.monotonic()
    keithley.start_buffer()
    keithley.wait_for_buffer(timeout=WAIT)
    # Three readings of 1 PLC at 60 Hz take about 3 x 53.7 ms (§6.2).
    assert time.monotonic() - started >= 0.15
    assert keithley.is_buffer_full()


def test_reset_stop_and_disable_buffer(keithley: Keithley6517B) -> None:
    keithley.reset_buffer()
    keithley.stop_buffer()
    keithley.disable_buffer()
    assert no_error(keithley)
    assert keithley.ask(":TRAC:FEED:CONT?").strip() == "NEV"


def test_voltage_source_level_and_output(keithley: Keithley6517B) -> None:
    keithley.source_voltage = 10
    assert keithley.source_voltage == 10
    assert not keithley.source_enabled
    keithley.enable_source()
    assert keithley.source_enabled
    keithley.disable_source()
    assert not keithley.source_enabled
    assert no_error(keithley)


def test_apply_voltage_range_is_rejected_as_on_hardware(keithley: Keithley6517B) -> None:
    # :SOUR:VOLT:RANG:AUTO is not in the 6517B tree: -113, and the RANG 200 after it in the
    # same message is discarded (§9.2); the driver drains the error itself.
    keithley.apply_voltage(200)
    assert keithley.source_voltage_range == 100
    assert no_error(keithley)


def test_source_current_resistance_limit(keithley: Keithley6517B) -> None:
    assert keithley.source_current_resistance_limit is False
    keithley.source_current_resistance_limit = True
    assert keithley.source_current_resistance_limit is True


def test_ramp_to_voltage_and_shutdown(keithley: Keithley6517B) -> None:
    keithley.enable_source()
    keithley.ramp_to_voltage(5, steps=5, pause=0)
    assert keithley.source_voltage == 5
    keithley.shutdown()
    assert not keithley.source_enabled


def test_bus_trigger_releases_a_waiting_layer(keithley: Keithley6517B) -> None:
    keithley.trigger()
    assert keithley.next_error[0] == -211  # nothing waits for *TRG (F10 default)
    keithley.config_buffer(points=1)
    keithley.trigger_on_bus()
    keithley.start_buffer()
    assert not keithley.is_buffer_full()
    keithley.trigger()
    keithley.wait_for_buffer(timeout=WAIT)
    keithley.trigger_immediately()
    assert no_error(keithley)


def test_clear_status_complete_options(keithley: Keithley6517B) -> None:
    keithley.write(":FOO")
    assert int(keithley.status) & 4  # EAV: an error is queued
    keithley.clear()
    assert int(keithley.status) == 0
    assert keithley.complete == "1"
    assert keithley.options == "0"
