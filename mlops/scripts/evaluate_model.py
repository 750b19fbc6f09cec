"""Evaluate the production model on the held-out split of the newest data version.

Writes ``mlops/reports/evaluation_<ts>.txt`` (metrics, confusion matrix, metrics per case type, the
ranking table of mlops/scripts/ranking.py, and the newest candidate on the same rows when there is
one), ``mlops/tracking/eval_<ts>.json`` and ``eval_latest.json`` (the DVC metric: production's
ROC AUC, calibration error and headline ranking figures ``ndcg10`` and ``top3``), and
logs MLflow run ``evaluate_<ts>`` with ROC and calibration plots. No TensorFlow: scoring is the
service's NumPy path.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml_model.artifacts import LoadedModel, ManifestError, load_model
from ml_model.common import atomic_write_json, atomic_write_text, exit_script, setup_logging, sha256_file
from ml_model.metrics import classification_metrics, expected_calibration_error
from ml_model.paths import (
    DATASET,
    EQUITY_EVAL,
    EVAL_LATEST,
    MODELS_DIR,
    PARAMS_FILE,
    REPORTS_DIR,
    TRACKING_DIR,
    timestamp,
)
from ml_model.schema import LABEL, read_dataset
from mlops.mlflow_setup import configure
from mlops.scripts.equity import auc_plot, group_table, measure
from mlops.scripts.ranking import RankingConfig, headline, rank_models, table_lines
from mlops.scripts.utils import (
    Timer,
    add_dvc_outputs_flag,
    close_orphaned_runs,
    load_params,
    load_production,
    mlflow_run,
    run_cli,
    score,
    script_parser,
    test_split,
)

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


def report_text(result: dict[str, Any]) -> str:
    """The plain-text report for the person reviewing a model."""
    m, c = result["metrics"], result["confusion_matrix"]
    lines = [
        f"Evaluation {result['run_name']} of production model {result['model_version']}",
        f"Data: {result['data']} (sha256 {result['data_sha256'][:12]}...), {result['test_rows']} held-out rows",
        "",
        "Metrics (threshold 0.5 for the thresholded ones)",
        *[f"  {k:<10} {v:.4f}" for k, v in m.items()],
        f"  {'ece':<10} {result['ece']:.4f}",
        "",
        "Confusion matrix (rows: actual, columns: predicted)",
        "              pred 0  pred 1",
        f"  actual 0  {c['tn']:>8} {c['fp']:>7}",
        f"  actual 1  {c['fn']:>8} {c['tp']:>7}",
        "",
        "Per case_type",
        f"  {'case_type':<14}{'rows':>6}{'pos.rate':>10}{'roc_auc':>9}{'f1':>8}{'accuracy':>10}",
    ]
    for name, s in result["per_case_type"].items():
        lines.append(
            f"  {name:<14}{s['rows']:>6}{s['positive_rate']:>10.3f}{s['roc_auc']:>9.4f}{s['f1']:>8.4f}{s['accuracy']:>10.4f}"
        )
    groups = result["by_group"]
    lines += ["", f"Quality by group on the fixed equity evaluation set ({groups['rows']} rows; production"
              + (", newest candidate beside it)" if "candidate" in groups else ")")]  # fmt: skip
    lines += group_table(groups["production"]["groups"])
    if "candidate" in groups:
        lines += ["", "Newest candidate by group (production's ROC AUC in the last column)"]
        lines += group_table(groups["candidate"]["groups"], groups["production"]["groups"])
    lines += ["", *table_lines(result["ranking"])]
    cand = result.get("newest_candidate")
    if cand:
        lines += ["", f"Newest candidate {cand['version']} on the same rows"]
        lines += [f"  {k:<10} {v:.4f}  ({v - m[k]:+.4f} vs production)" for k, v in cand["metrics"].items()]
    return "\n".join(lines) + "\n"


def plots(y: np.ndarray, prob: np.ndarray, folder: Path) -> list[Path]:
    """ROC and calibration curves as PNG files, each against its diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, prob)
    frac, mean_pred = calibration_curve(y, prob, n_bins=10)
    curves = [
        ("roc.png", "ROC", fpr, tpr, "-", ("false positive rate", "true positive rate")),
        (
            "calibration.png",
            "Calibration",
            mean_pred,
            frac,
            "o-",
            ("predicted probability", "observed match rate"),
        ),
    ]
    paths = []
    for name, title, x, y_, style, (xlabel, ylabel) in curves:
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        ax.plot(x, y_, style, label="production")
        ax.plot([0, 1], [0, 1], "--", color="grey")
        ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
        ax.legend()
        fig.savefig(folder / name, dpi=80, bbox_inches="tight")
        plt.close(fig)
        paths.append(folder / name)
    return paths


def score_production(data: Path, params_file: Path) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Production (and the newest candidate) on the held-out split; returns the result, labels, scores."""
    params = load_params(params_file)
    production = load_production()
    _, test = test_split(read_dataset(data), params, data)
    prob = score(production, test)
    y = test[LABEL].to_numpy()
    ts = timestamp()
    result: dict[str, Any] = {
        "run_name": f"evaluate_{ts}",
        "timestamp": ts,
        "model_version": production.version,
        "data": str(data),
        "data_sha256": sha256_file(data),
        "test_rows": len(test),
        "metrics": classification_metrics(y, prob.to_numpy()),
        "ece": expected_calibration_error(y, prob.to_numpy()),
        "confusion_matrix": confusion(y, prob.to_numpy()),
        "per_case_type": per_slice(test, prob),
    }
    cand = newest_candidate()
    if cand is not None:
        result["newest_candidate"] = {
            "version": cand.version,
            "metrics": classification_metrics(y, score(cand, test).to_numpy()),
        }
    result["by_group"] = by_group(production, cand, params)
    result["ranking"] = rank_models(RankingConfig.from_params(params), production, cand)
    return result, y, prob.to_numpy()


def by_group(production: LoadedModel, cand: LoadedModel | None, params: dict[str, Any]) -> dict[str, Any]:
    """Quality per group on the fixed equity evaluation set: production, and the newest candidate."""
    ev, cuts = read_dataset(EQUITY_EVAL), params["groups"]["income_bands"]
    out = {"rows": len(ev), "production": measure(ev, score(production, ev), LABEL, cuts)}
    if cand is not None:
        out["candidate"] = measure(ev, score(cand, ev), LABEL, cuts)
    return out


def log_evaluation(result: dict[str, Any], y: np.ndarray, prob: np.ndarray) -> str:
    """MLflow run ``evaluate_<ts>``: params, metrics, eval.json and the plots; returns the run id."""
    mlflow = configure()
    close_orphaned_runs(mlflow)
    tags = {"timestamp": result["timestamp"], "data_hash": result["data_sha256"]}
    with tempfile.TemporaryDirectory() as tmp, mlflow_run(mlflow, result["run_name"], tags) as run:
        mlflow.log_params(
            {
                "type": "production_eval",
                "model_version": result["model_version"],
                "test_rows": result["test_rows"],
            }
        )
        ranking = {f"ranking_{k}": v for k, v in headline(result["ranking"]).items()}
        mlflow.log_metrics({**result["metrics"], "ece": result["ece"], **ranking})
        mlflow.log_dict(result, "eval.json")
        for png in plots(y, prob, Path(tmp)):
            mlflow.log_artifact(str(png), "plots")
        groups = {k: v for k, v in result["by_group"].items() if k != "rows"}
        auc_plot(groups, Path(tmp) / "auc_by_group.png")
        mlflow.log_artifact(str(Path(tmp) / "auc_by_group.png"), "plots")
        return run.info.run_id


def evaluate(
    data: Path = DATASET, params_file: Path = PARAMS_FILE, dvc_outputs: bool = False
) -> dict[str, Any]:
    """The spec's evaluation flow: score, log to MLflow, write the report and the DVC metric."""
    timer = Timer()
    with timer("loading data and scoring"):
        result, y, prob = score_production(data, params_file)
    with timer("MLflow logging"):
        result["run_id"] = log_evaluation(result, y, prob)
    ts = result["timestamp"]
    atomic_write_json(TRACKING_DIR / f"eval_{ts}.json", result)
    if dvc_outputs:  # the DVC metric, from the dvc.yaml stage only
        # Few, flat keys (`dvc metrics show` at 100 columns): the full table is in the report and MLflow.
        top = headline(result["ranking"])
        atomic_write_json(EVAL_LATEST, {"auc": result["metrics"]["roc_auc"], "ece": result["ece"],
                                        "ndcg10": top["ndcg10"], "top3": top["top3"]})  # fmt: skip
    report = REPORTS_DIR / f"evaluation_{ts}.txt"
    atomic_write_text(report, report_text(result))
    log.info("Production %s on %d held-out rows: %s.", result["model_version"], result["test_rows"],
             ", ".join(f"{k} {v:.4f}" for k, v in result["metrics"].items()))  # fmt: skip
    rank = result["ranking"]
    log.info("Ranking of %d simulated cases took %.1f s: %s.", rank["config"]["cases"], rank["seconds"],
             ", ".join(f"{k} {v:.4f}" for k, v in headline(rank).items()))  # fmt: skip
    log.info("Wrote %s. Evaluate finished: %s.", report, timer.summary())
    return result


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run; exit 2 on bad input."""
    parser = script_parser(__doc__, params_help="params.yaml (the data split)")
    add_dvc_outputs_flag(parser)
    args = parser.parse_args(argv)
    setup_logging()
    return run_cli("evaluate", evaluate, args.data, args.params, args.dvc_outputs)[0]


if __name__ == "__main__":
    exit_script(main())
