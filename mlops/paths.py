"""Every path and name of the MLOps sidecar: its folders, tracked files, locks and MLflow names.

The sidecar writes only below ``mlops/``; production's names (``ml_model/``, the artifact files,
the prediction log) stay in ``ml_model.paths``, which this module builds on and never the other
way round. Paths resolve from the repository root, never from the current directory, so every
command runs from anywhere.
"""

from __future__ import annotations

from pathlib import Path

from ml_model.paths import ARTIFACT_FILES, MANIFEST_FILE, REPO_ROOT, SIGNATURE_FILE

# The training recipe: production's train_model.py reads the same file, so it is defined with
# production's names and re-exported here, one object under one name.
from ml_model.paths import PARAMS_FILE as PARAMS_FILE

# The sidecar's folders (mlops/): the only place it writes.
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
# The daily monitor: its summary and alert records (no rows), and Evidently's workspace (make monitor-ui).
DAILY_DIR = REPORTS_DIR / "daily"
WORKSPACE_DIR = MLOPS_DIR / "workspace"
PLOTS_TEMPLATE = MLOPS_DIR / "plots" / "offline_template.html"  # dvc plots show, offline

# What the pipeline's stages leave in the tracking folder (the DVC metrics and the records).
LAST_METRICS = TRACKING_DIR / "candidate.json"  # DVC metrics, named for whose they are
LAST_RETRAIN = TRACKING_DIR / "last_retrain.json"
EVAL_LATEST = TRACKING_DIR / "production.json"
DRIFT_LATEST = TRACKING_DIR / "drift.json"
# The DVC stage's whole drift report (not tracked): the job summary states the same run's verdict.
DRIFT_REPORT_LATEST = TRACKING_DIR / "drift_report_latest.json"

# One retrain at a time, one promotion at a time; repairs take both.
RETRAIN_LOCK = TRACKING_DIR / ".retrain.lock"
PROMOTE_LOCK = TRACKING_DIR / ".promote.lock"

# A servable set: the three artifacts, the signature, and the manifest last (it vouches for the
# artifacts, the signature for it; a service reloads when the manifest changes, so it goes last).
SET_FILES = (*ARTIFACT_FILES, SIGNATURE_FILE, MANIFEST_FILE)

# MLflow: the experiment every run is logged to and the registered model candidates go into.
EXPERIMENT_NAME = "LegalAid_Connect_Matchmaking"
REGISTERED_MODEL = "lawyer_match_model"
ALIASES = ("challenger", "champion")  # the candidate to review, the model in production


def stage_mark(stage: str) -> Path:
    """``tracking/stage_<stage>.done``: the DVC output that says a stage ran in this workspace (a file,
    not a folder: every folder in the MLflow file store's root is read as an experiment)."""
    return TRACKING_DIR / f"stage_{stage}.done"
