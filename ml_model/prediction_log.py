"""The prediction log: what the service scored, for the monitor to compare with training data.

The writer and the reader of the format live here together, so they cannot drift apart.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ml_model.schema import FEATURES


@dataclass(frozen=True)
class LogEntry:
    """One answered request: what was scored, by which model, and the id outcomes refer to."""

    model_version: str
    when: float
    cols: dict[str, np.ndarray]
    probs: list[float]
    prediction_id: str
    lawyer_ids: list[Any] | None = None  # /rank only: with prediction_id, it names a shown pair


class PredictionLog:
    """Appends what each request scored as one JSON line, after the response has been sent.

    A line holds the request's columns (the features of every scored instance), the
    probabilities, the model version and the time; ``read_prediction_log`` expands it into one
    row per instance. The service registers ``write`` with ``Response.call_on_close``, so the
    client has its answer before the line is formatted. (A background thread was tried first: it
    took the GIL from the request thread mid-request and added 2-5 ms to a 1,000-lawyer /rank.)
    Each write is one ``write()`` of whole lines to a file opened for appending (O_APPEND), so
    lines from several gunicorn workers do not interleave.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # the development server is threaded
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, entry: LogEntry) -> None:
        """Append one request's line with a single write(), so workers never interleave."""
        line = {
            "time": datetime.fromtimestamp(entry.when, UTC).isoformat(timespec="milliseconds"),
            "model_version": entry.model_version,
            "prediction_id": entry.prediction_id,
            "features": {name: np.asarray(entry.cols[name]).tolist() for name in FEATURES},
            "match_probability": np.asarray(entry.probs, dtype=np.float64).tolist(),
        }
        if entry.lawyer_ids is not None:
            line["lawyer_id"] = list(entry.lawyer_ids)
        data = orjson.dumps(line) + b"\n"
        with self._lock:
            os.write(self._fd, data)

    def close(self) -> None:
        """Close the file descriptor (the development server's shutdown)."""
        os.close(self._fd)


def read_prediction_log(path: str | Path) -> pd.DataFrame:
    """One row per scored instance: the features, ``match_probability``, ``model_version``, ``time``,
    ``request`` (the line number: instances of one /rank request share a case), ``prediction_id``
    and ``lawyer_id`` (/rank lines; None elsewhere and in lines written before ids existed).

    Columns are gathered line by line and turned into one DataFrame at the end (100,000 logged
    instances in well under a second). A torn last line (the service was killed mid-write) is
    skipped; any other bad line is an error naming the file and line number.
    """
    path = Path(path)
    columns: dict[str, list] = {
        name: []
        for name in (
            *FEATURES,
            "match_probability",
            "model_version",
            "time",
            "request",
            "prediction_id",
            "lawyer_id",
        )
    }
    lines = path.read_bytes().splitlines()
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            rec = orjson.loads(text)
            feats, probs = rec["features"], rec["match_probability"]
            n = len(probs)
            if any(len(feats[name]) != n for name in FEATURES):
                raise ValueError("columns of different lengths")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            if number == len(lines):
                continue
            raise ValueError(f"{path}, line {number}: not a prediction-log record ({exc})") from exc
        for name in FEATURES:
            columns[name].extend(feats[name])
        columns["match_probability"].extend(probs)
        columns["model_version"].extend([rec.get("model_version")] * n)
        columns["time"].extend([rec.get("time")] * n)
        columns["request"].extend([number] * n)
        columns["prediction_id"].extend([rec.get("prediction_id")] * n)
        lawyer_ids = rec.get("lawyer_id")
        columns["lawyer_id"].extend(
            lawyer_ids if isinstance(lawyer_ids, list) and len(lawyer_ids) == n else [None] * n
        )
    if not columns["request"]:
        raise ValueError(f"{path}: the prediction log holds no records")
    return pd.DataFrame(columns)
