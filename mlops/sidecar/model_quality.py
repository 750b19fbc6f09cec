"""Score the production model on fresh simulator data against what is achievable.

Why here, beside the model: the quality bar (within 0.01 ROC AUC of the Bayes-optimal one, no
worse than gradient boosting) is part of what production promises, and tests/model/test_quality.py
gates on it. The simulator knows the true match probability, so the Bayes-optimal AUC of the same
rows is the ceiling; scikit-learn's HistGradientBoostingClassifier, trained on the same rows as
production, is the baseline a simpler model would reach. Nothing is written.
The command is ``mlops/scripts/model_quality.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ml_model.artifacts import LoadedModel, load_model
from ml_model.frame_validation import read_dataset
from ml_model.metrics import expected_calibration_error
from ml_model.paths import ML_MODEL_DIR, PRODUCTION_DATA
from ml_model.schema import FEATURES, LABEL
from ml_model.train_model import split
from mlops.sidecar.scoring import score
from mlops.sidecar.simulator import simulate

Scorer = Callable[[pd.DataFrame], np.ndarray]  # a feature table in, match probabilities out


def training_rows(model: LoadedModel) -> pd.DataFrame:
    """The rows a production model was trained on: its data's split by its own recorded recipe."""
    cfg = model.manifest["train_config"]
    return split(read_dataset(PRODUCTION_DATA), cfg["test_size"], cfg["seed"])[0]


def fit_hgb(train_df: pd.DataFrame) -> Scorer:
    """scikit-learn's HistGradientBoostingClassifier on the raw columns: the simpler model to beat.

    Returns a scorer (feature table to probabilities); categories are native, not one-hot. One
    OpenMP thread: on our 2 shared cores the default pool made the time of the same fit vary
    many-fold from run to run.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    cat = [c for c in FEATURES if train_df[c].dtype == object]
    hgb = HistGradientBoostingClassifier(categorical_features=cat, random_state=0, max_iter=300)
    with threadpool_limits(1, user_api="openmp"):
        hgb.fit(train_df[list(FEATURES)].astype({c: "category" for c in cat}), train_df[LABEL])

    def scorer(df: pd.DataFrame) -> np.ndarray:
        with threadpool_limits(1, user_api="openmp"):
            return hgb.predict_proba(df[list(FEATURES)].astype({c: "category" for c in cat}))[:, 1]

    return scorer


def model_scorer(model: LoadedModel) -> Scorer:
    """A loaded model as a scorer (``scoring.score``: the service's fast path), returning an array."""
    return lambda df: score(model, df).to_numpy()


def quality(rows: int, seed: int) -> dict[str, float]:
    """AUCs of the truth, the production model and HGB on one fresh sample of ``rows`` rows.

    Returns ``bayes_auc``, ``model_auc``, ``hgb_auc``, ``model_ece``, ``hgb_ece`` (expected
    calibration errors) and ``positive_rate``. Use a ``seed`` other than the training data's (2024),
    so the rows are unseen.
    """
    from sklearn.metrics import roc_auc_score

    fresh = simulate(rows, seed, with_truth=True)
    y = fresh[LABEL].to_numpy()
    model = load_model(ML_MODEL_DIR)
    prob = model_scorer(model)(fresh)
    hgb_prob = fit_hgb(training_rows(model))(fresh)
    return {
        "bayes_auc": float(roc_auc_score(y, fresh["match_probability"])),
        "model_auc": float(roc_auc_score(y, prob)),
        "hgb_auc": float(roc_auc_score(y, hgb_prob)),
        "model_ece": expected_calibration_error(y, prob),
        "hgb_ece": expected_calibration_error(y, hgb_prob),
        "positive_rate": float(np.mean(y)),
    }
