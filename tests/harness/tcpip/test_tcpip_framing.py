"""Acceptance test for the framing matrix (spec §19.1, statement 39)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import pytest

from harness import tcpip
from tests.harness.tcpip.bounds import within

if TYPE_CHECKING:
    from conftest import Loopback


ENCODINGS = ["utf-8", "utf-16", "utf-32"]
TERMINATORS = [b"\r\n", b"\n", b"\n\r", b"XYZZY"]
FRAMINGS = list(itertools.product(ENCODINGS, TERMINATORS))

TEXT = "Grüße aus dem Labor 😀 bei 20 °C"
PAYLOAD = {"text": TEXT, "count": 47, "items": [1, 2.5, None, True]}


async def check_one_way(
    sender: tcpip.BaseClientOrServer,
    receiver: tcpip.BaseClientOrServer,
    encoding: str,
    terminator: bytes,
) -> None:
    """The four exchanges of statement 39, from ``sender`` to ``receiver``."""
    encoded = TEXT.encode(encoding)
    # Precondition of the test data: the terminator must not occur inside the text.
    assert terminator not in encoded

    await sender.write_str(TEXT)
    assert await within(receiver.read_str()) == TEXT

    await sender.write(encoded + terminator)
    assert await within(receiver.read_str()) == TEXT

    await sender.write_str(TEXT)
    assert await within(receiver.readuntil(terminator)) == encoded + terminator

    await sender.write_json(PAYLOAD)
    assert await within(receiver.read_json()) == PAYLOAD


async def check_framing(
    server: tcpip.BaseClientOrServer,
    client: tcpip.BaseClientOrServer,
    encoding: str,
    terminator: bytes,
) -> None:
    """Set encoding and terminator on both live ends, check both directions, restore."""
    saved = [(end, end.encoding, end.terminator) for end in (server, client)]
    try:
        for end in (server, client):
            end.encoding = encoding
            end.terminator = terminator
        await check_one_way(client, server, encoding, terminator)
        await check_one_way(server, client, encoding, terminator)
    finally:
        for end, old_encoding, old_terminator in saved:
            end.encoding = old_encoding
            end.terminator = old_terminator


async def check_default_framing(
    server: tcpip.BaseClientOrServer, client: tcpip.BaseClientOrServer
) -> None:
    """After restoring, the default utf-8 and b"\\r\\n" framing is in effect again."""
    for end in (server, client):
        assert end.encoding == tcpip.DEFAULT_ENCODING
        assert end.terminator == tcpip.DEFAULT_TERMINATOR
    await client.write_str(TEXT)
    assert await within(server.readuntil(b"\r\n")) == TEXT.encode("utf-8") + b"\r\n"
    await server.write_str(TEXT)
    assert await within(client.read_str()) == TEXT


@pytest.mark.parametrize(("encoding", "terminator"), FRAMINGS)
async def test_framing_matrix_on_live_objects(
    loopback: Loopback, encoding: str, terminator: bytes
) -> None:
    """§19.1-39: each encoding x terminator, set on live objects, works both ways."""
    server = await loopback.server()
    client = await loopback.client(server)

    await check_framing(server, client, encoding, terminator)

    await check_default_framing(server, client)
