"""Every path and name the project uses: production artifacts, the sidecar's folders, MLflow names.

One module, at the bottom of the import graph, so production and the sidecar cannot disagree on
where a file lives or what a run is called. Paths resolve from this file, never from the current
directory, so every script runs from anywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Production (ml_model/): written only by train_model.py and by a person's promotion.
ML_MODEL_DIR = REPO_ROOT / "ml_model"
PRODUCTION_DATA = ML_MODEL_DIR / "matchmaking_dataset.csv"
MODEL_FILE = "lawyer_match_model.h5"
ENCODER_FILE = "encoder.pkl"
SCALER_FILE = "scaler.pkl"
MANIFEST_FILE = "manifest.json"
ARTIFACT_FILES = (MODEL_FILE, ENCODER_FILE, SCALER_FILE)
DEFAULT_PREDICTION_LOG = REPO_ROOT / "logs" / "predictions.jsonl"

# The MLOps sidecar (mlops/): the only place it writes.
MLOPS_DIR = REPO_ROOT / "mlops"
DATA_DIR = MLOPS_DIR / "data"
DATASET = DATA_DIR / "matchmaking_dataset.csv"
DATASET_DVC_FILE = DATA_DIR / "matchmaking_dataset.csv.dvc"
# The fixed equity evaluation set (every group with enough rows); the equity guard measures there.
EQUITY_EVAL = DATA_DIR / "equity_eval.csv"
EQUITY_EVAL_DVC_FILE = DATA_DIR / "equity_eval.csv.dvc"
MODELS_DIR = MLOPS_DIR / "models"
ARCHIVE_DIR = MODELS_DIR / "archive"
STAGING_DIR = MLOPS_DIR / ".staging"
TRACKING_DIR = MLOPS_DIR / "tracking"
REPORTS_DIR = MLOPS_DIR / "reports"
PLOTS_TEMPLATE = MLOPS_DIR / "plots" / "offline_template.html"  # dvc plots show, offline (plots_template.py)
PARAMS_FILE = MLOPS_DIR / "params.yaml"
LAST_METRICS = TRACKING_DIR / "last_metrics.json"
LAST_RETRAIN = TRACKING_DIR / "last_retrain.json"
EVAL_LATEST = TRACKING_DIR / "eval_latest.json"
DRIFT_LATEST = TRACKING_DIR / "drift_latest.json"
# The DVC stage's whole drift report (not tracked): the job summary states the same run's verdict.
DRIFT_REPORT_LATEST = TRACKING_DIR / "drift_report_latest.json"
RETRAIN_LOCK = TRACKING_DIR / ".retrain.lock"
PROMOTE_LOCK = TRACKING_DIR / ".promote.lock"

# MLflow: the experiment every run is logged to and the registered model candidates go into.
EXPERIMENT_NAME = "LegalAid_Connect_Matchmaking"
REGISTERED_MODEL = "lawyer_match_model"


def timestamp() -> str:
    """UTC to the second: the suffix of run names, reports, archives and model versions."""
    return datetime.now(UTC).strftime("%Y%m%d_%H%M%S")


def model_version(ts: str | None = None) -> str:
    """A model's version name, ``v<timestamp>``: the candidate folder and the manifest's version."""
    return f"v{ts or timestamp()}"
