"""Constants of the TCP/IP layer (values fixed by the compatible API)."""

from __future__ import annotations

__all__ = [
    "DEFAULT_ENCODING",
    "DEFAULT_LOCALHOST",
    "DEFAULT_MAX_HEARTBEAT_INTERVAL",
    "DEFAULT_MONITOR_CONNECTION_INTERVAL",
    "DEFAULT_TERMINATOR",
    "HEARTBEAT",
    "KEEPALIVE_INTERVAL",
    "KEEPALIVE_PROBES",
    "KEEPALIVE_TIME",
    "LOCALHOST_IPV4",
    "LOCALHOST_IPV6",
    "LOCAL_HOST",
    "TERMINATOR",
]

DEFAULT_ENCODING = "utf-8"
DEFAULT_TERMINATOR = b"\r\n"
# Seconds between connection-liveness polls.
DEFAULT_MONITOR_CONNECTION_INTERVAL = 0.1
# Heartbeat payload; the terminator is appended when it is sent.
HEARTBEAT = b"heartbeat"

LOCALHOST_IPV4 = "127.0.0.1"
LOCALHOST_IPV6 = "::1"
DEFAULT_LOCALHOST = LOCALHOST_IPV4

# Deprecated aliases, kept silent because existing callers still read them.
LOCAL_HOST = DEFAULT_LOCALHOST
TERMINATOR = DEFAULT_TERMINATOR

# TCP keepalive: idle seconds, probe count, seconds between probes.
KEEPALIVE_TIME = 60
KEEPALIVE_PROBES = 4
KEEPALIVE_INTERVAL = 15

# Seconds without a heartbeat before a read-loop server drops its client.
DEFAULT_MAX_HEARTBEAT_INTERVAL = 10.0
