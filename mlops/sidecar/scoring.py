"""Scoring for every stage: the shared held-out split, a model's probabilities, metrics and ROC points.

Candidate and production are always scored here, on the same rows and through the service's own
fast path, so a difference between them is the models', never the scoring code's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml_model.artifacts import LoadedModel, load_model
from ml_model.features import frame_columns
from ml_model.metrics import classification_metrics
from ml_model.paths import ML_MODEL_DIR
from ml_model.schema import FEATURES, LABEL
from ml_model.train_model import split
from mlops.sidecar.config import SplitConfig


def load_production() -> LoadedModel:
    """The production model, read-only, after its manifest is verified."""
    return load_model(ML_MODEL_DIR)


def split_rows(
    df: pd.DataFrame, cfg: SplitConfig, source: str | Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The deterministic train/held-out split of params.yaml's ``data``; errors name ``source``."""
    try:
        return split(df, cfg.test_size, cfg.split_seed)
    except ValueError as exc:
        if source is None:
            raise
        raise ValueError(f"{source}: {exc}") from None


def score(model: LoadedModel, df: pd.DataFrame) -> pd.Series:
    """Probabilities of a loaded model on a table, through the same fast path the service uses."""
    feats = df[list(FEATURES)]
    return pd.Series(model.scorer.score(frame_columns(feats), len(feats)), index=df.index)


def metrics_of(model: LoadedModel, df: pd.DataFrame) -> dict[str, float]:
    """The five quality metrics of a model on a labelled table (candidate and production alike)."""
    return classification_metrics(df[LABEL].to_numpy(), score(model, df).to_numpy())


def curve_points(
    y: Any, models: dict[str, LoadedModel], df: pd.DataFrame, points: int = 101
) -> dict[str, list]:
    """The plots ``dvc plots show`` draws, for several models on the same rows: ROC (thinned to about
    ``points`` points) and calibration (10 equal-count bins), each row naming its ``model``; the ROC
    label carries the model's ROC AUC, so the legend reads as the metric."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_auc_score, roc_curve

    roc, calibration = [], []
    for name, model in models.items():
        p = score(model, df).to_numpy()
        label = f"{name} (ROC AUC {roc_auc_score(y, p):.4f})"
        fpr, tpr, _ = roc_curve(y, p)
        keep = np.unique(np.searchsorted(fpr, np.linspace(0, 1, points)).clip(0, len(fpr) - 1))
        roc += [
            {"fpr": round(float(fpr[i]), 5), "tpr": round(float(tpr[i]), 5), "model": label} for i in keep
        ]
        observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
        calibration += [
            {"predicted": round(float(a), 5), "observed": round(float(b), 5), "model": name}
            for a, b in zip(predicted, observed, strict=True)
        ]
    calibration += [{"predicted": v, "observed": v, "model": "perfectly calibrated"} for v in (0.0, 1.0)]
    return {"roc": roc, "calibration": calibration}


def training_curve(history: dict[str, list[float]]) -> list[dict[str, Any]]:
    """The candidate's loss and ROC AUC per epoch on its training rows (Keras' history)."""
    return [
        {"epoch": epoch, "value": round(value, 5), "metric": name}
        for name, values in sorted(history.items())
        for epoch, value in enumerate(values, start=1)
    ]


def metrics_text(metrics: dict[str, float]) -> str:
    """Metrics as the logs say them: ``roc_auc 0.8632, f1 0.7010``."""
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
