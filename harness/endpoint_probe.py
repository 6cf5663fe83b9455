"""``probe_tcp``: check that an instrument endpoint accepts a connection, then let it go.

An endpoint that serves one client at a time (``OneClientServer``, a bench's
``hil bridge``) turns away a new client while it still holds the previous one.
So the probe does not just close: it half-closes and waits (briefly) until the
endpoint has closed its side, so the first real client after the probe is not
refused because the endpoint is still busy with the probe.
"""

from __future__ import annotations

import socket

#: Seconds the probe waits for the endpoint to close its side; an endpoint that keeps
#: the connection open (a raw LAN instrument) is simply left after this.
RELEASE_WAIT = 2.0


def probe_tcp(host: str, port: int, timeout: float) -> None:
    """Connect to ``host:port`` within ``timeout`` seconds; raises ``OSError`` if it fails."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(RELEASE_WAIT)
            # Anything the endpoint sends before closing is not ours to read; bounded.
            for _ in range(64):
                if not sock.recv(4096):
                    break
        except OSError:
            pass  # reset, timeout: the endpoint answered the connection, which is the check
