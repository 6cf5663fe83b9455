"""Record modes: what happens to a cassette that exists or not; where cassettes live."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.recording import CassetteNotFound, RecordMode, cassette_path, plan_cassette


@pytest.fixture
def existing(tmp_path: Path) -> Path:
    path = tmp_path / "there.jsonl"
    path.write_text("{}\n")
    return path


@pytest.mark.parametrize(
    ("mode", "replay", "record", "overwrite", "live_fallback"),
    [
        ("none", True, False, False, False),
        ("once", True, False, False, False),
        ("new_episodes", True, True, True, True),
        ("all", False, True, True, False),
    ],
)
def test_plan_for_an_existing_cassette(existing: Path, mode: str, replay: bool, record: bool,
                                       overwrite: bool, live_fallback: bool) -> None:
    plan = plan_cassette(existing, mode)
    assert (plan.replay, plan.record, plan.overwrite, plan.live_fallback) == (
        replay, record, overwrite, live_fallback)
    assert plan.mode == RecordMode(mode) and plan.path == existing


@pytest.mark.parametrize("mode", ["once", "new_episodes", "all"])
def test_a_missing_cassette_is_recorded_in_every_recording_mode(tmp_path: Path,
                                                                mode: str) -> None:
    plan = plan_cassette(tmp_path / "new.jsonl", mode)
    assert plan.record and not plan.replay and not plan.live_fallback


def test_once_never_replaces_a_cassette_that_appears_meanwhile(tmp_path: Path) -> None:
    assert plan_cassette(tmp_path / "new.jsonl", RecordMode.ONCE).overwrite is False


def test_mode_none_with_no_cassette_names_the_file_and_the_mode_that_records(
        tmp_path: Path) -> None:
    with pytest.raises(CassetteNotFound) as raised:
        plan_cassette(tmp_path / "missing.jsonl", "none")
    message = str(raised.value)
    assert str(tmp_path / "missing.jsonl") in message
    assert "record mode 'none'" in message and "--hil-record-mode=once" in message


def test_unknown_mode_lists_the_modes() -> None:
    with pytest.raises(ValueError, match="none, once, new_episodes, all"):
        RecordMode.parse("sometimes")


def test_mode_names_are_case_insensitive() -> None:
    assert RecordMode.parse("NEW_EPISODES") is RecordMode.NEW_EPISODES


def test_cassette_path_is_stable_and_safe(tmp_path: Path) -> None:
    test_id = "tests/test_scan.py::test_range[2e-9 A/x]"
    path = cassette_path(tmp_path, test_id, "keithley6517b")
    assert path == cassette_path(tmp_path, test_id, "keithley6517b")
    assert path.parent == tmp_path and path.suffix == ".jsonl"
    assert "/" not in path.name and " " not in path.name and "[" not in path.name
    assert path.name.endswith("--keithley6517b.jsonl")


def test_long_test_ids_keep_distinct_cassettes(tmp_path: Path) -> None:
    base = "tests/test_x.py::test_" + "a" * 300
    first = cassette_path(tmp_path, base + "1")
    second = cassette_path(tmp_path, base + "2")
    assert first != second
    assert len(first.name) < 255 and len(second.name) < 255


def test_path_traversal_in_a_test_id_stays_inside_the_directory(tmp_path: Path) -> None:
    path = cassette_path(tmp_path, "../../etc/passwd", "../x")
    assert path.parent == tmp_path
