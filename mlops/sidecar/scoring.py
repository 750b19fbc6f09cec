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


def roc_points(
    y: Any, models: dict[str, LoadedModel], df: pd.DataFrame, points: int = 101
) -> dict[str, list[dict[str, float]]]:
    """ROC curves of several models on the same rows, thinned to about ``points`` points (DVC plots)."""
    from sklearn.metrics import roc_curve

    out = {}
    for name, model in models.items():
        fpr, tpr, _ = roc_curve(y, score(model, df).to_numpy())
        keep = np.unique(np.searchsorted(fpr, np.linspace(0, 1, points)).clip(0, len(fpr) - 1))
        out[name] = [{"fpr": round(float(fpr[i]), 5), "tpr": round(float(tpr[i]), 5)} for i in keep]
    return out


def metrics_text(metrics: dict[str, float]) -> str:
    """Metrics as the logs say them: ``roc_auc 0.8632, f1 0.7010``."""
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
