"""The promotion gate, as a pure function."""

from __future__ import annotations

import math

import numpy as np

from ml_model.metrics import classification_metrics
from mlops.sidecar.config import GateThresholds
from mlops.sidecar.gate import decide

T = GateThresholds(min_roc_auc=0.75, min_delta=0.002, max_drop={"f1": 0.01, "accuracy": 0.01})
PROD = {"accuracy": 0.83, "precision": 0.71, "recall": 0.60, "f1": 0.65, "roc_auc": 0.875}


def test_a_clear_improvement_passes_with_a_reason() -> None:
    d = decide({**PROD, "roc_auc": 0.885, "f1": 0.66}, PROD, T)
    assert d.improved and "beats production's 0.8750 by +0.0100" in d.reason
    assert all(d.checks.values())


def test_equal_or_marginal_candidates_do_not_pass() -> None:
    assert not decide(PROD, PROD, T).improved
    d = decide({**PROD, "roc_auc": 0.876}, PROD, T)
    assert not d.improved and "does not beat" in d.reason and not d.checks["roc_auc_beats_production"]


def test_below_the_floor_fails_even_if_production_is_worse() -> None:
    d = decide({**PROD, "roc_auc": 0.70}, {**PROD, "roc_auc": 0.60}, T)
    assert not d.improved and "below the floor" in d.reason and d.checks["roc_auc_beats_production"]


def test_a_guard_metric_drop_blocks() -> None:
    d = decide({**PROD, "roc_auc": 0.90, "f1": 0.60}, PROD, T)
    assert not d.improved and "candidate f1 0.6000 falls more than 0.0100" in d.reason
    assert d.checks["accuracy_guard"] and not d.checks["f1_guard"]


def test_missing_or_nan_metrics_fail() -> None:
    assert not decide({**PROD, "roc_auc": math.nan}, PROD, T).improved
    assert not decide({k: v for k, v in PROD.items() if k != "roc_auc"}, PROD, T).improved
    d = decide({**PROD, "roc_auc": 0.9, "f1": None}, PROD, T)
    assert not d.improved and not d.checks["f1_guard"]


def test_a_model_of_labels_without_signal_never_passes() -> None:
    """Even against a weak production model, scores that carry no signal fail the floor."""
    rng = np.random.default_rng(0)
    for seed in range(20):
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 2, 4000)
        noise = classification_metrics(y, rng.random(4000))
        weak_prod = {**noise, "roc_auc": 0.45, "f1": 0.0, "accuracy": 0.0}
        assert not decide(noise, weak_prod, T).improved
