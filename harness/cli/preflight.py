"""Checks of a command's input before anything starts, so bad input costs no process.

Each raises ``CommandError`` with what to change. A port can still be taken
between the check and the bind; the supervisor then reports the device's
start failure.
"""

from __future__ import annotations

import errno
import os
import socket
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.cli.errors import CommandError

if TYPE_CHECKING:
    from harness.supervisor import DeviceSpec

def run_directory_root() -> Path:
    """Where fleets keep their logs and state (created if needed and checked writable)."""
    from harness.supervisor.state import runtime_root

    try:
        root = runtime_root()
        os.rmdir(tempfile.mkdtemp(prefix=".write-check-", dir=root))
    except OSError as e:
        where = e.filename or os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
        raise CommandError(
            f"cannot write the run directory (device logs, state for 'hil status') in "
            f"{where}: {e.strerror or e}; point XDG_RUNTIME_DIR at a writable directory"
        ) from None
    return root


def check_registered(device: str) -> None:
    """``device`` names a registered device; the error lists the registered names."""
    from devices.keithley.registry import UnknownDevice, devices

    try:
        devices[device]
    except UnknownDevice as e:
        raise CommandError(f"{e} ('hil devices' lists them with their factories)") from None


def check_listen_addresses(specs: Sequence[DeviceSpec]) -> None:
    """Every device's host and port can be listened on, and no two fixed ports collide."""
    claimed: dict[tuple[str, int], str] = {}
    for spec in specs:
        if spec.port:
            other = claimed.setdefault((spec.host, spec.port), spec.name)
            if other != spec.name:
                raise CommandError(f"devices {other!r} and {spec.name!r} both ask for "
                                   f"{spec.host}:{spec.port}; give each its own port, or 0")
        try:
            check_listen(spec.host, spec.port)
        except CommandError as e:
            raise CommandError(f"device {spec.name!r}: {e}") from None


def check_listen(host: str, port: int) -> None:
    """``host`` resolves to one address (or ``port`` is fixed) and ``port`` is free there."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise CommandError(f"cannot resolve host {host!r} ({e.strerror}); check --host") from None
    addresses = list(dict.fromkeys((family, address) for family, _, _, _, address in found))
    if port == 0 and len(addresses) > 1:
        shown = ", ".join(str(address[0]) for _, address in addresses)
        raise CommandError(f"host {host!r} has several addresses ({shown}), so one free port "
                           "cannot serve them all; give one address such as 127.0.0.1")
    for family, address in addresses:
        try:
            try_bind(family, address)
        except OSError as e:
            raise CommandError(listen_failure(host, port, e)) from None


def try_bind(family: int, address: tuple[Any, ...]) -> None:
    # The same options asyncio's servers use, so the answer is theirs.
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        probe.bind(address)


def listen_failure(host: str, port: int, error: OSError) -> str:
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if error.errno == errno.EADDRINUSE:
        return (f"cannot listen on {where}: the port is already in use; choose another port, "
                "or 0 for a free one")
    if error.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied; use a port above 1023"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: no such address on this machine; check --host"
    return f"cannot listen on {where}: {error.strerror or error}"


def writable_directory(text: str, option: str) -> str:
    """``text`` as an absolute directory, created if missing and checked writable.

    ``option`` names the option in the error, e.g. ``--out``.
    """
    directory = Path(text).expanduser().resolve()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CommandError(f"cannot create the {option} directory {directory}: {e.strerror}; "
                           "choose a directory you can write to") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CommandError(f"the {option} directory {directory} is not writable; choose "
                           "another one")
    return str(directory)
