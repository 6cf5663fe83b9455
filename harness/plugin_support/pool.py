"""``DevicePool``: factory-fresh emulated devices for one test after another.

Starting a device process costs ~15 ms; renewing a running one through its
control channel (a new model from the launch configuration, faults, counters
and message history cleared, client dropped) costs ~1 ms. So devices released
by one test are renewed and handed to the next test that asks for the same
specification; the pool grows to the most devices any test used at once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.supervisor import DeviceSpec, Endpoint, Supervisor

logger = logging.getLogger(__name__)


def pool_key(spec: DeviceSpec) -> str:
    """Specifications with equal keys give interchangeable devices."""
    return json.dumps([spec.device, spec.terminator, spec.speed, spec.strict, spec.seed,
                       spec.restart, spec.host, spec.port, dict(spec.config)], sort_keys=True)


class DevicePool:
    """Devices of ``supervisor``, named by ``name_for(device, number)``."""

    def __init__(self, supervisor: Supervisor, name_for: Callable[[str, int], str]) -> None:
        self.supervisor = supervisor
        self._name_for = name_for
        self._lock = threading.Lock()
        self._idle: dict[str, list[Endpoint]] = defaultdict(list)
        self._keys: dict[str, str] = {}
        self._started = 0

    def acquire(self, spec: DeviceSpec) -> Endpoint:
        """A device in its factory-fresh state; raises the supervisor's errors."""
        from harness.supervisor import SupervisorError

        key = pool_key(spec)
        while (endpoint := self._take_idle(key)) is not None:
            try:
                endpoint.control.renew()
                return endpoint
            except SupervisorError as e:
                # It died or stopped answering: its log stays, a new device replaces it.
                logger.warning("Pooled device %s cannot be renewed (%s); starting another",
                               endpoint.name, e)
        with self._lock:
            self._started += 1
            name = self._name_for(spec.device, self._started)
        endpoint = self.supervisor.spawn_many([spec.named(name)])[0]
        with self._lock:
            self._keys[endpoint.name] = key
        return endpoint

    def _take_idle(self, key: str) -> Endpoint | None:
        with self._lock:
            idle = self._idle[key]
            return idle.pop() if idle else None

    def release(self, endpoint: Endpoint) -> None:
        """Give a device back; one that is not running any more is not reused."""
        with self._lock:
            key = self._keys.get(endpoint.name)
            if key is not None and endpoint.status == "running":
                self._idle[key].append(endpoint)

    @property
    def started(self) -> int:
        """Device processes this pool started."""
        return self._started
