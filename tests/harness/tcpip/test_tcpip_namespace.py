"""§19.1 statements 1-3: package namespace, constants, pytest collection."""

from __future__ import annotations

import collections.abc
import importlib
import inspect
import subprocess
import sys
import typing
import unittest
import warnings
from pathlib import Path

from harness import tcpip

# Imported at top level on purpose: statement 3 says this must not make pytest
# try to collect the class.
from harness.tcpip import TestOneClientReadLoopServer

SUBMODULES = (
    "constants",
    "utils",
    "base",
    "one_client_server",
    "one_client_read_loop_server",
    "client",
    "testing",
)

CONSTANTS: dict[str, object] = {
    "DEFAULT_ENCODING": "utf-8",
    "DEFAULT_TERMINATOR": b"\r\n",
    "DEFAULT_MONITOR_CONNECTION_INTERVAL": 0.1,
    "HEARTBEAT": b"heartbeat",
    "LOCALHOST_IPV4": "127.0.0.1",
    "LOCALHOST_IPV6": "::1",
    "DEFAULT_LOCALHOST": "127.0.0.1",
    "LOCAL_HOST": "127.0.0.1",
    "TERMINATOR": b"\r\n",
    "KEEPALIVE_TIME": 60,
    "KEEPALIVE_PROBES": 4,
    "KEEPALIVE_INTERVAL": 15,
    "DEFAULT_MAX_HEARTBEAT_INTERVAL": 10.0,
}

COROUTINE_FUNCTIONS = ("close_stream_writer", "read_into", "write_from", "set_socket_options")


def test_every_public_name_is_importable_from_the_package() -> None:
    """§19.1-1: every name of §2.2 can be imported from harness.tcpip."""
    names = [
        "BaseClientOrServer",
        "ConnectCallbackType",
        "OneClientServer",
        "OneClientReadLoopServer",
        "TestOneClientReadLoopServer",
        "Client",
        "BaseOneClientServerTestCase",
        *COROUTINE_FUNCTIONS,
        *CONSTANTS,
        "__version__",
    ]
    missing = [name for name in names if not hasattr(tcpip, name)]
    assert missing == []
    exported = set(tcpip.__all__)
    assert set(names) - {"__version__"} <= exported


def test_public_names_have_the_documented_kinds() -> None:
    """§19.1-1: classes, ABCs, coroutine functions and the version string."""
    assert inspect.isabstract(tcpip.BaseClientOrServer)
    assert inspect.isabstract(tcpip.OneClientReadLoopServer)
    assert issubclass(tcpip.OneClientServer, tcpip.BaseClientOrServer)
    assert issubclass(tcpip.Client, tcpip.BaseClientOrServer)
    assert issubclass(tcpip.OneClientReadLoopServer, tcpip.OneClientServer)
    assert issubclass(tcpip.TestOneClientReadLoopServer, tcpip.OneClientReadLoopServer)
    assert issubclass(tcpip.BaseOneClientServerTestCase, unittest.IsolatedAsyncioTestCase)
    for name in COROUTINE_FUNCTIONS:
        assert inspect.iscoroutinefunction(getattr(tcpip, name)), name
    assert isinstance(tcpip.__version__, str)
    assert tcpip.__version__
    assert typing.get_origin(tcpip.ConnectCallbackType) is collections.abc.Callable


def test_every_module_defines_all_and_the_package_reexports_it() -> None:
    """§19.1-1: submodules are attributes of the package; each __all__ is re-exported."""
    for module_name in SUBMODULES:
        module = getattr(tcpip, module_name)
        assert module is importlib.import_module(f"harness.tcpip.{module_name}")
        for name in module.__all__:
            assert getattr(tcpip, name) is getattr(module, name), f"{module_name}.{name}"


def test_keepalive_constants_are_reachable_through_utils() -> None:
    """§19.1-1: harness.tcpip.utils.KEEPALIVE_TIME/PROBES/INTERVAL equal 60/4/15."""
    assert tcpip.utils.KEEPALIVE_TIME == 60
    assert tcpip.utils.KEEPALIVE_PROBES == 4
    assert tcpip.utils.KEEPALIVE_INTERVAL == 15


def test_module_constants_that_govern_behaviour() -> None:
    """§19.1-1 (§2.2): CLOSE_WAIT_TIME, HEARTBEAT_MONITOR_INTERVAL, STD_TIMEOUT and re-export."""
    assert tcpip.one_client_server.CLOSE_WAIT_TIME == 5
    assert tcpip.one_client_read_loop_server.HEARTBEAT_MONITOR_INTERVAL == 1.0
    assert tcpip.one_client_read_loop_server.DEFAULT_MAX_HEARTBEAT_INTERVAL == 10.0
    assert tcpip.testing.STD_TIMEOUT == 2


def test_constants_have_exact_values_without_warnings() -> None:
    """§19.1-2: every §3 constant has its exact value (and type); reading emits no warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name, expected in CONSTANTS.items():
            for namespace in (tcpip, tcpip.constants):
                value = getattr(namespace, name)
                assert value == expected, name
                assert type(value) is type(expected), name
    assert [str(w.message) for w in caught] == []


def test_deprecated_aliases_equal_their_targets() -> None:
    """§19.1-2: LOCAL_HOST and TERMINATOR are plain aliases."""
    assert tcpip.LOCAL_HOST == tcpip.DEFAULT_LOCALHOST == tcpip.LOCALHOST_IPV4
    assert tcpip.TERMINATOR == tcpip.DEFAULT_TERMINATOR


def test_test_server_is_not_collectable() -> None:
    """§19.1-3: TestOneClientReadLoopServer.__test__ is False."""
    assert TestOneClientReadLoopServer.__test__ is False


def test_importing_the_test_server_gives_no_collection_warning(tmp_path: Path) -> None:
    """§19.1-3: a module importing the name at top level gives no collection warning."""
    test_file = tmp_path / "test_imports_test_server.py"
    test_file.write_text(
        "from harness.tcpip import TestOneClientReadLoopServer\n\n\n"
        "def test_nothing() -> None:\n"
        "    assert TestOneClientReadLoopServer is not None\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "-W",
            "error::pytest.PytestCollectionWarning",
            "-rA",
            str(test_file),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert "PytestCollectionWarning" not in output, output
    assert result.returncode == 0, output
    assert "1 passed" in output, output
