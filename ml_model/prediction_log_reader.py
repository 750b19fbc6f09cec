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
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from ml_model.prediction_log_columns import Columns, stream_lines
from ml_model.prediction_log_lines import (
    MAX_LINE_BYTES,
    BadLine,
    Line,
    parse_line,
    repeated_lawyers,
    select_instances,
)
from ml_model.schema import short_repr

log = logging.getLogger(__name__)

NAMED_PROBLEMS = 10  # bad lines (and conflicts) named one by one in warnings; the rest are counted


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


# ---------------------------------------------------------------------------------------------
# Columns


class _Reader:
    """One scan over one or more windows: bad lines named, copies of a request resolved."""

    def __init__(self) -> None:
        self.columns = Columns()
        self.scan = LogScan()
        self.request = 0  # running line number over everything read: a line is a request
        self.seen: dict[str, tuple[bytes, int, str]] = {}  # prediction_id: digest, line index, where
        self.conflicts: dict[str, list[str]] = {}  # prediction_id: where its copies are
        self.named_bad = 0
        self.named_conflicts = 0

    def bad(self, where: str, problem: BadLine) -> None:
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
        for number, text, last in stream_lines(stream, size, MAX_LINE_BYTES):
            self.request += 1
            where = f"{name}, line {number}"
            if text is None:
                self.scan.lines += 1
                self.bad(where, BadLine(None, f"longer than {MAX_LINE_BYTES} bytes"))
                continue
            if not text.strip():
                continue
            self.scan.lines += 1
            try:
                line = parse_line(text)
            except BadLine as problem:
                if last and not text.endswith(b"\n") and problem.field is None:
                    self.scan.torn_lines += 1  # the writer was killed mid-line
                    log.info("%s: a torn last line (the writer stopped mid-line); skipped.", where)
                else:
                    self.bad(where, problem)
                continue
            self.add(line, where)

    def add(self, line: Line, where: str) -> None:
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
            keep, duplicates, conflicting = repeated_lawyers(line)
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
            line = select_instances(line, keep)
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
