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
The copying is ``run_migration.py`` (runs, logged models) and ``registry_migration.py``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from mlops.infra.registry_migration import migrate_registry
from mlops.infra.run_migration import (
    Report,
    client,
    existing_copies,
    migrate_logged_models,
    migrate_run,
    paged,
)
from mlops.mlflow_setup import TrackingUnavailable, check_server, redact
from mlops.paths import TRACKING_DIR

DEFAULT_SOURCE = TRACKING_DIR.as_uri()

log = logging.getLogger(__name__)


def _migrate_runs(src: Any, dst: Any, runs: list[Any], dst_exp: str, rep: Report, artifacts: bool) -> None:
    """An experiment's runs, oldest first; a run copied by an earlier pass is mapped, not copied again."""
    copies = existing_copies(dst, dst_exp)
    for run in runs:
        sid = run.info.run_id
        if sid in copies:
            rep.run_ids[sid] = copies[sid]
            rep.preexisting_runs.add(copies[sid])
            rep.skipped_runs += 1
            continue
        rep.run_ids[sid] = migrate_run(src, dst, run, dst_exp, rep, artifacts)
        rep.runs += 1
        log.info("Run %s (%s) -> %s.", run.info.run_name, sid, rep.run_ids[sid])


def migrate(
    source: str,
    dest: str,
    experiments: list[str] | None = None,
    artifacts: bool = True,
    registry: bool = True,
    dry_run: bool = False,
) -> Report:
    """Copy everything from source to dest (idempotent: copies found by tag are skipped)."""
    if source.startswith("file:"):
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3.13+ refuses file stores without it
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    src, dst = client(source), client(dest)
    rep = Report()
    for exp in paged(src.search_experiments, max_results=1000):
        if experiments and exp.name not in experiments:
            continue
        runs = paged(src.search_runs, experiment_ids=[exp.experiment_id], max_results=1000)
        runs = sorted(runs, key=lambda r: r.info.start_time or 0)
        log.info("Experiment %s: %d run(s).", exp.name, len(runs))
        if dry_run:
            rep.runs += len(runs)
            continue
        target = dst.get_experiment_by_name(exp.name)
        dst_exp = target.experiment_id if target else dst.create_experiment(exp.name, tags=exp.tags or None)
        rep.experiments += 1
        _migrate_runs(src, dst, runs, dst_exp, rep, artifacts)
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
    parser.add_argument(
        "--dest",
        default=os.environ.get("MLFLOW_TRACKING_URI"),
        help="tracking URI to write (default: $MLFLOW_TRACKING_URI)",
    )
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
    what = (args.experiment, not args.no_artifacts, not args.no_registry, args.dry_run)
    rep = migrate(args.source, args.dest, *what)
    if args.dry_run:
        log.info(
            "Dry run: would copy %d run(s) from %s to %s.", rep.runs, redact(args.source), redact(args.dest)
        )
        return 0
    for old, new in rep.versions.items():
        log.info("Registered version %s -> version %s.", old, new)
    log.info("Migrated from %s to %s: %s.", redact(args.source), redact(args.dest), rep.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
