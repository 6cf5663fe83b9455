"""The supervisor's handle on its fork server process (see ``fork_server``)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import harness
from harness.supervisor.errors import ForkServerError
from harness.supervisor.fork_server import MAX_DATAGRAM
from harness.supervisor.logs import log_tail

logger = logging.getLogger(__name__)

#: Seconds the fork server may take to import and warm up the device modules.
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 5.0
BOOTSTRAP = "from harness.supervisor.fork_server import main; main()"


class Launcher:
    """Starts the fork server and exchanges its datagrams; ``fileno()`` for selectors."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = ours
        try:
            self.process = self._start_process(theirs)
        except OSError as e:
            ours.close()
            raise ForkServerError(f"cannot start the fork server ({sys.executable}): {e}") from e
        finally:
            theirs.close()
        self.pid = self.process.pid
        try:
            self._handshake()
        except BaseException:
            self.close()
            raise

    def _start_process(self, theirs: socket.socket) -> subprocess.Popen[bytes]:
        package_root = str(Path(harness.__file__).resolve().parent.parent)
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            [package_root, *filter(None, [environment.get("PYTHONPATH")])])
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-c", BOOTSTRAP, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=log,
                stderr=log, env=environment, start_new_session=True)

    def _handshake(self) -> None:
        self.send({"op": "init", "sys_path": [entry for entry in sys.path if entry]})
        self.sock.settimeout(READY_TIMEOUT)
        try:
            reply = self.receive()
        except TimeoutError:
            reply = None
        finally:
            self.sock.settimeout(None)
        if reply is None or reply.get("event") != "ready":
            raise ForkServerError(
                f"the fork server did not start (got {reply!r}); its log "
                f"{self.log_path}:\n{log_tail(self.log_path)}")
        logger.debug("Fork server %d ready", self.pid)

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: dict[str, Any], fds: list[int] | tuple[int, ...] = ()) -> None:
        """Send one datagram; raises ``ForkServerError`` if the server is gone."""
        data = json.dumps(message).encode()
        if len(data) > MAX_DATAGRAM:
            raise ForkServerError(f"launch request of {len(data)} bytes is too large")
        try:
            socket.send_fds(self.sock, [data], list(fds))
        except OSError as e:
            raise ForkServerError(f"the fork server is gone ({e})") from e

    def receive(self) -> dict[str, Any] | None:
        """The next datagram, or None when the fork server has exited."""
        try:
            data = self.sock.recv(MAX_DATAGRAM)
        except TimeoutError:
            raise
        except OSError:
            return None
        if not data:
            return None
        message: dict[str, Any] = json.loads(data)
        return message

    def close(self) -> None:
        """Close our end (the server stops its children and exits), then reap it."""
        with contextlib.suppress(OSError):
            self.sock.close()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            logger.warning("The fork server %d did not exit; killing it", self.pid)
            self.process.kill()
            self.process.wait()
