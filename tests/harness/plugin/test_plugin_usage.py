"""Options, markers and bad input: usage errors at session start, never one error per test."""

from __future__ import annotations

import re
import socket
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import InnerSuite

PASSING_SUITE = """
def test_one(electrometer):
    pass

def test_two(electrometer):
    pass
"""


def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_help_lists_the_hil_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")

    result.stdout.fnmatch_lines(["*hil instruments*", "*--hil-target=TARGET*",
                                 "*--hil-keep-logs*", "*--hil-lease-timeout=SECONDS*",
                                 "*--hil-instrument=DEVICE*", "*--hil-serial=*"])


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")

    result.stdout.fnmatch_lines(["@pytest.mark.hil(model=*", "@pytest.mark.hil_emulator_only*"])


def test_markers_pass_strict_marker_checking(inner: InnerSuite) -> None:
    inner.write("test_marked", """
@pytest.mark.hil(speed=0)
@pytest.mark.hil_emulator_only
def test_marked():
    pass
""")
    result = inner.pytester.runpytest("--strict-markers")

    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(("target", "expected"), [
    ("bogus", "*--hil-target bogus: unknown target 'bogus'; use one of emulator, tcp:HOST:PORT*"),
    ("tcp:benchhost", "*--hil-target tcp:benchhost: tcp: needs HOST:PORT*"),
    ("tcp:benchhost:99999", "*needs HOST:PORT with a port from 1 to 65535*"),
    ("serial:", "*--hil-target serial:: serial: needs the port's URL*"),
    ("serial:/dev/hil-no-such-tty", "*--hil-target serial:/dev/hil-no-such-tty: serial device "
                                    "/dev/hil-no-such-tty does not exist*"),
    ("serial:nosuchscheme://x", "*unknown scheme 'nosuchscheme'*"),
    ("replay:", "*replay: needs the cassette directory*"),
    ("replay:/nonexistent/cassettes", "*--hil-target replay:/nonexistent/cassettes: cassette "
                                      "directory /nonexistent/cassettes does not exist*"),
    ("emulator:extra", "*unknown target 'emulator:extra'*"),
])
def test_a_bad_target_is_a_usage_error_naming_option_and_fix(
        pytester: pytest.Pytester, target: str, expected: str) -> None:
    pytester.makepyfile(PASSING_SUITE)

    result = pytester.runpytest("--hil-target", target)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {expected}"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert not re.search(r"\d+ (passed|error)", result.stdout.str())


def test_an_unreachable_tcp_endpoint_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PASSING_SUITE)
    port = closed_port()

    result = pytester.runpytest(f"--hil-target=tcp:127.0.0.1:{port}")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --hil-target tcp:127.0.0.1:{port}: cannot reach "
                                 f"127.0.0.1:{port} (*refused*); start the endpoint there*"])


def test_the_target_comes_from_the_ini_file_too(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nhil_target = replay:/nonexistent/cassettes\n")
    pytester.makepyfile(PASSING_SUITE)

    result = pytester.runpytest()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--hil-target replay:/nonexistent/cassettes: *"])


def test_the_usage_error_comes_before_xdist_starts_workers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PASSING_SUITE)

    result = pytester.runpytest_subprocess("-n", "2", "--hil-target", "bogus", timeout=120)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --hil-target bogus: unknown target*"])
    assert "[gw0]" not in result.stdout.str()


@pytest.mark.parametrize("value", ["0", "-3", "soon", "inf"])
def test_a_bad_lease_timeout_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    pytester.makepyfile(PASSING_SUITE)

    result = pytester.runpytest(f"--hil-lease-timeout={value}")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --hil-lease-timeout '{value}': give a number of "
                                 "seconds > 0"])


@pytest.mark.parametrize(("settings", "expected"), [
    ("baud", "*--hil-serial: 'baud' is not KEY=VALUE*"),
    ("speed=3", "*--hil-serial: 'speed=3' is not KEY=VALUE with KEY one of baud, *"),
    ("baud=fast", "*--hil-serial: baud must be a int, got 'fast'*"),
    ("xonxoff=maybe", "*--hil-serial: xonxoff must be true or false*"),
])
def test_bad_serial_settings_are_a_usage_error(pytester: pytest.Pytester, settings: str,
                                                expected: str) -> None:
    pytester.makepyfile(PASSING_SUITE)

    result = pytester.runpytest("--hil-target", "serial:loop://", "--hil-serial", settings)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])


def test_serial_settings_the_bridge_refuses_are_a_usage_error(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PASSING_SUITE)

    result = pytester.runpytest("--hil-target", "serial:loop://", "--hil-serial", "baud=12345")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --hil-target serial:loop://: *12345*"])
