"""The sidecar's locks: one retrain at a time, one promotion at a time, and repairs under both.

Taken without waiting: a second run refuses at once (``Busy``; the commands exit 3) rather than
queueing behind a job that may take minutes. ``Busy`` comes from taking a lock only, never from the
work done while holding it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from mlops.paths import PROMOTE_LOCK, RETRAIN_LOCK


class Busy(RuntimeError):
    """Another run holds the lock (named in ``path``); nothing was done."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"lock {path} is held")
        self.path = path


@contextlib.contextmanager
def held(*locks: Path) -> Iterator[None]:
    """Hold every lock in ``locks`` (in order), or raise ``Busy`` if one is taken."""
    with contextlib.ExitStack() as stack:
        for path in locks:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                stack.enter_context(FileLock(path).acquire(timeout=0))
            except Timeout:
                raise Busy(path) from None
        yield


def both_locks() -> contextlib.AbstractContextManager[None]:
    """The retrain and the promotion lock: repairs must not race a running script."""
    return held(RETRAIN_LOCK, PROMOTE_LOCK)
