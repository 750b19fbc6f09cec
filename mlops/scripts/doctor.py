"""Is the MLOps state consistent? After any crash, the next retrain or promote repairs it; this says so.

Consistent means: production verifies (manifest, and its probe batch where it has one) and no
promotion journal, staging folder or temp file is left in ``ml_model/`` or ``mlops/``; every
candidate folder verifies; every archive is of a committed swap; in MLflow, no run is RUNNING
without a live process, no logged model is PENDING after its run ended, and each alias
(``challenger``, ``champion``) names a version from a finished run whose downloaded set verifies.
Exit 0 when consistent, 1 with one line per finding; ``--fix`` first applies the same repairs
the retrain and promote scripts apply at their start (taking both their locks).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ml_model.artifacts import ManifestError, load_model, verify_probe
from ml_model.common import exit_script, setup_logging
from ml_model.paths import (
    ARCHIVE_DIR,
    EXPERIMENT_NAME,
    ML_MODEL_DIR,
    MLOPS_DIR,
    MODELS_DIR,
    PROMOTE_LOCK,
    REGISTERED_MODEL,
    RETRAIN_LOCK,
    STAGING_DIR,
)  # fmt: skip
from mlops.mlflow_setup import TrackingUnavailable, configure
from mlops.scripts.promote_model import JOURNAL, SET_FILES, STAGING, recover
from mlops.scripts.utils import (
    ALIASES,
    pending_logged_models,
    process_alive,
    remove_sidecar_debris,
    repair_registry,
)

log = logging.getLogger(__name__)


def _verifies(folder: Path, probe: bool) -> str | None:
    """None when the set in ``folder`` verifies (and scores its probe batch as trained), else why not."""
    try:
        model = load_model(folder)
        if probe and "probe" in model.manifest:
            verify_probe(model)
    except (ManifestError, OSError, ValueError, KeyError) as exc:
        return str(exc)
    return None


def local_findings() -> list[str]:
    """What is wrong on disk: production, debris, candidates, archives."""
    out = []
    why = _verifies(ML_MODEL_DIR, probe=True)
    if why:
        out.append(f"production does not verify: {why}")
    staged = list(STAGING_DIR.iterdir()) if STAGING_DIR.is_dir() else []  # the folder itself may stay
    for leftover in (ML_MODEL_DIR / JOURNAL, ML_MODEL_DIR / STAGING, *staged):
        if leftover.exists():
            out.append(f"left over from an interrupted run: {leftover}")
    out += [
        f"temp file or folder left over: {p}"
        for p in [*ML_MODEL_DIR.glob(".*.tmp"), *MLOPS_DIR.rglob(".*.tmp")]
    ]
    for cand in sorted(MODELS_DIR.glob("v*")) if MODELS_DIR.is_dir() else []:
        why = _verifies(cand, probe=True)
        if why:
            out.append(f"candidate {cand.name} does not verify: {why}")
    for arch in sorted(p for p in ARCHIVE_DIR.iterdir() if p.is_dir()) if ARCHIVE_DIR.is_dir() else []:
        meta = json.loads((arch / "archive.json").read_text()) if (arch / "archive.json").is_file() else {}
        if meta.get("committed") is False:
            out.append(f"archive {arch.name} is of a promotion that never committed")
        elif _verifies(arch, probe=False):
            out.append(f"archive {arch.name} does not verify")
    return out


def registry_findings(mlflow: Any) -> list[str]:
    """What is wrong in MLflow: runs and logged models left unfinished, aliases on bad versions."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    client = mlflow.tracking.MlflowClient()
    exp = mlflow.get_experiment_by_name(EXPERIMENT_NAME)
    if exp is None:
        return []
    out = []
    for run in client.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'", max_results=200):
        pid = run.data.tags.get("pid", "")
        if not (pid.isdigit() and process_alive(int(pid))):
            out.append(f"run {run.info.run_name} is RUNNING but its process is gone")
    for model in pending_logged_models(client, exp.experiment_id):
        out.append(f"logged model {model.model_id} is PENDING")
    for alias in ALIASES:
        try:
            mv = client.get_model_version_by_alias(REGISTERED_MODEL, alias)
        except MlflowException:
            continue
        status = client.get_run(mv.run_id).info.status if mv.run_id else "unknown"
        if status != "FINISHED":
            out.append(f"alias {alias!r} names version {mv.version}, whose run is {status}")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{REGISTERED_MODEL}/{mv.version}", dst_path=tmp
            )
            missing = [n for n in SET_FILES if not (Path(tmp) / "artifacts" / n).is_file()]
            why = f"it lacks {missing}" if missing else _verifies(Path(tmp) / "artifacts", probe=True)
            if why:
                out.append(f"alias {alias!r} names version {mv.version}, which does not verify: {why}")
    return out


@contextlib.contextmanager
def both_locks() -> Iterator[None]:
    """The retrain and the promotion lock: repairs must not race a running script."""
    RETRAIN_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(RETRAIN_LOCK).acquire(timeout=0), FileLock(PROMOTE_LOCK).acquire(timeout=0):
        yield


def check(fix: bool = False) -> list[str]:
    """All findings (after the repairs, with ``fix``)."""
    mlflow = configure()
    if fix:
        with both_locks():
            recover()
            remove_sidecar_debris()
            repair_registry(mlflow)
    return local_findings() + registry_findings(mlflow)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and check; exit 0 consistent, 1 findings, 2 tracking unreachable, 3 busy."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--fix", action="store_true", help="first repair what the retrain and promote scripts repair"
    )
    args = parser.parse_args(argv)
    setup_logging()
    try:
        found = check(args.fix)
    except Timeout:
        log.error("A retrain or promotion is running (its lock is held); try again when it has finished.")
        return 3
    except TrackingUnavailable as exc:
        log.error("Cannot check MLflow: %s", exc)
        return 2
    for line in found:
        log.error("Inconsistent: %s", line)
    if not found:
        log.info("Consistent: production verifies, no debris, every alias names a verified version.")
    return 1 if found else 0


if __name__ == "__main__":
    exit_script(main())
