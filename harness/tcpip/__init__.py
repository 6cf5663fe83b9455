"""asyncio TCP/IP layer: one-client servers, clients and stream helpers.

API-compatible with lsst-ts/ts_tcpip 2.2 (see the project's tcpip spec).
"""

from __future__ import annotations

from importlib import metadata as _metadata

from . import (
    base,
    client,
    constants,
    one_client_read_loop_server,
    one_client_server,
    testing,
    utils,
)
from .base import *  # noqa: F403
from .client import *  # noqa: F403
from .constants import *  # noqa: F403
from .one_client_read_loop_server import *  # noqa: F403
from .one_client_server import *  # noqa: F403
from .testing import *  # noqa: F403
from .utils import *  # noqa: F403

try:
    __version__ = _metadata.version("hil-harness")
except _metadata.PackageNotFoundError:
    __version__ = "?"

__all__ = [
    "__version__",
    *base.__all__,
    *client.__all__,
    *constants.__all__,
    *one_client_read_loop_server.__all__,
    *one_client_server.__all__,
    *testing.__all__,
    *utils.__all__,
]
