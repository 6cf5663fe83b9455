"""The replay target: record cassettes from the emulator, replay them, fail on differences."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import InnerSuite

SESSION_SUITE = """
@pytest.mark.parametrize("n", range(3))
def test_session(electrometer, n):
    scpi = Scpi(electrometer)
    record(f"session{n}", idn=scpi.query("*IDN?"), function=scpi.query(":SENS:FUNC?"),
           emulated=electrometer.emulated, model=electrometer.model)
"""


def test_cassettes_recorded_once_replay_the_same_session_under_xdist(inner: InnerSuite) -> None:
    inner.write("test_replayed", SESSION_SUITE)
    cassettes = inner.pytester.path / "cassettes"

    recording = inner.run_subprocess("-n", "2", f"--hil-target=replay:{cassettes}",
                                     "--hil-record-mode=once")
    recorded = inner.records()
    replaying = inner.run_subprocess("-n", "2", f"--hil-target=replay:{cassettes}")
    replayed = inner.records()

    recording.assert_outcomes(passed=3)
    replaying.assert_outcomes(passed=3)
    assert sorted(path.name for path in cassettes.iterdir()) == [
        f"test_replayed.py_test_session_{n}--keithley6517b.jsonl" for n in range(3)]
    for n in range(3):
        assert recorded[f"session{n}"]["emulated"] is True
        assert replayed[f"session{n}"]["emulated"] is False
        for key in ("idn", "function", "model"):
            assert replayed[f"session{n}"][key] == recorded[f"session{n}"][key]


@pytest.fixture
def recorded_session(inner: InnerSuite) -> str:
    """A cassette of ``test_session`` (``*IDN?`` then ``:SENS:FUNC?``); returns the target."""
    inner.write("test_session", SESSION_SUITE.replace("range(3)", "range(1)"))
    target = f"--hil-target=replay:{inner.pytester.path / 'cassettes'}"
    inner.pytester.runpytest(target, "--hil-record-mode=once").assert_outcomes(passed=1)
    return target


def test_a_different_message_fails_the_test_with_the_mismatch(inner: InnerSuite,
                                                              recorded_session: str) -> None:
    inner.write("test_session", """
@pytest.mark.parametrize("n", range(1))
def test_session(electrometer, n):
    scpi = Scpi(electrometer)
    scpi.query("*IDN?")
    scpi.send(":SENS:FUNC 'CURR'")
""")
    result = inner.pytester.runpytest(recorded_session)

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_session[[]0[]]*",
                                 "hil: ReplayMismatch: *:SENS:FUNC?*:SENS:FUNC 'CURR'*"])


def test_messages_left_unplayed_fail_the_test(inner: InnerSuite, recorded_session: str) -> None:
    inner.write("test_session", """
@pytest.mark.parametrize("n", range(1))
def test_session(electrometer, n):
    Scpi(electrometer).query("*IDN?")
""")
    result = inner.pytester.runpytest(recorded_session)

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["hil: ReplayLeftovers: *:SENS:FUNC?*"])


def test_a_missing_cassette_says_how_to_record_it(inner: InnerSuite) -> None:
    inner.write("test_unrecorded", SESSION_SUITE)
    cassettes = inner.pytester.path / "cassettes"
    cassettes.mkdir()

    result = inner.pytester.runpytest(f"--hil-target=replay:{cassettes}")

    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["hil: CassetteNotFound: no cassette at *test_unrecorded.py_"
                                 "test_session_0--keithley6517b.jsonl*--hil-record-mode=once*"])
    assert "Traceback" not in result.stdout.str() and "fixturedef" not in result.stdout.str()
