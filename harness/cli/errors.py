"""Exit codes of ``hil`` and the error a command raises for bad input."""

from __future__ import annotations

EXIT_OK = 0
#: Something failed at run time (a device died, ``hil status`` found one not answering).
EXIT_FAILED = 1
#: Bad input: options, files, names, addresses. Nothing was started.
EXIT_USAGE = 2


class CommandError(Exception):
    """Bad input to a command; ``main`` prints ``hil COMMAND: message`` and exits 2.

    The message says what was wrong and what to do instead.
    """
