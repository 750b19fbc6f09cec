"""Data drift between the production training snapshot and what the model sees now.

The inputs (``monitor_inputs.py``), production's quality when there are labels
(``production_quality.py``), Evidently's scores and our verdict (``drift.py``) come together here
into one result, written as ``mlops/reports/data_drift_report_<ts>.html`` and ``.json`` (the
newest ``keep_reports`` are kept, ``drift_report.py``) and logged as MLflow run ``monitor_<ts>``;
the DVC metric ``drift.json`` only with ``dvc_outputs`` (the stage).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ml_model.artifacts import ManifestError, read_manifest
from ml_model.common import atomic_write_json
from ml_model.paths import ML_MODEL_DIR, timestamp
from mlops.paths import DRIFT_LATEST, DRIFT_REPORT_LATEST, PARAMS_FILE, REPORTS_DIR
from mlops.sidecar.config import MonitorConfig, Params
from mlops.sidecar.drift import DriftRun, Verdict, run_drift, verdict_with_floor
from mlops.sidecar.drift_report import prune_reports, write_report
from mlops.sidecar.monitor_inputs import Observed, load_observed
from mlops.sidecar.production_quality import ProductionQuality, production_quality
from mlops.sidecar.runs import describe, mlflow_run, rounded
from mlops.sidecar.timer import Timer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rows:
    """Row counts: the reference, the current input, and the current rows the tests used."""

    reference: int
    current: int
    tested: int


@dataclass(frozen=True)
class MonitorResult:
    """One monitor run: inputs, rows, the verdict with its reasons, and every column's score."""

    timestamp: str
    production_model_version: str | None
    reference: str
    current: str
    rows: Rows
    unknown_category_rows: int
    dataset_drift: bool | None  # None below min_rows: no verdict, so a scheduler never reads "no drift"
    enough_data: bool
    reasons: list[str]
    drift_kinds: list[str]  # "inputs" (the column rule) and/or "concept" (labelled ROC AUC); [] without drift
    rule: dict[str, Any]
    share_drifted: float
    drifted_columns: list[str]
    columns: dict[str, dict[str, Any]]
    classification_quality: dict[str, Any] | None
    verdict: str  # the sentence every view shows
    tests: list[dict[str, Any]]  # each test of the rule: name, passed, value, operator, threshold
    evidently_failed_tests: list[str]
    labels: dict[str, Any] | None = None  # with --outcomes: {"summary": "k joined of N", ...}
    mlflow_run_id: str | None = None

    @property
    def verdict_word(self) -> str:
        """DRIFT, NO DRIFT or NO VERDICT."""
        return Verdict(self.dataset_drift, self.enough_data, tuple(self.reasons)).word

    def as_dict(self) -> dict[str, Any]:
        """The JSON report (``mlflow_run_id`` only once the run is logged)."""
        out = asdict(self)
        if out["mlflow_run_id"] is None:
            del out["mlflow_run_id"]
        return out


def production_version() -> str | None:
    """The served model's version from its manifest (read only), for the report's metadata."""
    try:
        return str(read_manifest(ML_MODEL_DIR)["model_version"])
    except (OSError, ValueError, KeyError, ManifestError):
        return None


def build_result(
    metadata: dict[str, str],
    obs: Observed,
    run: DriftRun,
    quality: ProductionQuality | None,
    cfg: MonitorConfig,
) -> MonitorResult:
    """Our verdict on the scores (none below ``min_rows``), with everything the report states."""
    columns = run.columns
    verdict = verdict_with_floor(columns, quality.auc if quality else None, cfg, len(obs.current))
    drifted = sorted(c for c, v in columns.items() if v["drifted"])
    version = metadata["production_model_version"]
    return MonitorResult(
        timestamp=metadata["time"],
        production_model_version=None if version == "unknown" else version,
        reference=metadata["reference"],
        current=metadata["current"],
        rows=Rows(len(obs.reference), obs.rows_in, len(obs.current)),
        unknown_category_rows=obs.unknown_rows,
        dataset_drift=verdict.drift,
        enough_data=verdict.judged,
        reasons=list(verdict.reasons),
        drift_kinds=list(verdict.kinds),
        rule=cfg.rule(),
        share_drifted=len(drifted) / len(columns),
        drifted_columns=drifted,
        columns=columns,
        classification_quality=quality.as_dict() if quality else None,
        verdict=verdict.line,
        tests=_with_concept_row(run.tests, quality) if verdict.judged else [],
        evidently_failed_tests=run.failed,
        labels=obs.labels,
    )


def _with_concept_row(tests: list[dict[str, Any]], quality: ProductionQuality | None) -> list[dict[str, Any]]:
    """The tests, and our own concept-drift row when labels were measured but Evidently has no ROC AUC
    test (outcomes joined to a prediction log: the labelled rows are not the tested rows), so the
    table never shows every test passed beside a concept-drift verdict."""
    if quality is None or quality.auc_check is not None:
        return tests
    row = {
        "test": "Production ROC AUC on the labelled rows (the monitor's rule)",
        "passed": quality.auc.current >= quality.auc_floor,
        "status": "SUCCESS" if quality.auc.current >= quality.auc_floor else "FAIL",
        "value": quality.auc.current,
        "operator": ">=",
        "threshold": quality.auc_floor,
        "evidently_name": None,
    }
    return [*tests, row]


def write_outputs(
    snapshot: Any, result: MonitorResult, out_dir: Path, keep: int, dvc_outputs: bool = False
) -> Path:
    """The report pair, the retention bound, and (for the DVC stage) the flat metric summary."""
    html = write_report(snapshot, result.as_dict(), out_dir)
    prune_reports(out_dir, keep)
    if dvc_outputs:
        # Flat and few (`dvc metrics show` at 100 columns); no ``drift`` key at all when there is no
        # verdict. ``drifted``: the share (0 to 1) of feature columns that drifted.
        verdict = {"drift": result.dataset_drift} if result.enough_data else {}
        atomic_write_json(DRIFT_LATEST, {**verdict, "drifted": round(result.share_drifted, 4)})
        atomic_write_json(
            DRIFT_REPORT_LATEST, result.as_dict()
        )  # the same run's verdict, for the job summary
    return html


def log_to_mlflow(result: MonitorResult, html: Path, started: float | None = None) -> str:
    """The monitor run in MLflow (``monitor_<ts>``): the verdict as tags, the scores as metrics, the
    report as an artifact, so drift sits beside the retrains that answer it."""
    from mlops.mlflow_setup import configure

    mlflow = configure()
    tags = {
        "kind": "monitor",
        "verdict": result.verdict_word,
        "reasons": "; ".join(result.reasons)[:5000],
        "current": result.current,
        "production_version": result.production_model_version or "",
    }
    metrics = {
        **({"dataset_drift": int(result.dataset_drift)} if result.enough_data else {}),
        "enough_data": int(result.enough_data),
        "share_drifted": result.share_drifted,
        "rows_tested": result.rows.tested,
        **{f"drift_{c}": v["score"] for c, v in result.columns.items()},
    }
    with mlflow_run(mlflow, f"monitor_{result.timestamp}", tags, started) as run:
        mlflow.log_params({f"rule_{k}": v for k, v in result.rule.items()})
        mlflow.log_metrics(rounded(metrics))
        describe(mlflow, result.verdict)
        mlflow.log_artifact(str(html), "report")
        mlflow.log_artifact(str(html.with_suffix(".json")), "report")
    return run.info.run_id


def _log_quality(quality: ProductionQuality | None) -> None:
    if quality:
        log.info(
            "Production %s on %d labelled current rows: ROC AUC %.4f (held-out reference %.4f), ECE %.3f.",
            quality.model_version,
            quality.labelled_rows,
            quality.current["roc_auc"],
            quality.reference["roc_auc"],
            quality.current_ece,
        )


def _log_verdict(result: MonitorResult) -> None:
    level = logging.INFO if result.verdict.startswith("NO DRIFT") else logging.WARNING
    rows = result.rows
    # Without a verdict no column is judged, so none is counted as drifted (the JSON has the scores).
    drifted = f", {len(result.drifted_columns)} columns drifted" if result.enough_data else ""
    log.log(level, "%s (%d of %d current rows tested%s).", result.verdict, rows.tested, rows.current, drifted)


def monitor(
    reference_path: Path,
    current_path: Path,
    params_file: Path = PARAMS_FILE,
    out_dir: Path = REPORTS_DIR,
    outcomes: Path | None = None,
    dvc_outputs: bool = False,
    track: bool = True,
) -> MonitorResult:
    """Drift tests and our verdict between the training snapshot and current data; writes the reports."""
    timer, params = Timer(), Params.load(params_file)
    cfg = params.monitor
    with timer("loading data"):
        obs = load_observed(reference_path, current_path, cfg, outcomes)
    with timer("scoring"):
        quality = production_quality(obs, params)
    _log_quality(quality)
    with timer("importing Evidently"):
        import evidently  # noqa: F401  (timed on its own: it is most of the cost)
    metadata = {
        "time": timestamp(),
        "reference": str(reference_path),
        "current": str(current_path),
        "production_model_version": production_version() or "unknown",
    }
    with timer("drift"):
        auc = quality.auc_check if quality else None
        run = run_drift(obs.reference, obs.current, cfg, len(obs.current) >= cfg.min_rows, metadata, auc)
    result = build_result(metadata, obs, run, quality, cfg)
    with timer("writing report"):
        html = write_outputs(run.snapshot, result, out_dir, cfg.keep_reports, dvc_outputs)
    _log_verdict(result)
    if track:  # after the verdict is out: a scheduler gets it even when MLflow fails
        with timer("MLflow logging"):
            result = replace(result, mlflow_run_id=log_to_mlflow(result, html, timer.started))
    log.info("Wrote %s. Monitor finished: %s.", html, timer.summary())
    return result
