"""The sidecar's own helpers: params, the shared split and scoring, timing, MLflow runs, the CLI frame.

Paths and names are in ``ml_model.paths``, file helpers in ``ml_model.common``: one door each.
Heavy libraries (MLflow, TensorFlow, Evidently) are imported by the scripts that need them only.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ml_model.artifacts import LoadedModel, ManifestError, load_model
from ml_model.features import frame_columns
from ml_model.metrics import classification_metrics
from ml_model.paths import (
    DATASET,
    EXPERIMENT_NAME,
    ML_MODEL_DIR,
    MODELS_DIR,
    PARAMS_FILE,
    REGISTERED_MODEL,
    REPORTS_DIR,
    STAGING_DIR,
    TRACKING_DIR,
)
from ml_model.schema import FEATURES, LABEL, SchemaError
from ml_model.train_model import split
from mlops.mlflow_setup import TrackingUnavailable

log = logging.getLogger(__name__)

ALIASES = (
    "challenger",
    "champion",
)  # the registry's aliases: the candidate to review, the model in production


def load_params(path: Path = PARAMS_FILE) -> dict[str, Any]:
    """The sidecar's settings (DVC's params.yaml convention)."""
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_production() -> LoadedModel:
    """The production model, read-only, after its manifest is verified."""
    return load_model(ML_MODEL_DIR)


def script_parser(
    doc: str, data: bool = True, params_help: str | None = "params.yaml"
) -> argparse.ArgumentParser:
    """The argparse frame the sidecar scripts share: the docstring's first paragraph, --data, --params."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    if data:
        parser.add_argument(
            "--data", type=Path, default=DATASET, help="labelled CSV (default: the DVC-tracked dataset)"
        )
    if params_help:
        parser.add_argument("--params", type=Path, default=PARAMS_FILE, help=params_help)
    return parser


def add_dvc_outputs_flag(parser: argparse.ArgumentParser) -> None:
    """Only the DVC stages write the files dvc.yaml tracks (they pass this flag): a run by hand keeps
    its timestamped reports and MLflow run, and leaves `dvc status` and `dvc metrics show` alone."""
    parser.add_argument(
        "--dvc-outputs",
        action="store_true",
        help="also write the DVC-tracked metrics (the dvc.yaml stages do)",
    )


def test_split(
    df: pd.DataFrame, params: dict[str, Any], source: str | Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The deterministic train/test split, from params.yaml's ``data`` section; errors name ``source``."""
    try:
        return split(df, params["data"]["test_size"], params["data"]["split_seed"])
    except ValueError as exc:
        if source is None:
            raise
        raise ValueError(f"{source}: {exc}") from None


test_split.__test__ = False  # not a pytest test, despite the name


def score(model: LoadedModel, df: pd.DataFrame) -> pd.Series:
    """Probabilities of a loaded model on a table, through the same fast path the service uses."""
    feats = df[list(FEATURES)]
    return pd.Series(model.scorer.score(frame_columns(feats), len(feats)), index=df.index)


def metrics_of(model: LoadedModel, df: pd.DataFrame) -> dict[str, float]:
    """The five quality metrics of a model on a labelled table (candidate and production alike)."""
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
        """One log line: the total and each named span."""
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
        if run.data.tags.get("host") != host or not pid or not pid.isdigit() or process_alive(int(pid)):
            continue
        client.set_terminated(run.info.run_id, status="FAILED")
        log.warning("Marked run %s FAILED: its process %s is gone.", run.info.run_name, pid)
        closed += 1
    return closed


def repair_registry(mlflow: Any) -> list[str]:
    """What a killed retrain leaves in MLflow, repaired: runs left RUNNING are closed as FAILED, logged
    models left PENDING by a run that is over are marked FAILED, and an alias on a model version whose
    run did not finish is removed (a candidate must come from a complete run). Returns what was done."""
    from mlflow.exceptions import MlflowException

    closed = close_orphaned_runs(mlflow)
    done = [f"closed {closed} run(s) left RUNNING by a process that is gone"] if closed else []
    client = mlflow.tracking.MlflowClient()
    exp = mlflow.get_experiment_by_name(EXPERIMENT_NAME)
    if exp is None:
        return done
    for model in pending_logged_models(client, exp.experiment_id):
        run = client.get_run(model.source_run_id) if model.source_run_id else None
        if run is None or run.info.status != "RUNNING":
            client.finalize_logged_model(model.model_id, "FAILED")
            done.append(f"logged model {model.model_id} left PENDING marked FAILED")
    for alias in ALIASES:
        try:
            mv = client.get_model_version_by_alias(REGISTERED_MODEL, alias)
        except MlflowException:
            continue  # no such alias (or no registered model yet)
        if mv.run_id and client.get_run(mv.run_id).info.status not in ("FINISHED", "RUNNING"):
            client.delete_registered_model_alias(REGISTERED_MODEL, alias)
            done.append(f"alias {alias!r} removed from version {mv.version}: its run did not finish")
    for line in done:
        log.warning("Repaired: %s.", line)
    return done


def pending_logged_models(client: Any, experiment_id: str) -> list[Any]:
    """Logged models still PENDING among the newest 500. Filtered here: MLflow 3.17's SQL store
    fails on ``status = 'PENDING'`` (it compares an integer column with the name)."""
    models = client.search_logged_models(
        [experiment_id], max_results=500, order_by=[{"field_name": "creation_time", "ascending": False}]
    )
    return [m for m in models if str(getattr(m.status, "value", m.status)).endswith("PENDING")]


def remove_sidecar_debris() -> list[str]:
    """Staging folders and temp files a killed retrain leaves in mlops/; call with the retrain lock."""
    found = list(STAGING_DIR.iterdir()) if STAGING_DIR.is_dir() else []  # the folder itself may stay
    found += [p for d in (TRACKING_DIR, MODELS_DIR, REPORTS_DIR) if d.is_dir() for p in d.glob(".*.tmp")]
    for path in found:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        log.warning("Removed %s, left by an interrupted run.", path)
    return [str(p) for p in found]


def process_alive(pid: int) -> bool:
    """Whether a process that tagged a run still runs here (ourselves included)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
