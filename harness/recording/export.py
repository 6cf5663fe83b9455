"""Export a cassette to other tools' test formats.

* ``export_pymeasure``: the ``comm_pairs`` list of pymeasure's
  ``expected_protocol``, as Python literal text: ``(command, reply)`` tuples,
  ``None`` for no reply; a message with several reply lines gives
  ``(command, first)`` then ``(None, next)``.
* ``export_pyvisa_sim``: a pyvisa-sim device definition (YAML, written by
  hand: every scalar is a JSON string, which YAML reads as a double-quoted
  scalar). pyvisa-sim answers a query with one fixed text, so only the first
  recorded reply of each distinct message is kept; set commands get an empty
  response.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.recording.exchanges import Exchange, build_session
from harness.recording.reader import Cassette, read_cassette

CommPair = tuple[str | None, str | None]


def comm_pairs(cassette: Cassette | Path | str) -> list[CommPair]:
    """The cassette's messages and replies as ``(command, reply)`` pairs."""
    pairs: list[CommPair] = []
    for exchange in _exchanges(cassette):
        if exchange.kind != "message":
            continue
        replies = [reply.text for reply in exchange.replies]
        pairs.append((exchange.request, replies[0] if replies else None))
        pairs.extend((None, reply) for reply in replies[1:])
    return pairs


def export_pymeasure(cassette: Cassette | Path | str) -> str:
    """``comm_pairs`` as Python literal text, one pair per line."""
    lines = ["["]
    lines += [f"    ({command!r}, {reply!r})," for command, reply in comm_pairs(cassette)]
    lines.append("]")
    return "\n".join(lines) + "\n"


def export_pyvisa_sim(cassette: Cassette | Path | str, device_name: str = "") -> str:
    """A pyvisa-sim definition file (spec 1.1) with one device and its dialogues."""
    if not isinstance(cassette, Cassette):
        cassette = read_cassette(cassette)
    header = cassette.header
    name = device_name or header.device.name or header.device.model or "device"
    query_eom = header.input_terminator or "\n"
    reply_eom = header.output_terminator
    dialogues: dict[str, str] = {}
    alternatives: dict[str, set[str]] = {}
    for exchange in _exchanges(cassette):
        if exchange.kind != "message":
            continue
        reply = "\n".join(r.text for r in exchange.replies)
        if exchange.request not in dialogues:
            dialogues[exchange.request] = reply
        elif dialogues[exchange.request] != reply:
            alternatives.setdefault(exchange.request, set()).add(reply)
    lines = [
        f"# pyvisa-sim device exported by hil from {cassette.path.name}",
        f"# recorded from {header.source} {header.device.idn or header.device.model}",
        "# Each message answers with its first recorded reply; "
        f"{len(alternatives)} messages had other replies too.",
        'spec: "1.1"',
        "devices:",
        f"  {_q(name)}:",
        "    eom:",
    ]
    for resource_class in ("ASRL INSTR", "TCPIP SOCKET", "TCPIP INSTR", "USB INSTR",
                           "GPIB INSTR"):
        lines += [f"      {_q(resource_class)}:", f"        q: {_q(query_eom)}",
                  f"        r: {_q(reply_eom)}"]
    lines += ['    error: ""', "    dialogues:"]
    for request, reply in dialogues.items():
        lines += [f"      - q: {_q(request)}", f"        r: {_q(reply)}"]
    lines += ["resources:", f"  {_q('ASRL1::INSTR')}:", f"    device: {_q(name)}",
              f"  {_q('TCPIP::localhost::5025::SOCKET')}:", f"    device: {_q(name)}"]
    return "\n".join(lines) + "\n"


def _exchanges(cassette: Cassette | Path | str) -> tuple[Exchange, ...]:
    if not isinstance(cassette, Cassette):
        cassette = read_cassette(cassette)
    return build_session(cassette).exchanges


def _q(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar (escapes included).
    return json.dumps(text)
