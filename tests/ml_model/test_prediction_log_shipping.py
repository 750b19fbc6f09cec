"""Rotation once a shipper has run on the host (its ledger ``<log>.shipped/`` exists): a rotated file
past PREDICTION_LOG_KEEP is deleted only once it is shipped, so the window grows while a shipper
is stalled and no line leaves the host unshipped. The service alone, no shipper: the markers are
written here as the shipper writes them (``ship_key``)."""

from __future__ import annotations

import os
from pathlib import Path

from ml_model.prediction_log import (
    LogEntry,
    PredictionLog,
    format_line,
    read_prediction_log,
    ship_key,
    shipped_ledger,
)
from ml_model.prediction_log_reader import log_files
from ml_model.schema import FEATURES
from mlops.sidecar.simulator import simulate

_SIM = simulate(1, 3)
COLS = {name: _SIM[name].to_numpy() for name in FEATURES}


def entry(i: int) -> LogEntry:
    return LogEntry("v1", 1_800_000_000.0 + i, COLS, [0.5], f"{i:032x}")


def logged_ids(path: Path) -> list[str]:
    return read_prediction_log(path)["prediction_id"].tolist()


def ship_all(path: Path) -> None:
    """What a shipper's run leaves: a marker for every rotated file now on the host."""
    for f in log_files(path)[:-1]:
        (shipped_ledger(path) / ship_key(os.stat(f))).write_text("{}")


def test_without_a_shipper_rotation_drops_the_oldest_as_before(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    log = PredictionLog(path, max_bytes=2 * len(format_line(entry(0))), keep=1)
    for i in range(10):
        log.write(entry(i))
    log.close()
    assert [p.name for p in log_files(path)] == ["p.jsonl.1", "p.jsonl"]
    assert logged_ids(path) == [f"{i:032x}" for i in (8, 9)]


def test_an_unshipped_rotated_file_is_kept_and_a_shipped_one_goes(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    shipped_ledger(path).mkdir(mode=0o700)  # a shipper has run here (and is stalled)
    log = PredictionLog(path, max_bytes=2 * len(format_line(entry(0))), keep=1)
    for i in range(10):
        log.write(entry(i))
    assert len(log_files(path)) == 6  # five rotated files: none shipped, none deleted
    assert logged_ids(path) == [f"{i:032x}" for i in range(10)]
    ship_all(path)  # the shipper catches up
    for i in range(10, 12):  # one more rotation: the shipped files past keep=1 go
        log.write(entry(i))
    assert [p.name for p in log_files(path)] == ["p.jsonl.1", "p.jsonl"]
    assert logged_ids(path) == [f"{i:032x}" for i in (10, 11)]
    # only some shipped: the unshipped one stays past the limit (a gap is fine), the shipped one goes
    for i in range(12, 14):
        log.write(entry(i))
    oldest = log_files(path)[0]
    (shipped_ledger(path) / ship_key(os.stat(oldest))).write_text("{}")
    for i in range(14, 18):
        log.write(entry(i))
    log.close()
    # the window grew past keep=1 while 12, 13 and 14, 15 wait for the shipper
    assert [p.name for p in log_files(path)] == ["p.jsonl.3", "p.jsonl.2", "p.jsonl.1", "p.jsonl"]
    assert logged_ids(path) == [f"{i:032x}" for i in range(12, 18)]  # 10, 11 (shipped) gone; none lost


def test_keep_zero_with_a_shipper_keeps_the_file_until_it_is_shipped(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    shipped_ledger(path).mkdir(mode=0o700)
    log = PredictionLog(path, max_bytes=2 * len(format_line(entry(0))), keep=0)
    for i in range(4):
        log.write(entry(i))
    assert [p.name for p in log_files(path)] == ["p.jsonl.2", "p.jsonl.1", "p.jsonl"]
    ship_all(path)
    for i in range(4, 6):
        log.write(entry(i))
    log.close()
    assert [p.name for p in log_files(path)] == ["p.jsonl.1", "p.jsonl"]  # the new one waits
    assert logged_ids(path) == [f"{i:032x}" for i in (4, 5)]
