"""Shared helpers of the MLOps sidecar: paths, params, data, production artifacts, metrics, runs.

Every script imports what it needs from here; nothing in this module is written twice in them.
Heavy libraries (MLflow, TensorFlow, Evidently) are imported by the scripts that need them only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ml_model.artifacts import LoadedModel, ManifestError, load_model
from ml_model.common import (
    ML_MODEL_DIR,
    PRODUCTION_DATA,
    REPO_ROOT,
    atomic_write_csv,
    atomic_write_json,
    atomic_write_text,
    setup_logging,
    sha256_file,
)
from ml_model.features import frame_columns
from ml_model.metrics import METRIC_NAMES, classification_metrics
from ml_model.schema import FEATURES, LABEL, SchemaError, read_dataset
from ml_model.train_model import split
from mlops.mlflow_setup import EXPERIMENT_NAME, TrackingUnavailable

MLOPS_DIR = REPO_ROOT / "mlops"
DATA_DIR = MLOPS_DIR / "data"
DATASET = DATA_DIR / "matchmaking_dataset.csv"
MODELS_DIR = MLOPS_DIR / "models"
ARCHIVE_DIR = MODELS_DIR / "archive"
STAGING_DIR = MLOPS_DIR / ".staging"
TRACKING_DIR = MLOPS_DIR / "tracking"
REPORTS_DIR = MLOPS_DIR / "reports"
PARAMS_FILE = MLOPS_DIR / "params.yaml"
LAST_METRICS = TRACKING_DIR / "last_metrics.json"
LAST_RETRAIN = TRACKING_DIR / "last_retrain.json"
EVAL_LATEST = TRACKING_DIR / "eval_latest.json"
DRIFT_LATEST = TRACKING_DIR / "drift_latest.json"
RETRAIN_LOCK = TRACKING_DIR / ".retrain.lock"

__all__ = [
    "ARCHIVE_DIR", "DATASET", "DRIFT_LATEST", "EVAL_LATEST", "LAST_METRICS", "LAST_RETRAIN", "METRIC_NAMES", "ML_MODEL_DIR",
    "MODELS_DIR", "PRODUCTION_DATA", "REPORTS_DIR", "RETRAIN_LOCK", "STAGING_DIR", "TRACKING_DIR",
    "SchemaError", "Timer", "atomic_write_csv", "atomic_write_json", "atomic_write_text", "classification_metrics",
    "data_hash", "load_dataset", "load_params", "load_production", "mlflow_run", "score", "setup_logging",
    "test_split", "timestamp",
]  # fmt: skip

log = logging.getLogger("utils")


def load_params(path: Path = PARAMS_FILE) -> dict[str, Any]:
    """The sidecar's settings (DVC's params.yaml convention)."""
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def timestamp() -> str:
    """UTC, to the second: the suffix of run names, reports and candidate folders."""
    return datetime.now(UTC).strftime("%Y%m%d_%H%M%S")


def data_hash(path: Path) -> str:
    """The data version a run names: the file's sha256 (DVC's .dvc file holds its md5)."""
    return sha256_file(path)


def load_dataset(path: Path = DATASET) -> pd.DataFrame:
    """Read and validate a labelled dataset with the production schema (errors name file, column, row)."""
    return read_dataset(path)


def load_production() -> LoadedModel:
    """The production model, read-only, after its manifest is verified."""
    return load_model(ML_MODEL_DIR)


def test_split(df: pd.DataFrame, params: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The deterministic train/test split, from params.yaml's ``data`` section."""
    return split(df, params["data"]["test_size"], params["data"]["split_seed"])


test_split.__test__ = False  # not a pytest test, despite the name


def score(model: LoadedModel, df: pd.DataFrame) -> pd.Series:
    """Probabilities of a loaded model on a table, through the same fast path the service uses."""
    feats = df[list(FEATURES)]
    return pd.Series(model.scorer.score(frame_columns(feats), len(feats)), index=df.index)


def metrics_of(model: LoadedModel, df: pd.DataFrame) -> dict[str, float]:
    return classification_metrics(df[LABEL].to_numpy(), score(model, df).to_numpy())


def roc_points(
    y: Any, models: dict[str, LoadedModel], df: pd.DataFrame, points: int = 101
) -> dict[str, list]:
    """ROC curves of several models on the same rows, thinned to about ``points`` points (DVC plots)."""
    import numpy as np
    from sklearn.metrics import roc_curve

    out = {}
    for name, model in models.items():
        fpr, tpr, _ = roc_curve(y, score(model, df).to_numpy())
        keep = np.unique(np.searchsorted(fpr, np.linspace(0, 1, points)).clip(0, len(fpr) - 1))
        out[name] = [{"fpr": round(float(fpr[i]), 5), "tpr": round(float(tpr[i]), 5)} for i in keep]
    return out


class Timer:
    """Where the time goes: ``with timer("training"):`` blocks, summarised in one log line."""

    def __init__(self) -> None:
        self.spans: dict[str, float] = {}
        self.t0 = time.perf_counter()

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.spans[name] = self.spans.get(name, 0.0) + time.perf_counter() - start

    def summary(self) -> str:
        total = time.perf_counter() - self.t0
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in self.spans.items())
        return f"{total:.1f} s in all ({parts})"


# What a sidecar run may meet that is the input's or the environment's fault, not a bug: bad data
# or params, a tampered artifact, an unreachable tracking server, a missing file.
EXPECTED_FAILURES = (SchemaError, ManifestError, TrackingUnavailable, ValueError, KeyError, OSError)


def run_cli(action: str, fn: Callable[..., Any], *args: Any) -> tuple[int, Any]:
    """Run a script's work; expected failures become one plain sentence and exit code 2."""
    try:
        return 0, fn(*args)
    except KeyError as exc:
        log.error("Could not %s: setting or column %s is missing (see mlops/params.yaml).", action, exc)
    except EXPECTED_FAILURES as exc:
        log.error("Could not %s: %s", action, exc)
    return 2, None


@contextlib.contextmanager
def mlflow_run(mlflow: Any, run_name: str, tags: dict[str, str]) -> Iterator[Any]:
    """An MLflow run that ends FINISHED on success and FAILED on any error or interruption.

    The pid and host are tagged, so a run left RUNNING by a killed process can be recognised
    and closed by ``close_orphaned_runs``.
    """
    run = mlflow.start_run(
        run_name=run_name, tags={**tags, "pid": str(os.getpid()), "host": os.uname().nodename}
    )
    try:
        yield run
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    mlflow.end_run(status="FINISHED")


def close_orphaned_runs(mlflow: Any) -> int:
    """Mark FAILED the runs still RUNNING whose process on this host is gone (killed with -9)."""
    client = mlflow.tracking.MlflowClient()
    exp = mlflow.get_experiment_by_name(EXPERIMENT_NAME)
    if exp is None:
        return 0
    closed = 0
    host = os.uname().nodename
    for run in client.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'", max_results=200):
        pid = run.data.tags.get("pid")
        if run.data.tags.get("host") != host or not pid or not pid.isdigit() or _alive(int(pid)):
            continue
        client.set_terminated(run.info.run_id, status="FAILED")
        log.warning("Marked run %s FAILED: its process %s is gone.", run.info.run_name, pid)
        closed += 1
    return closed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


__all__ += ["EXPECTED_FAILURES", "close_orphaned_runs", "metrics_of", "roc_points", "run_cli"]
