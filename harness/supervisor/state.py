"""The state file a supervisor keeps in its run directory, and where fleets' run dirs live."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

STATE_FILE = "state.json"


def runtime_root() -> Path:
    """Per-user directory of ``hil serve`` run directories (``$XDG_RUNTIME_DIR/hil``)."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    root = Path(base, "hil") if base else Path(tempfile.gettempdir(), f"hil-{os.getuid()}")
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root


def write_state(run_dir: Path, state: dict[str, Any]) -> None:
    """Replace the state file atomically, so readers never see half a file."""
    target = run_dir / STATE_FILE
    temporary = target.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(state, indent=1), encoding="utf-8")
    os.replace(temporary, target)


def read_states(root: Path) -> list[dict[str, Any]]:
    """State of every supervisor under ``root`` whose process is still alive."""
    states = []
    for path in sorted(root.glob(f"*/{STATE_FILE}")):
        with contextlib.suppress(OSError, ValueError):
            state = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(state, dict) and process_alive(state.get("supervisor_pid")):
                states.append(state)
    return states


def process_alive(pid: object) -> bool:
    """True if ``pid`` names a running (not zombie) process."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: a zombie cannot be told apart
    # The state letter follows the parenthesised command name, which may hold spaces.
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")
