"""The daily monitor: every complete served day of the log store, once, with a history that lasts.

``monitor_model.py --store URI --daily`` reads the store the shippers fill (``logstore``), finds
the complete UTC days (before ``as_of`` and before every host's ``complete_through``) that MLflow's
history does not hold yet, measures each (``daily_day.py``), and records it as an MLflow run
(``daily_history.py``) and two Evidently snapshots (``workspace.py``). Days already monitored
whose outcomes have arrived since get their realized numbers. Then the persistent-drift rule
(``persistence.py``) looks at the whole history and raises each new episode once. A run with
nothing new monitors nothing. ``--backfill DAYS`` measures the last DAYS complete days again
(their earlier runs are deleted, their snapshots replaced). The day's rows are read one day at a
time, so the cost grows with the days monitored, not with the history kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ml_model.common import atomic_write_json
from ml_model.frame_validation import read_dataset
from ml_model.paths import PRODUCTION_DATA
from ml_model.schema import LABEL
from mlops.sidecar.cbpe import fit_calibrator
from mlops.sidecar.config import Params
from mlops.sidecar.daily_day import (
    DAY_COLUMNS,
    Baseline,
    DayRecord,
    failing_reasons,
    judge_estimate,
    labelled_pairs,
    measure_day,
    realized_numbers,
)
from mlops.sidecar.daily_history import alerted_days, load_days, log_alert, log_day, update_day
from mlops.sidecar.daily_store import complete_days, data_alerts, outcomes_as_of
from mlops.sidecar.estimate_reliability import reliability
from mlops.sidecar.persistence import DailyConfig, Episode, new_episodes
from mlops.sidecar.timer import Timer

log = logging.getLogger(__name__)


@dataclass
class DailyResult:
    """What one run did: the days it measured, the days whose labels it updated, what it raised."""

    as_of: str
    monitored: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    alerts: list[Episode] = field(default_factory=list)
    data_alerts: list[str] = field(default_factory=list)
    history: list[DayRecord] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON summary the workflow's job summary reads (no rows)."""
        return {
            "as_of": self.as_of,
            "monitored": self.monitored,
            "updated": self.updated,
            "alerts": [
                {"first_day": str(e.first), "last_day": str(e.last), "reasons": list(e.reasons)}
                for e in self.alerts
            ],
            "data_alerts": self.data_alerts,
            "history": [r.as_dict() for r in self.history],
        }


def build_baseline(params: Params, daily: DailyConfig) -> Baseline:
    """Production's calibrator and reference AUC on its held-out rows, and the drift reference."""
    from sklearn.metrics import roc_auc_score

    from mlops.sidecar.scoring import load_production, score, split_rows

    reference = read_dataset(PRODUCTION_DATA)
    model = load_production()
    _, held = split_rows(reference, params.split, PRODUCTION_DATA)
    scores = score(model, held).to_numpy()
    labels = held[LABEL].to_numpy()
    return Baseline(
        reference=reference,
        calibrator=fit_calibrator(scores, labels, boots=params.estimate.boots, seed=params.estimate.seed),
        reference_auc=float(roc_auc_score(labels, scores)),
        reference_labels=labels,
        model_version=str(model.version),
        monitor=params.monitor,
        estimate=params.estimate,
        income_bands=params.income_bands,
        min_realized_labels=daily.min_realized_labels,
    )


def _reliable(history: dict[date, DayRecord], day: date, base: Baseline, window: int) -> tuple[bool, str]:
    """Whether the estimate can be trusted on ``day``: the calibration error of the ``window`` latest
    labelled days before it (``estimate_reliability``: marked unreliable, not widened)."""
    eces = [r.realized_ece for d, r in sorted(history.items()) if d < day and r.realized_ece is not None]
    return reliability(eces[-window:], base.estimate)


def _pair_keys(match_ids: pd.Series, lawyer_ids: pd.Series) -> pd.Series:
    """One text key per (prediction, lawyer) pair: a hash lookup, where a merge of two text columns
    took about 0.15 s per 50,000-pair day (BENCHMARKS.md, "The daily monitor")."""
    return match_ids.astype(str) + "\x00" + lawyer_ids.astype(str)


def _count_labelled(keys: pd.DataFrame, known: set[str]) -> int:
    """How many of a day's served pairs (with a lawyer id) have an outcome."""
    pairs = keys[keys["lawyer_id"].notna()]
    return int(_pair_keys(pairs["prediction_id"], pairs["lawyer_id"]).isin(known).sum())


def _update_labels(
    store: Any,
    mlflow: Any,
    runs: dict[date, tuple[str, DayRecord]],
    outcomes: pd.DataFrame,
    base: Baseline,
    window_days: int,
    as_of: datetime,
    workspace: Any,
) -> list[str]:
    """Monitored days (within the labelling window) whose outcomes arrived since: realized numbers."""
    updated = []
    oldest = as_of.date() - timedelta(days=window_days)
    known = set(_pair_keys(outcomes["match_id"], outcomes["lawyer_id"]))
    for day, (run_id, rec) in runs.items():
        if day < oldest:
            continue
        # two columns first: only a day that gained outcomes is read whole (the cost stays the new
        # outcomes', not the history's)
        if _count_labelled(store.read_day(day, ["prediction_id", "lawyer_id"]), known) <= rec.labelled_pairs:
            continue
        labelled = labelled_pairs(store.read_day(day, DAY_COLUMNS), outcomes)
        values = {**rec.as_dict(), **realized_numbers(labelled, base)}
        judge_estimate(values, base)
        values["failing"] = failing_reasons(values, base)
        new = DayRecord(**values)
        update_day(mlflow, run_id, new)
        if workspace is not None:
            workspace.put_day(new, None)
        runs[day] = (run_id, new)
        updated.append(str(day))
        log.info(
            "Outcomes arrived for %s: %d labelled pairs, realized ROC AUC %s.",
            day,
            new.labelled_pairs,
            "n/a" if new.realized_roc_auc is None else f"{new.realized_roc_auc:.3f}",
        )
    return updated


def _monitor_days(
    todo: list[date],
    store: Any,
    mlflow: Any,
    ctx: tuple[pd.DataFrame, Baseline, Any, DailyConfig],
    runs: dict[date, tuple[str, DayRecord]],
    timer: Timer,
) -> list[str]:
    """Measure and record each new day in order (``runs`` gains them); returns the days monitored."""
    outcomes, base, workspace, daily = ctx
    history = {d: rec for d, (_, rec) in runs.items()}
    for i, day in enumerate(todo, start=1):
        with timer("days"):
            frame = store.read_day(day, DAY_COLUMNS)
            rec, snapshot = measure_day(
                day, frame, outcomes, base, _reliable(history, day, base, daily.window_days)
            )
            run_id = log_day(mlflow, rec, runs.get(day, (None,))[0])
            if workspace is not None:
                workspace.put_day(rec, snapshot)
        runs[day], history[day] = (run_id, rec), rec
        log.info("Day %d of %d, %s: %s", i, len(todo), day, _line(rec))
    return [str(d) for d in todo]


def _raise_alerts(result: DailyResult, mlflow: Any, daily: DailyConfig, as_of: datetime) -> None:
    """The rule on the whole history: each new episode once (an MLflow run and the log)."""
    failing = {r.served_day: r.failing for r in result.history}
    result.alerts = new_episodes(failing, [r.served_day for r in result.history], alerted_days(mlflow), daily)
    for episode in result.alerts:
        log_alert(mlflow, episode, daily, as_of.isoformat())
        log.warning(
            "PERSISTENT DRIFT (%s) from %s: %s.", daily.describe(), episode.first, "; ".join(episode.reasons)
        )


def _write_summary(result: DailyResult, out_dir: Path) -> None:
    """``daily_summary.json`` for the job summary, and one record per new alert (no rows)."""
    atomic_write_json(out_dir / "daily_summary.json", result.as_dict())
    for episode in result.alerts:
        atomic_write_json(
            out_dir / f"alert_{episode.first}.json", {**result.as_dict(), "episode_first": str(episode.first)}
        )


def run_daily(
    store_uri: str | Any,
    as_of: datetime,
    backfill: int | None,
    params_file: Path,
    workspace_dir: Path | None,
    out_dir: Path,
) -> DailyResult:
    """Monitor the new complete days, update labels, apply the rule; write the summary JSON."""
    from logstore.store import LogStore
    from mlops.mlflow_setup import configure

    timer, params = Timer(), Params.load(params_file)
    raw = yaml.safe_load(params_file.read_text(encoding="utf-8"))
    daily = DailyConfig.from_params(raw)
    store = LogStore.open(store_uri) if isinstance(store_uri, (str, Path)) else store_uri
    days, result, mlflow = complete_days(store, as_of), DailyResult(as_of=as_of.isoformat()), configure()
    runs = load_days(mlflow)
    redo = set() if backfill is None else {d for d in days if d >= as_of.date() - timedelta(days=backfill)}
    todo = [d for d in days if d not in runs or d in redo]
    log.info(
        "Log store %s: %d complete day(s) before %s, %d monitored before; %d to monitor now.",
        store_uri, len(days), as_of.isoformat(timespec="minutes"), len(runs), len(todo),
    )  # fmt: skip
    outcomes = outcomes_as_of(store, as_of)
    base = workspace = None
    if todo or len(outcomes):
        with timer("baseline"):
            base = build_baseline(params, daily)
        if workspace_dir is not None:
            from mlops.sidecar.workspace import DailyWorkspace

            workspace = DailyWorkspace(workspace_dir)
    if base is not None and len(outcomes):
        with timer("outcomes"):
            done = {d: v for d, v in runs.items() if d not in todo}
            window = int(raw["retention"]["labelling_window_days"])
            result.updated = _update_labels(store, mlflow, done, outcomes, base, window, as_of, workspace)
            runs.update(done)
    result.monitored = _monitor_days(todo, store, mlflow, (outcomes, base, workspace, daily), runs, timer)
    result.history = [rec for _, (_, rec) in sorted(runs.items())]
    _raise_alerts(result, mlflow, daily, as_of)
    result.data_alerts = data_alerts(store, days, daily)
    for alert in result.data_alerts:
        log.warning("Data alert: %s.", alert)
    _write_summary(result, out_dir)
    log.info("Daily monitor finished: %s.", timer.summary())
    return result


def _line(rec: DayRecord) -> str:
    est = (
        "no estimate"
        if rec.estimated_roc_auc is None
        else (
            f"estimated ROC AUC {rec.estimated_roc_auc:.3f} [{rec.estimated_roc_auc_low:.3f}, {rec.estimated_roc_auc_high:.3f}]"
        )
    )
    real = (
        ""
        if rec.realized_roc_auc is None
        else f", realized {rec.realized_roc_auc:.3f} ({rec.labelled_pairs} labels)"
    )
    fail = f"; fails the rule: {'; '.join(rec.failing)}" if rec.failing else ""
    return f"{rec.verdict_line}; {rec.pairs} pairs; {est}{real}{fail}."
