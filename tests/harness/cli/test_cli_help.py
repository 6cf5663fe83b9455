"""``hil --help`` and each command's help: options and examples, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main

HELP_WAIT = 60.0
COMMAND_OPTIONS = {
    "serve": ["--device", "--count", "--fleet", "--host", "--port", "--terminator", "--speed",
              "--lenient", "--seed", "--restart", "--pty", "--json", "--verbose"],
    "status": ["--json"],
    "devices": ["--json"],
    "bridge": ["--serial", "--baud", "--xonxoff", "--instrument-terminator", "--terminator",
               "--host", "--port", "--json"],
}


def test_console_script_lists_every_command() -> None:
    script = Path(sys.executable).with_name("hil")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True,
                            timeout=HELP_WAIT, check=False)
    assert result.returncode == 0
    for command in COMMAND_OPTIONS:
        assert f"    {command} " in result.stdout
    assert "hil COMMAND --help" in result.stdout


@pytest.mark.parametrize("command", sorted(COMMAND_OPTIONS))
def test_command_help_shows_its_options_and_examples(capsys: pytest.CaptureFixture[str],
                                                     command: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in COMMAND_OPTIONS[command]:
        assert option in out
    assert f"examples:\n  hil {command}" in out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("hil 0.")
