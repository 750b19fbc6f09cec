"""The MLflow model registry: aliases that name what they should, and repairs after a crash.

``challenger`` names the newest improved candidate, ``champion`` what production serves. Both must
point at a version from a finished run; a killed retrain can leave runs RUNNING, logged models
PENDING and an alias on a half-logged version, and ``repair_registry`` (run by every retrain and
promotion first) puts that right.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from ml_model.artifacts import LoadedModel, read_manifest
from ml_model.paths import ML_MODEL_DIR
from mlops.mlflow_setup import TrackingUnavailable, configure
from mlops.paths import ALIASES, EXPERIMENT_NAME, PROMOTE_LOCK, REGISTERED_MODEL
from mlops.sidecar.locks import Busy, held
from mlops.sidecar.runs import close_orphaned_runs, mlflow_run
from mlops.sidecar.servable import log_servable

log = logging.getLogger(__name__)


class RegistryError(RuntimeError):
    """The registry has no such version, or it is not a servable set; nothing was changed."""


def registry_record(run_id: str | None, model_uri: str, version: Any) -> dict[str, Any]:
    """Where a set came from in the registry, as its manifest's ``mlflow`` entry records it (what
    ``move_champion`` reads to point ``champion`` at exactly this version)."""
    return {
        "run_id": run_id,
        "model_uri": model_uri,
        "registered_model": REGISTERED_MODEL,
        "registered_version": str(version),
    }


def pending_logged_models(client: Any, experiment_id: str) -> list[Any]:
    """Logged models still PENDING among the newest 500. Filtered here: MLflow 3.17's SQL store
    fails on ``status = 'PENDING'`` (it compares an integer column with the name)."""
    models = client.search_logged_models(
        [experiment_id], max_results=500, order_by=[{"field_name": "creation_time", "ascending": False}]
    )
    return [m for m in models if str(getattr(m.status, "value", m.status)).endswith("PENDING")]


def _fail_pending_models(client: Any, experiment_id: str) -> list[str]:
    """Logged models left PENDING by a run that is over are marked FAILED."""
    done = []
    for model in pending_logged_models(client, experiment_id):
        run = client.get_run(model.source_run_id) if model.source_run_id else None
        if run is None or run.info.status != "RUNNING":
            client.finalize_logged_model(model.model_id, "FAILED")
            done.append(f"logged model {model.model_id} left PENDING marked FAILED")
    return done


def _drop_unfinished_aliases(client: Any) -> list[str]:
    """An alias on a version whose run did not finish is removed: a candidate comes from a complete run."""
    from mlflow.exceptions import MlflowException

    done = []
    for alias in ALIASES:
        try:
            mv = client.get_model_version_by_alias(REGISTERED_MODEL, alias)
        except MlflowException:
            continue  # no such alias (or no registered model yet)
        if mv.run_id and client.get_run(mv.run_id).info.status not in ("FINISHED", "RUNNING"):
            client.delete_registered_model_alias(REGISTERED_MODEL, alias)
            done.append(f"alias {alias!r} removed from version {mv.version}: its run did not finish")
    return done


def repair_registry(mlflow: Any) -> list[str]:
    """What a killed retrain leaves in MLflow, repaired (see the module docstring); returns what was done."""
    closed = close_orphaned_runs(mlflow)
    done = [f"closed {closed} run(s) left RUNNING by a process that is gone"] if closed else []
    client = mlflow.tracking.MlflowClient()
    exp = mlflow.get_experiment_by_name(EXPERIMENT_NAME)
    if exp is not None:
        done += _fail_pending_models(client, exp.experiment_id)
        done += _drop_unfinished_aliases(client)
    for line in done:
        log.warning("Repaired: %s.", line)
    return done


def repair_if_reachable() -> None:
    """``repair_registry`` before a promotion; an unreachable server only warns here (the alias move
    at the end reports it)."""
    try:
        repair_registry(configure())
    except TrackingUnavailable as exc:
        log.warning("Could not check the MLflow registry for leftovers: %s", exc)


def registered_version(client: Any, ref: str) -> Any:
    """The model version an alias or a number names; a clear error when there is none."""
    from mlflow.exceptions import MlflowException

    try:
        if ref.isdigit():
            return client.get_model_version(REGISTERED_MODEL, ref)
        return client.get_model_version_by_alias(REGISTERED_MODEL, ref)
    except MlflowException as exc:
        kind = "version" if ref.isdigit() else "alias"
        raise RegistryError(
            f"the registry has no {REGISTERED_MODEL} {kind} {ref!r} ({exc.error_code})"
        ) from exc


def tagged_version(client: Any, model_version: str | None) -> str | None:
    """The newest registry version tagged with this model version: how production as first registered
    (by ``ensure_champion``, which cannot write production's manifest) is found again."""
    if not model_version:
        return None
    found = [
        int(v.version)
        for v in client.search_model_versions(f"name='{REGISTERED_MODEL}'")
        if v.tags.get("model_version") == model_version
        and v.run_id
        and client.get_run(v.run_id).info.status == "FINISHED"
    ]
    return str(max(found)) if found else None


def move_champion(manifest: dict[str, Any]) -> str:
    """Point alias ``champion`` at the registry version recorded for the model now in production:
    only that version, and only when it is this registry's (same run id), else the version tagged
    with production's model version; otherwise the alias is removed rather than left naming the
    model production no longer serves. Returns what was done, in words."""
    from mlflow.exceptions import MlflowException

    client = configure().tracking.MlflowClient()
    recorded = manifest.get("mlflow", {})
    version = recorded.get("registered_version")
    mv = None
    if version:
        with contextlib.suppress(MlflowException):
            mv = client.get_model_version(REGISTERED_MODEL, str(version))
    if mv is not None and (not recorded.get("run_id") or mv.run_id == recorded["run_id"]):
        client.set_registered_model_alias(REGISTERED_MODEL, "champion", str(version))
        return f"alias 'champion' now points at {REGISTERED_MODEL} version {version}"
    tagged = tagged_version(client, manifest.get("model_version"))
    if tagged is not None:  # production as first registered, e.g. after a rollback
        client.set_registered_model_alias(REGISTERED_MODEL, "champion", tagged)
        return f"alias 'champion' now points at {REGISTERED_MODEL} version {tagged} (tagged {manifest['model_version']})"
    with contextlib.suppress(MlflowException):
        client.delete_registered_model_alias(REGISTERED_MODEL, "champion")
    if version:
        return (
            f"the production model was registered as version {version} in another MLflow store "
            "(not this one), so alias 'champion' was removed here"
        )
    return "the production model is not in the registry; alias 'champion' removed"


def ensure_champion(mlflow: Any, production: LoadedModel) -> None:
    """Register production as ``champion`` when the registry has none, so from the first run a reviewer
    compares ``challenger`` with what is served, and a rollback has a version to point back at.

    Logged in its own run (``production_<version>``) from ``ml_model/``, read only; the version is
    tagged ``model_version`` so promotion can find it again (production's manifest is never written).
    Under the promotion lock, so a promotion cannot swap the files while they are logged; when one
    is running, or production is no longer the model this retrain loaded, it is left for next time.
    """
    from mlflow.exceptions import MlflowException

    with contextlib.suppress(MlflowException):
        mlflow.tracking.MlflowClient().get_model_version_by_alias(REGISTERED_MODEL, "champion")
        return
    try:
        with held(PROMOTE_LOCK):
            if read_manifest(ML_MODEL_DIR).get("model_version") != production.version:
                log.warning(
                    "Production changed since it was loaded: registering it as champion is left for next time."
                )
                return
            register_production(mlflow, production)
    except Busy:
        log.warning(
            "A promotion is running: registering production as champion is left for the next retrain."
        )


def register_production(mlflow: Any, production: LoadedModel) -> None:
    """Log ``ml_model/`` as it is served, register it, and give it alias ``champion`` (see above)."""
    version = production.version
    with mlflow_run(mlflow, f"production_{version}", {"kind": "production", "model_version": version}):
        logged = log_servable(mlflow, ML_MODEL_DIR, production)
    mv = mlflow.register_model(logged.model_uri, REGISTERED_MODEL, tags={"model_version": version})
    client = mlflow.tracking.MlflowClient()
    client.set_registered_model_alias(REGISTERED_MODEL, "champion", mv.version)
    description = (
        f"Production model {version} as served from ml_model/ (not trained by a pipeline run), registered "
        "by the first retrain so that alias 'champion' names what production serves."
    )
    client.update_model_version(REGISTERED_MODEL, mv.version, description=description)
    log.info("Registered production %s as version %s with alias 'champion'.", version, mv.version)
