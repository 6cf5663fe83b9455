"""Every read and write method of a client or server, as a call with valid arguments.

Used by the not-connected checks (spec §19.1, statement 37). Test modules import
this as ``tests.harness.tcpip.io_calls`` (see the rootdir conftest).
"""

from __future__ import annotations

import ctypes
from collections.abc import Awaitable, Callable
from typing import Any

from harness import tcpip


class SmallStruct(ctypes.Structure):
    """A tiny packed struct for the read_into/write_from not-connected checks."""

    _pack_ = 1
    _fields_ = [("code", ctypes.c_uint16), ("value", ctypes.c_double)]


IoCall = Callable[[tcpip.BaseClientOrServer], Awaitable[Any]]

# Every read and write method of statement 37, with valid arguments.
IO_CALLS: dict[str, IoCall] = {
    "read_json": lambda obj: obj.read_json(),
    "read_str": lambda obj: obj.read_str(),
    "read(1)": lambda obj: obj.read(1),
    "readexactly(1)": lambda obj: obj.readexactly(1),
    "readline": lambda obj: obj.readline(),
    "readuntil(b'\\n')": lambda obj: obj.readuntil(b"\n"),
    "read_into(struct)": lambda obj: obj.read_into(SmallStruct()),
    "write(b'\\n')": lambda obj: obj.write(b"\n"),
    "write_str": lambda obj: obj.write_str("a line"),
    "write_json": lambda obj: obj.write_json({"key": "value"}),
    "write_from(struct)": lambda obj: obj.write_from(SmallStruct(code=7, value=1.5)),
    "writelines([...])": lambda obj: obj.writelines([b"one\n", b"two\n"]),
}
