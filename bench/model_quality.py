"""Production model quality on fresh simulator data, against the Bayes-optimal AUC and a
HistGradientBoosting baseline trained on the same rows as production.

Run: .venv/bin/python bench/model_quality.py [--rows 50000 --seed 777]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

import numpy as np

from ml_model.artifacts import load_model
from ml_model.common import setup_logging
from ml_model.features import frame_columns
from ml_model.metrics import expected_calibration_error
from ml_model.paths import ML_MODEL_DIR, PRODUCTION_DATA
from ml_model.schema import FEATURES, LABEL, read_dataset
from ml_model.train_model import split
from mlops.scripts.generate_data import simulate

log = logging.getLogger(__name__)


def quality(rows: int, seed: int) -> dict[str, float]:
    """AUCs of the truth, the production model and HGB on one fresh sample."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    fresh = simulate(rows, seed, with_truth=True)
    y = fresh[LABEL].to_numpy()
    model = load_model(ML_MODEL_DIR)
    prob = model.scorer.score(frame_columns(fresh[list(FEATURES)]), len(fresh))
    cfg = model.manifest["train_config"]
    train_df, _ = split(read_dataset(PRODUCTION_DATA), cfg["test_size"], cfg["seed"])
    cat = [c for c in FEATURES if train_df[c].dtype == object]
    hgb = HistGradientBoostingClassifier(categorical_features=cat, random_state=0, max_iter=300)
    hgb.fit(train_df[list(FEATURES)].astype({c: "category" for c in cat}), train_df[LABEL])
    hgb_prob = hgb.predict_proba(fresh[list(FEATURES)].astype({c: "category" for c in cat}))[:, 1]
    return {
        "bayes_auc": float(roc_auc_score(y, fresh["match_probability"])),
        "model_auc": float(roc_auc_score(y, prob)),
        "hgb_auc": float(roc_auc_score(y, hgb_prob)),
        "model_ece": expected_calibration_error(y, prob),
        "hgb_ece": expected_calibration_error(y, hgb_prob),
        "positive_rate": float(np.mean(y)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score the production model on fresh simulator data.")
    parser.add_argument("--rows", type=int, default=50000)
    parser.add_argument("--seed", type=int, default=777, help="any seed but the training data's (2024)")
    args = parser.parse_args(argv)
    setup_logging()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    q = quality(args.rows, args.seed)
    print(json.dumps(q, indent=2))
    print(
        f"model - bayes: {q['model_auc'] - q['bayes_auc']:+.4f}   model - hgb: {q['model_auc'] - q['hgb_auc']:+.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
