"""Data drift between the production training snapshot and what the model sees now.

Reference: ``ml_model/matchmaking_dataset.csv``. Current: the service's prediction log when it
exists, else the newest ``mlops/data`` version; ``--reference`` and ``--current`` override.
Evidently's ``DataDriftPreset`` scores every feature column; the verdict is ours (``drift_verdict``):

  dataset drift = (share of drifted feature columns >= ``drift_share``)
                  OR (any of ``key_features`` drifted)
                  OR (labels present and the production model's ROC AUC fell by more than
                      ``max_auc_drop`` and by more than 3 standard errors against its
                      held-out reference rows: concept drift)

Evidently's default rule (half of all columns) stays silent when only incomes and the case mix
move, which is exactly what the on-call person must hear about; and a column threshold of 0.15
(not 0.1) keeps sampling noise at 1,000 current rows from raising alarms.
The same rule is in the Evidently report as its tests (share of drifted columns, each key
feature, and production's ROC AUC against the concept-drift floor when the current rows are a
labelled CSV), and the HTML opens with our verdict (``drift_report.py``). Fewer than ``min_rows``
current rows give NO VERDICT everywhere: the log, the JSON, the HTML and the job summary.
Writes ``mlops/reports/data_drift_report_<ts>.html`` and ``.json`` (the newest ``keep_reports``
are kept) and logs an MLflow run ``monitor_<ts>``; the DVC metric ``drift_latest.json`` only with
``--dvc-outputs`` (the stage). Exits 0 even on drift unless ``--fail-on-drift`` (then 1).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml_model.artifacts import ManifestError, read_manifest
from ml_model.common import atomic_write_json, exit_script, setup_logging
from ml_model.metrics import classification_metrics, expected_calibration_error
from ml_model.paths import (
    DATASET,
    DEFAULT_PREDICTION_LOG,
    DRIFT_LATEST,
    DRIFT_REPORT_LATEST,
    ML_MODEL_DIR,
    PARAMS_FILE,
    PRODUCTION_DATA,
    REPORTS_DIR,
    timestamp,
)
from ml_model.prediction_log import read_prediction_log
from ml_model.schema import (
    CATEGORICAL,
    FEATURE_FIELDS,
    FEATURES,
    LABEL,
    NUMERIC,
    SchemaError,
    read_dataset,
    validate_frame,
)
from mlops.scripts.collect_feedback import FeedbackReport, join, read_outcomes, served_pairs
from mlops.scripts.drift_report import prune_reports, verdict_line, verdict_word, write_report
from mlops.scripts.equity import auc_se, group_metrics
from mlops.scripts.utils import (
    Timer,
    add_dvc_outputs_flag,
    load_params,
    load_production,
    mlflow_run,
    run_cli,
    score,
    script_parser,
    test_split,
)

log = logging.getLogger(__name__)


def load_current(path: Path, seed: int = 0) -> tuple[pd.DataFrame, int]:
    """A CSV of the contract (labels optional) or a prediction log (.jsonl).

    The service scores unknown categories, so the log may hold them: those rows are counted and
    left out of the drift tests (they are reported, not silently dropped). A /rank request logs one
    case beside many lawyers; so that one case does not weigh as much as a thousand, the monitor
    draws one scored pair per request (seeded). A CSV must be clean and is used as it is.
    """
    if path.suffix == ".jsonl":
        try:
            logged = read_prediction_log(path)
        except (OSError, ValueError) as exc:
            raise SchemaError(str(path), [str(exc)]) from exc
        known = pd.Series(True, index=logged.index)
        for f in FEATURE_FIELDS:
            if f.kind == "category":
                known &= logged[f.name].isin(f.vocab)
        unknown = int((~known).sum())
        one_per_request = logged.loc[known].groupby("request", sort=False).sample(n=1, random_state=seed)
        return validate_frame(
            one_per_request[list(FEATURES)].reset_index(drop=True), str(path), False
        ), unknown
    return read_dataset(path, require_label=False), 0


def default_current() -> Path:
    """What the service saw, if it has logged anything; else the newest data version."""
    return DEFAULT_PREDICTION_LOG if DEFAULT_PREDICTION_LOG.is_file() else DATASET


def drift_verdict(
    columns: dict[str, dict[str, Any]], quality: dict[str, Any] | None, cfg: dict[str, Any]
) -> tuple[bool, list[str]]:
    """The dataset-level rule (see the module docstring); returns the verdict and its reasons."""
    drifted = [c for c, v in columns.items() if v["drifted"]]
    share = len(drifted) / max(len(columns), 1)
    reasons = []
    if share >= cfg["drift_share"]:
        reasons.append(
            f"{len(drifted)} of {len(columns)} columns drifted (share {share:.2f} >= {cfg['drift_share']})"
        )
    keys = [c for c in cfg["key_features"] if c in drifted]
    if keys:
        reasons.append("key feature(s) drifted: " + ", ".join(keys))
    if quality and quality["auc_drop"] > max(cfg["max_auc_drop"], 3 * quality["auc_drop_se"]):
        reasons.append(
            f"production ROC AUC fell from {quality['reference']['roc_auc']:.4f} to "
            f"{quality['current']['roc_auc']:.4f} (drop {quality['auc_drop']:.4f} > {cfg['max_auc_drop']} "
            f"and > 3 standard errors, {3 * quality['auc_drop_se']:.4f})"
        )
    return bool(reasons), reasons


_P_VALUE_METHODS = ("ks", "chisquare", "z", "fisher_exact", "t_test", "mannw", "anderson", "cramer_von_mises")


def drift_metrics(cfg: dict[str, Any], with_tests: bool) -> list[Any]:
    """Our rule in Evidently's terms: a share-of-drifted-columns test and one test per key feature.

    Each column's drift score is a ``ValueDrift`` with our method and threshold; only the key
    features carry a test, because any one of them drifting is drift. The share test fails at
    ``drift_share``, exactly where ``drift_verdict`` does. Below ``min_rows`` there are no tests.
    """
    from evidently.metrics import DriftedColumnsCount, ValueDrift
    from evidently.tests import gte, lt

    def method(column: str) -> str:
        return cfg["num_method"] if column in NUMERIC else cfg["cat_method"]

    def below(value: float) -> list[Any]:
        return [lt(value)] if with_tests else []

    def no_drift(column: str) -> list[Any]:  # a distance drifts at >= threshold, a p-value at < threshold
        if not with_tests or column not in keys:
            return []
        return [gte(cfg["threshold"])] if method(column) in _P_VALUE_METHODS else [lt(cfg["threshold"])]

    share = DriftedColumnsCount(columns=list(FEATURES), num_method=cfg["num_method"],
                                cat_method=cfg["cat_method"], threshold=cfg["threshold"],
                                drift_share=cfg["drift_share"], share_tests=below(cfg["drift_share"]))  # fmt: skip
    keys = set(cfg["key_features"])
    per_column = [
        ValueDrift(
            column=c,
            method=method(c),
            threshold=cfg["threshold"],
            tests=no_drift(c),
        )
        for c in FEATURES
    ]
    return [share, *per_column]


@dataclass
class AucCheck:
    """Production's scores on the report's own rows, so the report's ROC AUC test is the concept rule."""

    current: np.ndarray  # scores of the (labelled) current rows the drift tests use
    reference: np.ndarray  # scores of every reference row (Evidently shows their AUC beside it)
    floor: float  # a current ROC AUC below this is concept drift (``drift_verdict``'s bound)


def run_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    cfg: dict[str, Any],
    with_tests: bool = True,
    metadata: dict[str, str] | None = None,
    auc: AucCheck | None = None,
) -> tuple[Any, dict[str, dict]]:
    """Evidently's column drift on the feature columns (and, with ``auc``, production's ROC AUC on the
    labelled current rows with a test at the concept-drift floor); returns the snapshot and columns."""
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.metrics import RocAuc
    from evidently.tests import gte

    metrics, cols = drift_metrics(cfg, with_tests), list(FEATURES)
    definition = DataDefinition(numerical_columns=list(NUMERIC), categorical_columns=list(CATEGORICAL))
    if auc is not None:
        current, reference = (
            current.assign(prediction=auc.current),
            reference.assign(prediction=auc.reference),
        )
        cols += [LABEL, "prediction"]
        definition = DataDefinition(numerical_columns=[*NUMERIC, "prediction"], categorical_columns=[*CATEGORICAL, LABEL],
                                    classification=[BinaryClassification(target=LABEL, prediction_probas="prediction")])  # fmt: skip
        metrics.append(RocAuc(tests=[gte(auc.floor)] if with_tests else []))
    report = Report(metrics, metadata=metadata or {}, tags=["monitor"], include_tests=with_tests)
    snapshot = report.run(
        Dataset.from_pandas(current[cols], data_definition=definition),
        Dataset.from_pandas(reference[cols], data_definition=definition),
    )
    columns: dict[str, dict] = {}
    for metric in snapshot.dict()["metrics"]:
        conf = metric["config"]
        if conf.get("type", "").endswith("ValueDrift"):
            method, threshold, value = conf["method"], float(conf["threshold"]), float(metric["value"])
            drifted = value < threshold if method in _P_VALUE_METHODS else value >= threshold
            columns[conf["column"]] = {"method": method, "score": value, "threshold": threshold,
                                       "drifted": drifted}  # fmt: skip
    missing = set(FEATURES) - set(columns)
    if missing:
        raise RuntimeError(f"Evidently returned no drift score for {sorted(missing)}")
    return snapshot, columns


def failed_tests(snapshot: Any) -> list[str]:
    """The names of the report's tests that failed: the HTML's verdict, for checking it against ours."""
    return [t.name for t in snapshot.tests_results if t.status.value != "SUCCESS"]


@dataclass
class Observed:
    """The two samples the drift tests compare, with what was set aside on the way."""

    reference: pd.DataFrame
    current: pd.DataFrame
    rows_in: int  # current rows before sampling down
    unknown_rows: int  # logged instances with categories the model does not know
    labelled: pd.DataFrame | None = None  # current rows with an outcome, for quality
    auc: AucCheck | None = None  # set by production_quality when the labelled rows are the tested ones


def labelled_rows(current: pd.DataFrame, current_path: Path, outcomes: Path | None) -> pd.DataFrame | None:
    """Labelled current rows: a labelled CSV as it is, or a prediction log joined with outcomes."""
    if outcomes is not None:
        if current_path.suffix != ".jsonl":
            raise ValueError(f"--outcomes goes with a prediction log (.jsonl), not {current_path}")
        report = FeedbackReport()
        rows = join(served_pairs([current_path], None, 0.0, report), read_outcomes(outcomes), report)
        log.info(
            "%d of %d served pairs have an outcome; quality is measured on those.", len(rows), report.served
        )
        return rows if len(rows) else None
    return current if LABEL in current.columns else None


def load_observed(
    reference_path: Path, current_path: Path, cfg: dict[str, Any], outcomes: Path | None = None
) -> Observed:
    """Read both sides; sample the current side down to ``max_rows`` (seeded) so the verdict is stable."""
    reference = read_dataset(reference_path)
    current, unknown_rows = load_current(current_path, cfg["seed"])
    rows_in = len(current)
    if rows_in > cfg["max_rows"]:
        current = current.sample(cfg["max_rows"], random_state=cfg["seed"]).reset_index(drop=True)
        log.info(
            "Sampled %d of %d current rows (seed %d) for the drift tests.", len(current), rows_in, cfg["seed"]
        )
    # a labelled CSV: quality on the same (sampled) rows as the drift tests, so the report carries both
    labelled = labelled_rows(current, current_path, outcomes)
    return Observed(reference, current, rows_in, unknown_rows, labelled)


def production_quality(obs: Observed, params: dict[str, Any]) -> dict[str, Any] | None:
    """Production's quality on labelled current rows (overall, calibration, by group) against its
    held-out reference rows: a drop beyond noise is concept drift."""
    cur = obs.labelled
    if cur is None:
        return None
    if cur[LABEL].nunique() < 2:  # ROC AUC is undefined on one label value
        log.warning("The %d labelled current rows have one label value: no quality measure.", len(cur))
        return None
    model = load_production()
    _, held_out = test_split(obs.reference, params)  # rows production was not trained on
    ref_q = classification_metrics(held_out[LABEL].to_numpy(), score(model, held_out).to_numpy())
    prob = score(model, cur).to_numpy()
    cur_q = classification_metrics(cur[LABEL].to_numpy(), prob)
    se = (auc_se(ref_q["roc_auc"], held_out[LABEL]) ** 2 + auc_se(cur_q["roc_auc"], cur[LABEL]) ** 2) ** 0.5
    if cur is obs.current:  # the report's rows: its ROC AUC test is the concept-drift rule
        floor = ref_q["roc_auc"] - max(params["monitor"]["max_auc_drop"], 3 * se)
        obs.auc = AucCheck(prob, score(model, obs.reference).to_numpy(), floor)
    return {"model_version": model.version, "labelled_rows": len(cur), "reference": ref_q, "current": cur_q,
            "current_ece": expected_calibration_error(cur[LABEL].to_numpy(), prob),
            "auc_drop": ref_q["roc_auc"] - cur_q["roc_auc"], "auc_drop_se": se,
            "by_group": group_metrics(cur, prob, LABEL, params["groups"]["income_bands"])}  # fmt: skip


def verdict_with_floor(
    columns: dict[str, dict[str, Any]], quality: dict[str, Any] | None, cfg: dict[str, Any], tested: int
) -> tuple[bool, bool, list[str]]:
    """``drift_verdict``, unless there are fewer than ``min_rows`` rows: then no verdict, and why."""
    if tested < cfg["min_rows"]:  # below this, sampling noise alone reaches the column threshold
        return (
            False,
            False,
            [
                f"only {tested} rows, fewer than min_rows {cfg['min_rows']}: sampling noise alone can cross the "
                "column threshold, so the scores are reported and not judged"
            ],
        )
    dataset_drift, reasons = drift_verdict(columns, quality, cfg)
    return dataset_drift, True, reasons


def write_outputs(snapshot: Any, result: dict[str, Any], out_dir: Path, cfg: dict[str, Any],
                  dvc_outputs: bool = False) -> Path:  # fmt: skip
    """The report pair, the retention bound, and (for the DVC stage) the flat metric summary."""
    html = write_report(snapshot, result, out_dir)
    prune_reports(out_dir, cfg["keep_reports"])
    if dvc_outputs:
        # Flat and few (`dvc metrics show` at 100 columns); no ``drift`` key at all when there is no verdict.
        verdict = {"drift": result["dataset_drift"]} if result["enough_data"] else {}
        # ``drifted``: the share (0 to 1) of feature columns that drifted.
        atomic_write_json(DRIFT_LATEST, {**verdict, "drifted": round(result["share_drifted"], 4)})
        atomic_write_json(DRIFT_REPORT_LATEST, result)  # the same run's verdict, for the job summary
    return html


def log_to_mlflow(result: dict[str, Any], html: Path) -> str:
    """The monitor run in MLflow (``monitor_<ts>``): the verdict as tags, the scores as metrics, the
    report as an artifact, so drift sits beside the retrains that answer it."""
    from mlops.mlflow_setup import configure

    mlflow = configure()
    tags = {"kind": "monitor", "verdict": verdict_word(result), "reasons": "; ".join(result["reasons"])[:5000],
            "current": result["current"], "production_version": result["production_model_version"] or ""}  # fmt: skip
    with mlflow_run(mlflow, f"monitor_{result['timestamp']}", tags) as run:
        mlflow.log_params({f"rule_{k}": v for k, v in result["rule"].items()})
        mlflow.log_metrics({"dataset_drift": int(result["dataset_drift"]), "enough_data": int(result["enough_data"]),
                            "share_drifted": result["share_drifted"], "rows_tested": result["rows"]["tested"],
                            **{f"drift_{c}": v["score"] for c, v in result["columns"].items()}})  # fmt: skip
        mlflow.log_artifact(str(html), "report")
        mlflow.log_artifact(str(html.with_suffix(".json")), "report")
    return run.info.run_id


def production_version() -> str | None:
    """The served model's version from its manifest (read only), for the report's metadata."""
    try:
        return str(read_manifest(ML_MODEL_DIR)["model_version"])
    except (OSError, ValueError, KeyError, ManifestError):
        return None


def build_result(
    metadata: dict[str, str],
    obs: Observed,
    columns: dict[str, dict],
    quality: dict[str, Any] | None,
    cfg: dict[str, Any],
) -> dict[str, Any]:
    """The JSON report: inputs, rows, our verdict with its reasons and the sentence every view shows."""
    dataset_drift, enough, reasons = verdict_with_floor(columns, quality, cfg, len(obs.current))
    drifted = sorted(c for c, v in columns.items() if v["drifted"])
    result = {
        "timestamp": metadata["time"],
        "production_model_version": None if metadata["production_model_version"] == "unknown"
        else metadata["production_model_version"],
        "reference": metadata["reference"],
        "current": metadata["current"],
        "rows": {"reference": len(obs.reference), "current": obs.rows_in, "tested": len(obs.current)},
        "unknown_category_rows": obs.unknown_rows,
        "dataset_drift": dataset_drift,
        "enough_data": enough,
        "reasons": reasons,
        "rule": {k: cfg[k] for k in ("threshold", "drift_share", "key_features", "max_auc_drop", "min_rows")},
        "share_drifted": len(drifted) / len(columns),
        "drifted_columns": drifted,
        "columns": columns,
        "classification_quality": quality,
    }  # fmt: skip
    result["verdict"] = verdict_line(result)
    return result


def monitor(
    reference_path: Path,
    current_path: Path,
    params_file: Path = PARAMS_FILE,
    out_dir: Path = REPORTS_DIR,
    outcomes: Path | None = None,
    dvc_outputs: bool = False,
    track: bool = True,
) -> dict[str, Any]:
    """Drift tests and our verdict between the training snapshot and current data; writes the reports."""
    timer = Timer()
    params = load_params(params_file)
    cfg = params["monitor"]
    with timer("loading data"):
        obs = load_observed(reference_path, current_path, cfg, outcomes)
    with timer("scoring"):
        quality = production_quality(obs, params)
    if quality:
        log.info("Production %s on %d labelled current rows: ROC AUC %.4f (held-out reference %.4f), ECE %.3f.",
                 quality["model_version"], quality["labelled_rows"], quality["current"]["roc_auc"],
                 quality["reference"]["roc_auc"], quality["current_ece"])  # fmt: skip
    with timer("importing Evidently"):
        import evidently  # noqa: F401  (timed on its own: it is most of the cost)
    ts, version = timestamp(), production_version()
    metadata = {"time": ts, "reference": str(reference_path), "current": str(current_path),
                "production_model_version": version or "unknown"}  # fmt: skip
    with timer("drift"):
        snapshot, columns = run_drift(
            obs.reference, obs.current, cfg, len(obs.current) >= cfg["min_rows"], metadata, obs.auc
        )
    result = build_result(metadata, obs, columns, quality, cfg)
    result["evidently_failed_tests"] = failed_tests(snapshot)
    with timer("writing report"):
        html = write_outputs(snapshot, result, out_dir, cfg, dvc_outputs)
    rows = result["rows"]
    log.log(logging.INFO if result["verdict"].startswith("NO DRIFT") else logging.WARNING,
            "%s (%d of %d current rows tested, %d columns over the threshold).",
            result["verdict"], rows["tested"], rows["current"], len(result["drifted_columns"]))  # fmt: skip
    if track:  # after the verdict is out: a scheduler gets it even when MLflow fails
        with timer("MLflow logging"):
            result["mlflow_run_id"] = log_to_mlflow(result, html)
    log.info("Wrote %s. Monitor finished: %s.", html, timer.summary())
    return result


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run; exit 1 on drift only with ``--fail-on-drift``, 2 on bad input."""
    parser = script_parser(__doc__, data=False, params_help="params.yaml (the monitor section)")
    parser.add_argument("--reference", type=Path, default=PRODUCTION_DATA, help="training snapshot CSV")
    parser.add_argument("--current", type=Path, default=None, help="CSV or prediction log (.jsonl)")
    parser.add_argument("--outcomes", type=Path, help="with a prediction log: the backend's outcome export")
    parser.add_argument("--out-dir", type=Path, default=REPORTS_DIR, help="where the reports go")
    parser.add_argument("--fail-on-drift", action="store_true", help="exit 1 when dataset drift is found")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the run to MLflow")
    add_dvc_outputs_flag(parser)
    args = parser.parse_args(argv)
    setup_logging()
    current = args.current or default_current()
    log.info("Comparing %s (current) with %s (reference).", current, args.reference)
    code, result = run_cli(
        "monitor",
        monitor,
        args.reference,
        current,
        args.params,
        args.out_dir,
        args.outcomes,
        args.dvc_outputs,
        not args.no_mlflow,
    )
    if code:
        return code
    return 1 if result["dataset_drift"] and args.fail_on_drift else 0


if __name__ == "__main__":
    exit_script(main())
