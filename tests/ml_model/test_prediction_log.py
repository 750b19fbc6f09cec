"""The prediction log's writer and reader agree, a torn last line is tolerated, no answered line is
lost, and the log rotates by size into a bounded window that is read as one."""

from __future__ import annotations

import multiprocessing
import os
import shutil
from pathlib import Path

import numpy as np
import orjson
import pytest

from ml_model.prediction_log import (
    LogEntry,
    PredictionLog,
    format_line,
    lock_path,
    log_files,
    read_prediction_log,
)
from ml_model.schema import FEATURES
from mlops.sidecar.simulator import simulate


def test_round_trip_one_row_per_instance(tmp_path) -> None:
    df = simulate(30, 1)
    log = PredictionLog(tmp_path / "p.jsonl")
    cols = {c: df[c].to_numpy() for c in FEATURES}
    log.write(LogEntry("v1", 1_800_000_000.0, cols, list(np.linspace(0, 1, 30)), "p1"))
    log.write(
        LogEntry("v2", 1_800_000_001.0, {c: v[:2] for c, v in cols.items()}, [0.1, 0.2], "p2", ["L7", 9])
    )
    log.close()
    back = read_prediction_log(tmp_path / "p.jsonl")
    assert len(back) == 32 and list(back.columns[: len(FEATURES)]) == list(FEATURES)
    assert back["model_version"].tolist() == ["v1"] * 30 + ["v2"] * 2
    assert back["client_income"].iloc[:30].tolist() == df["client_income"].tolist()
    assert back["case_complexity"].iloc[0] == df["case_complexity"].iloc[0]
    assert back["prediction_id"].tolist() == ["p1"] * 30 + ["p2"] * 2
    assert back["lawyer_id"].tolist() == [None] * 30 + ["L7", 9]


def test_torn_last_line_is_skipped_but_a_bad_middle_line_is_an_error(tmp_path) -> None:
    df = simulate(3, 2)
    path = tmp_path / "p.jsonl"
    log = PredictionLog(path)
    log.write(LogEntry("v1", 0.0, {c: df[c].to_numpy() for c in FEATURES}, [0.5, 0.5, 0.5], "p1"))
    log.close()
    good = path.read_text()
    path.write_text(good + '{"time": "2026-')
    assert len(read_prediction_log(path)) == 3
    path.write_text("oops\n" + good)
    with pytest.raises(ValueError, match=r"p\.jsonl, line 1"):
        read_prediction_log(path)
    path.write_text("")
    with pytest.raises(ValueError, match="no records"):
        read_prediction_log(path)


_SIM = simulate(5, 100)


def _entry(i: int, n: int = 3, lawyer_ids: list | None = None) -> LogEntry:
    """Request ``i`` of ``n`` instances; lines of equal ``n`` are of equal length (i < 10,000)."""
    cols = {c: _SIM[c].to_numpy()[:n] for c in FEATURES}
    return LogEntry("v1", 1_800_000_000.0 + i, cols, [0.5] * n, f"p{i:04d}", lawyer_ids)


def test_a_line_orjson_refuses_is_written_sanitized_not_lost(tmp_path) -> None:
    # Before: write() raised "TypeError: str is not valid UTF-8" after the response: the line was lost.
    log = PredictionLog(tmp_path / "p.jsonl")
    bad = _entry(0, 2, lawyer_ids=["ok\udc80", 10**30])
    cols = dict(bad.cols)
    cols["case_type"] = np.array(["family", "\ud800"], dtype=object)
    assert log.write(LogEntry(bad.model_version, bad.when, cols, bad.probs, "p0", bad.lawyer_ids))
    assert log.write(_entry(1, 2))
    log.close()
    back = read_prediction_log(tmp_path / "p.jsonl")
    assert back["prediction_id"].tolist() == ["p0", "p0", "p0001", "p0001"]
    assert back["case_type"].iloc[1] == "\ufffd" and back["lawyer_id"].tolist()[:2] == [
        "ok\ufffd",
        str(10**30),
    ]
    assert orjson.loads((tmp_path / "p.jsonl").read_bytes().splitlines()[0])["sanitized"] is True


def test_a_failed_write_is_reported_not_raised(tmp_path, caplog) -> None:
    log = PredictionLog(tmp_path / "p.jsonl", max_bytes=0)
    os.close(log._fd)  # the descriptor goes bad (a full disk behaves alike): write() must not raise
    log._fd = os.open(tmp_path / "p.jsonl", os.O_RDONLY)
    assert log.write(_entry(0)) is False
    assert log.failed_writes == 1 and "p0000 was answered but could not be logged" in caplog.text


def test_rotation_by_size_keeps_a_bounded_window_read_oldest_first(tmp_path) -> None:
    path = tmp_path / "p.jsonl"
    line_bytes = len(format_line(_entry(0)))
    log = PredictionLog(path, max_bytes=5 * line_bytes, keep=3)
    for i in range(40):
        assert log.write(_entry(i))
    log.close()
    files = log_files(path)
    assert [p.name for p in files] == ["p.jsonl.3", "p.jsonl.2", "p.jsonl.1", "p.jsonl"]
    assert [p.stat().st_size for p in files] == [5 * line_bytes] * 3 + [0]  # rotated at the limit
    back = read_prediction_log(path)
    ids = back.drop_duplicates("prediction_id")["prediction_id"].tolist()
    assert ids == [f"p{i:04d}" for i in range(25, 40)]  # the window's lines, oldest first
    assert back["request"].is_monotonic_increasing and back["request"].nunique() == 15
    # keep lowered: the files past the new limit go at the next rotation
    log = PredictionLog(path, max_bytes=5 * line_bytes, keep=1)
    for i in range(40, 46):
        log.write(_entry(i))
    log.close()
    assert [p.name for p in log_files(path)] == ["p.jsonl.1", "p.jsonl"]


def test_the_monitor_reads_the_rotated_files_as_one_window(tmp_path) -> None:
    from mlops.sidecar.monitor_inputs import load_current

    path = tmp_path / "predictions.jsonl"
    log = PredictionLog(path, max_bytes=len(format_line(_entry(0))) * 4, keep=10)
    for i in range(30):
        log.write(_entry(i))
    log.close()
    assert len(log_files(path)) == 8
    current, unknown = load_current(path)
    assert len(current) == 30 and unknown == 0  # one instance per request, from every file


def _writer(path: str, start: int, count: int, max_bytes: int, keep: int) -> None:
    log = PredictionLog(Path(path), max_bytes=max_bytes, keep=keep)
    for i in range(start, start + count):
        assert log.write(_entry(i, 1 + i % 5))
    log.close()


def test_two_processes_rotating_lose_and_tear_no_line(tmp_path) -> None:
    """Two gunicorn workers in miniature: both append and rotate the same log concurrently."""
    path = tmp_path / "p.jsonl"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(path), k * 1000, 400, 20_000, 1000)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(log_files(path)) > 10  # it did rotate, many times
    for file in log_files(path):  # every line whole (O_APPEND, one write per line)
        for line in file.read_bytes().splitlines():
            orjson.loads(line)
    back = read_prediction_log(path)
    ids = back.drop_duplicates("prediction_id")["prediction_id"]
    assert sorted(ids) == sorted(f"p{i:04d}" for k in range(2) for i in range(k * 1000, k * 1000 + 400))


def test_logrotate_copytruncate_and_move_are_followed(tmp_path) -> None:
    """With PREDICTION_LOG_MAX_BYTES=0 our rotation is off and logrotate's copytruncate works:
    O_APPEND puts the next line at the new end (offset 0), so no hole of NUL bytes appears."""
    path = tmp_path / "p.jsonl"
    log = PredictionLog(path, max_bytes=0)
    assert log._lock_fd is None and not lock_path(path).exists()
    log.write(_entry(0))
    log.write(_entry(1))
    shutil.copyfile(path, tmp_path / "p.jsonl.1")  # logrotate copytruncate: copy, then truncate in place
    os.truncate(path, 0)
    log.write(_entry(2))
    data = path.read_bytes()
    assert data.startswith(b'{"time"') and b"\x00" not in data
    os.replace(path, tmp_path / "p.jsonl.2")  # logrotate's default (create): move, the writer reopens
    log.write(_entry(3))
    log.close()
    assert read_prediction_log(path)["prediction_id"].unique().tolist() == [
        "p0002",
        "p0000",
        "p0001",
        "p0003",
    ]


def test_rotation_settings_come_from_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PREDICTION_LOG_MAX_BYTES", "12345")
    monkeypatch.setenv("PREDICTION_LOG_KEEP", "2")
    log = PredictionLog(tmp_path / "p.jsonl")
    assert (log.max_bytes, log.keep) == (12345, 2)
    log.close()
    monkeypatch.delenv("PREDICTION_LOG_MAX_BYTES")
    monkeypatch.delenv("PREDICTION_LOG_KEEP")
    log = PredictionLog(tmp_path / "q.jsonl")
    assert (log.max_bytes, log.keep) == (100 * 1024 * 1024, 5)
    log.close()
    monkeypatch.setenv("PREDICTION_LOG_KEEP", "many")
    with pytest.raises(ValueError, match="PREDICTION_LOG_KEEP"):
        PredictionLog(tmp_path / "r.jsonl")
