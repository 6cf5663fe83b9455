"""``MockKeithley``: the device object a ``MockServer`` holds as ``server.device``.

``MockKeithley("6514", speed=0)`` or ``MockKeithley(config)`` returns a
``Keithley6514`` / ``Keithley6517B`` instance (both are ``MockKeithley``
subclasses), so ``isinstance`` checks and type hints work with either.
"""

from __future__ import annotations

from typing import Any, ClassVar

from devices.keithley.commands_common import TableOptions
from devices.keithley.config import KeithleyConfig
from devices.keithley.control import ControlOperations
from devices.keithley.tables import command_table

MODELS = ("6517B", "6514")


class UnknownModel(ValueError):
    """``MockKeithley`` was asked for a model it does not emulate."""


class ModelMismatch(ValueError):
    """A configuration for one model was handed to the other model's class."""


def resolve_config(model: str | KeithleyConfig | None, config: KeithleyConfig | None,
                   overrides: dict[str, Any], fixed_model: str | None) -> KeithleyConfig:
    """The configuration from a model name or config plus ``KeithleyConfig`` overrides."""
    if isinstance(model, KeithleyConfig):
        config, model = model, None
    if model is not None and str(model).upper() not in MODELS:
        raise UnknownModel(f"unknown Keithley model {model!r}; expected one of "
                           f"{', '.join(MODELS)}")
    name = str(model).upper() if model is not None else None
    if config is None:
        config = KeithleyConfig.for_model(name or fixed_model or "6517B", **overrides)
    elif overrides:
        config = config.replace(**overrides)
    for wanted in (name, fixed_model):
        if wanted is not None and config.model != wanted:
            raise ModelMismatch(f"config is for model {config.model!r}, not {wanted!r}; "
                                f"use MockKeithley(model={config.model!r}) or fix 'model'")
    return config


class MockKeithley(ControlOperations):
    """An emulated 6517B or 6514 (sans-IO §0.5 surface plus §7.6 control operations).

    ``model`` is "6517B" (default) or "6514", or a complete ``KeithleyConfig``;
    ``overrides`` are ``KeithleyConfig`` keys (``speed=0``, ``mode="lenient"`` ...).
    Raises ``UnknownModel``, ``ModelMismatch`` or ``ValueError`` for a bad configuration.
    """

    MODEL: ClassVar[str | None] = None
    _by_model: ClassVar[dict[str, type[MockKeithley]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.MODEL is not None:
            MockKeithley._by_model[cls.MODEL] = cls

    def __new__(cls, model: str | KeithleyConfig | None = None, *,
                config: KeithleyConfig | None = None, now: float = 0.0,
                **overrides: Any) -> MockKeithley:
        if cls is MockKeithley:
            _load_models()
            wanted = resolve_config(model, config, overrides, None).model
            return super().__new__(MockKeithley._by_model[wanted])
        return super().__new__(cls)

    def __init__(self, model: str | KeithleyConfig | None = None, *,
                 config: KeithleyConfig | None = None, now: float = 0.0,
                 **overrides: Any) -> None:
        resolved = resolve_config(model, config, overrides, self.MODEL)
        super().__init__(resolved, command_table(TableOptions.from_config(resolved)), now)


def _load_models() -> None:
    # The subclasses live in their own modules, which import this one.
    import devices.keithley.keithley6514
    import devices.keithley.keithley6517b  # noqa: F401
