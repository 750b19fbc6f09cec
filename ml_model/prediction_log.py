"""The prediction log: what the service scored, for the monitor to compare with training data.

The writer and the reader of the format live here together, so they cannot drift apart.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from ml_model.schema import FEATURES


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

    def write(self, model_version: str, when: float, cols: dict[str, np.ndarray], probs: list[float]) -> None:
        """Append one request's line with a single write(), so workers never interleave."""
        line = {
            "time": datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds"),
            "model_version": model_version,
            "features": {name: np.asarray(cols[name]).tolist() for name in FEATURES},
            "match_probability": np.asarray(probs, dtype=np.float64).tolist(),
        }
        data = orjson.dumps(line) + b"\n"
        with self._lock:
            os.write(self._fd, data)

    def close(self) -> None:
        """Close the file descriptor (the development server's shutdown)."""
        os.close(self._fd)


def read_prediction_log(path: str | Path) -> pd.DataFrame:
    """One row per scored instance: the features, ``match_probability``, ``model_version``, ``time``
    and ``request`` (the line number: instances of one /rank request share a case).

    Columns are gathered line by line and turned into one DataFrame at the end (100,000 logged
    instances in well under a second). A torn last line (the service was killed mid-write) is
    skipped; any other bad line is an error naming the file and line number.
    """
    path = Path(path)
    columns: dict[str, list] = {
        name: [] for name in (*FEATURES, "match_probability", "model_version", "time", "request")
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
    if not columns["request"]:
        raise ValueError(f"{path}: the prediction log holds no records")
    return pd.DataFrame(columns)
