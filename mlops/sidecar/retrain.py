"""Retrain a candidate on the newest data version and compare it with production.

Both models are scored on the same held-out rows; the gate (``gate.decide``) says whether the
candidate is an improvement and why. Every run is logged to MLflow as ``retrain_<ts>``
(``retrain_tracking.py``); an improved candidate is written to ``mlops/models/v<ts>/`` (staged,
then renamed into place) and registered with alias ``challenger``. Production (``ml_model/``) is
read, never written.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ml_model.artifacts import load_model
from ml_model.common import atomic_write_json, sha256_file
from ml_model.frame_validation import read_dataset
from ml_model.paths import MANIFEST_FILE, model_version, timestamp
from ml_model.schema import LABEL
from ml_model.signing import sign_set
from ml_model.train_model import import_keras, library_versions, save_artifacts, train
from mlops.mlflow_setup import configure
from mlops.paths import (
    DATASET,
    EQUITY_EVAL,
    LAST_METRICS,
    LAST_RETRAIN,
    MODELS_DIR,
    PARAMS_FILE,
    STAGING_DIR,
    TRACKING_DIR,
)
from mlops.sidecar import ranking_guard
from mlops.sidecar.config import Params
from mlops.sidecar.equity import measure
from mlops.sidecar.gate import decide
from mlops.sidecar.model_quality import model_scorer
from mlops.sidecar.registry import ensure_champion, repair_registry
from mlops.sidecar.retrain_record import CandidateScores, Inputs, RetrainRecord
from mlops.sidecar.retrain_tracking import log_run, save_candidate
from mlops.sidecar.runs import mlflow_run
from mlops.sidecar.scoring import (
    curve_points,
    load_production,
    metrics_of,
    metrics_text,
    score,
    split_rows,
    training_curve,
)
from mlops.sidecar.timer import Timer

log = logging.getLogger(__name__)


def load_inputs(data: Path, params_file: Path) -> Inputs:
    """Read and validate the data version and the settings, split them, verify production."""
    params = Params.load(params_file)
    df = read_dataset(data)
    train_df, test_df = split_rows(df, params.split, data)
    if not EQUITY_EVAL.is_file():
        raise ValueError(
            f"the equity evaluation set {EQUITY_EVAL} is missing: run `make data` (bootstrap_data.py)"
        )
    inputs = Inputs(
        data=data,
        digest=sha256_file(data),
        rows=len(df),
        train_df=train_df,
        test_df=test_df,
        params=params,
        production=load_production(),
        equity_eval=read_dataset(EQUITY_EVAL),
    )
    log.info(
        "Data %s (sha256 %s...): %d training rows, %d held out.",
        data,
        inputs.digest[:12],
        len(train_df),
        len(test_df),
    )
    return inputs


def _log_scores(inputs: Inputs, scores: CandidateScores) -> None:
    log.info("Candidate: %s.", metrics_text(scores.candidate))
    log.info("Production %s: %s.", inputs.production.version, metrics_text(scores.production))
    log.info(
        "Gate: %s. %s.", "IMPROVED" if scores.decision.improved else "not improved", scores.decision.reason
    )


def train_and_score(inputs: Inputs, staging: Path, version: str, timer: Timer) -> CandidateScores:
    """Train the candidate into ``staging``, load it as the service would, score both, ask the gate."""
    with timer("importing TensorFlow"):
        import_keras()
    with timer("training"):
        trained = train(inputs.train_df, inputs.params.train, verbose=2)
    with timer("scoring"):
        save_artifacts(staging, trained, {"model_version": version})
        model = load_model(staging)
        candidate = metrics_of(model, inputs.test_df)
        prod = metrics_of(inputs.production, inputs.test_df)
        ev, cuts = inputs.equity_eval, list(inputs.params.income_bands)
        equity = {
            name: measure(ev, score(m, ev), LABEL, cuts)
            for name, m in (("candidate", model), ("production", inputs.production))
        }
    ranking = None
    if inputs.params.gate.max_ranking_drop:
        with timer("ranking guard"):
            ranking = ranking_guard.measure(
                inputs.train_df, model_scorer(model), model_scorer(inputs.production), inputs.params.ranking
            )
    decision = decide(candidate, prod, inputs.params.gate, equity, ranking)
    scores = CandidateScores(
        trained, model, candidate, prod, decision, equity, ranking.as_dict() if ranking else None
    )
    _log_scores(inputs, scores)
    return scores


def complete_manifest(inputs: Inputs, scores: CandidateScores, record: RetrainRecord, staging: Path) -> None:
    """What a reviewer and promotion need to know of the candidate, in its manifest before it is logged."""
    manifest = load_model(staging).manifest
    training_data = {"path": str(inputs.data), "sha256": inputs.digest, "rows": inputs.rows}
    manifest.update(
        {
            "created_at": record.version.removeprefix("v"),
            "training_data": {**training_data, "train_rows": len(inputs.train_df)},
            "train_config": inputs.params.train.as_dict(),
            "metrics": scores.candidate,
            "production_metrics": scores.production,
            "decision": scores.decision.as_dict(),
            "libraries": library_versions(),
        }
    )
    sign_set(staging, manifest)  # the gate's decision is signed with the set (provenance)
    atomic_write_json(staging / MANIFEST_FILE, manifest)


def write_dvc_outputs(record: RetrainRecord, improved: bool, plots: dict[str, list]) -> None:
    """This workspace's pipeline results (dvc.yaml's metrics and plots): the metrics summary, the
    ROC and calibration points of both models and the candidate's training curve. The metrics file's
    name says whose they are (candidate.json; production's, on the same rows, are production.json)."""
    atomic_write_json(
        LAST_METRICS,
        {
            "auc": record.candidate["roc_auc"],
            "improved": improved,
        },
    )
    for name, points in plots.items():
        atomic_write_json(TRACKING_DIR / f"{name}.json", points)


def _train_and_record(
    mlflow: Any, inputs: Inputs, staging: Path, ts: str, timer: Timer
) -> tuple[RetrainRecord, CandidateScores]:
    """Inside the run: train and score, complete the manifest, log, save an improved candidate."""
    tags = {"timestamp": ts, "data_hash": inputs.digest}
    with mlflow_run(mlflow, f"retrain_{ts}", tags, started=timer.started) as run:
        scores = train_and_score(inputs, staging, model_version(ts), timer)
        record = RetrainRecord(
            run_name=f"retrain_{ts}",
            run_id=run.info.run_id,
            version=model_version(ts),
            data_sha256=inputs.digest,
            candidate=scores.candidate,
            production=scores.production,
            production_version=inputs.production.version,
            decision=scores.decision.as_dict(),
            thresholds=inputs.params.gate.as_dict(),
        )
        complete_manifest(inputs, scores, record, staging)
        with timer("MLflow logging"):
            logged = log_run(mlflow, inputs, scores, record, staging)
        if scores.decision.improved:
            with timer("saving candidate"):
                record = save_candidate(mlflow, record, logged, staging)
        mlflow.set_tag("saved_to", record.saved_to or "")
    return record, scores


def retrain(
    data: Path = DATASET, params_file: Path = PARAMS_FILE, dvc_outputs: bool = False
) -> RetrainRecord:
    """The spec's retraining flow; returns the record also written to ``last_retrain.json``."""
    timer = Timer()
    with timer("loading data"):
        inputs = load_inputs(data, params_file)
    with timer("importing MLflow"):
        mlflow = configure()
        repair_registry(mlflow)
        ensure_champion(mlflow, inputs.production)
    ts = timestamp()
    STAGING_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{model_version(ts)}.", dir=STAGING_DIR))
    try:
        record, scores = _train_and_record(mlflow, inputs, staging, ts, timer)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    MODELS_DIR.mkdir(parents=True, exist_ok=True)  # where candidates go, even when nothing was saved
    atomic_write_json(LAST_RETRAIN, record.as_dict())  # the newest run's record (not DVC-tracked)
    if dvc_outputs:
        models = {"candidate": scores.model, "production": inputs.production}
        plots = curve_points(inputs.test_df[LABEL].to_numpy(), models, inputs.test_df)
        plots["training_curve"] = training_curve(scores.trained.history)
        write_dvc_outputs(record, scores.decision.improved, plots)
    log.info("Retrain finished: %s.", timer.summary())
    return record
