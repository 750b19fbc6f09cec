"""What a retrain leaves in MLflow and in ``mlops/models/``: its run, and an improved candidate.

The run carries everything a reviewer compares: params (the recipe and the gate's thresholds),
candidate and ``production_`` metrics on the same rows, the training curve, the data as an
MLflow dataset, ``metrics.json``, ``equity.json`` with its plot, and the servable model. An
improved candidate is registered as ``challenger`` and renamed into ``mlops/models/`` whole.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from ml_model.artifacts import load_model
from ml_model.common import atomic_write_json
from ml_model.paths import MANIFEST_FILE, REPO_ROOT
from ml_model.schema import LABEL
from mlops.paths import MODELS_DIR, REGISTERED_MODEL
from mlops.sidecar.equity import auc_plot
from mlops.sidecar.registry import registry_record
from mlops.sidecar.retrain_record import CandidateScores, Inputs, RetrainRecord
from mlops.sidecar.runs import DIGITS, describe, rounded
from mlops.sidecar.servable import log_servable

log = logging.getLogger(__name__)


def flat_params(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as flat MLflow params: ``max_drop: {f1: 0.01}`` becomes ``max_drop_f1``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(flat_params(v, f"{prefix}{k}_") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def _log_params(mlflow: Any, inputs: Inputs) -> None:
    """The recipe, the split's sizes, production's version and the gate's thresholds (``gate_*``)."""
    cfg = inputs.params.train
    mlflow.log_params(
        {
            "algorithm": cfg.algorithm,
            "batch_size": cfg.batch_size,
            "epochs": cfg.epochs,
            "hidden_layers": ",".join(map(str, cfg.hidden_layers)),
            "learning_rate": cfg.learning_rate,
            "seed": cfg.seed,
            "test_size": cfg.test_size,
            "train_rows": len(inputs.train_df),
            "test_rows": len(inputs.test_df),
            "production_version": inputs.production.version,
        }
    )
    mlflow.log_params({f"gate_{k}": v for k, v in flat_params(inputs.params.gate.as_dict()).items()})


def _log_dataset(mlflow: Any, inputs: Inputs) -> None:
    """The training data as an MLflow dataset input, with its hash."""
    with warnings.catch_warnings():  # MLflow's hint on integer columns: ours never miss values
        warnings.simplefilter("ignore", UserWarning)
        source = inputs.data.resolve().as_uri()
        digest = inputs.digest[:16]
        dataset = mlflow.data.from_pandas(
            inputs.train_df, source=source, name=inputs.data.name, targets=LABEL, digest=digest
        )
        mlflow.log_input(dataset, context="training")


def log_run(
    mlflow: Any, inputs: Inputs, scores: CandidateScores, record: RetrainRecord, staging: Path
) -> Any:
    """Params, metrics (candidate and ``production_``), tags, records and the servable model."""
    decision = scores.decision
    word = "improved" if decision.improved else "rejected"
    mlflow.set_tags({"decision": word, "reason": decision.reason})
    describe(
        mlflow,
        f"Retrain on data {inputs.digest[:12]} ({inputs.rows:,} rows) against production "
        f"{inputs.production.version}: {word.upper()}. {decision.reason}.",
    )
    _log_params(mlflow, inputs)
    _log_dataset(mlflow, inputs)
    for name, values in scores.trained.history.items():  # the training curve, one point per epoch
        for epoch, value in enumerate(values, start=1):
            mlflow.log_metric(f"train_{name}", round(value, DIGITS), step=epoch)
    # candidate_* and production_* side by side on the same held-out rows (sorted, they pair up)
    mlflow.log_metrics(rounded({f"candidate_{k}": v for k, v in scores.candidate.items()}))
    mlflow.log_metrics(rounded({f"production_{k}": v for k, v in scores.production.items()}))
    for name, m in (scores.ranking or {}).get("metrics", {}).items():  # the ranking guard's pools
        mlflow.log_metrics(
            rounded({f"candidate_{name}": m["candidate"], f"production_{name}": m["production"]})
        )
    mlflow.log_dict(record.as_dict(), "metrics.json")
    mlflow.log_dict(scores.equity, "equity.json")
    if scores.ranking:
        mlflow.log_dict(scores.ranking, "ranking_guard.json")
    with tempfile.TemporaryDirectory() as tmp:
        auc_plot(scores.equity, Path(tmp) / "auc_by_group.png")
        mlflow.log_artifact(str(Path(tmp) / "auc_by_group.png"), "plots")
    return log_servable(mlflow, staging, scores.model)


def _register_challenger(mlflow: Any, record: RetrainRecord, logged: Any) -> Any:
    """Register the logged model, give it alias ``challenger`` and the gate's reason; returns the version."""
    mv = mlflow.register_model(logged.model_uri, REGISTERED_MODEL, tags={"model_version": record.version})
    client = mlflow.tracking.MlflowClient()
    client.set_registered_model_alias(REGISTERED_MODEL, "challenger", mv.version)
    client.update_model_version(
        REGISTERED_MODEL, mv.version, description=f"Gate: improved. {record.decision['reason']}."
    )
    return mv


def save_candidate(mlflow: Any, record: RetrainRecord, logged: Any, staging: Path) -> RetrainRecord:
    """Register the improved candidate as ``challenger``, name it in its manifest, rename it into place;
    returns the record with the registered version and the folder it was saved to."""
    mv = _register_challenger(mlflow, record, logged)
    record = replace(record, registered_version=str(mv.version))
    manifest = load_model(staging).manifest
    manifest["mlflow"] = registry_record(record.run_id, logged.model_uri, mv.version)
    atomic_write_json(staging / MANIFEST_FILE, manifest)
    atomic_write_json(staging / "metrics.json", record.as_dict())
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    final = MODELS_DIR / record.version
    try:
        staging.rename(final)  # the candidate appears whole, or not at all
    except OSError:  # no alias without a folder
        mlflow.tracking.MlflowClient().delete_model_version(REGISTERED_MODEL, mv.version)
        raise
    log.info(
        "Saved candidate %s to %s and set alias 'challenger' on version %s.",
        record.version,
        final,
        mv.version,
    )
    return replace(record, saved_to=str(final.relative_to(REPO_ROOT)))
