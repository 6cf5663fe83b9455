"""Presence check for the round-trip benchmark (spec §19.1, statement 73; §18.4).

The benchmark itself is slow and machine-dependent, so it is not run here.
"""

from __future__ import annotations

import ast
import fnmatch

import pytest

BENCHMARK = "bench/tcpip_roundtrip.py"


def test_benchmark_script_exists_and_is_not_collected(pytestconfig: pytest.Config) -> None:
    """§19.1-73: bench/tcpip_roundtrip.py exists, parses, and is not a test module."""
    script = pytestconfig.rootpath / BENCHMARK
    assert script.is_file(), f"missing benchmark script {script}"
    ast.parse(script.read_text(encoding="utf-8"), filename=str(script))

    patterns = pytestconfig.getini("python_files")
    assert patterns, "pytest has no python_files patterns"
    assert not any(fnmatch.fnmatch(script.name, pattern) for pattern in patterns)
    testpaths = [pytestconfig.rootpath / path for path in pytestconfig.getini("testpaths")]
    assert not any(script.is_relative_to(path) for path in testpaths)
