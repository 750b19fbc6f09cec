"""The prediction log: what the service scored, for the monitor to compare with training data.

The writer and the reader of the format live here together, so they cannot drift apart.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ml_model.schema import FEATURES


class PredictionLog:
    """Appends what each request scored as one JSON line, on a background thread.

    A line holds the request's columns (the features of every scored instance), the
    probabilities, the model version and the time; ``read_prediction_log``
    expands it into one row per instance. One line per request rather than per instance keeps
    the work off the request path small (a 1,000-lawyer /rank is one ``json.dumps`` of lists).
    The request thread only puts references on a queue; each gunicorn worker appends whole lines.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._queue: queue.SimpleQueue[tuple | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def append(self, model_version: str, cols: dict[str, np.ndarray], probs: list[float]) -> None:
        self._queue.put((model_version, time.time(), cols, probs))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            while (item := self._queue.get()) is not None:
                fh.write(self._format(*item))
                if self._queue.empty():
                    fh.flush()

    @staticmethod
    def _format(version: str, when: float, cols: dict[str, np.ndarray], probs: list[float]) -> str:
        line = {
            "time": datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds"),
            "model_version": version,
            "features": {name: np.asarray(cols[name]).tolist() for name in FEATURES},
            "match_probability": [round(p, 6) for p in probs],
        }
        return json.dumps(line) + "\n"


def read_prediction_log(path: str | Path) -> pd.DataFrame:
    """One row per scored instance: the features, ``match_probability``, ``model_version``, ``time``.

    A torn last line (the service was killed mid-write) is skipped; any other bad line is an error
    naming the file and line number.
    """
    path = Path(path)
    frames = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            rec = json.loads(text)
            frame = pd.DataFrame(rec["features"], columns=list(FEATURES))
            frame["match_probability"] = rec["match_probability"]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            if number == len(lines):
                continue
            raise ValueError(f"{path}, line {number}: not a prediction-log record ({exc})") from exc
        frame["model_version"] = rec.get("model_version")
        frame["time"] = rec.get("time")
        frames.append(frame)
    if not frames:
        raise ValueError(f"{path}: the prediction log holds no records")
    return pd.concat(frames, ignore_index=True)
