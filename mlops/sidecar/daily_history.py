"""The daily monitor's history, kept as MLflow runs: one run per served day, one per alert.

MLflow is the history because it is already where retrains and monitor runs live, on one machine
(the file store) and on the stack (the tracking server): the daily monitor resumes from it
wherever it runs, and a person reads drift beside the retrains that answer it. Each day's run
(``daily_<day>``, tag ``kind=daily_monitor``) carries the verdict as a tag, like the monitor's own
runs, the numbers as metrics (the estimate named ``estimated_roc_auc``), and the whole day record
(no rows: counts, scores, column names) as JSON in the ``record`` tag, so one search returns the
history. When outcomes arrive later the same run gets the realized numbers. An alert is a run
``drift_alert_<day>`` (tag ``kind=drift_alert``) with the episode's days and reasons.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from mlops.paths import EXPERIMENT_NAME
from mlops.sidecar.daily_day import DayRecord
from mlops.sidecar.persistence import DailyConfig, Episode
from mlops.sidecar.runs import DESCRIPTION_TAG, describe, mlflow_run, rounded

DAY_KIND = "daily_monitor"
ALERT_KIND = "drift_alert"
METRICS = (
    "pairs",
    "tested",
    "share_drifted",
    "reference_auc",
    "estimated_roc_auc",
    "estimated_roc_auc_low",
    "estimated_roc_auc_high",
    "estimated_worst_group_roc_auc",
    "labelled_pairs",
    "realized_roc_auc",
    "realized_ece",
    "realized_worst_group_roc_auc",
)


def _experiment_id(mlflow: Any) -> str:
    return mlflow.get_experiment_by_name(EXPERIMENT_NAME).experiment_id


def _search(mlflow: Any, kind: str) -> list[Any]:
    client = mlflow.tracking.MlflowClient()
    return client.search_runs(
        [_experiment_id(mlflow)],
        filter_string=f"tags.kind = '{kind}' and attributes.status = 'FINISHED'",
        max_results=5000,
    )


def load_days(mlflow: Any) -> dict[date, tuple[str, DayRecord]]:
    """Every monitored day: its run id and record (the newest run of a day wins)."""
    out: dict[date, tuple[str, DayRecord, int]] = {}
    for run in _search(mlflow, DAY_KIND):
        rec = DayRecord(**json.loads(run.data.tags["record"]))
        day = rec.served_day
        if day not in out or run.info.start_time > out[day][2]:
            out[day] = (run.info.run_id, rec, run.info.start_time)
    return {d: (rid, rec) for d, (rid, rec, _) in sorted(out.items())}


def alerted_days(mlflow: Any) -> set[date]:
    """The first days of episodes already alerted."""
    return {date.fromisoformat(r.data.tags["episode_first"]) for r in _search(mlflow, ALERT_KIND)}


def _metrics(rec: DayRecord) -> dict[str, float]:
    values = rec.as_dict()
    return rounded({k: values[k] for k in METRICS if values.get(k) is not None})


def _tags(rec: DayRecord) -> dict[str, str]:
    return {
        "kind": DAY_KIND,
        "day": rec.day,
        "verdict": rec.verdict,
        "failing": "yes" if rec.failing else "no",
        "estimate_reliable": {True: "yes", False: "no", None: "n/a"}[rec.estimate_reliable],
        "record": json.dumps(rec.as_dict(), separators=(",", ":")),
    }


def _summary(rec: DayRecord) -> str:
    est = (
        f"estimated ROC AUC {rec.estimated_roc_auc:.3f} [{rec.estimated_roc_auc_low:.3f}, {rec.estimated_roc_auc_high:.3f}]"
        if rec.estimated_roc_auc is not None
        else "no estimate"
    )
    real = (
        f"realized {rec.realized_roc_auc:.3f} on {rec.labelled_pairs} labelled pairs"
        if rec.realized_roc_auc is not None
        else f"{rec.labelled_pairs} labelled pairs so far"
    )
    return f"{rec.day}: {rec.verdict_line}. {est}; {real}."


def log_day(mlflow: Any, rec: DayRecord, old_run: str | None = None) -> str:
    """A day's run; a backfilled day's earlier run is deleted (soft: MLflow keeps it restorable)."""
    client = mlflow.tracking.MlflowClient()
    if old_run:
        client.delete_run(old_run)
    with mlflow_run(mlflow, f"daily_{rec.day}", _tags(rec)) as run:
        mlflow.log_metrics(_metrics(rec))
        describe(mlflow, _summary(rec))
    return run.info.run_id


def update_day(mlflow: Any, run_id: str, rec: DayRecord) -> None:
    """New outcomes for a monitored day: the same run gets the realized numbers (a new step)."""
    client = mlflow.tracking.MlflowClient()
    step = rec.labelled_pairs
    for key, value in _metrics(rec).items():
        client.log_metric(run_id, key, value, step=step)
    for key, value in {**_tags(rec), DESCRIPTION_TAG: _summary(rec)}.items():
        client.set_tag(run_id, key, value)


def log_alert(mlflow: Any, episode: Episode, cfg: DailyConfig, as_of: str) -> str:
    """The alert's run: the rule, the episode's first firing window and why each day failed."""
    tags = {
        "kind": ALERT_KIND,
        "episode_first": str(episode.first),
        "rule": cfg.describe(),
        "as_of": as_of,
    }
    with mlflow_run(mlflow, f"drift_alert_{episode.first}", tags) as run:
        describe(mlflow, f"Persistent drift from {episode.first}: " + "; ".join(episode.reasons)[:4000])
        mlflow.log_metric("failing_days", len(episode.failing_days))
    return run.info.run_id
