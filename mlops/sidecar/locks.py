"""The sidecar's locks: one retrain at a time, one promotion at a time, and repairs under both.

Taken without waiting: a second run refuses at once (``filelock.Timeout``; the commands exit 3)
rather than queueing behind a job that may take minutes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock

from mlops.paths import PROMOTE_LOCK, RETRAIN_LOCK


@contextlib.contextmanager
def held(*locks: Path) -> Iterator[None]:
    """Hold every lock in ``locks`` (in order), or raise ``filelock.Timeout`` if one is taken."""
    with contextlib.ExitStack() as stack:
        for path in locks:
            path.parent.mkdir(parents=True, exist_ok=True)
            stack.enter_context(FileLock(path).acquire(timeout=0))
        yield


def both_locks() -> contextlib.AbstractContextManager[None]:
    """The retrain and the promotion lock: repairs must not race a running script."""
    return held(RETRAIN_LOCK, PROMOTE_LOCK)
