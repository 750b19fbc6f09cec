"""Train the production match model: OneHotEncoder + StandardScaler + a Keras MLP.

Writes ``lawyer_match_model.h5``, ``encoder.pkl``, ``scaler.pkl`` and ``manifest.json`` (sha256
of each artifact, library versions, hash of the training data) into ``--out-dir``. The same data
and seed give the same metrics. The MLOps sidecar imports ``train`` and ``save_artifacts`` from
here, so a candidate is trained exactly as production is.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import yaml
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ml_model.common import atomic_write, atomic_write_json, exit_script, setup_logging, sha256_file
from ml_model.features import NUMERIC_FEATURES, design_matrix, frame_columns, numeric_matrix
from ml_model.frame_validation import read_dataset
from ml_model.metrics import classification_metrics, expected_calibration_error
from ml_model.paths import (
    ENCODER_FILE,
    MANIFEST_FILE,
    ML_MODEL_DIR,
    MODEL_FILE,
    PARAMS_FILE,
    PRODUCTION_DATA,
    REPO_ROOT,
    SCALER_FILE,
    model_version,
)
from ml_model.schema import CATEGORICAL, FEATURES, LABEL, SchemaError
from ml_model.signing import sign_set
from ml_model.synthetic import contract_rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe. Its one source is ``mlops/params.yaml`` (``train`` and ``data``):
    production training and the sidecar's candidates read the same file, so they cannot differ."""

    epochs: int
    batch_size: int
    hidden_layers: tuple[int, ...]
    learning_rate: float
    seed: int
    test_size: float
    split_seed: int
    algorithm: str = "keras_mlp"

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> TrainConfig:
        """The recipe from a parsed params.yaml; a missing setting is a KeyError naming it."""
        t, d = params["train"], params["data"]
        return cls(
            epochs=int(t["epochs"]),
            batch_size=int(t["batch_size"]),
            hidden_layers=tuple(int(h) for h in t["hidden_layers"]),
            learning_rate=float(t["learning_rate"]),
            seed=int(t["seed"]),
            test_size=float(d["test_size"]),
            split_seed=int(d["split_seed"]),
            algorithm=str(t["algorithm"]),
        )

    @classmethod
    def from_file(cls, path: Path = PARAMS_FILE) -> TrainConfig:
        """The recipe as params.yaml states it."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_params(yaml.safe_load(fh))

    def as_dict(self) -> dict[str, Any]:
        """What manifests and MLflow record of the recipe."""
        return asdict(self)


@dataclass
class Trained:
    """What training produces, before it is saved: fitted preprocessors, network, loss history."""

    encoder: OneHotEncoder
    scaler: StandardScaler
    model: Any  # keras.Model; typed loosely so importing this module does not import TensorFlow
    history: dict[str, list[float]]


def split(df: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The deterministic stratified split every component uses; refuses labels of one value."""
    counts = {int(k): int(v) for k, v in df[LABEL].value_counts().items()}
    if len(counts) < 2:
        raise ValueError(
            f"every one of the {len(df)} rows has {LABEL} = {next(iter(counts), 'nothing')}: training, "
            "ROC AUC and the gate need both outcomes"
        )
    try:
        train, test = train_test_split(df, test_size=test_size, random_state=seed, stratify=df[LABEL])
    except ValueError as exc:
        raise ValueError(
            f"cannot split {len(df)} rows (labels {counts}) into train and test sets: {exc}; "
            "both labels need several rows"
        ) from None
    return train.reset_index(drop=True), test.reset_index(drop=True)


def import_keras():
    """TensorFlow is slow and large to import (BENCHMARKS.md): only training pays for it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # no NodeDef "E0000" lines that read like failures
    # TensorFlow 2.21 prints its oneDNN notice through absl before any log level applies; without
    # oneDNN's reordered float sums it stays silent (and training took the same time here).
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import absl.logging
    import keras
    import tensorflow as tf

    absl.logging.set_verbosity(absl.logging.ERROR)  # Keras's "HDF5 is legacy" warning: .h5 is our contract
    return keras, tf


def train(df: pd.DataFrame, config: TrainConfig, verbose: int = 0) -> Trained:
    """Fit encoder, scaler and network on ``df`` (already validated), seeded end to end."""
    if config.algorithm != "keras_mlp":
        raise ValueError(f"unknown algorithm {config.algorithm!r}; only 'keras_mlp' is supported")
    keras, tf = import_keras()
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()

    encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    encoder.fit(df[list(CATEGORICAL)])
    scaler = StandardScaler().fit(numeric_matrix(frame_columns(df)))
    x = design_matrix(df, encoder, scaler)
    y = df[LABEL].to_numpy(dtype=np.float32)

    model = keras.Sequential([keras.Input(shape=(x.shape[1],), name="features")])
    for units in config.hidden_layers:
        model.add(keras.layers.Dense(units, activation="relu"))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc")],
        steps_per_execution=16,
    )
    history = model.fit(
        x, y, epochs=config.epochs, batch_size=config.batch_size, shuffle=True, verbose=verbose
    )
    return Trained(
        encoder, scaler, model, {k: [float(v) for v in vals] for k, vals in history.history.items()}
    )


def predict_keras(trained: Trained, df: pd.DataFrame) -> np.ndarray:
    """Probabilities through scikit-learn and Keras: the reference path (slow, for offline use)."""
    x = design_matrix(df, trained.encoder, trained.scaler)
    return np.asarray(trained.model(x, training=False)).reshape(-1)


def library_versions() -> dict[str, str]:
    """The versions a model was trained with: a load elsewhere can be checked against them."""
    from importlib.metadata import version

    return {
        p: version(p)
        for p in ("tensorflow-cpu", "keras", "scikit-learn", "numpy", "pandas", "h5py", "joblib")
    }


PROBE_ROWS = 32
PROBE_SEED = 20260


def probe_record(trained: Trained) -> dict[str, Any]:
    """A fixed batch and what the trained network (through Keras) says of it: promotion later loads
    the set the service's way and must get the same numbers, so a set whose bytes were swapped and
    re-vouched, or that does not load, is refused before it reaches production. The rows are made
    up within the contract (``synthetic``): a manifest travels, and must not carry a client's case."""
    rows = contract_rows(PROBE_ROWS, PROBE_SEED)
    records = json.loads(rows.to_json(orient="records"))
    return {"rows": records, "predictions": [float(p) for p in predict_keras(trained, rows)], "atol": 1e-5}


def save_artifacts(out_dir: Path, trained: Trained, info: dict[str, Any]) -> dict[str, Any]:
    """Write the three artifacts, the signature, then the manifest that vouches for them (last, so a
    crash part-way leaves a set that fails verification rather than one that loads wrongly)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / MODEL_FILE, lambda p: _save_keras(trained.model, p))
    atomic_write(out_dir / ENCODER_FILE, lambda p: joblib.dump(trained.encoder, p))
    atomic_write(out_dir / SCALER_FILE, lambda p: joblib.dump(trained.scaler, p))
    manifest = {
        **info,
        "artifacts": {name: sha256_file(out_dir / name) for name in (MODEL_FILE, ENCODER_FILE, SCALER_FILE)},
        "features": {
            "categorical": list(CATEGORICAL),
            "numeric": list(NUMERIC_FEATURES),
            "raw": list(FEATURES),
        },
        "libraries": library_versions(),
    }
    manifest["probe"] = probe_record(trained)
    sign_set(out_dir, manifest)
    atomic_write_json(out_dir / MANIFEST_FILE, manifest)
    return manifest


def _save_keras(model: Any, tmp: Path) -> None:
    """Keras picks the format from the suffix: save as .h5 beside the temp file, then move it over."""
    h5 = tmp.with_suffix(".h5")
    try:
        model.save(h5)
        os.replace(h5, tmp)
    finally:
        h5.unlink(missing_ok=True)


def data_fingerprint(path: Path) -> dict[str, Any]:
    """Which data a model was trained on: path (repo-relative) and sha256."""
    try:
        shown = str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        shown = str(path)
    return {"path": shown, "sha256": sha256_file(path)}


def run(data: Path, out_dir: Path, config: TrainConfig) -> dict[str, Any]:
    """Validate, split, train on the train part, score the held-out part, save with a manifest."""
    t0 = time.perf_counter()
    df = read_dataset(data)
    train_df, test_df = split(df, config.test_size, config.split_seed)
    log.info(
        "Loaded %d rows from %s; training on %d, holding out %d.", len(df), data, len(train_df), len(test_df)
    )
    trained = train(train_df, config)
    prob = predict_keras(trained, test_df)
    metrics = classification_metrics(test_df[LABEL].to_numpy(), prob)
    metrics["ece"] = expected_calibration_error(test_df[LABEL].to_numpy(), prob)
    log.info("Held-out metrics: %s.", ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    info = {
        "model_version": model_version(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_data": {**data_fingerprint(data), "rows": len(df), "train_rows": len(train_df)},
        "train_config": config.as_dict(),
        "metrics": metrics,
    }
    manifest = save_artifacts(out_dir, trained, info)
    log.info("Saved model %s to %s in %.1f s.", manifest["model_version"], out_dir, time.perf_counter() - t0)
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, read the recipe, train; exit 2 on bad data or settings."""
    parser = argparse.ArgumentParser(description="Train the production match model and write its artifacts.")
    parser.add_argument("--data", type=Path, default=PRODUCTION_DATA, help="training CSV (the data contract)")
    parser.add_argument("--out-dir", type=Path, default=ML_MODEL_DIR, help="where the artifacts go")
    parser.add_argument(
        "--params", type=Path, default=PARAMS_FILE, help="the recipe (train and data sections)"
    )
    parser.add_argument("--epochs", type=int, help="override params.yaml's train.epochs")
    parser.add_argument("--batch-size", type=int, help="override train.batch_size")
    parser.add_argument("--hidden", help="override train.hidden_layers, e.g. 64,32")
    parser.add_argument("--learning-rate", type=float, help="override train.learning_rate")
    parser.add_argument("--seed", type=int, help="override train.seed")
    args = parser.parse_args(argv)
    setup_logging()
    try:
        overrides = {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "learning_rate": args.learning_rate,
            "seed": args.seed,
            "hidden_layers": tuple(int(h) for h in args.hidden.split(",") if h.strip())
            if args.hidden
            else None,
        }
        config = replace(
            TrainConfig.from_file(args.params), **{k: v for k, v in overrides.items() if v is not None}
        )
        run(args.data, args.out_dir, config)
    except (SchemaError, ValueError) as exc:
        log.error("Refusing to train: %s", exc)
        return 2
    except (KeyError, OSError) as exc:
        log.error("Refusing to train: cannot read the recipe from %s (%s)", args.params, exc)
        return 2
    return 0


if __name__ == "__main__":
    exit_script(main())
