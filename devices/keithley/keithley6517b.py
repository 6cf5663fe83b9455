"""The Keithley 6517B electrometer model (spec keithley.md, personality ``6517B``)."""

from __future__ import annotations

from typing import ClassVar

from devices.keithley.mock_keithley import MockKeithley, ModelMismatch


class Keithley6517B(MockKeithley):
    """Sans-IO 6517B: ``Keithley6517B(speed=0)`` or ``Keithley6517B(config)``."""

    MODEL: ClassVar[str | None] = "6517B"


__all__ = ["Keithley6517B", "ModelMismatch"]
