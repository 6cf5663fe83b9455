"""What a failing test's report shows about its instruments: SCPI history and device log."""

from __future__ import annotations

import time
from typing import Any

from harness.plugin_support.endpoint import InstrumentEndpoint

#: Messages and log lines a report shows per device.
REPORT_MESSAGES = 30
REPORT_LOG_LINES = 30
ARROWS = {"rx": "->", "tx": "<-"}


def format_history(entries: list[dict[str, Any]]) -> str:
    """One line per message: wall-clock time, direction (``->`` to the device), text."""
    lines = []
    for entry in entries:
        stamp = entry.get("t")
        clock = (time.strftime("%H:%M:%S", time.localtime(stamp)) + f".{int(stamp % 1 * 1000):03d}"
                 if isinstance(stamp, int | float) else "?")
        lines.append(f"{clock} {ARROWS.get(str(entry.get('dir')), '??')} {entry.get('text')}")
    return "\n".join(lines)


def device_sections(endpoint: InstrumentEndpoint) -> list[tuple[str, str]]:
    """(title, text) report sections for one instrument of a failed test."""
    title = f"hil {endpoint.name} ({endpoint.model} at {endpoint.host}:{endpoint.port})"
    if not endpoint.emulated:
        if endpoint.details is not None:
            return [(title, endpoint.details())]
        return [(title, f"target {endpoint.target}: the harness keeps no log or message "
                        "history of an external instrument")]
    log = endpoint.log_tail(REPORT_LOG_LINES) or "(nothing logged during this test)"
    return [(f"{title}: last SCPI messages", scpi_history(endpoint)),
            (f"{title}: device log", f"{endpoint.log_path} (the end, from this test on):\n{log}")]


def scpi_history(endpoint: InstrumentEndpoint) -> str:
    from harness.supervisor import SupervisorError

    try:
        entries = endpoint.control.history(REPORT_MESSAGES)
    except SupervisorError as e:
        return f"(no message history: {str(e).splitlines()[0]})"
    if not entries:
        return "(no SCPI message exchanged)"
    return "-> to the device, <- from the device (oldest first)\n" + format_history(entries)
