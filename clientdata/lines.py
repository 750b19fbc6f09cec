"""Removing lines from JSON-lines files that a running service may be appending to.

A file is filtered into a temporary file beside it (0600) without any lock, then, holding the
prediction log's exclusive lock (the one its writers share and its rotation takes), the lines
appended meanwhile are filtered too and the temporary file is renamed over the original. Writers
compare the path's inode before each write and reopen, so the next line goes to the new file; a
file rotated away meanwhile is filtered again under its new name. Nothing still inside its limit
is lost: every line is either copied or chosen by ``drop``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

LOCK_TIMEOUT_S = 30.0
Drop = Callable[[bytes], bool]


class Busy(RuntimeError):
    """The log's lock stayed taken (a long read of the window): nothing was changed; run again."""


class Moved(RuntimeError):
    """The file was rotated while we filtered it."""


@dataclass
class Filtered:
    """What a rewrite did to one file."""

    path: Path
    kept: int = 0
    removed: int = 0
    deleted: bool = False  # every line went, so the file did too


@contextlib.contextmanager
def exclusive(lock: Path | None, timeout: float | None = None) -> Iterator[None]:
    """The writers' lock held exclusively; a reader holding it for its whole window is waited for
    up to ``timeout`` (without blocking: a writer waits on us only for the rename itself)."""
    if lock is None:
        yield
        return
    fd = os.open(lock, os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        timeout = LOCK_TIMEOUT_S if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Busy(f"{lock} stayed locked for {timeout:.0f} s (a reader of the log?)") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _copy(src: BinaryIO, out: BinaryIO, drop: Drop, result: Filtered, whole: bool) -> int:
    """Copy ``src``'s complete lines that ``drop`` does not choose; returns the offset after the last
    complete line (an unfinished last line is left for the locked pass, or kept as it is when ``whole``)."""
    pos = src.tell()
    for line in src:
        if not line.endswith(b"\n") and not whole:
            break
        pos += len(line)
        if drop(line):
            result.removed += 1
        else:
            result.kept += 1
            out.write(line)
    return pos


def rewrite(path: Path, drop: Drop, lock: Path | None) -> Filtered:
    """Remove the lines ``drop`` chooses from ``path``, while writers may append to it (see above)."""
    for _ in range(5):
        try:
            return _rewrite_once(path, drop, lock)
        except Moved:
            log.info("%s was rotated while being filtered; filtering it again.", path)
    raise Busy(f"{path} kept being rotated while it was filtered")


def _rewrite_once(path: Path, drop: Drop, lock: Path | None) -> Filtered:
    result = Filtered(path)
    tmp = path.with_name(f".{path.name}.privacy.tmp")
    with open(path, "rb") as src:
        inode = os.fstat(src.fileno()).st_ino
        out_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(out_fd, "wb") as out:
                done = _copy(src, out, drop, result, whole=False)
                if result.removed == 0:
                    src.seek(done)
                    if not any(drop(line) for line in src):  # nothing to remove, not even appended
                        tmp.unlink()
                        return Filtered(path, kept=result.kept)
                    src.seek(done)
                with exclusive(lock):
                    try:
                        if os.stat(path).st_ino != inode:
                            raise Moved(path)
                    except FileNotFoundError:
                        raise Moved(path) from None
                    src.seek(done)
                    _copy(src, out, drop, result, whole=True)
                    out.flush()
                    os.fsync(out.fileno())
                    if result.kept:
                        os.replace(tmp, path)
                    else:
                        path.unlink()
                        result.deleted = True
        finally:
            tmp.unlink(missing_ok=True)
        _late_lines(src, path, drop, result)
    return result


def _late_lines(src: BinaryIO, path: Path, drop: Drop, result: Filtered) -> None:
    """Without rotation (PREDICTION_LOG_MAX_BYTES=0) writers take no lock: a line written to the
    old file between our last read and the rename is appended to the new one, not lost."""
    late = [line for line in src if line.endswith(b"\n")]
    keep = [line for line in late if not drop(line)]
    result.removed += len(late) - len(keep)
    if keep:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"".join(keep))
        finally:
            os.close(fd)
        result.kept += len(keep)
