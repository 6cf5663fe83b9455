"""The fork server: a preloaded, single-threaded process that forks the device processes.

Started by the supervisor with ``python -c 'from harness.supervisor.fork_server
import main; main()' FD``, where FD is its end of a SOCK_SEQPACKET socket pair.
It has no event loop and no threads, so forking it is safe, and the modules
every device needs are imported once instead of once per device. Messages are
JSON datagrams:

- supervisor → server: ``{"op": "init", "sys_path": [...]}`` first, then
  ``{"op": "launch", "id": N, "request": {...}}`` with two file descriptors
  (the child's status pipe write end and lifeline read end);
- server → supervisor: ``{"event": "ready", "pid": P}``, ``{"event":
  "launched", "id": N, "pid": P}``, ``{"event": "launch_failed", "id": N,
  "error": "..."}`` and ``{"event": "exit", "pid": P, "returncode": RC}``.

When the supervisor's end closes (it exited or was killed), the server stops
every device it forked and exits.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import time
import traceback
from typing import Any

MAX_DATAGRAM = 65_536
STOP_GRACE = 2.0


class ForkServer:
    """Serves launch requests until the supervisor's end of the socket closes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.children: set[int] = set()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.signal(signal.SIGCHLD, _ignore_signal)
        signal.set_wakeup_fd(self.wake_w)

    def serve(self) -> None:
        self.send({"event": "ready", "pid": os.getpid()})
        while True:
            readable, _, _ = select.select([self.sock.fileno(), self.wake_r], [], [])
            if self.wake_r in readable:
                self.drain_wakeups()
                self.reap()
            if self.sock.fileno() in readable and not self.receive():
                self.stop_children()
                return

    def receive(self) -> bool:
        """Handle one datagram; False when the supervisor is gone."""
        try:
            data, fds, flags, _ = socket.recv_fds(self.sock, MAX_DATAGRAM, 2)
        except OSError:
            return False
        if not data:
            return False
        message = json.loads(data)
        if flags & socket.MSG_TRUNC or message.get("op") != "launch" or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            self.send({"event": "launch_failed", "id": message.get("id"),
                       "error": "malformed launch request"})
            return True
        self.launch(message["id"], message["request"], fds[0], fds[1])
        return True

    def launch(self, launch_id: int, request: dict[str, Any], status_fd: int,
               lifeline_fd: int) -> None:
        try:
            pid = os.fork()
        except OSError as e:
            os.close(status_fd)
            os.close(lifeline_fd)
            self.send({"event": "launch_failed", "id": launch_id, "error": f"fork failed: {e}"})
            return
        if pid == 0:
            self.become_device(request, status_fd, lifeline_fd)
        try:
            # Also done by the child; doing it here too closes the race with killpg.
            os.setpgid(pid, pid)
        except OSError:
            pass
        os.close(status_fd)
        os.close(lifeline_fd)
        self.children.add(pid)
        self.send({"event": "launched", "id": launch_id, "pid": pid})

    def become_device(self, request: dict[str, Any], status_fd: int, lifeline_fd: int) -> None:
        """In the forked child: drop the server's state and run the device; never returns."""
        code = 1
        try:
            parent = os.getppid()
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_DFL)
            os.close(self.wake_r)
            os.close(self.wake_w)
            self.sock.close()
            from harness.supervisor.child import run_device

            code = run_device(request, status_fd, lifeline_fd, parent)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)

    def drain_wakeups(self) -> None:
        try:
            while os.read(self.wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            self.children.discard(pid)
            self.send({"event": "exit", "pid": pid,
                       "returncode": os.waitstatus_to_exitcode(status)})

    def send(self, message: dict[str, Any]) -> None:
        try:
            self.sock.send(json.dumps(message).encode())
        except OSError:
            # The supervisor is gone; the next receive() sees EOF and stops everything.
            pass

    def stop_children(self) -> None:
        """SIGTERM every device group, then SIGKILL what is left after a grace period."""
        self.signal_children(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while self.children and time.monotonic() < deadline:
            select.select([self.wake_r], [], [], deadline - time.monotonic())
            self.drain_wakeups()
            self.reap()
        self.signal_children(signal.SIGKILL)

    def signal_children(self, signum: int) -> None:
        for pid in list(self.children):
            try:
                os.killpg(pid, signum)
            except ProcessLookupError:
                pass


def _ignore_signal(signum: int, frame: Any) -> None:
    """SIGCHLD only needs to wake select() through the wakeup fd."""


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    # Ctrl-C is the supervisor's business; it stops the devices in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    init = json.loads(sock.recv(MAX_DATAGRAM) or b"{}")
    for entry in init.get("sys_path", []):
        if entry not in sys.path:
            sys.path.append(entry)
    from harness.supervisor.child import warm_up

    warm_up()
    ForkServer(sock).serve()
