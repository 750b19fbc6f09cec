"""The journalled swap of production's artifact set, its archives, and recovery after a crash.

This is the only code that writes ``ml_model/``. The outgoing set (three artifacts and manifest) is
archived in ``mlops/models/archive/<ts>/`` first. The swap is journalled so that a crash at any
point leaves the old set or the new one:

1. the incoming files are copied into ``ml_model/.promotion-staging/`` and flushed to disk;
2. ``ml_model/.promotion-journal.json`` is written atomically: this is the commit point;
3. each file is renamed into place, the manifest last; then journal and staging are removed.

A crash before (2) leaves the old set (the staging folder is discarded by the next run); a crash
after (2) is rolled forward by ``recover``, which every promotion runs before anything else. While
a swap is half done the manifest does not match, so the service refuses to load the mixed set and
keeps serving the old model.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from ml_model.artifacts import verify_manifest
from ml_model.common import atomic_write_json
from ml_model.paths import ML_MODEL_DIR, timestamp
from mlops.paths import ARCHIVE_DIR, SET_FILES

log = logging.getLogger(__name__)

STAGING = ".promotion-staging"
JOURNAL = ".promotion-journal.json"
ROLLED_FORWARD_ROLLBACK = "rolled forward an interrupted rollback"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _after_commit(journal: dict[str, Any]) -> None:
    """What a committed swap owes its archives: the outgoing set's archive now counts (``committed``),
    and after a rollback the restored archive is marked rolled back. Idempotent."""
    if journal.get("archive"):
        path = Path(journal["archive"]) / "archive.json"
        atomic_write_json(path, {**json.loads(path.read_text()), "committed": True})
    if journal.get("rolled_back"):
        path = Path(journal["rolled_back"]) / "archive.json"
        atomic_write_json(path, {**json.loads(path.read_text()), "rolled_back_at": timestamp()})


def swap_in(
    source: Path,
    prod_dir: Path = ML_MODEL_DIR,
    crash_after: int | None = None,
    archive: Path | None = None,
    rolled_back: Path | None = None,
) -> None:
    """Replace the production set with the verified set in ``source`` (see the module docstring).

    ``archive`` (the outgoing set's copy) counts only once the swap commits; ``rolled_back`` is the
    archive a rollback restores. ``crash_after`` stops after that many renames, to test recovery.
    """
    staging, journal = prod_dir / STAGING, prod_dir / JOURNAL
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for name in SET_FILES:
        shutil.copyfile(source / name, staging / name)
        with open(staging / name, "rb") as fh:
            os.fsync(fh.fileno())
    verify_manifest(staging)  # what we are about to install is exactly what was verified
    record = {
        "source": str(source),
        "files": list(SET_FILES),
        "archive": str(archive) if archive else None,
        "rolled_back": str(rolled_back) if rolled_back else None,
    }
    atomic_write_json(journal, record)
    for i, name in enumerate(SET_FILES):
        if crash_after is not None and i >= crash_after:
            raise SystemExit(f"simulated crash after {i} renames")
        os.replace(staging / name, prod_dir / name)
    _fsync_dir(prod_dir)
    _after_commit(record)
    journal.unlink()
    staging.rmdir()


def remove_swap_debris(prod_dir: Path = ML_MODEL_DIR) -> list[str]:
    """Temp files and folders a killed promotion can leave: journal temp files, half-made archives,
    and archives of promotions that never reached their commit point. Call with the lock held."""
    removed = []
    archived = [*ARCHIVE_DIR.glob(".*.tmp"), *ARCHIVE_DIR.glob("*/.*.tmp")] if ARCHIVE_DIR.is_dir() else []
    for path in [*prod_dir.glob(".*.tmp"), *archived]:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():  # not inside a folder removed just before
            path.unlink()
        else:
            continue
        removed.append(str(path))
    for path in sorted(ARCHIVE_DIR.iterdir()) if ARCHIVE_DIR.is_dir() else []:
        meta = path / "archive.json"
        if path.is_dir() and meta.is_file() and json.loads(meta.read_text()).get("committed") is False:
            shutil.rmtree(path)
            removed.append(str(path))
    for path in removed:
        log.warning("Removed %s, left by an interrupted promotion.", path)
    return removed


def recover(prod_dir: Path = ML_MODEL_DIR) -> str | None:
    """Finish or discard a swap a crash interrupted, and clear its debris; returns what was done."""
    journal, staging = prod_dir / JOURNAL, prod_dir / STAGING
    done = None
    if journal.is_file():
        record = json.loads(journal.read_text())
        for name in record["files"]:
            if (staging / name).exists():
                os.replace(staging / name, prod_dir / name)
        _fsync_dir(prod_dir)
        _after_commit(record)
        journal.unlink()
        shutil.rmtree(staging, ignore_errors=True)
        log.warning("Rolled forward an interrupted promotion in %s.", prod_dir)
        done = ROLLED_FORWARD_ROLLBACK if record.get("rolled_back") else "rolled forward"
    elif staging.exists():
        shutil.rmtree(staging)
        log.warning("Discarded the staging folder of a promotion that never reached its commit point.")
        done = "discarded"
    return "removed debris" if remove_swap_debris(prod_dir) and not done else done


def interrupted(prod_dir: Path = ML_MODEL_DIR) -> bool:
    """Whether a swap a crash interrupted is waiting in ``prod_dir`` (a journal or a staging folder)."""
    return (prod_dir / JOURNAL).exists() or (prod_dir / STAGING).exists()


def archive_current(kind: str, note: dict[str, Any], prod_dir: Path = ML_MODEL_DIR) -> Path:
    """Copy the production set to ``archive/<ts>/`` (staged, then renamed) and return it.

    The archive is marked ``committed: false`` until the swap it belongs to commits, so the archive
    of a swap that never happened is debris, not a rollback target.
    """
    ARCHIVE_DIR.mkdir(parents=True, exist_ok=True)
    name = timestamp()
    while (ARCHIVE_DIR / name).exists():
        name += "_1"
    tmp = ARCHIVE_DIR / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for f in SET_FILES:
        shutil.copy2(prod_dir / f, tmp / f)
    atomic_write_json(tmp / "archive.json", {"kind": kind, **note, "committed": False})
    tmp.rename(ARCHIVE_DIR / name)
    return ARCHIVE_DIR / name


def last_promotion_archive() -> Path | None:
    """The newest archive taken before a promotion that has not been rolled back yet."""
    if not ARCHIVE_DIR.is_dir():
        return None
    folders = (p for p in ARCHIVE_DIR.iterdir() if p.is_dir() and not p.name.startswith("."))
    for path in sorted(folders, reverse=True):
        meta = json.loads((path / "archive.json").read_text())
        if (
            meta.get("kind") == "before_promotion"
            and meta.get("committed", True)
            and not meta.get("rolled_back_at")
        ):
            return path
    return None
