"""The observatory electrometer controller's dialect over a raw socket (spec §9.4).

The client below talks like that controller: each line is written followed by
CR, replies are read up to CR and only trailing CRs are removed. The server
uses the CR output terminator the controller needs (§1.9).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from devices.keithley.mock_server import MockServer

WAIT = 10.0
ERROR_LOOP_CAP = 50
# A number token as the controller collects them from a buffer dump.
NUMBER = re.compile(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|[-+]?\.\d+(?:[eE][-+]?\d+)?")


class Controller:
    """Writes lines ending in CR; reads replies up to CR, removing trailing CRs only."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def command(self, line: str) -> None:
        self.writer.write(line.encode() + b"\r")
        await self.writer.drain()

    async def query(self, line: str) -> str:
        await self.command(line)
        async with asyncio.timeout(WAIT):
            data = await self.reader.readuntil(b"\r")
        return data.decode().rstrip("\r")

    async def error_loop(self) -> list[int]:
        """``:syst:err?;`` until the code is 0; the codes read before it."""
        codes: list[int] = []
        for _ in range(ERROR_LOOP_CAP):
            parts = (await self.query(":syst:err?;")).split(",")
            assert len(parts) == 2, parts
            code = int(parts[0])
            if code == 0:
                return codes
            codes.append(code)
        raise AssertionError(f"the error queue never emptied: {codes}")

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


ControllerFactory = Callable[..., Awaitable[Controller]]


@pytest.fixture
async def connect_controller() -> AsyncIterator[ControllerFactory]:
    opened: list[tuple[MockServer, Controller]] = []

    async def open_controller(**kwargs: Any) -> Controller:
        server = MockServer(terminator=b"\r", **{"speed": 0, **kwargs})
        async with asyncio.timeout(WAIT):
            await server.start_task
            assert server.port
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        controller = Controller(reader, writer)
        opened.append((server, controller))
        return controller

    yield open_controller
    for server, controller in reversed(opened):
        await controller.close()
        await server.close()


@pytest.fixture
async def controller(connect_controller: ControllerFactory) -> Controller:
    return await connect_controller()


def function_name(reply: str) -> str:
    """How the controller reads ``:sens:func?;``: quotes removed, the part before one ':'."""
    text = reply.replace('"', "")
    parts = text.split(":")
    return parts[0] if len(parts) <= 2 else "CURR"


async def zero_correction(
    controller: Controller, function: str, range_: float | None
) -> tuple[str, str]:
    """The zero-correction block; returns the function and range replies."""
    if range_ is None:
        await controller.command(
            f":syst:zch ON; :sens:func '{function}'; :sens:{function}:rang:auto ON; :syst:zch OFF; "
        )
    else:
        await controller.command(
            f":syst:zch ON; :sens:func '{function}'; :sens:{function}:rang:auto OFF;\n"
            f":sens:{function}:rang {range_}; :syst:zch OFF; "
        )
    assert await controller.error_loop() == []
    return await controller.query(":sens:func?;"), await controller.query(
        f":sens:{function}:rang?;"
    )


async def connect_sequence(controller: Controller, function: str, range_: float | None) -> None:
    idn = await controller.query("*idn?;")
    assert "KEITHLEY" in idn
    await controller.command("*RST; :trac:cle;")
    await controller.command("*CLS;")
    function_reply, range_reply = await zero_correction(controller, function, range_)
    assert function_name(function_reply) == function
    float(range_reply)


async def test_identity_has_the_trailing_space(controller: Controller) -> None:
    assert (
        await controller.query("*idn?;")
        == "KEITHLEY INSTRUMENTS INC.,MODEL 6517B,4114292,A13/700x "
    )


@pytest.mark.parametrize("function", ["CURR", "CHAR", "VOLT", "RES"])
async def test_connect_sequence_with_auto_range(controller: Controller, function: str) -> None:
    await connect_sequence(controller, function, None)
    lower = function.lower()
    await controller.command(f":sens:{function}:aper:auto ON;")
    await controller.command(f":sens:{lower}:nplc 0.1;")
    assert float(await controller.query(f":sens:{lower}:nplc?;")) == pytest.approx(0.1)
    aperture = float(await controller.query(f":sens:{function}:aper?;"))
    assert aperture == pytest.approx(0.1 / 60, rel=1e-6)
    await controller.command(f":sens:{function}:AVER:stat 0;")
    await controller.command(f":sens:{function}:MED:stat 1;")
    assert await controller.query(f":sens:{function}:AVER:stat?;") == "0"
    assert await controller.query(f":sens:{function}:MED:stat?;") == "1"
    assert await controller.error_loop() == []


async def test_zero_correction_with_manual_range_reads_back_full_scale(
    controller: Controller,
) -> None:
    await connect_sequence(controller, "CURR", None)
    function_reply, range_reply = await zero_correction(controller, "CURR", 2e-08)
    assert function_reply == '"CURR:DC"'
    assert float(range_reply) == pytest.approx(2.1e-08)


async def test_range_readback_as_set_satisfies_exact_comparison(
    connect_controller: ControllerFactory,
) -> None:
    controller = await connect_controller(range_readback="as_set")
    _, range_reply = await zero_correction(controller, "CURR", 2e-08)
    assert float(range_reply) == 2e-08


async def test_range_above_the_limit_is_rejected_and_the_range_kept(
    controller: Controller,
) -> None:
    await zero_correction(controller, "CURR", 2e-08)
    await controller.command(":sens:CURR:rang 0.1;")
    assert await controller.error_loop() == [-222]
    assert float(await controller.query(":sens:CURR:rang?;")) == pytest.approx(2.1e-08)


async def test_set_integration_time_auto(controller: Controller) -> None:
    await controller.command(":sens:CURR:nplc:auto ON;")
    assert await controller.error_loop() == []


async def test_voltage_source_replies_parse_as_integers(controller: Controller) -> None:
    await controller.command(":vsou:oper ON;")
    assert await controller.query(":vsou:oper?;") != ""
    await controller.command(f":sour:volt:lim:ampl {20.0};")
    assert int(await controller.query(":sour:volt:lim:stat?;")) == 0
    await controller.command(f":sour:volt:rang {1.0};")
    assert int(await controller.query(":sour:volt:rang?;")) == 100
    await controller.command(f":sour:volt:lev:imm:ampl {2.0};")
    assert int(await controller.query(":sour:volt:lev:imm:ampl?;")) == 2
    assert await controller.error_loop() == []


async def test_vsource_alias_off_rejects_the_dialect(
    connect_controller: ControllerFactory,
) -> None:
    controller = await connect_controller(vsource_alias=False)
    await controller.command(":vsou:oper ON;")
    assert await controller.error_loop() == [-113]


@pytest.mark.parametrize(("strict", "codes"), [(True, [-113, -141]), (False, [-141])])
async def test_scan_preparation_errors_are_drained_by_the_error_loop(
    connect_controller: ControllerFactory, strict: bool, codes: list[int]
) -> None:
    controller = await connect_controller(strict=strict)
    await controller.command(":sens:CURR:dig 7;")
    await controller.command(":syst:lsyn:stat OFF;")
    await controller.command(":SENS:TOUT:SIGN 3;:SENS:TOUT:STAT ON;")
    await controller.command(":trac:cle;")
    await controller.command(":trac:elem TST, CURR;")
    assert await controller.error_loop() == codes
    assert await controller.query(":trac:elem?;") == "NONE"


async def start_scan(controller: Controller, function: str, timed: bool) -> None:
    """The controller's connect sequence, then its startScan (or startScanDt) lines."""
    await connect_sequence(controller, function, None)
    await controller.command(f":sens:{function}:dig 7;")
    await controller.command(":syst:lsyn:stat OFF;")
    await controller.command(":SENS:TOUT:SIGN 3;:SENS:TOUT:STAT ON;")
    await controller.command(":trac:cle;")
    await controller.command(f":trac:elem TST, {function};")
    await controller.error_loop()
    await zero_correction(controller, function, None)
    await controller.command(":trac:cle;")
    await controller.command(":trac:cle;:trac:points 50000;:trig:count 50000;")
    await controller.command(":trig:sour TIM;" if timed else ":trig:sour IMM;")
    if timed:
        await controller.command(":trig:coun INF;")
    await controller.command(":disp:enab OFF;")
    if function == "CHAR":
        await controller.command("sens:char:adis:stat OFF;")
        await controller.command("SYST:ZCH OFF")
    await controller.command(":trac:feed:cont NEXT;")
    await controller.command(":trac:feed:cont NEXT;:init;")


async def stop_scan(controller: Controller) -> tuple[str, str]:
    await controller.command(":trac:feed:cont NEV;")
    await controller.command(":disp:enab ON;")
    await controller.command(":syst:zch ON;")
    return await controller.query(":trac:data?;"), await controller.query(":trac:elem?;")


def columns(elements: str) -> int:
    return len([item for item in elements.split(",") if item.strip() not in ("STAT", "UNIT")])


@pytest.mark.parametrize("function", ["CURR", "CHAR"])
async def test_scan_dump_parses_into_whole_rows(controller: Controller, function: str) -> None:
    await start_scan(controller, function, timed=True)
    for _ in range(5):
        await controller.query(":trac:poin:act?;")
    dump, elements = await stop_scan(controller)
    assert "\r" not in dump
    assert len(dump) < 1_000_000
    tokens = NUMBER.findall(dump)
    assert tokens
    assert len(tokens) % columns(elements) == 0
    # A comma followed by three digits would be glued to the number before it.
    assert not re.search(r"\d,\d{3}(?!\d)", dump)
    stored = int(await controller.query(":trac:poin:act?;"))
    assert 0 < stored < 50000
    assert dump.count("RDNG#") == stored


async def test_scan_dt_polls_latest_readings_promptly(
    connect_controller: ControllerFactory,
) -> None:
    controller = await connect_controller(speed=1.0)
    await start_scan(controller, "CURR", timed=False)
    for _ in range(20):
        fields = (await controller.query(":sens:data:latest?;")).split(",")
        # The controller publishes a non-numeric last field as +inf, without a crash.
        assert fields[-1].endswith("RDNG#")
    assert await controller.error_loop() == []


async def test_one_reply_per_query_line_and_none_for_set_lines(controller: Controller) -> None:
    await connect_sequence(controller, "CURR", 2e-08)
    await controller.command(":syst:zch OFF; :sens:CURR:nplc 1; ")
    await controller.command(":sens:CURR:AVER:stat 1;")
    # Every reply so far was read; the next line read must answer the next query.
    assert (await controller.query("*idn?;")).startswith("KEITHLEY")
    assert await controller.query(":sens:CURR:AVER:stat?;") == "1"
