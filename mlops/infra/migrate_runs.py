"""Copy MLflow history from one tracking store to another, e.g. the embedded file store to the server.

    eval "$(mlops/infra/stack.sh env)"          # MLFLOW_TRACKING_URI = the destination
    python mlops/infra/migrate_runs.py           # source: file:<repo>/mlops/tracking
    python mlops/infra/migrate_runs.py --source file:/elsewhere/tracking --dest http://127.0.0.1:5001 --dry-run

What it carries, through the public MlflowClient API (so any destination MLflow accepts works):
- experiments (by name; created if missing, with their tags);
- runs: name, start and end time, status, every tag (the old run id kept in ``migration.source_run_id``,
  ``mlflow.parentRunId`` remapped), every param, every metric with its whole history (value, step,
  timestamp);
- run artifacts (downloaded and re-uploaded: with the stack, through the server into the bucket);
- MLflow 3 logged models (``models:/m-...``): name, params, tags, artifacts, the link from the run;
- the model registry: registered models, their versions (pointing at the migrated logged models
  and runs) with tags and descriptions, and aliases (``challenger``, ``champion``); an alias that
  already points elsewhere on the destination is left alone (the server's live alias wins).

What it leaves behind: deleted runs and experiments, run inputs (dataset records), traces,
metrics logged against a logged model rather than a run, registry stage names (deprecated) and
webhooks. Run ids, model ids and registered version numbers are new on the destination (versions
keep their order; a mapping is printed and the old ids are tags).

It is safe to run again: a run whose ``migration.source_run_id`` is already on the destination is
skipped, and so is a model version whose source run was skipped. The source is only read.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml_model.paths import TRACKING_DIR
from mlops.mlflow_setup import TrackingUnavailable, check_server

DEFAULT_SOURCE = TRACKING_DIR.as_uri()
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


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _paged(fn: Any, **kw: Any) -> list[Any]:
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


def _existing_copies(dst: Any, exp_id: str) -> dict[str, str]:
    runs = _paged(dst.search_runs, experiment_ids=[exp_id], filter_string=f"tags.`{SOURCE_TAG}` != ''",
                  max_results=1000)  # fmt: skip
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
    found = _paged(dst.search_logged_models, experiment_ids=[dst_exp], max_results=100)
    return {m.tags[SOURCE_MODEL_TAG]: m.model_id for m in found if SOURCE_MODEL_TAG in (m.tags or {})}


def migrate_logged_models(src: Any, dst: Any, source_uri: str, src_exp: str, dst_exp: str, rep: Report,
                          artifacts: bool) -> None:  # fmt: skip
    """Copy an experiment's MLflow 3 logged models, linked to the migrated runs, once each."""
    from mlflow.entities import LoggedModelOutput

    known = _known_models(dst, dst_exp)
    for model in _paged(src.search_logged_models, experiment_ids=[src_exp], max_results=100):
        if model.model_id in known:
            rep.model_ids[model.model_id] = known[model.model_id]
            continue
        new_run = rep.run_ids.get(model.source_run_id) if model.source_run_id else None
        tags = {**(model.tags or {}), SOURCE_MODEL_TAG: model.model_id}
        new = dst.create_logged_model(
            dst_exp, name=model.name, source_run_id=new_run, tags=tags, params=model.params or None,
            model_type=model.model_type,
        )  # fmt: skip
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


def key_of(name: str, version: Any) -> str:
    """``name/version``: the key of a model version in the report's maps and messages."""
    return f"{name}/{version}"


def migrate_registry(src: Any, dst: Any, rep: Report) -> None:
    """Copy registered models, versions and aliases; a live alias on the destination wins."""
    from mlflow.exceptions import MlflowException

    for rm in _paged(src.search_registered_models, max_results=100):
        try:
            dst.get_registered_model(rm.name)
        except MlflowException:
            dst.create_registered_model(rm.name, tags=rm.tags or None, description=rm.description)
        done = {
            (mv.tags or {}).get(SOURCE_VERSION_TAG): str(mv.version)
            for mv in dst.search_model_versions(f"name = '{rm.name}'")
        }
        versions = sorted(src.search_model_versions(f"name = '{rm.name}'"), key=lambda v: int(v.version))
        for mv in versions:
            key = f"{rm.name}/{mv.version}"
            if str(mv.version) in done:
                rep.versions[key] = done[str(mv.version)]
                continue
            new_run = rep.run_ids.get(mv.run_id) if mv.run_id else None
            new_model = rep.model_ids.get(mv.model_id) if mv.model_id else None
            if mv.run_id and not new_run:
                log.warning("Version %s: its run %s was not migrated; skipped.", key, mv.run_id)
                continue
            source = f"models:/{new_model}" if new_model else mv.source
            if not new_model and mv.source.startswith("models:/m-"):
                log.warning("Version %s: its logged model %s was not migrated; skipped.", key, mv.model_id)
                continue
            created = dst.create_model_version(
                rm.name, source, run_id=new_run, tags={**(mv.tags or {}), SOURCE_VERSION_TAG: str(mv.version)},
                description=mv.description, model_id=new_model,
            )  # fmt: skip
            rep.versions[key] = str(created.version)
            rep.model_versions += 1
        live = dst.get_registered_model(rm.name).aliases or {}
        for alias, version in (rm.aliases or {}).items():
            target = rep.versions.get(f"{rm.name}/{version}")
            if not target:
                continue
            if alias in live and str(live[alias]) != target:
                log.warning("Alias %s@%s already points at version %s on the destination; left as it is "
                            "(the migrated version %s is %s).", rm.name, alias, live[alias], key_of(rm.name, version), target)  # fmt: skip
                continue
            dst.set_registered_model_alias(rm.name, alias, target)
            rep.aliases += 1


def migrate(source: str, dest: str, experiments: list[str] | None = None, artifacts: bool = True,
            registry: bool = True, dry_run: bool = False) -> Report:  # fmt: skip
    """Copy everything from source to dest (idempotent: copies found by tag are skipped)."""
    if source.startswith("file:"):
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3.13+ refuses file stores without it
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    src, dst = _client(source), _client(dest)
    rep = Report()
    for exp in _paged(src.search_experiments, max_results=1000):
        if experiments and exp.name not in experiments:
            continue
        runs = sorted(_paged(src.search_runs, experiment_ids=[exp.experiment_id], max_results=1000),
                      key=lambda r: r.info.start_time or 0)  # fmt: skip
        log.info("Experiment %s: %d run(s).", exp.name, len(runs))
        if dry_run:
            rep.runs += len(runs)
            continue
        target = dst.get_experiment_by_name(exp.name)
        dst_exp = target.experiment_id if target else dst.create_experiment(exp.name, tags=exp.tags or None)
        rep.experiments += 1
        copies = _existing_copies(dst, dst_exp)
        for run in runs:
            if run.info.run_id in copies:
                rep.run_ids[run.info.run_id] = copies[run.info.run_id]
                rep.preexisting_runs.add(copies[run.info.run_id])
                rep.skipped_runs += 1
                continue
            rep.run_ids[run.info.run_id] = migrate_run(src, dst, run, dst_exp, rep, artifacts)
            rep.runs += 1
            log.info("Run %s (%s) -> %s.", run.info.run_name, run.info.run_id, rep.run_ids[run.info.run_id])
        migrate_logged_models(src, dst, source, exp.experiment_id, dst_exp, rep, artifacts)
    if registry and not dry_run:
        migrate_registry(src, dst, rep)
    return rep


def main(argv: list[str] | None = None) -> int:
    """The command line: check the destination first, so a dead server fails before any copying."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source", default=DEFAULT_SOURCE, help=f"tracking URI to read (default {DEFAULT_SOURCE})"
    )
    parser.add_argument("--dest", default=os.environ.get("MLFLOW_TRACKING_URI"),
                        help="tracking URI to write (default: $MLFLOW_TRACKING_URI)")  # fmt: skip
    parser.add_argument("--experiment", action="append", help="only this experiment (repeatable)")
    parser.add_argument("--no-artifacts", action="store_true", help="copy no artifact files")
    parser.add_argument("--no-registry", action="store_true", help="leave the model registry behind")
    parser.add_argument("--dry-run", action="store_true", help="count what would be copied; write nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.dest:
        parser.error("no destination: pass --dest or set MLFLOW_TRACKING_URI")
    if args.dest.rstrip("/") == args.source.rstrip("/"):
        parser.error("source and destination are the same store")
    if args.dest.startswith(("http://", "https://")):
        try:
            check_server(args.dest)
        except TrackingUnavailable as exc:
            log.error("Not migrated: %s", exc)
            return 2
    rep = migrate(args.source, args.dest, args.experiment, not args.no_artifacts, not args.no_registry,
                  args.dry_run)  # fmt: skip
    if args.dry_run:
        log.info("Dry run: would copy %d run(s) from %s to %s.", rep.runs, args.source, args.dest)
        return 0
    for old, new in rep.versions.items():
        log.info("Registered version %s -> version %s.", old, new)
    log.info("Migrated from %s to %s: %s.", args.source, args.dest, rep.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
