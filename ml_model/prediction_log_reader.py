"""Reading the prediction log: the current window of files, oldest first, as one DataFrame.

The window's files (``path.N ... path.1, path``) and the lock that rotation and readers agree on
are named here; ``prediction_log.PredictionLog`` writes and rotates them. A line is one request
(``prediction_log.format_line``); a row of the DataFrame is one scored instance.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from ml_model.schema import FEATURES


def lock_path(path: Path) -> Path:
    """The lock file beside the log that rotation and readers agree on."""
    return path.with_name(path.name + ".lock")


def rotated_path(path: Path, i: int) -> Path:
    """``path.i``: the i-th newest rotated file (``path`` itself for 0)."""
    return path.with_name(f"{path.name}.{i}") if i else path


def log_files(path: str | Path) -> list[Path]:
    """The files of the log's current window, oldest first: ``path.N ... path.1, path``."""
    path = Path(path)
    pattern = re.compile(re.escape(path.name) + r"\.([0-9]+)")
    rotated = []
    if path.parent.is_dir():
        for p in path.parent.iterdir():
            m = pattern.fullmatch(p.name)
            if m:
                rotated.append((int(m.group(1)), p))
    return [p for _, p in sorted(rotated, reverse=True)] + ([path] if path.exists() or not rotated else [])


@contextmanager
def _shared_lock(path: Path) -> Iterator[None]:
    """Hold the rotation lock shared while reading, so no file is renamed under the reader."""
    try:
        fd = os.open(lock_path(path), os.O_RDONLY)
    except OSError:  # no lock file: nothing rotates this log (or we may not open it)
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


_PER_LINE = ("match_probability", "model_version", "time", "request", "prediction_id", "lawyer_id")


def _record(text: bytes, file: Path, number: int, last: bool) -> dict[str, Any] | None:
    """One line as a record; None for a blank line or a torn last line; an error naming the line otherwise."""
    if not text.strip():
        return None
    try:
        rec = orjson.loads(text)
        n = len(rec["match_probability"])
        if any(len(rec["features"][name]) != n for name in FEATURES):
            raise ValueError("columns of different lengths")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        if last:
            return None
        raise ValueError(f"{file}, line {number}: not a prediction-log record ({exc})") from exc
    return rec


def _append(columns: dict[str, list], rec: dict[str, Any], request: int) -> None:
    """Add a record's instances to the columns, one row each."""
    feats, probs = rec["features"], rec["match_probability"]
    n = len(probs)
    for name in FEATURES:
        columns[name].extend(feats[name])
    columns["match_probability"].extend(probs)
    for key in ("model_version", "time", "prediction_id"):
        columns[key].extend([rec.get(key)] * n)
    columns["request"].extend([request] * n)
    lawyer_ids = rec.get("lawyer_id")
    columns["lawyer_id"].extend(
        lawyer_ids if isinstance(lawyer_ids, list) and len(lawyer_ids) == n else [None] * n
    )


def read_prediction_log(path: str | Path) -> pd.DataFrame:
    """One row per scored instance: the features, ``match_probability``, ``model_version``, ``time``,
    ``request`` (a running line number over the window: instances of one /rank request share a
    case), ``prediction_id`` and ``lawyer_id`` (/rank lines; None elsewhere and in lines written
    before ids existed).

    Reads the whole current window, the rotated files ``path.N ... path.1`` and then ``path``,
    oldest first, as one log. Columns are gathered line by line and turned into one DataFrame at
    the end, not a DataFrame per line. A torn last line of a file (the
    service was killed mid-write) is skipped; any other bad line is an error naming the file and
    line number.
    """
    path = Path(path)
    columns: dict[str, list] = {name: [] for name in (*FEATURES, *_PER_LINE)}
    with _shared_lock(path):
        contents = [(p, p.read_bytes()) for p in log_files(path)]
    before = 0  # lines in the files read so far: ``request`` is the line number in the window
    for file, data in contents:
        lines = data.splitlines()
        for number, text in enumerate(lines, start=1):
            rec = _record(text, file, number, last=number == len(lines))
            if rec is not None:
                _append(columns, rec, before + number)
        before += len(lines)
    if not columns["request"]:
        raise ValueError(f"{path}: the prediction log holds no records")
    return pd.DataFrame(columns)
