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
Writes ``mlops/reports/data_drift_report_<ts>.html`` and ``.json``; exits 0 even on drift unless
``--fail-on-drift`` (then 1).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ml_model.common import atomic_write, atomic_write_json, exit_script, setup_logging
from ml_model.metrics import classification_metrics, expected_calibration_error
from ml_model.paths import (
    DATASET,
    DEFAULT_PREDICTION_LOG,
    DRIFT_LATEST,
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
from mlops.scripts.equity import auc_se, group_metrics
from mlops.scripts.utils import (
    Timer,
    add_dvc_outputs_flag,
    load_params,
    load_production,
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


def run_drift(
    reference: pd.DataFrame, current: pd.DataFrame, cfg: dict[str, Any]
) -> tuple[Any, dict[str, dict]]:
    """Evidently's column drift on the feature columns; returns the snapshot and per-column results."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=list(NUMERIC), categorical_columns=list(CATEGORICAL))
    preset = DataDriftPreset(
        columns=list(FEATURES),
        num_method=cfg["num_method"],
        cat_method=cfg["cat_method"],
        threshold=cfg["threshold"],
        drift_share=cfg["drift_share"],
    )
    snapshot = Report([preset]).run(
        Dataset.from_pandas(current[list(FEATURES)], data_definition=definition),
        Dataset.from_pandas(reference[list(FEATURES)], data_definition=definition),
    )
    columns: dict[str, dict] = {}
    for metric in snapshot.dict()["metrics"]:
        conf = metric["config"]
        if conf.get("type", "").endswith("ValueDrift"):
            method, threshold, value = conf["method"], float(conf["threshold"]), float(metric["value"])
            p_value = method in (
                "ks",
                "chisquare",
                "z",
                "fisher_exact",
                "t_test",
                "mannw",
                "anderson",
                "cramer_von_mises",
            )
            drifted = value < threshold if p_value else value >= threshold
            columns[conf["column"]] = {
                "method": method,
                "score": value,
                "threshold": threshold,
                "drifted": drifted,
            }
    missing = set(FEATURES) - set(columns)
    if missing:
        raise RuntimeError(f"Evidently returned no drift score for {sorted(missing)}")
    return snapshot, columns


@dataclass
class Observed:
    """The two samples the drift tests compare, with what was set aside on the way."""

    reference: pd.DataFrame
    current: pd.DataFrame
    rows_in: int  # current rows before sampling down
    unknown_rows: int  # logged instances with categories the model does not know
    labelled: pd.DataFrame | None = None  # current rows with an outcome, for quality (all of them)


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
    labelled = labelled_rows(current, current_path, outcomes)
    rows_in = len(current)
    if rows_in > cfg["max_rows"]:
        current = current.sample(cfg["max_rows"], random_state=cfg["seed"]).reset_index(drop=True)
        log.info(
            "Sampled %d of %d current rows (seed %d) for the drift tests.", len(current), rows_in, cfg["seed"]
        )
    return Observed(reference, current, rows_in, unknown_rows, labelled)


def production_quality(obs: Observed, params: dict[str, Any]) -> dict[str, Any] | None:
    """Production's quality on labelled current rows (overall, calibration, by group) against its
    held-out reference rows: a drop beyond noise is concept drift."""
    cur = obs.labelled
    if cur is None:
        return None
    model = load_production()
    _, held_out = test_split(obs.reference, params)  # rows production was not trained on
    ref_q = classification_metrics(held_out[LABEL].to_numpy(), score(model, held_out).to_numpy())
    prob = score(model, cur).to_numpy()
    cur_q = classification_metrics(cur[LABEL].to_numpy(), prob)
    se = (auc_se(ref_q["roc_auc"], held_out[LABEL]) ** 2 + auc_se(cur_q["roc_auc"], cur[LABEL]) ** 2) ** 0.5
    return {"model_version": model.version, "labelled_rows": len(cur), "reference": ref_q, "current": cur_q,
            "current_ece": expected_calibration_error(cur[LABEL].to_numpy(), prob),
            "auc_drop": ref_q["roc_auc"] - cur_q["roc_auc"], "auc_drop_se": se,
            "by_group": group_metrics(cur, prob, LABEL, params["groups"]["income_bands"])}  # fmt: skip


def verdict_with_floor(
    columns: dict[str, dict[str, Any]], quality: dict[str, Any] | None, cfg: dict[str, Any], tested: int
) -> tuple[bool, bool, list[str]]:
    """``drift_verdict``, unless there are fewer than ``min_rows`` rows: then no verdict, and why."""
    if tested < cfg["min_rows"]:  # below this, sampling noise alone reaches the column threshold
        log.warning("Only %d current rows: too few for a drift verdict (min_rows %d); scores are reported.",
                    tested, cfg["min_rows"])  # fmt: skip
        return False, False, [f"only {tested} rows, fewer than min_rows {cfg['min_rows']}: no verdict"]
    dataset_drift, reasons = drift_verdict(columns, quality, cfg)
    return dataset_drift, True, reasons


def write_reports(snapshot: Any, result: dict[str, Any], out_dir: Path, dvc_outputs: bool = False) -> Path:
    """The Evidently HTML, our JSON beside it, and (for the DVC stage) the metric summary."""
    ts = result["timestamp"]
    html = out_dir / f"data_drift_report_{ts}.html"
    atomic_write(html, lambda p: snapshot.save_html(str(p)))
    atomic_write_json(out_dir / f"data_drift_report_{ts}.json", result)
    summary = {"dataset_drift": int(result["dataset_drift"]), "share_drifted": result["share_drifted"],
               "drifted_columns": len(result["drifted_columns"])}  # fmt: skip
    if dvc_outputs:
        atomic_write_json(DRIFT_LATEST, summary)
    return html


def monitor(
    reference_path: Path,
    current_path: Path,
    params_file: Path = PARAMS_FILE,
    out_dir: Path = REPORTS_DIR,
    outcomes: Path | None = None,
    dvc_outputs: bool = False,
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
    with timer("drift"):
        snapshot, columns = run_drift(obs.reference, obs.current, cfg)
    dataset_drift, enough, reasons = verdict_with_floor(columns, quality, cfg, len(obs.current))
    drifted = sorted(c for c, v in columns.items() if v["drifted"])
    result = {
        "timestamp": timestamp(),
        "reference": str(reference_path),
        "current": str(current_path),
        "rows": {"reference": len(obs.reference), "current": obs.rows_in, "tested": len(obs.current)},
        "unknown_category_rows": obs.unknown_rows,
        "dataset_drift": dataset_drift,
        "enough_data": enough,
        "reasons": reasons,
        "rule": {k: cfg[k] for k in ("threshold", "drift_share", "key_features", "max_auc_drop")},
        "share_drifted": len(drifted) / len(columns),
        "drifted_columns": drifted,
        "columns": columns,
        "classification_quality": quality,
    }
    with timer("writing report"):
        html = write_reports(snapshot, result, out_dir, dvc_outputs)
    verdict = "DRIFT: " + "; ".join(reasons) if dataset_drift else "no dataset drift"
    log.info("%s (%d of %d current rows tested, %d columns drifted).",
             verdict, len(obs.current), obs.rows_in, len(drifted))  # fmt: skip
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
    )
    if code:
        return code
    return 1 if result["dataset_drift"] and args.fail_on_drift else 0


if __name__ == "__main__":
    exit_script(main())
