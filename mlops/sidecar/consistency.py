"""Is the MLOps state consistent? After any crash, the next retrain or promote repairs it; this says so.

Consistent means: production verifies (manifest, and its probe batch where it has one) and no
promotion journal, staging folder or temp file is left in ``ml_model/`` or ``mlops/``; every
candidate folder verifies; every archive is of a committed swap; in MLflow, no run is RUNNING
without a live process, no logged model is PENDING after its run ended, each alias
(``challenger``, ``champion``) names an existing version from a finished run whose downloaded set
verifies, and ``champion`` names the model production serves (its manifest's model version).
``check(fix=True)`` first applies the repairs the retrain and promotion apply at their start, then
realigns the registry with production (``realign_aliases``: it moves ``champion`` back, never
promotes).
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_model.artifacts import ManifestError, read_manifest
from ml_model.paths import ML_MODEL_DIR
from mlops.mlflow_setup import configure
from mlops.paths import (
    ALIASES,
    ARCHIVE_DIR,
    EXPERIMENT_NAME,
    MLOPS_DIR,
    MODELS_DIR,
    REGISTERED_MODEL,
    SET_FILES,
)
from mlops.sidecar.candidates import remove_retrain_debris, staged_leftovers, why_not_servable
from mlops.sidecar.locks import both_locks
from mlops.sidecar.registry import move_champion, pending_logged_models, repair_registry
from mlops.sidecar.runs import process_alive, running_runs
from mlops.sidecar.swap import JOURNAL, STAGING, recover

log = logging.getLogger(__name__)


def _debris_findings() -> list[str]:
    """Journal, staging folders and temp files an interrupted run left."""
    out = [
        f"left over from an interrupted run: {leftover}"
        for leftover in (ML_MODEL_DIR / JOURNAL, ML_MODEL_DIR / STAGING, *staged_leftovers())
        if leftover.exists()
    ]
    temps = [*ML_MODEL_DIR.glob(".*.tmp"), *MLOPS_DIR.rglob(".*.tmp")]
    return out + [f"temp file or folder left over: {p}" for p in temps]


def _archive_findings() -> list[str]:
    """Archives of swaps that never committed, or that no longer verify."""
    out = []
    for arch in sorted(p for p in ARCHIVE_DIR.iterdir() if p.is_dir()) if ARCHIVE_DIR.is_dir() else []:
        meta = json.loads((arch / "archive.json").read_text()) if (arch / "archive.json").is_file() else {}
        if meta.get("committed") is False:
            out.append(f"archive {arch.name} is of a promotion that never committed")
        elif why_not_servable(arch, probe=False):
            out.append(f"archive {arch.name} does not verify")
    return out


def local_findings() -> list[str]:
    """What is wrong on disk: production, debris, candidates, archives."""
    out = []
    why = why_not_servable(ML_MODEL_DIR, probe=True)
    if why:
        out.append(f"production does not verify: {why}")
    out += _debris_findings()
    for cand in sorted(MODELS_DIR.glob("v*")) if MODELS_DIR.is_dir() else []:
        why = why_not_servable(cand, probe=True)
        if why:
            out.append(f"candidate {cand.name} does not verify: {why}")
    return out + _archive_findings()


def alias_versions(client: Any) -> dict[str, str]:
    """Every alias of the registered model and the version it names (none before the first run)."""
    from mlflow.exceptions import MlflowException

    try:
        return dict(client.get_registered_model(REGISTERED_MODEL).aliases)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise  # a server error is not "no aliases"
        return {}


@dataclass(frozen=True)
class AliasFinding:
    """An alias that names a version it should not; ``kind`` says which repair fits."""

    alias: str
    kind: str  # "missing", "unfinished", "unverified" or "not_production"
    message: str


def _downloaded(mv: Any) -> tuple[str | None, str | None]:
    """Why the version's downloaded set is not servable (None when it is), and its model version."""
    from mlflow.artifacts import download_artifacts

    with tempfile.TemporaryDirectory() as tmp:
        download_artifacts(artifact_uri=f"models:/{REGISTERED_MODEL}/{mv.version}", dst_path=tmp)
        folder = Path(tmp) / "artifacts"
        missing = [n for n in SET_FILES if not (folder / n).is_file()]
        why = f"it lacks {missing}" if missing else why_not_servable(folder, probe=True)
        named = None if why else read_manifest(folder).get("model_version")
    return why, named


def serving_version() -> str | None:
    """The model version production's manifest names (None when it cannot be read: reported apart)."""
    try:
        return read_manifest(ML_MODEL_DIR).get("model_version")
    except ManifestError:
        return None


def alias_finding(client: Any, alias: str, version: str, serving: str | None) -> AliasFinding | None:
    """Why ``alias`` names a version it should not: missing, run unfinished, set not verifying, or
    (``champion``) a model other than the one production serves."""
    from mlflow.exceptions import MlflowException

    def found(kind: str, message: str) -> AliasFinding:
        return AliasFinding(alias, kind, f"alias {alias!r} names version {version}, {message}")

    try:
        mv = client.get_model_version(REGISTERED_MODEL, version)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise  # a server error is not a missing version: --fix must not remove the alias for it
        return found("missing", "which does not exist")
    status = client.get_run(mv.run_id).info.status if mv.run_id else "unknown"
    if status != "FINISHED":
        return found("unfinished", f"whose run is {status}")
    why, named = _downloaded(mv)
    if why:
        return found("unverified", f"which does not verify: {why}")
    if alias == "champion" and serving is not None and named != serving:
        return found("not_production", f"model {named}, but production serves {serving}")
    return None


def alias_findings(client: Any) -> list[AliasFinding]:
    """Every alias of ours that names a version it should not."""
    serving, aliases = serving_version(), alias_versions(client)
    found = (alias_finding(client, a, aliases[a], serving) for a in ALIASES if a in aliases)
    return [f for f in found if f is not None]


def registry_findings(mlflow: Any) -> list[str]:
    """What is wrong in MLflow: runs and logged models left unfinished, aliases on bad versions."""
    exp = mlflow.get_experiment_by_name(EXPERIMENT_NAME)
    if exp is None:
        return []
    client = mlflow.tracking.MlflowClient()
    out = []
    for run in running_runs(mlflow):
        pid = run.data.tags.get("pid", "")
        if not (pid.isdigit() and process_alive(int(pid))):
            out.append(f"run {run.info.run_name} is RUNNING but its process is gone")
    out += [f"logged model {m.model_id} is PENDING" for m in pending_logged_models(client, exp.experiment_id)]
    return out + [f.message for f in alias_findings(client)]


def realign_aliases(mlflow: Any) -> list[str]:
    """``--fix`` for the registry: an alias on a missing version is removed, and ``champion`` on a
    model production does not serve is moved back to production's version (never the other way:
    the doctor does not promote)."""
    client = mlflow.tracking.MlflowClient()
    done = []
    for finding in alias_findings(client):
        if finding.kind == "missing":
            client.delete_registered_model_alias(REGISTERED_MODEL, finding.alias)
            done.append(f"{finding.message}: alias removed")
        elif finding.kind == "not_production":
            done.append(f"{finding.message}: {move_champion(read_manifest(ML_MODEL_DIR))}")
    for line in done:
        log.warning("Repaired: %s.", line)
    return done


def check(fix: bool = False) -> list[str]:
    """All findings (after the repairs, with ``fix``, taken under both locks)."""
    mlflow = configure()
    if fix:
        with both_locks():
            recover()
            remove_retrain_debris()
            repair_registry(mlflow)
            realign_aliases(mlflow)
    return local_findings() + registry_findings(mlflow)
