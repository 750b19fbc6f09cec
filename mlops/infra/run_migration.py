"""Copy runs and MLflow 3 logged models from one tracking store to another (``migrate_runs.py``).

Each run keeps its name, times, status, tags, params and whole metric history, and its artifacts
are downloaded and re-uploaded; the old run id is kept in a tag, so a second pass skips what the
first copied. Only the public ``MlflowClient`` API is used, so any destination MLflow accepts works.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SOURCE_TAG = "migration.source_run_id"
SOURCE_MODEL_TAG = "migration.source_model_id"
SOURCE_VERSION_TAG = "migration.source_version"
BATCH = 900  # log_batch allows 1000 metrics, 100 params, 100 tags per call

log = logging.getLogger(__name__)


@dataclass
class Report:
    """What one migration copied and the old-to-new id maps, so later steps can relink and tell."""

    experiments: int = 0
    runs: int = 0
    skipped_runs: int = 0
    params: int = 0
    metric_points: int = 0
    tags: int = 0
    artifact_files: int = 0
    logged_models: int = 0
    model_versions: int = 0
    aliases: int = 0
    run_ids: dict[str, str] = field(default_factory=dict)
    model_ids: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    preexisting_runs: set[str] = field(default_factory=set)

    def summary(self) -> str:
        """One line of counts for the closing log message."""
        return (
            f"{self.experiments} experiment(s), {self.runs} run(s) copied ({self.skipped_runs} already there), "
            f"{self.params} params, {self.metric_points} metric points, {self.tags} tags, "
            f"{self.artifact_files} artifact files, {self.logged_models} logged model(s), "
            f"{self.model_versions} model version(s), {self.aliases} alias(es)"
        )


def client(uri: str) -> Any:
    """An MLflow client on one store, for its runs and its registry alike."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def paged(fn: Any, **kw: Any) -> list[Any]:
    """Every item of a paged MLflow search, page after page."""
    out, token = [], None
    while True:
        page = fn(page_token=token, **kw)
        out.extend(page)
        token = page.token
        if not token:
            return out


def _count_files(path: Path) -> int:
    return sum(1 for p in path.rglob("*") if p.is_file())


def _copy_artifacts(src: Any, src_run_id: str, dst: Any, dst_run_id: str) -> int:
    if not src.list_artifacts(src_run_id):
        return 0
    with tempfile.TemporaryDirectory(prefix="migrate-") as tmp:
        local = Path(src.download_artifacts(src_run_id, "", tmp))
        n = _count_files(local)
        if n:
            dst.log_artifacts(dst_run_id, str(local))
        return n


def existing_copies(dst: Any, exp_id: str) -> dict[str, str]:
    """Runs an earlier pass copied into ``exp_id``: source run id -> destination run id."""
    wanted = f"tags.`{SOURCE_TAG}` != ''"
    runs = paged(dst.search_runs, experiment_ids=[exp_id], filter_string=wanted, max_results=1000)
    return {r.data.tags[SOURCE_TAG]: r.info.run_id for r in runs if SOURCE_TAG in r.data.tags}


def migrate_run(src: Any, dst: Any, run: Any, dst_exp_id: str, rep: Report, artifacts: bool) -> str:
    """Copy one run with its whole metric history; return the new run id (the old one is a tag)."""
    from mlflow.entities import Metric, Param, RunTag

    sid = run.info.run_id
    tags = dict(run.data.tags)
    parent = tags.get("mlflow.parentRunId")
    if parent:
        tags["mlflow.parentRunId"] = rep.run_ids.get(parent, parent)
    tags[SOURCE_TAG] = sid
    new = dst.create_run(dst_exp_id, start_time=run.info.start_time, run_name=run.info.run_name)
    nid = new.info.run_id
    params = [Param(k, v) for k, v in run.data.params.items()]
    tag_list = [RunTag(k, str(v)) for k, v in tags.items() if k != "mlflow.runName"]
    for i in range(0, len(params), 100):
        dst.log_batch(nid, params=params[i : i + 100])
    for i in range(0, len(tag_list), 100):
        dst.log_batch(nid, tags=tag_list[i : i + 100])
    points: list[Metric] = []
    for key in run.data.metrics:
        points.extend(Metric(m.key, m.value, m.timestamp, m.step) for m in src.get_metric_history(sid, key))
    for i in range(0, len(points), BATCH):
        dst.log_batch(nid, metrics=points[i : i + BATCH])
    if artifacts:
        rep.artifact_files += _copy_artifacts(src, sid, dst, nid)
    dst.set_terminated(nid, status=run.info.status, end_time=run.info.end_time)
    rep.params += len(params)
    rep.tags += len(tag_list)
    rep.metric_points += len(points)
    return nid


def _known_models(dst: Any, dst_exp: str) -> dict[str, str]:
    """Logged models an earlier pass migrated: source model id -> destination model id."""
    found = paged(dst.search_logged_models, experiment_ids=[dst_exp], max_results=100)
    return {m.tags[SOURCE_MODEL_TAG]: m.model_id for m in found if SOURCE_MODEL_TAG in (m.tags or {})}


def migrate_logged_models(
    src: Any, dst: Any, source_uri: str, src_exp: str, dst_exp: str, rep: Report, artifacts: bool
) -> None:
    """Copy an experiment's MLflow 3 logged models, linked to the migrated runs, once each."""
    from mlflow.entities import LoggedModelOutput

    known = _known_models(dst, dst_exp)
    for model in paged(src.search_logged_models, experiment_ids=[src_exp], max_results=100):
        if model.model_id in known:
            rep.model_ids[model.model_id] = known[model.model_id]
            continue
        new_run = rep.run_ids.get(model.source_run_id) if model.source_run_id else None
        tags = {**(model.tags or {}), SOURCE_MODEL_TAG: model.model_id}
        new = dst.create_logged_model(
            dst_exp,
            name=model.name,
            source_run_id=new_run,
            tags=tags,
            params=model.params or None,
            model_type=model.model_type,
        )
        if artifacts:
            import mlflow.artifacts

            with tempfile.TemporaryDirectory(prefix="migrate-model-") as tmp:
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=model.artifact_location, dst_path=tmp, tracking_uri=source_uri
                )
                rep.artifact_files += _count_files(Path(local))
                dst.log_model_artifacts(new.model_id, local)
        dst.finalize_logged_model(new.model_id, model.status if artifacts else "READY")
        if new_run:
            dst.log_outputs(new_run, [LoggedModelOutput(new.model_id, 0)])
        rep.model_ids[model.model_id] = new.model_id
        rep.logged_models += 1
