"""The gate's ranking guard: a real fall in ordering is refused by name, noise is not, and the
reference is the data version's world, so adapting to a concept change is never held back."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mlops.sidecar.config import Params
from mlops.sidecar.gate import decide
from mlops.sidecar.model_quality import fit_hgb
from mlops.sidecar.ranking import draw_pools
from mlops.sidecar.ranking_guard import compare, measure, ranking_check
from mlops.sidecar.simulator import simulate

PARAMS = Params.load()
CFG = replace(PARAMS.ranking, cases=200)
METRICS = {"roc_auc": 0.88, "f1": 0.65, "accuracy": 0.83}


@pytest.fixture(scope="module")
def pools_and_truth():
    pools = draw_pools(CFG)
    return pools, pools.truth


def test_a_real_fall_in_ordering_is_refused_by_name(pools_and_truth) -> None:
    _, truth = pools_and_truth
    rng = np.random.default_rng(1)
    logit = np.log(truth / (1 - truth))
    production = logit + rng.normal(0, 0.3, truth.shape)
    worse = logit + rng.normal(0, 1.2, truth.shape)  # orders the same lawyers much more loosely
    comparison = compare(truth, worse, production, CFG)
    holds, failures = ranking_check(comparison, dict(PARAMS.gate.max_ranking_drop))
    assert not holds and any(f.startswith("candidate ndcg10") for f in failures), failures
    decision = decide(METRICS, METRICS, replace(PARAMS.gate, min_delta=0.0), None, comparison)
    assert not decision.improved and decision.checks["ranking_guard"] is False
    assert "ranking guard: candidate ndcg10" in decision.reason and "same 200 cases" in decision.reason


def test_noise_is_not_a_fall(pools_and_truth) -> None:
    _, truth = pools_and_truth
    rng = np.random.default_rng(2)
    logit = np.log(truth / (1 - truth))
    production = logit + rng.normal(0, 0.5, truth.shape)
    retrained = production + rng.normal(0, 0.02, truth.shape)  # a retrain on the same world
    comparison = compare(truth, retrained, production, CFG)
    assert ranking_check(comparison, dict(PARAMS.gate.max_ranking_drop)) == (True, [])
    assert comparison.metrics["ndcg10"]["se"] > 0
    decision = decide(METRICS, METRICS, replace(PARAMS.gate, min_delta=0.0), None, comparison)
    assert decision.improved and decision.checks["ranking_guard"] is True


@pytest.mark.slow
def test_adapting_to_a_concept_change_is_not_held_back() -> None:
    old_world = fit_hgb(simulate(6000, 5))
    new_data = simulate(6000, 6, drift="concept")
    adapted = fit_hgb(simulate(6000, 7, drift="concept"))
    comparison = measure(new_data, adapted, old_world, CFG)  # relevance: the new data's world
    assert ranking_check(comparison, dict(PARAMS.gate.max_ranking_drop))[0], comparison
    assert comparison.metrics["ndcg10"]["drop"] < 0  # the adapted model orders the new world better
    fixed_truth = compare(
        draw_pools(CFG).truth,
        *(np.asarray(s(draw_pools(CFG).features)).reshape(CFG.cases, CFG.pool) for s in (adapted, old_world)),
        CFG,
    )
    assert fixed_truth.metrics["ndcg10"]["drop"] > 0  # a fixed (old) truth would have blocked it
