"""Every path and name production uses: its artifacts, its data snapshot, its prediction log.

One module, at the bottom of the import graph; the sidecar's own names are in ``mlops/paths.py``,
which builds on this one, so production and the sidecar cannot disagree on where a file lives.
Paths resolve from this file, never from the current directory, so every script runs from anywhere.
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
SIGNATURE_FILE = "signature.json"  # beside the manifest: a signature over it (ml_model/signing.py)
ARTIFACT_FILES = (MODEL_FILE, ENCODER_FILE, SCALER_FILE)

# Signing keys, outside every artifact folder: the committed public keys production trusts, and
# this machine's own key pair (git-ignored; the private key 0600 in a 0700 folder).
KEYS_DIR = REPO_ROOT / "keys"
TRUSTED_KEYS_DIR = KEYS_DIR / "trusted"
LOCAL_KEYS_DIR = KEYS_DIR / "local"
LOCAL_SIGNING_KEY = LOCAL_KEYS_DIR / "signing.key"
LOCAL_TRUSTED_KEYS_DIR = LOCAL_KEYS_DIR / "trusted"
DEFAULT_PREDICTION_LOG = REPO_ROOT / "logs" / "predictions.jsonl"

# The training recipe (params.yaml's train and data sections): production training reads the
# sidecar's file, so production and candidates cannot be trained differently. Every other name of
# the sidecar (its folders, records, locks and MLflow names) is in mlops/paths.py.
PARAMS_FILE = REPO_ROOT / "mlops" / "params.yaml"


def timestamp() -> str:
    """UTC to the second: the suffix of run names, reports, archives and model versions."""
    return datetime.now(UTC).strftime("%Y%m%d_%H%M%S")


def model_version(ts: str | None = None) -> str:
    """A model's version name, ``v<timestamp>``: the candidate folder and the manifest's version."""
    return f"v{ts or timestamp()}"
