"""Ranking quality (mlops/sidecar/ranking.py): the metrics on hand-made cases, the simulated pools,
and production's NDCG@10 against gradient boosting."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ml_model.artifacts import load_model
from ml_model.paths import ML_MODEL_DIR
from mlops.sidecar.config import Params, RankingConfig
from mlops.sidecar.ranking import (
    CASE_COLUMNS,
    affordability,
    draw_pools,
    headline,
    inversion_pairs,
    inversion_rate,
    measure,
    ndcg_at,
    rank_models,
    table_lines,
    top_share,
)
from mlops.sidecar.simulator import true_logit

SMALL = RankingConfig(cases=40, pool=20, seed=3)


def test_ndcg_is_one_for_the_true_order_and_known_for_a_swapped_pair() -> None:
    truth = np.array([[0.9, 0.5, 0.1, 0.05]])
    assert ndcg_at(truth, truth, k=10) == pytest.approx(1.0)
    assert ndcg_at(truth, truth * 3 + 1, k=10) == pytest.approx(1.0)  # only the order counts
    # relevance [1, 0] ranked [0, 1]: DCG = 1 / log2(3), the ideal DCG is 1
    assert ndcg_at(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), k=2) == pytest.approx(1 / math.log2(3))
    assert ndcg_at(truth, -truth, k=10) < 0.8


def test_top_share_counts_the_best_lawyers_place_and_ties_against_the_scorer() -> None:
    truth = np.array([[0.9, 0.1, 0.2, 0.3, 0.4], [0.1, 0.9, 0.2, 0.3, 0.4]])
    scores = np.array([[0.5, 0.1, 0.6, 0.7, 0.2], [0.9, 0.1, 0.8, 0.7, 0.6]])
    # case 0: the best (column 0) has 2 ahead of it (in the top 3); case 1: 4 ahead (not)
    assert top_share(truth, scores, top=3) == 0.5
    assert top_share(truth, scores, top=2) == 0.0
    assert top_share(truth, np.zeros_like(truth), top=3) == 0.0  # a constant score is no ranking
    assert top_share(truth, truth, top=1) == 1.0


def test_inversion_counter_counts_a_known_inversion_only_among_alike_pairs() -> None:
    fit = np.array([[0.0, 0.1, 2.0]])  # lawyer 2 is far better apart from price: not a pair
    unaffordable = np.array([[True, False, False]])
    affordable = np.array([[False, True, True]])
    pairs = inversion_pairs(fit, unaffordable, affordable, tolerance=0.25)
    assert pairs.sum() == 1 and pairs[0, 0, 1]
    assert inversion_rate(np.array([[0.9, 0.5, 0.1]]), pairs) == 1.0  # unaffordable first: inverted
    assert inversion_rate(np.array([[0.1, 0.5, 0.9]]), pairs) == 0.0
    assert inversion_rate(np.array([[0.5, 0.5, 0.9]]), pairs) == 0.5  # a tie counts half
    assert math.isnan(inversion_rate(np.zeros((1, 3)), np.zeros((1, 3, 3), dtype=bool)))


def test_affordability_rule_against_the_clients_hourly_income() -> None:
    cfg = RankingConfig(unaffordable_factor=4.0, affordable_factor=2.0)
    df = pd.DataFrame({"client_income": [40000.0] * 5, "lawyer_hourly_rate": [81.0, 80.0, 41.0, 40.0, 0.0]})
    unaffordable, affordable = affordability(df, cfg, (1, 5))  # hourly income 20 USD
    assert unaffordable.tolist() == [[True, False, False, False, False]]
    assert affordable.tolist() == [[False, False, False, True, True]]


def test_config_from_params_refuses_unknown_or_inconsistent_settings() -> None:
    cfg = Params.load().ranking
    assert cfg.cases * cfg.pool >= 5000 and cfg.k == 10 and cfg.top == 3
    with pytest.raises(ValueError, match="unknown setting"):
        RankingConfig.from_params({"ranking": {"casses": 3}})
    with pytest.raises(ValueError, match="affordable_factor"):
        RankingConfig.from_params({"ranking": {"affordable_factor": 5.0, "unaffordable_factor": 4.0}})
    with pytest.raises(ValueError, match="top"):
        RankingConfig.from_params({"ranking": {"pool": 2, "top": 3}})


def test_pools_are_seeded_one_case_each_and_keep_the_simulators_relations() -> None:
    pools = draw_pools(SMALL)
    again = draw_pools(SMALL)
    pd.testing.assert_frame_equal(pools.features, again.features)
    assert pools.shape == (40, 20) and len(pools.features) == 800
    by_case = pools.features.groupby(np.repeat(np.arange(40), 20))
    assert (by_case[list(CASE_COLUMNS)].nunique() == 1).all().all()  # one case per pool
    df = pools.features
    spec_fit = (df["lawyer_specialization"] == df["case_type"]).mean()
    assert 0.5 < spec_fit < 0.65  # half from the case's own type, the rest at random (1 in 7)
    near = df["lawyer_region"] == df["client_region"]
    assert 0.4 < near.mean() < 0.65 and (df.loc[~near, "distance_km"] >= 15).all()
    np.testing.assert_allclose(pools.truth, 1 / (1 + np.exp(-true_logit(df).reshape(40, 20))))
    assert not np.array_equal(draw_pools(RankingConfig(cases=40, pool=20, seed=4)).truth, pools.truth)


def test_measure_puts_truth_at_the_ceiling_and_price_blindness_near_a_coin_flip() -> None:
    pools = draw_pools(RankingConfig(cases=150, pool=30, seed=5))
    cfg = RankingConfig(cases=150, pool=30, seed=5)
    noisy = np.random.default_rng(0).normal(0, 0.3, pools.shape)
    result = measure(pools, {"noisy_truth": lambda df: true_logit(df).reshape(pools.shape) + noisy}, cfg)
    table = result["table"]
    assert list(table) == ["noisy_truth", "truth", "truth_without_price", "random"]
    assert table["truth"] == {"ndcg10": pytest.approx(1.0), "top3": 1.0, "unaffordable_above": 0.0}
    assert result["pairs"] > 300
    assert 0.35 < table["truth_without_price"]["unaffordable_above"] < 0.65
    assert table["random"]["ndcg10"] < table["noisy_truth"]["ndcg10"] < 1.0
    assert table["random"]["top3"] < 0.25
    assert set(headline(result, "truth")) == {"ndcg10", "top3", "unaffordable_above"}
    text = "\n".join(table_lines(result))
    assert "noisy_truth" in text and "rate > 4 x income/2000" in text


def test_production_ranks_about_as_well_as_gradient_boosting_or_better() -> None:
    """The product is the order: production's NDCG@10 and top-3 may not trail HGB's by a margin."""
    cfg = Params.load().ranking
    production = load_model(ML_MODEL_DIR)
    result = rank_models(cfg, production, candidate=production)
    table = result["table"]
    prod, hgb = table["production"], table["hgb"]
    assert table["candidate"] == prod and result["versions"]["candidate"] == production.version
    assert prod["ndcg10"] >= hgb["ndcg10"] - 0.01, table
    assert prod["top3"] >= hgb["top3"] - 0.03, table
    assert prod["ndcg10"] > table["truth_without_price"]["ndcg10"], table
    assert result["seconds"] < 30, result["seconds"]
