"""Prediction logs for the log store's tests, written by the service's own writer (PredictionLog)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from logstore.rows import positions
from ml_model.prediction_log import LogEntry, PredictionLog, rotate_files
from ml_model.prediction_log_reader import scan_prediction_logs
from ml_model.schema import FEATURES
from mlops.sidecar.simulator import simulate

_ROWS = simulate(8, 5)
COLS = {c: _ROWS[c].to_numpy() for c in FEATURES}


def entry(i: int, when: datetime, n: int = 3, rank: bool = True) -> LogEntry:
    """Request ``i`` (prediction_id ``i`` as 32 hex digits): ``n`` instances, /rank or /predict."""
    cols = {c: v[:n] for c, v in COLS.items()}
    lawyers = [f"L{j}" if j % 2 else j for j in range(n)] if rank else None
    return LogEntry("v1", when.timestamp(), cols, list(np.linspace(0.1, 0.9, n)), f"{i:032x}", lawyers)


def write(path: Path, start: datetime, count: int, step: timedelta, first_id: int = 0, **kw) -> PredictionLog:
    """``count`` requests from ``start``, ``step`` apart, appended to the log at ``path``."""
    log = PredictionLog(path, **kw)
    for k in range(count):
        log.write(entry(first_id + k, start + k * step, n=1 + k % 4, rank=k % 3 != 0))
    return log


def rotate_now(log: PredictionLog) -> None:
    """The service's rotation, now (whatever the size); the writer follows at its next line."""
    rotate_files(log.path, log.keep)


def expected(path: Path) -> pd.DataFrame:
    """What the store must hold of the window at ``path``: the reader's rows, keyed and dated."""
    frame, _ = scan_prediction_logs([path])
    frame["position"] = positions(frame["request"].to_numpy())
    return frame


def stored_keys(store_dir: Path) -> list[tuple[str, int]]:
    """Every (prediction_id, position) in every part of a folder store, copies included."""
    out: list[tuple[str, int]] = []
    for part in sorted(store_dir.glob("predictions/day=*/host=*/*.parquet")):
        t = pq.read_table(part, columns=["prediction_id", "position"])
        out += list(zip(t["prediction_id"].to_pylist(), t["position"].to_pylist(), strict=True))
    return out


def day(text: str, hour: int = 0, minute: int = 0) -> datetime:
    """A UTC time on a day given as YYYY-MM-DD."""
    return datetime.fromisoformat(text).replace(hour=hour, minute=minute, tzinfo=UTC)
