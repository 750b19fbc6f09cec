"""Shipping one host's rotated prediction-log files to the log store: at least once, never doubled.

A run (``scripts/ship_logs.py``, from cron or a systemd timer, beside the service):

1. creates the ledger (``logstore.ledger``): from then on the service keeps unshipped files;
2. rotates the live file the way the service does (``rotate_files`` under the same exclusive
   lock) when its first lines are from an earlier UTC day, so a run after midnight ships all of
   yesterday (not with ``PREDICTION_LOG_MAX_BYTES=0``: then logrotate rotates);
3. notes, under the readers' shared lock, the rotated files and the earliest time in the live
   file: everything served before that, less ``LATE_SLACK``, is in those files or already shipped;
4. ships each unshipped rotated file, oldest first, holding the host's shipping lock: its rows
   (read by the reader, ``scan_prediction_logs``: a line it rejects is not shipped) split by the
   UTC day of their time into parts named by the file's content, then its marker. A kill anywhere
   leaves either the marker (shipped) or parts that the next run rewrites under the same names;
5. prunes the markers of files no longer here and records the run in ``hosts/<host>.json``.

A rotated file is immutable once renamed (writers follow the inode change under the lock), and it
is opened by name then checked to still be the file listed (inode, size, mtime) before and after
reading; a file that moved meanwhile is listed again, one that vanished (``privacy.py expire``
deleted it) is skipped with a sentence. Rows are never logged.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from logstore.ledger import Ledger
from logstore.rows import by_day, frame_to_table
from logstore.store import HostState, LogStore
from ml_model.prediction_log import DEFAULT_KEEP, DEFAULT_MAX_BYTES, rotate_files, ship_key
from ml_model.prediction_log_reader import lock_path, log_files, scan_prediction_logs

log = logging.getLogger(__name__)

LATE_SLACK = timedelta(minutes=5)  # a request's line is written after its answer, seconds after its time
FIRST_BYTES = 1 << 20  # the live file's first lines, for its earliest time
LOCK_TIMEOUT_S = 120.0  # waiting for privacy.py (or another shipper) to let go of the host's lock
ROTATE_TIMEOUT_S = 30.0  # waiting for readers of the window before rotating
MAX_RELISTS = 1000


class ShipError(RuntimeError):
    """Shipping could not finish; what was shipped stays shipped (run again)."""


class _Moved(Exception):
    """The file listed is no longer at its name."""


@dataclass
class ShipResult:
    """What one run did."""

    host: str
    rotated: bool = False
    files_shipped: int = 0
    rows_shipped: int = 0
    parts_written: int = 0
    files_vanished: int = 0
    lines_rejected: int = 0
    complete_through: datetime | None = None
    shipped: list[str] = field(default_factory=list)


def env_int(name: str, default: int) -> int:
    """A whole, non-negative setting, read as the service reads it."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ValueError(f"{name} must be a whole number of at least 0, got {raw!r}")
    return int(raw)


def earliest_time(path: Path) -> datetime | None:
    """The earliest ``time`` among the live file's first lines (None: empty, absent or unreadable)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(FIRST_BYTES)
    except FileNotFoundError:
        return None
    found = None
    for line in head.split(b"\n")[:-1]:  # complete lines only
        try:
            when = datetime.fromisoformat(orjson.loads(line)["time"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        found = when if found is None or when < found else found
    return found


def _lock(path: Path, kind: int, timeout: float) -> int | None:
    """The log's rotation lock taken (``kind``), waiting up to ``timeout``; None when it stayed taken."""
    fd = os.open(lock_path(path), os.O_RDONLY | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                return None
            time.sleep(0.05)


def rotate_if_old(path: Path, now: datetime, keep: int) -> bool:
    """Rotate the live file as the service does when its first lines are from before today (UTC)."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = earliest_time(path)
    if first is None or first >= midnight:
        return False
    fd = _lock(path, fcntl.LOCK_EX, ROTATE_TIMEOUT_S)
    if fd is None:
        log.warning("%s stayed locked by a reader: not rotated this run (the next run will).", path)
        return False
    try:
        first = earliest_time(path)  # again: a worker may have rotated it meanwhile
        if first is None or first >= midnight:
            return False
        rotate_files(path, keep)
    finally:
        os.close(fd)  # releases the lock
    log.info("Rotated %s: its first line was served on %s, before today (UTC).", path, first.date())
    return True


def _listing(path: Path) -> tuple[list[tuple[Path, os.stat_result]], datetime | None]:
    """The rotated files (oldest first) with their stat, and the live file's earliest time, as one
    consistent view: under the shared lock no file is renamed."""
    fd = _lock(path, fcntl.LOCK_SH, ROTATE_TIMEOUT_S) if lock_path(path).exists() else None
    try:
        files = []
        for p in log_files(path):
            if p != path:
                try:
                    files.append((p, os.stat(p)))
                except FileNotFoundError:
                    continue
        return files, earliest_time(path)
    finally:
        if fd is not None:
            os.close(fd)


def _ship_file(
    path: Path, st: os.stat_result, store: LogStore, host: str
) -> tuple[int, int, int, str] | None:
    """One rotated file's rows into the store: (rows, parts, lines rejected, source_id); None when
    the file is gone."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed below, before the store is written)
    except FileNotFoundError:
        return None
    with fh:
        opened = os.fstat(fh.fileno())
        if ship_key(opened) != ship_key(st):
            raise _Moved(path)
        source_id = hashlib.file_digest(fh, "sha256").hexdigest()[:16]
        try:
            frame, scan = scan_prediction_logs([path])
            rejected = scan.bad_lines + scan.conflict_lines
        except FileNotFoundError:
            raise _Moved(path) from None
        except ValueError:  # no usable line (the reader said which and why)
            frame, rejected = None, 0
        try:
            still = os.stat(path).st_ino == opened.st_ino  # the open file keeps its inode number ours
        except FileNotFoundError:
            still = False
        if not still:
            raise _Moved(path)
    rows = parts = 0
    if frame is not None:
        for day, table in by_day(frame_to_table(frame, host)):
            if store.write_part(day, host, source_id, table) is not None:
                parts += 1
            rows += table.num_rows
    return rows, parts, rejected, source_id


def _mark(
    ledger: Ledger, file: Path, st: os.stat_result, shipped: tuple[int, int, int, str], result: ShipResult
) -> None:
    """The file is in the store: its marker, a sentence, the run's counts."""
    rows, parts, rejected, source_id = shipped
    record = {"file": file.name, "source_id": source_id, "rows": rows, "parts": parts}
    ledger.mark(st, {**record, "shipped_at": datetime.now(UTC).isoformat()})
    log.info("Shipped %s: %d rows in %d part(s) (%s).", file, rows, parts, source_id)
    result.files_shipped += 1
    result.rows_shipped += rows
    result.parts_written += parts
    result.lines_rejected += rejected
    result.shipped.append(file.name)


def ship(
    path: Path, store: LogStore, host: str, rotate: bool = True, now: datetime | None = None
) -> ShipResult:
    """Ship every rotated file of the log at ``path`` not yet shipped (see the module's docstring)."""
    now = now or datetime.now(UTC)
    keep = env_int("PREDICTION_LOG_KEEP", DEFAULT_KEEP)
    max_bytes = env_int("PREDICTION_LOG_MAX_BYTES", DEFAULT_MAX_BYTES)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    ledger = Ledger(path)
    ledger.create()
    result = ShipResult(host)
    if rotate and max_bytes == 0:
        log.info("PREDICTION_LOG_MAX_BYTES=0: logrotate rotates %s, so this run does not.", path)
    elif rotate:
        result.rotated = rotate_if_old(path, now, keep)
    files, live_first = _listing(path)
    result.complete_through = min(live_first or now, now) - LATE_SLACK
    with ledger.locked(LOCK_TIMEOUT_S):
        store.clean_temporaries(host)
    tried: set[str] = set()
    for _ in range(MAX_RELISTS):
        pending = [(p, st) for p, st in files if ship_key(st) not in tried and not ledger.shipped(st)]
        if not pending:
            break
        file, st = pending[0]
        key = ship_key(st)
        tried.add(key)
        try:
            with ledger.locked(LOCK_TIMEOUT_S):
                shipped = None if ledger.shipped(st) else _ship_file(file, st, store, host)
                if shipped is not None:
                    _mark(ledger, file, st, shipped, result)
        except _Moved:
            shipped = None
        files, _ = _listing(path)
        if shipped is not None or ledger.shipped(st):
            continue
        if any(ship_key(s) == key for _, s in files):
            tried.discard(key)  # renamed by a rotation meanwhile: found again under its new name
        else:
            result.files_vanished += 1
            log.info("%s vanished before it was shipped (privacy.py expire?); skipped.", file)
    else:
        raise ShipError(f"{path}: the rotated files kept moving; {result.files_shipped} shipped, run again")
    with ledger.locked(LOCK_TIMEOUT_S):
        ledger.prune({ship_key(st) for _, st in _listing(path)[0]})
    store.put_host(HostState(host, now, result.complete_through, result.files_shipped, result.rows_shipped))
    if result.lines_rejected:
        log.warning("%d line(s) the reader rejected were not shipped (named above).", result.lines_rejected)
    return result
