"""Reading the prediction log: the current window of files, oldest first, as one typed DataFrame.

The window's files (``path.N ... path.1, path``) and the lock that rotation and readers agree on
are named here; ``prediction_log.PredictionLog`` writes and rotates them. A line is one request
(``prediction_log.format_line``); a row of the DataFrame is one scored instance.

The log is read as a stream, line by line, into typed columns (numbers in arrays, categories as
codes, lawyer ids as the exact objects served), never as one list of Python objects per value:
a 100 MiB file took 1.4 GB the old way. Every line is checked against what the writer writes; a
line that breaks it is skipped and named (file, line, field) in a warning, capped so that a flood
of bad lines does not flood the log. Copies of one ``prediction_id`` are one request logged twice
(a copy of a rotated file): identical copies are read once; copies whose features or lawyers
differ cannot all be true, so every copy is dropped and reported as a conflict.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson
import pandas as pd

from ml_model.schema import FEATURE_FIELDS, FEATURES, MAX_LAWYER_ID, MAX_TEXT_CHARS, Field, short_repr

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 32 * 1024 * 1024  # a 10,000-instance /rank line is a few MiB; longer is damage
NAMED_PROBLEMS = 10  # bad lines (and conflicts) named one by one in warnings; the rest are counted
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    """Hold the rotation lock shared, so no file of the window is renamed while we open them."""
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


def lawyer_key(value: Any) -> str:
    """The text a lawyer id is joined by: a string as it is, an integer in digits (never "10.0").
    The backend compares ids the same way (JavaScript's ``String(id)``)."""
    return value if type(value) is str else str(value)


# ---------------------------------------------------------------------------------------------
# What one scan found


@dataclass
class LogScan:
    """What reading found besides the rows: every line that is not in the frame is counted here.

    ``*_pairs`` count the dropped rows that carried a lawyer id (/rank), for the feedback report.
    """

    files: list[str] = field(default_factory=list)
    lines: int = 0  # non-blank lines
    bad_lines: int = 0
    bad_by_field: Counter = field(default_factory=Counter)
    torn_lines: int = 0  # a last line cut short by a killed writer: expected, not a warning
    duplicate_lines: int = 0
    duplicate_rows: int = 0
    duplicate_pairs: int = 0
    conflict_ids: set[str] = field(default_factory=set)  # every copy of these requests dropped
    conflict_pair_keys: set[tuple[str, str]] = field(default_factory=set)  # (prediction_id, lawyer key)
    bad_ids: set[str] = field(default_factory=set)  # prediction_ids of bad lines, where readable
    conflict_lines: int = 0
    conflict_rows: int = 0
    conflict_pairs: int = 0


class _BadLine(Exception):
    """A line that breaks the writer's format: the field (None for the line itself) and why."""

    def __init__(self, field_name: str | None, problem: str) -> None:
        super().__init__(problem)
        self.field = field_name
        self.problem = problem
        self.prediction_id: str | None = None  # the line's, when it is readable


def _kind(value: Any) -> str:
    """A value's kind in words, never its content (features are a client's data)."""
    kinds = {bool: "a true/false value", type(None): "null", str: "text", list: "a list", dict: "an object"}
    return kinds.get(type(value), "a number" if type(value) in (int, float) else type(value).__name__)


def _shown(value: Any) -> str:
    """A value of a field that is not client data (ids, times), as JSON names it."""
    if value is None or type(value) is bool:
        return orjson.dumps(value).decode()
    return short_repr(value)


def _list(rec: dict[str, Any], name: str, n: int | None, where: str | None = None) -> list[Any]:
    value = rec.get(name)
    label = where or name
    if type(value) is not list:
        raise _BadLine(label, f"must be a list, got {_kind(value)}")
    if n is not None and len(value) != n:
        raise _BadLine(label, f"holds {len(value)} values for {n} instances")
    return value


def _text(rec: dict[str, Any], name: str, limit: int = MAX_TEXT_CHARS) -> str | None:
    """An optional text field (lines written before prediction ids existed have none)."""
    value = rec.get(name)
    if value is None:
        return None
    if type(value) is not str or not value or len(value) > limit:
        raise _BadLine(name, f"must be text of 1 to {limit} characters, got {_shown(value)}")
    return value


def _time(rec: dict[str, Any]) -> int:
    """The line's time in microseconds since 1970 (a time without a zone is UTC)."""
    value = rec.get("time")
    if type(value) is not str or len(value) > 64:
        raise _BadLine("time", f"must be an ISO 8601 time, got {_shown(value)}")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise _BadLine("time", f"must be an ISO 8601 time, got {_shown(value)}") from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return (when - _EPOCH) // _MICROSECOND


_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH
_NUMBER = {int, float}


def _numbers(f: Field, values: list[Any]) -> list[Any]:
    """A numeric feature's values, checked as the service checked them before scoring."""
    types = set(map(type, values))
    if not types <= _NUMBER:
        odd = next(v for v in values if type(v) not in _NUMBER)
        raise _BadLine(f.name, f"must be {f.describe()}, got {_kind(odd)}")
    if (f.min is not None and min(values) < f.min) or (f.max is not None and max(values) > f.max):
        raise _BadLine(f.name, f"must be {f.describe()}, got a value outside it")
    if f.kind == "int" and float in types:
        if not all(float(v).is_integer() for v in values):
            raise _BadLine(f.name, f"must be {f.describe()}, got a fraction")
        return [int(v) for v in values]
    return values


def _categories(f: Field, values: list[Any]) -> None:
    """A category feature's values: text (an unknown category is scored and logged, so kept)."""
    try:
        distinct = set(values)
    except TypeError:  # a list or an object among them
        distinct = set()
    if not distinct or set(map(type, distinct)) != {str}:
        odd = next(v for v in values if type(v) is not str)
        raise _BadLine(f.name, f"must be text, got {_kind(odd)}")
    if max(map(len, distinct)) > MAX_TEXT_CHARS:
        raise _BadLine(f.name, f"must be at most {MAX_TEXT_CHARS} characters")


def _bad_lawyer_id(value: Any) -> _BadLine:
    return _BadLine(
        "lawyer_id",
        f"must be text of 1 to {MAX_TEXT_CHARS} characters or an integer in [0, 2**53), got {_shown(value)}",
    )


def _lawyer_ids(rec: dict[str, Any], n: int) -> tuple[list[Any] | None, bool]:
    """/rank's lawyer ids as served (strings or integers), or None for a /predict line; and
    whether one lawyer is listed twice (as ``lawyer_key`` compares them)."""
    if rec.get("lawyer_id") is None:
        return None, False
    ids = _list(rec, "lawyer_id", n)
    types = set(map(type, ids))
    if types == {int}:
        if min(ids) < 0 or max(ids) >= MAX_LAWYER_ID:
            raise _bad_lawyer_id(min(ids) if min(ids) < 0 else max(ids))
        return ids, len(set(ids)) < n
    if types == {str}:
        if min(map(len, ids)) < 1 or max(map(len, ids)) > MAX_TEXT_CHARS:
            raise _bad_lawyer_id(next(v for v in ids if not 0 < len(v) <= MAX_TEXT_CHARS))
        return ids, len(set(ids)) < n
    for value in ids:  # a mix of text and integers, or something else
        kind = type(value)
        if not (kind is int and 0 <= value < MAX_LAWYER_ID) and not (
            kind is str and 0 < len(value) <= MAX_TEXT_CHARS
        ):
            raise _bad_lawyer_id(value)
    return ids, len(set(map(lawyer_key, ids))) < n


@dataclass
class _Line:
    """One checked line, ready to append: its columns, its instances and its identity."""

    n: int
    features: dict[str, list[Any]]
    probs: list[float]
    model_version: str | None
    time: int
    prediction_id: str | None
    lawyer_ids: list[Any] | None
    digest: bytes
    repeated: bool = False  # a lawyer listed twice


def _parse(text: bytes) -> _Line:
    """Check one line against the writer's format; _BadLine names the first field that breaks it."""
    try:
        rec = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _BadLine(None, f"not JSON ({str(exc).split(':', 1)[0][:60]})") from None
    if type(rec) is not dict:
        raise _BadLine(None, f"not a JSON object but {_kind(rec)}")
    try:
        return _check(rec)
    except _BadLine as problem:
        pid = rec.get("prediction_id")
        problem.prediction_id = pid if type(pid) is str and len(pid) <= MAX_TEXT_CHARS else None
        raise


def _check(rec: dict[str, Any]) -> _Line:
    """The checks of one parsed line, field by field, in the order the writer writes them."""
    probs = _list(rec, "match_probability", None)
    n = len(probs)
    if not n:
        raise _BadLine("match_probability", "holds no instances")
    if not set(map(type, probs)) <= {int, float, type(None)}:  # NaN is written as null
        raise _BadLine("match_probability", "must be numbers")
    if None in probs:
        probs = [np.nan if p is None else p for p in probs]
    feats = rec.get("features")
    if type(feats) is not dict:
        raise _BadLine("features", f"must be an object, got {_kind(feats)}")
    columns: dict[str, list[Any]] = {}
    for f in FEATURE_FIELDS:
        if f.name not in feats:
            raise _BadLine(f.name, "missing")
        values = _list(feats, f.name, n)
        if f.kind == "category":
            _categories(f, values)
            columns[f.name] = values
        else:
            columns[f.name] = _numbers(f, values)
    ids, repeated = _lawyer_ids(rec, n)
    line = _Line(
        n=n,
        features=columns,
        probs=probs,
        model_version=_text(rec, "model_version", limit=256),
        time=_time(rec),
        prediction_id=_text(rec, "prediction_id"),
        lawyer_ids=ids,
        digest=b"",
        repeated=repeated,
    )
    if line.prediction_id is not None:  # what the copies of one request must agree on
        body = orjson.dumps([columns, ids], option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
        line.digest = hashlib.blake2b(body, digest_size=16).digest()
    return line


def _repeated_lawyers(line: _Line) -> tuple[list[int], int, list[str]]:
    """A lawyer listed twice in one request: identical instances are one pair (the first is
    kept); instances that differ cannot both be the pair an outcome names, so all are dropped.
    Returns the instances to keep, how many were dropped as duplicates, and the conflicting
    lawyers' keys (each dropped with every instance of it)."""
    ids = line.lawyer_ids or []
    where: dict[str, list[int]] = {}
    for i, value in enumerate(ids):
        where.setdefault(lawyer_key(value), []).append(i)
    keep, duplicates, conflicts = [], 0, []
    for key, positions in where.items():
        rows = {tuple(line.features[name][i] for name in FEATURES) for i in positions}
        if len(rows) == 1:
            keep.append(positions[0])
            duplicates += len(positions) - 1
        else:
            conflicts.append(key)
    return sorted(keep), duplicates, conflicts


def _select(line: _Line, keep: list[int]) -> _Line:
    """The line with only the instances in ``keep``."""
    ids = line.lawyer_ids
    return _Line(
        n=len(keep),
        features={k: [v[i] for i in keep] for k, v in line.features.items()},
        probs=[line.probs[i] for i in keep],
        model_version=line.model_version,
        time=line.time,
        prediction_id=line.prediction_id,
        lawyer_ids=None if ids is None else [ids[i] for i in keep],
        digest=line.digest,
    )


# ---------------------------------------------------------------------------------------------
# Columns


class _Columns:
    """Typed accumulators: a float or int64 array per number, int32 codes per category, the
    lawyer ids as the very objects served (one object per distinct id), per-line values once."""

    def __init__(self) -> None:
        self.numbers = {
            f.name: array("q" if f.kind == "int" else "d") for f in FEATURE_FIELDS if f.kind != "category"
        }
        self.codes = {f.name: array("i") for f in FEATURE_FIELDS if f.kind == "category"}
        self.vocab: dict[str, dict[str, int]] = {name: {} for name in self.codes}
        self.probs = array("d")
        self.lawyer_ids: list[Any] = []
        self._ids: dict[Any, Any] = {}
        # per line
        self.counts = array("q")
        self.requests = array("q")
        self.times = array("q")
        self.prediction_ids: list[str | None] = []
        self.model_versions: list[str | None] = []
        self.has_ids = bytearray()

    def append(self, line: _Line, request: int) -> int:
        """Add a checked line's instances; returns the line's index."""
        for name, acc in self.numbers.items():
            acc.extend(line.features[name])
        for name, acc in self.codes.items():
            values, table = line.features[name], self.vocab[name]
            for new in set(values).difference(table):
                table[new] = len(table)
            acc.extend(map(table.__getitem__, values))
        self.probs.extend(line.probs)
        if line.lawyer_ids is None:
            self.lawyer_ids.extend([None] * line.n)
        else:
            self.lawyer_ids.extend(map(self._ids.setdefault, line.lawyer_ids, line.lawyer_ids))
        self.counts.append(line.n)
        self.requests.append(request)
        self.times.append(line.time)
        self.prediction_ids.append(line.prediction_id)
        self.model_versions.append(line.model_version)
        self.has_ids.append(line.lawyer_ids is not None)
        return len(self.counts) - 1

    def frame(self, drop_lines: Iterable[int]) -> pd.DataFrame:
        """The DataFrame, without the lines in ``drop_lines``; the accumulators are emptied."""
        counts = np.frombuffer(self.counts, dtype=np.int64) if len(self.counts) else np.zeros(0, np.int64)
        keep_line = np.ones(len(counts), dtype=bool)
        keep_line[list(drop_lines)] = False
        rows = None if keep_line.all() else np.repeat(keep_line, counts)

        def take(values: np.ndarray) -> np.ndarray:
            return values if rows is None else values[rows]

        def per_line(values: list[Any]) -> np.ndarray:
            return take(np.repeat(np.array(values, dtype=object), counts))

        out: dict[str, Any] = {}
        for f in FEATURE_FIELDS:
            if f.kind == "category":
                codes = take(np.frombuffer(self.codes.pop(f.name), dtype=np.int32))
                out[f.name] = pd.Categorical.from_codes(codes, categories=list(self.vocab[f.name]))
            else:
                dtype = np.int64 if f.kind == "int" else np.float64
                out[f.name] = take(np.frombuffer(self.numbers.pop(f.name), dtype=dtype))
        out["match_probability"] = take(np.frombuffer(self.probs, dtype=np.float64))
        codes, versions = pd.factorize(np.array(self.model_versions, dtype=object))  # None: code -1
        out["model_version"] = pd.Categorical.from_codes(take(np.repeat(codes, counts)), categories=versions)
        out["time"] = pd.DatetimeIndex(
            take(np.repeat(np.frombuffer(self.times, dtype=np.int64), counts)).astype("datetime64[us]"),
            tz=UTC,
        )
        out["request"] = take(np.repeat(np.frombuffer(self.requests, dtype=np.int64), counts))
        out["prediction_id"] = per_line(self.prediction_ids)
        ids = np.empty(len(self.lawyer_ids), dtype=object)
        ids[:] = self.lawyer_ids
        self.lawyer_ids = []
        out["lawyer_id"] = take(ids)
        return pd.DataFrame(out, copy=False)


# ---------------------------------------------------------------------------------------------
# Reading


def _lines(stream: BinaryIO, size: int) -> Iterator[tuple[int, bytes | None, bool]]:
    """(line number, text, last) for the first ``size`` bytes; text None for an over-long line."""
    number, remaining = 0, size
    while remaining > 0:
        text = stream.readline(min(MAX_LINE_BYTES + 1, remaining))
        if not text:
            return
        remaining -= len(text)
        number += 1
        if len(text) > MAX_LINE_BYTES and not text.endswith(b"\n"):
            while remaining > 0:  # skip to the end of the line without holding it
                rest = stream.readline(min(1 << 20, remaining))
                remaining -= len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, None, remaining <= 0
            continue
        yield number, text, remaining <= 0 or not text.endswith(b"\n")


class _Reader:
    """One scan over one or more windows: bad lines named, copies of a request resolved."""

    def __init__(self) -> None:
        self.columns = _Columns()
        self.scan = LogScan()
        self.request = 0  # running line number over everything read: a line is a request
        self.seen: dict[str, tuple[bytes, int, str]] = {}  # prediction_id: digest, line index, where
        self.conflicts: dict[str, list[str]] = {}  # prediction_id: where its copies are
        self.named_bad = 0
        self.named_conflicts = 0

    def bad(self, where: str, problem: _BadLine) -> None:
        self.scan.bad_lines += 1
        if problem.prediction_id is not None:
            self.scan.bad_ids.add(problem.prediction_id)
        self.scan.bad_by_field[problem.field or "(the line)"] += 1
        if self.named_bad < NAMED_PROBLEMS:
            self.named_bad += 1
            what = f", field '{problem.field}'" if problem.field else ""
            log.warning("%s%s: %s; line skipped.", where, what, problem.problem)

    def conflict(self, message: str, *args: Any) -> None:
        if self.named_conflicts < NAMED_PROBLEMS:
            self.named_conflicts += 1
            log.warning(message, *args)

    def read_file(self, name: str, stream: BinaryIO, size: int) -> None:
        self.scan.files.append(name)
        for number, text, last in _lines(stream, size):
            self.request += 1
            where = f"{name}, line {number}"
            if text is None:
                self.scan.lines += 1
                self.bad(where, _BadLine(None, f"longer than {MAX_LINE_BYTES} bytes"))
                continue
            if not text.strip():
                continue
            self.scan.lines += 1
            try:
                line = _parse(text)
            except _BadLine as problem:
                if last and not text.endswith(b"\n") and problem.field is None:
                    self.scan.torn_lines += 1  # the writer was killed mid-line
                    log.info("%s: a torn last line (the writer stopped mid-line); skipped.", where)
                else:
                    self.bad(where, problem)
                continue
            self.add(line, where)

    def add(self, line: _Line, where: str) -> None:
        pid, pairs = line.prediction_id, line.lawyer_ids is not None
        if pid is not None:
            if pid in self.conflicts:
                self._conflict(pid, where, line.n, pairs)
                return
            first = self.seen.get(pid)
            if first is not None:
                if first[0] == line.digest:
                    self.scan.duplicate_lines += 1
                    self.scan.duplicate_rows += line.n
                    self.scan.duplicate_pairs += line.n if pairs else 0
                else:
                    self.conflicts[pid] = [first[2]]
                    self._conflict(pid, where, line.n, pairs)
                return
        if line.repeated:
            keep, duplicates, conflicting = _repeated_lawyers(line)
            self.scan.duplicate_rows += duplicates
            self.scan.duplicate_pairs += duplicates
            dropped = line.n - len(keep) - duplicates
            self.scan.conflict_rows += dropped
            self.scan.conflict_pairs += dropped
            self.scan.conflict_pair_keys.update((pid or "", key) for key in conflicting)
            if conflicting:
                self.conflict(
                    f"{where}: a lawyer listed twice with different features; those instances dropped."
                )
            if not keep:
                return
            line = _select(line, keep)
        index = self.columns.append(line, self.request)
        if pid is not None:
            self.seen[pid] = (line.digest, index, where)

    def _conflict(self, pid: str, where: str, n: int, pairs: bool) -> None:
        self.conflicts[pid].append(where)
        self.scan.conflict_lines += 1
        self.scan.conflict_rows += n
        self.scan.conflict_pairs += n if pairs else 0

    def finish(self) -> pd.DataFrame:
        drop = []
        counts, has_ids = self.columns.counts, self.columns.has_ids
        for pid, places in self.conflicts.items():
            index = self.seen[pid][1]
            drop.append(index)
            self.scan.conflict_ids.add(pid)
            self.scan.conflict_lines += 1
            self.scan.conflict_rows += counts[index]
            self.scan.conflict_pairs += counts[index] if has_ids[index] else 0
            self.conflict(
                "prediction_id %s is logged %d times with different features or lawyers (%s): "
                "no copy can be trusted, all are dropped.",
                short_repr(pid),
                len(places),
                "; ".join(places[:5]) + ("; ..." if len(places) > 5 else ""),
            )
        scan = self.scan
        if scan.bad_lines > self.named_bad or self.named_conflicts >= NAMED_PROBLEMS:
            log.warning(
                "In all: %d bad line(s) skipped (by field: %s), %d conflict(s) dropped (%d rows); "
                "only the first %d of each kind are named.",
                scan.bad_lines,
                ", ".join(f"{k} {v}" for k, v in scan.bad_by_field.most_common()) or "none",
                len(self.conflicts),
                scan.conflict_rows,
                NAMED_PROBLEMS,
            )
        if scan.duplicate_lines:
            log.info(
                "%d line(s) repeat an earlier line of the same prediction_id (a copied file?); read once.",
                scan.duplicate_lines,
            )
        return self.columns.frame(drop)


def scan_prediction_logs(paths: Sequence[str | Path]) -> tuple[pd.DataFrame, LogScan]:
    """One row per scored instance of every window in ``paths`` (each ``path.N ... path.1,
    path``, oldest first, as one log), and what was left out on the way.

    The columns: the features (numbers as int64 or float64, categories as pandas categoricals),
    ``match_probability``, ``model_version``, ``time`` (UTC), ``request`` (a running line
    number: instances of one /rank request share a case), ``prediction_id`` and ``lawyer_id``
    (/rank lines: the ids exactly as served, strings or integers, in an object column; None for
    /predict lines and lines written before ids existed).

    The files are opened under the rotation lock and then read without it: a rotation renames
    files, and an open file stays the one we opened, so the reader sees one consistent window
    and never holds up the writers. A torn last line of a file (the service was killed
    mid-write) is skipped; any other bad line is skipped and named in a warning. Raises
    ValueError when nothing usable is left.
    """
    reader = _Reader()
    for path in map(Path, paths):
        with ExitStack() as files:
            with _shared_lock(path):
                streams = [(p, files.enter_context(open(p, "rb"))) for p in log_files(path)]
            for file, stream in streams:
                reader.read_file(str(file), stream, os.fstat(stream.fileno()).st_size)
    frame = reader.finish()
    if frame.empty:
        scan = reader.scan
        why = (
            f" ({scan.bad_lines} bad line(s), {len(scan.conflict_ids)} conflicting id(s))"
            if scan.lines
            else ""
        )
        raise ValueError(f"{', '.join(map(str, paths))}: the prediction log holds no records{why}")
    return frame, reader.scan


def read_prediction_log(path: str | Path) -> pd.DataFrame:
    """One row per scored instance of the window ``path.N ... path.1, path`` (``scan_prediction_logs``
    for the columns, and for what was skipped)."""
    return scan_prediction_logs([path])[0]
