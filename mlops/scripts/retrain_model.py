"""Retrain a candidate on the newest data version and compare it with production.

Both models are scored on the same held-out rows; the gate (``gate.decide``) says whether the
candidate is an improvement and why. Every run is logged to MLflow as ``retrain_<ts>``; an improved
candidate is written to ``mlops/models/v<ts>/`` (staged, then renamed into place) and registered
with alias ``challenger``. Production (``ml_model/``) is read, never written.
"""

from __future__ import annotations

import sys

# Before anything from ml_model/ is imported: the sidecar only reads ml_model/, so it must not
# leave a __pycache__ folder there either.
sys.dont_write_bytecode = True

import argparse
import logging
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from ml_model.artifacts import load_model
from ml_model.common import atomic_write_json, exit_script, setup_logging, sha256_file
from ml_model.features import frame_columns
from ml_model.paths import (
    DATASET,
    LAST_METRICS,
    LAST_RETRAIN,
    MANIFEST_FILE,
    MODELS_DIR,
    PARAMS_FILE,
    REGISTERED_MODEL,
    RETRAIN_LOCK,
    STAGING_DIR,
    TRACKING_DIR,
    timestamp,
)
from ml_model.schema import LABEL, read_dataset
from ml_model.train_model import TrainConfig, import_keras, library_versions, save_artifacts, train
from mlops.mlflow_setup import configure
from mlops.scripts.gate import Decision, decide
from mlops.scripts.utils import (
    Timer,
    close_orphaned_runs,
    load_params,
    load_production,
    metrics_of,
    mlflow_run,
    roc_points,
    run_cli,
    test_split,
)

log = logging.getLogger(__name__)


def train_config(params: dict[str, Any]) -> TrainConfig:
    t = params["train"]
    return TrainConfig(
        epochs=int(t["epochs"]),
        batch_size=int(t["batch_size"]),
        hidden_layers=tuple(int(h) for h in t["hidden_layers"]),
        learning_rate=float(t["learning_rate"]),
        seed=int(t["seed"]),
        test_size=float(params["data"]["test_size"]),
        algorithm=str(t["algorithm"]),
    )


def _log_to_mlflow(mlflow: Any, info: dict[str, Any], trained: Any, x_sample: Any) -> Any:
    """Params, metrics (candidate and ``production_``), tags, metrics.json and the model."""
    from mlflow.models import infer_signature

    cfg = info["config"]
    mlflow.log_params(
        {
            "algorithm": cfg.algorithm,
            "batch_size": cfg.batch_size,
            "epochs": cfg.epochs,
            "hidden_layers": ",".join(map(str, cfg.hidden_layers)),
            "learning_rate": cfg.learning_rate,
            "seed": cfg.seed,
            "test_size": cfg.test_size,
            "train_rows": info["train_rows"],
            "test_rows": info["test_rows"],
            "production_version": info["production_version"],
        }
    )
    mlflow.log_metrics(info["candidate"])
    mlflow.log_metrics({f"production_{k}": v for k, v in info["production"].items()})
    mlflow.log_dict(info["record"], "metrics.json")
    y_sample = trained.model(x_sample, training=False).numpy()
    # Pinned requirements: without them MLflow infers them by re-importing the model in a
    # subprocess, which took 10+ s here.
    libs = library_versions()
    reqs = [f"{p}=={libs[p]}" for p in ("tensorflow-cpu", "keras", "numpy", "h5py")]
    return mlflow.keras.log_model(
        trained.model, name="model", signature=infer_signature(x_sample, y_sample), pip_requirements=reqs
    )


def retrain(data: Path = DATASET, params_file: Path = PARAMS_FILE) -> dict[str, Any]:
    """The spec's retraining flow; returns the record also written to ``last_metrics.json``."""
    timer = Timer()
    params = load_params(params_file)
    config = train_config(params)
    with timer("loading data"):
        df = read_dataset(data)
        production = load_production()
        train_df, test_df = test_split(df, params)
        digest = sha256_file(data)
    log.info(
        "Data %s (sha256 %s...): %d training rows, %d held out.",
        data,
        digest[:12],
        len(train_df),
        len(test_df),
    )
    with timer("importing MLflow"):
        mlflow = configure()
        close_orphaned_runs(mlflow)
    ts = timestamp()
    version = f"v{ts}"
    STAGING_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{version}.", dir=STAGING_DIR))
    try:
        with mlflow_run(mlflow, f"retrain_{ts}", {"timestamp": ts, "data_hash": digest}) as run:
            with timer("importing TensorFlow"):
                import_keras()
            with timer("training"):
                trained = train(train_df, config, verbose=2)
            with timer("scoring"):
                save_artifacts(staging, trained, {"model_version": version})
                candidate_model = load_model(staging)
                candidate = metrics_of(candidate_model, test_df)
                prod = metrics_of(production, test_df)
                decision: Decision = decide(candidate, prod, params["gate"])
            log.info("Candidate: %s.", ", ".join(f"{k} {v:.4f}" for k, v in candidate.items()))
            log.info(
                "Production %s: %s.", production.version, ", ".join(f"{k} {v:.4f}" for k, v in prod.items())
            )
            log.info("Gate: %s. %s.", "IMPROVED" if decision.improved else "not improved", decision.reason)
            record = {
                "run_name": f"retrain_{ts}",
                "run_id": run.info.run_id,
                "version": version,
                "data_sha256": digest,
                "candidate": candidate,
                "production": prod,
                "production_version": production.version,
                "decision": decision.as_dict(),
                "thresholds": params["gate"],
                "saved_to": None,
            }
            mlflow.set_tags(
                {"decision": "improved" if decision.improved else "rejected", "reason": decision.reason}
            )
            with timer("MLflow logging"):
                head = test_df.head(200)
                x_sample = candidate_model.scorer.design(frame_columns(head), len(head)).astype(np.float32)
                info = {
                    "config": config, "train_rows": len(train_df), "test_rows": len(test_df),
                    "production_version": production.version, "candidate": candidate, "production": prod,
                    "record": record,
                }  # fmt: skip
                logged = _log_to_mlflow(mlflow, info, trained, x_sample)
                roc = roc_points(
                    test_df[LABEL].to_numpy(),
                    {"candidate": candidate_model, "production": production},
                    test_df,
                )
            if decision.improved:
                with timer("saving candidate"):
                    mv = mlflow.register_model(logged.model_uri, REGISTERED_MODEL)
                    client = mlflow.tracking.MlflowClient()
                    client.set_registered_model_alias(REGISTERED_MODEL, "challenger", mv.version)
                    record["registered_version"] = str(mv.version)
                    manifest = load_model(staging).manifest
                    manifest.update(
                        {
                            "created_at": ts,
                            "training_data": {"path": str(data), "sha256": digest, "rows": len(df), "train_rows": len(train_df)},
                            "train_config": {k: v for k, v in vars(config).items() if k != "extra"},
                            "metrics": candidate,
                            "production_metrics": prod,
                            "decision": decision.as_dict(),
                            "mlflow": {"run_id": run.info.run_id, "model_uri": logged.model_uri,
                                       "registered_model": REGISTERED_MODEL, "registered_version": str(mv.version)},
                            "libraries": library_versions(),
                        }
                    )  # fmt: skip
                    atomic_write_json(staging / MANIFEST_FILE, manifest)
                    atomic_write_json(staging / "metrics.json", record)
                    MODELS_DIR.mkdir(parents=True, exist_ok=True)
                    final = MODELS_DIR / version
                    try:
                        staging.rename(final)  # the candidate appears whole, or not at all
                    except OSError:
                        client.delete_model_version(REGISTERED_MODEL, mv.version)  # no alias without a folder
                        raise
                    record["saved_to"] = str(final.relative_to(MODELS_DIR.parent.parent))
                    log.info(
                        "Saved candidate %s to %s and set alias 'challenger' on version %s.",
                        version,
                        final,
                        mv.version,
                    )
            mlflow.set_tag("saved_to", record["saved_to"] or "")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    MODELS_DIR.mkdir(parents=True, exist_ok=True)  # the DVC output exists even when nothing was saved
    atomic_write_json(LAST_RETRAIN, record)
    summary = {
        "candidate": record["candidate"],
        "production": record["production"],
        "improved": decision.improved,
    }
    atomic_write_json(LAST_METRICS, summary)  # numbers only, for `dvc metrics show/diff`
    for name, points in roc.items():
        atomic_write_json(TRACKING_DIR / f"roc_{name}.json", points)
    log.info("Retrain finished: %s.", timer.summary())
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=DATASET, help="labelled CSV (default: the DVC-tracked dataset)"
    )
    parser.add_argument(
        "--params", type=Path, default=PARAMS_FILE, help="params.yaml with train, data and gate"
    )
    args = parser.parse_args(argv)
    setup_logging()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a TERM ends the MLflow run as FAILED
    RETRAIN_LOCK.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(RETRAIN_LOCK)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.error(
            "Another retrain is running (lock %s is held); refusing to start a second one.", RETRAIN_LOCK
        )
        return 3
    try:
        shutil.rmtree(STAGING_DIR, ignore_errors=True)  # leftovers of a killed retrain; we hold the lock
        code, _ = run_cli("retrain", retrain, args.data, args.params)
    finally:
        lock.release()
    return code


if __name__ == "__main__":
    exit_script(main())
