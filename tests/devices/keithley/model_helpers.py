"""Helpers shared by the Keithley model tests: send messages, drain the error queue."""

from __future__ import annotations

from devices.keithley import MockKeithley


def lines(device: MockKeithley, *messages: str, now: float = 0.0) -> list[str]:
    replies: list[str] = []
    for message in messages:
        replies += [reply.text for reply in device.receive(message, now)]
    return replies


def errors(device: MockKeithley) -> list[str]:
    found = []
    while (reply := lines(device, "SYST:ERR?")[0]) != '0,"No error"':
        found.append(reply)
    return found
