"""The prediction log's writer and reader agree, a torn last line is tolerated, no answered line is
lost, and the log rotates by size into a bounded window that is read as one; a hostile or damaged
line is skipped and named, and copies of a request that disagree are all dropped."""

from __future__ import annotations

import multiprocessing
import os
import shutil
from pathlib import Path

import numpy as np
import orjson
import pytest

from ml_model import prediction_log_reader
from ml_model.prediction_log import (
    LogEntry,
    PredictionLog,
    format_line,
    lock_path,
    log_files,
    read_prediction_log,
)
from ml_model.prediction_log_reader import NAMED_PROBLEMS, scan_prediction_logs
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


def test_torn_last_line_is_skipped_and_a_bad_middle_line_is_skipped_and_named(tmp_path, caplog) -> None:
    df = simulate(3, 2)
    path = tmp_path / "p.jsonl"
    log = PredictionLog(path)
    log.write(LogEntry("v1", 0.0, {c: df[c].to_numpy() for c in FEATURES}, [0.5, 0.5, 0.5], "p1"))
    log.close()
    good = path.read_text()
    path.write_text(good + '{"time": "2026-')
    assert len(read_prediction_log(path)) == 3
    assert "line 2" not in caplog.text  # a torn last line is expected, not a warning
    path.write_text("oops\n" + good)
    assert len(read_prediction_log(path)) == 3
    assert "p.jsonl, line 1: not JSON" in caplog.text
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


def _records(path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _rewrite(path, records: list) -> None:
    path.write_bytes(b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in records))


def test_predict_and_rank_lines_keep_the_lawyer_ids_exactly_as_served(tmp_path) -> None:
    """Before: one /predict line (no ids) among /rank lines made the column float64 (10 -> 10.0)."""
    log = PredictionLog(tmp_path / "p.jsonl")
    log.write(_entry(0, 1))  # README's curl .../predict
    log.write(_entry(1, 3, lawyer_ids=[10, 11, 2**53 - 1]))
    log.write(_entry(2, 2, lawyer_ids=["L1", "10"]))
    log.close()
    back = read_prediction_log(tmp_path / "p.jsonl")
    assert back["lawyer_id"].dtype == object
    ids = back["lawyer_id"].tolist()
    assert ids == [None, 10, 11, 2**53 - 1, "L1", "10"]
    assert [type(v) for v in ids[1:]] == [int, int, int, str, str]
    assert back["case_complexity"].dtype == np.int64 and back["client_income"].dtype == np.float64
    assert str(back["time"].dt.tz) == "UTC" and back["request"].tolist() == [1, 2, 2, 2, 3, 3]


def test_hostile_and_damaged_lines_are_skipped_and_named_by_file_line_and_field(tmp_path, caplog) -> None:
    path = tmp_path / "p.jsonl"
    log = PredictionLog(path)
    for i in range(3):
        log.write(_entry(i, 2, lawyer_ids=[1, 2]))
    log.close()
    good = _records(path)

    def bad(**change) -> dict:
        rec = orjson.loads(orjson.dumps(good[0]))
        for key, value in change.items():
            if key in FEATURES:
                rec["features"][key] = value
            else:
                rec[key] = value
        return rec

    hostile = [
        bad(prediction_id=["x"]),  # was a traceback (unhashable list)
        bad(case_complexity=[True, 1]),  # was read as 1
        bad(time=None),
        bad(lawyer_id=[1]),  # one id for two instances
        bad(lawyer_id=[True, 2]),
        bad(client_income=[1e12, 5.0]),  # above the contract's maximum: the service never logs it
        bad(case_type=[3, "family"]),
        bad(match_probability="high"),
        b"[1, 2]",
        b"{not json",
    ]
    _rewrite(path, [good[0], *hostile, good[1], good[2]])
    back, scan = scan_prediction_logs([path])
    assert back["prediction_id"].unique().tolist() == ["p0000", "p0001", "p0002"] and len(back) == 6
    assert scan.bad_lines == 10 and scan.lines == 13
    expected = [
        "line 2, field 'prediction_id': must be text of 1 to 64 characters, got a list of 1",
        "line 3, field 'case_complexity': must be an integer in [1, 5], got a true/false value",
        "line 4, field 'time': must be an ISO 8601 time, got null",
        "line 5, field 'lawyer_id': holds 1 values for 2 instances",
        "line 6, field 'lawyer_id': must be text of 1 to 64 characters or an integer in [0, 2**53), got true",
        "line 7, field 'client_income': must be a number in [0, 1e+07], got a value outside it",
        "line 8, field 'case_type': must be text, got a number",
        "line 9, field 'match_probability': must be a list, got text",
        "line 10: not a JSON object but a list",
        "line 11: not JSON",
    ]
    for text in expected:
        assert f"p.jsonl, {text}" in caplog.text, text
    assert "1000000000000" not in caplog.text  # a client's value is never quoted, only its kind


def test_a_flood_of_bad_lines_is_counted_not_logged_line_by_line(tmp_path, caplog) -> None:
    path = tmp_path / "p.jsonl"
    log = PredictionLog(path)
    log.write(_entry(0))
    log.close()
    _rewrite(path, [b'{"time": null}'] * 5000 + [path.read_bytes().strip()])
    back, scan = scan_prediction_logs([path])
    assert len(back) == 3 and scan.bad_lines == 5000
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == NAMED_PROBLEMS + 1
    assert "In all: 5000 bad line(s) skipped (by field: match_probability 5000)" in warnings[-1]


def test_an_over_long_line_is_skipped_without_being_held(tmp_path, caplog, monkeypatch) -> None:
    monkeypatch.setattr(prediction_log_reader, "MAX_LINE_BYTES", 1000)
    path = tmp_path / "p.jsonl"
    log = PredictionLog(path)
    log.write(_entry(0, 1))
    log.write(_entry(1, 40))  # about 5 kB
    log.write(_entry(2, 1))
    log.close()
    back, scan = scan_prediction_logs([path])
    assert back["prediction_id"].unique().tolist() == ["p0000", "p0002"] and scan.bad_lines == 1
    assert "p.jsonl, line 2: longer than 1000 bytes" in caplog.text


def test_copies_of_one_request_are_read_once_and_a_forged_copy_drops_them_all(tmp_path, caplog) -> None:
    path = tmp_path / "p.jsonl"
    log = PredictionLog(path)
    for i in range(3):
        log.write(_entry(i, 2, lawyer_ids=[7, 8]))
    log.close()
    recs = _records(path)
    forged = orjson.loads(orjson.dumps(recs[1]))
    forged["features"]["client_income"] = [1.0, 2.0]
    reordered = {k: recs[2][k] for k in reversed(list(recs[2]))}  # the same request, keys reordered
    _rewrite(path, [recs[0], recs[1], recs[2], recs[0], forged, reordered, recs[1]])
    back, scan = scan_prediction_logs([path])
    assert back["prediction_id"].tolist() == ["p0000", "p0000", "p0002", "p0002"]
    assert (scan.duplicate_lines, scan.duplicate_rows, scan.duplicate_pairs) == (2, 4, 4)
    assert scan.conflict_ids == {"p0001"} and (scan.conflict_lines, scan.conflict_rows) == (3, 6)
    assert "prediction_id 'p0001' is logged 3 times with different features or lawyers" in caplog.text
    assert "p.jsonl, line 2; " in caplog.text and "p.jsonl, line 5; " in caplog.text


def test_the_window_is_opened_under_the_lock_then_read_without_holding_it(tmp_path, monkeypatch) -> None:
    """A rotation while the reader is reading neither blocks nor changes what is read."""
    import fcntl

    path = tmp_path / "p.jsonl"
    line = len(format_line(_entry(0)))
    log = PredictionLog(path, max_bytes=3 * line, keep=5)
    for i in range(7):
        log.write(_entry(i))
    reader = prediction_log_reader._Reader()
    original = reader.read_file
    taken = []

    def read_file(name, stream, size) -> None:
        fd = os.open(lock_path(path), os.O_RDONLY)
        try:  # nobody holds the lock while we read: an exclusive lock is free
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            taken.append(name)
        finally:
            os.close(fd)
        original(name, stream, size)

    reader.read_file = read_file
    monkeypatch.setattr(prediction_log_reader, "_Reader", lambda: reader)
    back = read_prediction_log(path)
    log.close()
    assert len(taken) == 3 and back["prediction_id"].nunique() == 7
