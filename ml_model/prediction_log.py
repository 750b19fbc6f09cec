"""The prediction log: what the service scored, for the monitor to compare with training data.

The writer lives here and the reader in ``prediction_log_reader`` (which names the window's files
for both); ``read_prediction_log`` is importable from here too, and the round-trip tests keep the
two in step.

Rotation: when the file reaches ``PREDICTION_LOG_MAX_BYTES`` (default 100 MiB) the writer that
notices renames ``path`` to ``path.1`` (``path.1`` to ``path.2`` ..., dropping the oldest beyond
``PREDICTION_LOG_KEEP``, default 5) and opens a fresh ``path``; the other gunicorn workers see the
inode change at their next write and reopen. ``read_prediction_log(path)`` reads
``path.N ... path.1, path``, oldest first, as one window. ``PREDICTION_LOG_MAX_BYTES=0`` turns our
rotation off, for logrotate's ``copytruncate`` (see README).

Shipping (``scripts/ship_logs.py``, which also rotates the file once a day with ``rotate_files``):
once a shipper has run on this host, its ledger ``<path>.shipped/`` holds one marker per rotated
file it put into the log store, named by ``ship_key`` (inode, size, mtime: the same through the
renames ``path.1`` -> ``path.2``). From then on a rotated file beyond the limit is deleted only if
it was shipped; an unshipped one is kept (shifted to a higher number), so the window grows while a
shipper is stalled and nothing leaves the host unshipped. Without a ledger, rotation is as above.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ml_model.prediction_log_reader import lock_path, log_files, read_prediction_log, rotated_path
from ml_model.schema import FEATURES

__all__ = ["LogEntry", "PredictionLog", "format_line", "read_prediction_log", "rotate_files"]

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
DEFAULT_KEEP = 5
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


@dataclass(frozen=True)
class LogEntry:
    """One answered request: what was scored, by which model, and the id outcomes refer to."""

    model_version: str
    when: float
    cols: dict[str, np.ndarray]
    probs: list[float]
    prediction_id: str
    lawyer_ids: list[Any] | None = None  # /rank only: with prediction_id, it names a shown pair


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def _column(values: Any) -> Any:
    """A column as orjson writes it: numeric arrays as they are (OPT_SERIALIZE_NUMPY writes the
    same text as for their ``tolist()``, without building the list), anything else as a list."""
    if isinstance(values, np.ndarray):
        if values.dtype.kind in "if" and values.ndim == 1:
            return values if values.flags.c_contiguous else np.ascontiguousarray(values)
        return values.tolist()
    return list(values)


def _plain(value: Any) -> Any:
    """``value`` with everything JSON cannot carry replaced: lone surrogates by U+FFFD, integers
    outside 64 bits by their digits, arrays by lists. Only for a line orjson refused."""
    if isinstance(value, str):
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, dict):
        return {_plain(str(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return _plain(value.item())
    return _plain(str(value))


def format_line(entry: LogEntry) -> bytes:
    """One request's line. A line orjson refuses is written with the offending values replaced
    (and ``"sanitized": true``), never dropped: the service validates everything it logs, so
    this is a last line of defence, counted and logged when it happens."""
    line: dict[str, Any] = {
        "time": datetime.fromtimestamp(entry.when, UTC).isoformat(timespec="milliseconds"),
        "model_version": entry.model_version,
        "prediction_id": entry.prediction_id,
        "features": {name: _column(entry.cols[name]) for name in FEATURES},
        "match_probability": _column(np.asarray(entry.probs, dtype=np.float64)),
    }
    if entry.lawyer_ids is not None:
        line["lawyer_id"] = list(entry.lawyer_ids)
    try:
        return orjson.dumps(line, option=_NUMPY) + b"\n"
    except (TypeError, orjson.JSONEncodeError) as exc:
        log.error(
            "Prediction %s: its log line could not be written as it was (%s); writing it sanitized.",
            entry.prediction_id,
            exc,
        )
        line = _plain(line)
        line["sanitized"] = True
        return orjson.dumps(line) + b"\n"


class PredictionLog:
    """Appends what each request scored as one JSON line, after the response has been sent.

    A line holds the request's columns (the features of every scored instance), the
    probabilities, the model version and the time; ``read_prediction_log`` expands it into one
    row per instance. The service registers ``write`` with ``Response.call_on_close``, so the
    client has its answer before the line is formatted. (A background thread was tried first: it
    took the GIL from the request thread mid-request and slowed a 1,000-lawyer /rank.)
    Each write is one ``write()`` of a whole line to a file opened for appending (O_APPEND), so
    lines from several gunicorn workers do not interleave.

    Rotation by size (``max_bytes``; 0 turns it off), keeping ``keep`` rotated files. Writes hold
    a shared flock on ``<path>.lock`` and the rotation an exclusive one, so no line can go to a
    file in the middle of being renamed; a worker only ever *tries* the exclusive lock (a reader
    holding a shared one makes it skip, and the next write tries again), so a request never waits.
    Before each write a worker compares ``path``'s inode with its own descriptor's (one ``stat``)
    and reopens when another worker, or logrotate, has moved the file.
    """

    def __init__(self, path: Path, max_bytes: int | None = None, keep: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # clients' data: 0600 in 0700
        self.max_bytes = (
            _env_int("PREDICTION_LOG_MAX_BYTES", DEFAULT_MAX_BYTES) if max_bytes is None else max_bytes
        )
        self.keep = _env_int("PREDICTION_LOG_KEEP", DEFAULT_KEEP) if keep is None else keep
        self._lock = threading.Lock()  # the development server is threaded
        self._lock_fd = (
            os.open(lock_path(self.path), os.O_RDONLY | os.O_CREAT, 0o600) if self.max_bytes > 0 else None
        )
        self._fd = -1
        self._ino = -1
        self.failed_writes = 0
        self._open()

    def _open(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._ino = fd, os.fstat(fd).st_ino

    def _follow(self) -> None:
        """Reopen ``path`` when it is no longer the file our descriptor writes to."""
        try:
            moved = os.stat(self.path).st_ino != self._ino
        except FileNotFoundError:
            moved = True
        if moved:
            self._open()

    def write(self, entry: LogEntry) -> bool:
        """Append one request's line with a single write(), so workers never interleave.

        Never raises (it runs after the response is sent): a failure is logged with the
        prediction id and counted in ``failed_writes``; returns whether the line was written."""
        try:
            data = format_line(entry)
            with self._lock:
                self._append(data)
            return True
        except Exception:
            self.failed_writes += 1
            log.exception("Prediction %s was answered but could not be logged.", entry.prediction_id)
            return False

    def _append(self, data: bytes) -> None:
        if self._lock_fd is None:
            self._follow()
            _write_all(self._fd, data)
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_SH)
        try:
            self._follow()
            _write_all(self._fd, data)
            end = os.lseek(self._fd, 0, os.SEEK_CUR)  # O_APPEND: the file's end just after our line
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        if end >= self.max_bytes:
            self._rotate()

    def _rotate(self) -> None:
        """Shift ``path.i`` to ``path.i+1`` (dropping ``path.keep``), ``path`` to ``path.1``, reopen."""
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # someone is rotating or reading the window: the next write tries again
        try:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                self._open()
                return
            if st.st_ino != self._ino or st.st_size < self.max_bytes:
                self._follow()  # another worker rotated first
                return
            rotate_files(self.path, self.keep)
            self._open()
            log.info(
                "Rotated the prediction log %s at %d bytes (keeping %d).", self.path, st.st_size, self.keep
            )
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the file descriptors (the development server's shutdown)."""
        os.close(self._fd)
        if self._lock_fd is not None:
            os.close(self._lock_fd)


def shipped_ledger(path: Path) -> Path:
    """The shippers' ledger beside the log: it exists once a shipper has run on this host."""
    return path.with_name(path.name + ".shipped")


def ship_key(st: os.stat_result) -> str:
    """A rotated file's name in the ledger: unchanged by renames, new for a rewritten file."""
    return f"{st.st_ino}-{st.st_size}-{st.st_mtime_ns}"


def is_shipped(file: Path, ledger: Path) -> bool:
    """Whether ``file`` is in the store (at least once), by its marker in ``ledger``."""
    try:
        return (ledger / ship_key(os.stat(file))).is_file()
    except FileNotFoundError:
        return True  # gone: nothing of it is left to keep


def rotate_files(path: Path, keep: int) -> None:
    """Shift ``path.i`` to ``path.i+1`` and ``path`` to ``path.1``, dropping what is past ``keep``.

    The caller holds the exclusive lock (``lock_path``). Without a ledger (no shipper on this
    host) files at or past ``keep`` go first, as always. With one, every rotated file shifts up
    (highest first, so no rename overwrites a file) and then only shipped files past ``keep`` are
    deleted: a kill between two renames loses nothing, it leaves a gap the window skips."""
    ledger = shipped_ledger(path)
    if not ledger.is_dir():
        for old in log_files(path)[:-1]:  # rotated files at or past the limit (keep lowered)
            if int(old.name.rsplit(".", 1)[1]) >= max(keep, 1):
                old.unlink(missing_ok=True)
        for i in range(keep - 1, 0, -1):
            if rotated_path(path, i).exists():
                os.replace(rotated_path(path, i), rotated_path(path, i + 1))
        if keep:
            os.replace(path, rotated_path(path, 1))
        else:
            path.unlink(missing_ok=True)
        return
    rotated = [int(p.name.rsplit(".", 1)[1]) for p in log_files(path) if p != path]
    for i in sorted(rotated, reverse=True):
        os.replace(rotated_path(path, i), rotated_path(path, i + 1))
    if path.exists():
        os.replace(path, rotated_path(path, 1))
    for i in rotated:
        if i + 1 > keep and is_shipped(rotated_path(path, i + 1), ledger):
            rotated_path(path, i + 1).unlink(missing_ok=True)


def _write_all(fd: int, data: bytes) -> None:
    """One write() of the whole line (a regular file takes it whole); finish a short write."""
    done = os.write(fd, data)
    while done < len(data):  # only on a full disk or a signal; the rest still lands after it
        done += os.write(fd, data[done:])
