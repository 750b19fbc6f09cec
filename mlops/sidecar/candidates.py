"""Candidate sets in ``mlops/models/``, and the staging area a retrain makes them in.

A candidate is written into ``mlops/.staging/`` and renamed into place whole, so a folder in
``mlops/models/`` is always complete; what a killed retrain leaves is staging folders and temp
files, which ``remove_retrain_debris`` clears under the retrain lock.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from ml_model.artifacts import LoadedModel, ManifestError, load_model, verify_probe
from mlops.paths import MODELS_DIR, REPORTS_DIR, STAGING_DIR, TRACKING_DIR

log = logging.getLogger(__name__)


def newest_candidate() -> LoadedModel | None:
    """The most recent verified candidate in mlops/models/, if any."""
    versions = sorted(p for p in MODELS_DIR.glob("v*") if p.is_dir()) if MODELS_DIR.is_dir() else []
    for path in reversed(versions):
        try:
            return load_model(path)
        except (ManifestError, OSError, ValueError) as exc:
            log.warning("Skipping candidate %s: %s", path.name, exc)
    return None


def why_not_servable(folder: Path, probe: bool) -> str | None:
    """None when the set in ``folder`` verifies (and scores its probe batch as trained), else why not."""
    try:
        model = load_model(folder)
        if probe and "probe" in model.manifest:
            verify_probe(model)
    except (ManifestError, OSError, ValueError, KeyError) as exc:
        return str(exc)
    return None


def staged_leftovers() -> list[Path]:
    """What is in the staging folder (the folder itself may stay)."""
    return list(STAGING_DIR.iterdir()) if STAGING_DIR.is_dir() else []


def remove_retrain_debris() -> list[str]:
    """Staging folders and temp files a killed retrain leaves in mlops/; call with the retrain lock."""
    found = staged_leftovers()
    found += [p for d in (TRACKING_DIR, MODELS_DIR, REPORTS_DIR) if d.is_dir() for p in d.glob(".*.tmp")]
    for path in found:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        log.warning("Removed %s, left by an interrupted run.", path)
    return [str(p) for p in found]
