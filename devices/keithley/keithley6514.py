"""The Keithley 6514 electrometer model (spec keithley.md, personality ``6514``)."""

from __future__ import annotations

from typing import ClassVar

from devices.keithley.mock_keithley import MockKeithley


class Keithley6514(MockKeithley):
    """Sans-IO 6514: ``Keithley6514(speed=0)`` or ``Keithley6514(config)``."""

    MODEL: ClassVar[str | None] = "6514"
