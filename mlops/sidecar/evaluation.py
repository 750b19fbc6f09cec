"""Evaluate the production model on the held-out split of the newest data version.

Writes ``mlops/reports/evaluation_<ts>.txt`` (metrics, confusion matrix, metrics per case type,
quality by group, the ranking table of ``ranking.py``, and the newest candidate on the same rows
when there is one; ``evaluation_report.py``), ``mlops/tracking/eval_<ts>.json`` and, for the DVC
stage, ``production.json`` (production's ROC AUC, calibration error and headline ranking figures
``ndcg10`` and ``top3``), and logs MLflow run ``evaluate_<ts>`` with ROC and calibration plots. No
TensorFlow: scoring is the service's NumPy path.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml_model.artifacts import LoadedModel
from ml_model.common import atomic_write_json, atomic_write_text, sha256_file
from ml_model.frame_validation import read_dataset
from ml_model.metrics import classification_metrics, expected_calibration_error
from ml_model.paths import timestamp
from ml_model.schema import LABEL
from mlops.mlflow_setup import configure
from mlops.paths import DATASET, EQUITY_EVAL, EVAL_LATEST, PARAMS_FILE, REPORTS_DIR, TRACKING_DIR
from mlops.sidecar.candidates import newest_candidate
from mlops.sidecar.config import Params
from mlops.sidecar.equity import auc_plot, measure
from mlops.sidecar.evaluation_report import plots, report_text
from mlops.sidecar.ranking import headline, rank_models
from mlops.sidecar.runs import close_orphaned_runs, describe, mlflow_run, rounded
from mlops.sidecar.scoring import load_production, metrics_text, score, split_rows
from mlops.sidecar.timer import Timer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluationResult:
    """Production (and the newest candidate) on the held-out rows, by group, and as a ranker."""

    run_name: str
    timestamp: str
    model_version: str
    data: str
    data_sha256: str
    test_rows: int
    metrics: dict[str, float]
    ece: float
    confusion_matrix: dict[str, int]
    per_case_type: dict[str, dict[str, float]]
    newest_candidate: dict[str, Any] | None  # its version and metrics on the same rows
    by_group: dict[str, Any]
    ranking: dict[str, Any]
    run_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``eval_<ts>.json``, MLflow's ``eval.json``); absent parts are left out."""
        return {
            k: v for k, v in asdict(self).items() if v is not None or k not in ("newest_candidate", "run_id")
        }


def confusion(y: np.ndarray, prob: np.ndarray) -> dict[str, int]:
    """Counts at threshold 0.5, the one the service's consumers act on."""
    from sklearn.metrics import confusion_matrix

    tn, fp, fn, tp = confusion_matrix(y, (prob >= 0.5).astype(int), labels=[0, 1]).ravel()
    return {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)}


def per_slice(test: pd.DataFrame, prob: pd.Series, column: str = "case_type") -> dict[str, dict[str, float]]:
    """Metrics per value of ``column``: an average can hide a case type the model fails."""
    out = {}
    for value, rows in test.groupby(column):
        m = classification_metrics(rows[LABEL].to_numpy(), prob.loc[rows.index].to_numpy())
        out[str(value)] = {**m, "rows": len(rows), "positive_rate": float(rows[LABEL].mean())}
    return out


def by_group(
    production: LoadedModel, cand: LoadedModel | None, income_bands: tuple[float, ...]
) -> dict[str, Any]:
    """Quality per group on the fixed equity evaluation set: production, and the newest candidate."""
    ev, cuts = read_dataset(EQUITY_EVAL), list(income_bands)
    out = {"rows": len(ev), "production": measure(ev, score(production, ev), LABEL, cuts)}
    if cand is not None:
        out["candidate"] = measure(ev, score(cand, ev), LABEL, cuts)
    return out


def score_production(data: Path, params: Params) -> tuple[EvaluationResult, np.ndarray, np.ndarray]:
    """Production (and the newest candidate) on the held-out split; returns the result, labels, scores."""
    production = load_production()
    _, test = split_rows(read_dataset(data), params.split, data)
    prob = score(production, test)
    y, p = test[LABEL].to_numpy(), prob.to_numpy()
    cand = newest_candidate()
    cand_metrics = classification_metrics(y, score(cand, test).to_numpy()) if cand else None
    ts = timestamp()
    result = EvaluationResult(
        run_name=f"evaluate_{ts}",
        timestamp=ts,
        model_version=production.version,
        data=str(data),
        data_sha256=sha256_file(data),
        test_rows=len(test),
        metrics=classification_metrics(y, p),
        ece=expected_calibration_error(y, p),
        confusion_matrix=confusion(y, p),
        per_case_type=per_slice(test, prob),
        newest_candidate={"version": cand.version, "metrics": cand_metrics} if cand else None,
        by_group=by_group(production, cand, params.income_bands),
        ranking=rank_models(params.ranking, production, cand),
    )
    return result, y, p


def log_evaluation(
    result: EvaluationResult, y: np.ndarray, prob: np.ndarray, started: float | None = None
) -> str:
    """MLflow run ``evaluate_<ts>``: params, metrics, eval.json and the plots; returns the run id."""
    mlflow = configure()
    close_orphaned_runs(mlflow)
    tags = {"timestamp": result.timestamp, "data_hash": result.data_sha256}
    with tempfile.TemporaryDirectory() as tmp, mlflow_run(mlflow, result.run_name, tags, started) as run:
        params = {
            "type": "production_eval",
            "model_version": result.model_version,
            "test_rows": result.test_rows,
        }
        mlflow.log_params(params)
        top = headline(result.ranking)
        # all production's (this run scores nothing else): named so, beside the retrains' candidate_*
        mlflow.log_metrics(
            rounded({f"production_{k}": v for k, v in {**result.metrics, "ece": result.ece, **top}.items()})
        )
        describe(
            mlflow,
            f"Production {result.model_version} on {result.test_rows:,} held-out rows of data "
            f"{result.data_sha256[:12]}: ROC AUC {result.metrics['roc_auc']:.4f}, calibration error "
            f"{result.ece:.4f}, NDCG@10 {top.get('ndcg10', float('nan')):.4f}, top-3 {top.get('top3', float('nan')):.3f}.",
        )
        mlflow.log_dict(result.as_dict(), "eval.json")
        for png in plots(y, prob, Path(tmp)):
            mlflow.log_artifact(str(png), "plots")
        auc_plot({k: v for k, v in result.by_group.items() if k != "rows"}, Path(tmp) / "auc_by_group.png")
        mlflow.log_artifact(str(Path(tmp) / "auc_by_group.png"), "plots")
        return run.info.run_id


def _log_summary(result: EvaluationResult) -> None:
    log.info(
        "Production %s on %d held-out rows: %s.",
        result.model_version,
        result.test_rows,
        metrics_text(result.metrics),
    )
    rank = result.ranking
    log.info(
        "Ranking of %d simulated cases took %.1f s: %s.",
        rank["config"]["cases"],
        rank["seconds"],
        metrics_text(headline(rank)),
    )


def evaluate(
    data: Path = DATASET, params_file: Path = PARAMS_FILE, dvc_outputs: bool = False
) -> EvaluationResult:
    """The spec's evaluation flow: score, log to MLflow, write the report and the DVC metric."""
    timer = Timer()
    with timer("loading data and scoring"):
        result, y, prob = score_production(data, Params.load(params_file))
    with timer("MLflow logging"):
        result = replace(result, run_id=log_evaluation(result, y, prob, timer.started))
    atomic_write_json(TRACKING_DIR / f"eval_{result.timestamp}.json", result.as_dict())
    if dvc_outputs:  # the DVC metric, from the dvc.yaml stage only
        # Few, flat keys (`dvc metrics show` at 100 columns), all production's, on this data version's
        # held-out rows (ROC AUC, calibration error) and simulated pools (ranking): the full table is
        # in the report and MLflow.
        top = headline(result.ranking)
        summary = {
            "auc": result.metrics["roc_auc"],
            "ece": result.ece,
            "ndcg10": top["ndcg10"],
            "top3": top["top3"],
        }
        atomic_write_json(EVAL_LATEST, summary)
    report = REPORTS_DIR / f"evaluation_{result.timestamp}.txt"
    atomic_write_text(report, report_text(result.as_dict()), private=True)
    _log_summary(result)
    log.info("Wrote %s. Evaluate finished: %s.", report, timer.summary())
    return result
