"""The small helpers every LegalAid Connect script shares: logging, exit, hashing, atomic writes.

Paths and names live in ``ml_model.paths``. Writes go to a temporary sibling and are renamed into
place, so a reader never sees a half-written file and a crash leaves the previous version intact.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn


def setup_logging(level: int = logging.INFO) -> None:
    """One log format for every command-line script: time, logger, plain sentence."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def exit_script(code: int) -> NoReturn:
    """Exit a command-line script without the interpreter's slow shutdown collections.

    TensorFlow and Evidently bring thousands of modules; at exit CPython runs full garbage
    collections over all their objects, seconds a run here (measured: BENCHMARKS.md). By now every
    output is written and renamed into place and atexit handlers (logging, MLflow) still run,
    so the objects are taken out of the collector's reach and the OS reclaims the memory.
    The cost: objects in reference cycles are not finalized, so close files before calling this.
    """
    gc.freeze()
    sys.exit(code)


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, streamed so large datasets do not fill memory (DVC 3 uses md5)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, algorithm).hexdigest()


def sha256_file(path: str | Path) -> str:
    """The digest manifests and run tags record: a file's sha256."""
    return file_digest(path, "sha256")


def atomic_write(path: str | Path, writer: Callable[[Path], None], private: bool = False) -> Path:
    """Call ``writer(tmp_path)`` then rename the temp file onto ``path`` (same folder, same disk).

    ``private``: a file about clients (a report, a log) stays 0600 as ``mkstemp`` creates it, in a
    folder created 0700; artifacts meant to be shared are made 0644."""
    path = Path(path)
    path.parent.mkdir(mode=0o700 if private else 0o777, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        writer(tmp_path)
        if not private:
            os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str, private: bool = False) -> Path:
    """A UTF-8 text file that appears whole or not at all."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"), private)


def atomic_write_json(path: str | Path, obj: Any, private: bool = False) -> Path:
    """Pretty, key-sorted JSON (stable diffs of committed metrics), written atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n", private)


def atomic_write_csv(df: Any, path: str | Path) -> Path:
    """Write a DataFrame as CSV atomically (no index column)."""
    return atomic_write(path, lambda p: df.to_csv(p, index=False))
