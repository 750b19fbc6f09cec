"""Paths, artifact names and the small helpers every LegalAid Connect script shares.

Paths resolve from this file, never from the current directory, so every script runs from
anywhere. Writes go to a temporary sibling and are renamed into place, so a reader never sees
a half-written file and a crash leaves the previous version intact.
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

REPO_ROOT = Path(__file__).resolve().parents[1]
ML_MODEL_DIR = REPO_ROOT / "ml_model"
PRODUCTION_DATA = ML_MODEL_DIR / "matchmaking_dataset.csv"
MODEL_FILE = "lawyer_match_model.h5"
ENCODER_FILE = "encoder.pkl"
SCALER_FILE = "scaler.pkl"
MANIFEST_FILE = "manifest.json"
ARTIFACT_FILES = (MODEL_FILE, ENCODER_FILE, SCALER_FILE)
DEFAULT_PREDICTION_LOG = REPO_ROOT / "logs" / "predictions.jsonl"


def setup_logging(level: int = logging.INFO) -> None:
    """One log format for every command-line script: time, logger, plain sentence."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def exit_script(code: int) -> NoReturn:
    """Exit a command-line script without the interpreter's slow shutdown collections.

    TensorFlow and Evidently bring thousands of modules; at exit CPython runs full garbage
    collections over all their objects, 2-3 s a run here (measured: BENCHMARKS.md). By now every
    output is written and renamed into place and atexit handlers (logging, MLflow) still run,
    so the objects are taken out of the collector's reach and the OS reclaims the memory.
    The cost: objects in reference cycles are not finalized, so close files before calling this.
    """
    gc.freeze()
    sys.exit(code)


def sha256_file(path: str | Path) -> str:
    """Hex digest of a file, read in chunks so large datasets do not fill memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write(path: str | Path, writer: Callable[[Path], None]) -> Path:
    """Call ``writer(tmp_path)`` then rename the temp file onto ``path`` (same folder, same disk)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        writer(tmp_path)
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def atomic_write_csv(df: Any, path: str | Path) -> Path:
    """Write a DataFrame as CSV atomically (no index column)."""
    return atomic_write(path, lambda p: df.to_csv(p, index=False))
