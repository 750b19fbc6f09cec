"""The shippers' ledger on a host: which rotated files are in the store, and the lock they share.

``<log>.shipped/`` (0700) holds one marker (0600) per shipped file, named by
``ml_model.prediction_log.ship_key`` (inode, size, mtime: unchanged by the renames ``path.1`` ->
``path.2``, new for a file ``privacy.py`` rewrote). A marker is written only once every part of
its file is in the store; the service deletes a rotated file past its limit only if it has one.
Its existence is what turns that rule on, so the folder is created by the first shipper's run.

``.lock`` in the folder is held exclusively by a shipper while it ships one file and by
``privacy.py`` while it expires or erases, so neither can put back what the other removed.
No pyarrow here: the privacy command takes the lock without loading the store's libraries.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ml_model.prediction_log import ship_key, shipped_ledger

LOCK_NAME = ".lock"
POLL_S = 0.05


class Busy(RuntimeError):
    """The lock stayed taken longer than we may wait; nothing was changed."""


def ledger_lock(log: Path) -> Path:
    """The shippers' lock of ``log``'s host (inside the ledger)."""
    return shipped_ledger(log) / LOCK_NAME


@contextlib.contextmanager
def exclusive(lock: Path, timeout: float) -> Iterator[None]:
    """``lock`` held exclusively; a holder is waited for up to ``timeout`` seconds (then Busy)."""
    fd = os.open(lock, os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Busy(f"{lock} stayed locked for {timeout:.0f} s") from None
                time.sleep(POLL_S)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class Ledger:
    """The markers of one log's shipped files."""

    def __init__(self, log: Path) -> None:
        self.log = Path(log)
        self.dir = shipped_ledger(self.log)

    def create(self) -> None:
        """The folder (0700), beside the log; from now on the service keeps unshipped files."""
        self.dir.mkdir(mode=0o700, exist_ok=True)

    def locked(self, timeout: float) -> contextlib.AbstractContextManager[None]:
        """The host's shipping lock (see the module's docstring)."""
        return exclusive(self.dir / LOCK_NAME, timeout)

    def shipped(self, st: os.stat_result) -> bool:
        """Whether the file ``st`` describes has its marker."""
        return (self.dir / ship_key(st)).is_file()

    def mark(self, st: os.stat_result, record: dict[str, Any]) -> None:
        """Write the file's marker whole (temporary, then rename); ``record`` names no client."""
        target = self.dir / ship_key(st)
        tmp = self.dir / f".{target.name}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh, sort_keys=True)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def prune(self, present: set[str]) -> int:
        """Remove the markers (and a killed run's temporaries) of files no longer on the host."""
        removed = 0
        for path in self.dir.iterdir():
            stale = path.name.endswith(".tmp") if path.name.startswith(".") else path.name not in present
            if stale and path.name != LOCK_NAME:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
