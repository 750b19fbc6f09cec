"""The simulator: seeded, honest about its truth, and its drift profiles move what they say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml_model.frame_validation import read_dataset, validate_frame
from ml_model.paths import PRODUCTION_DATA
from ml_model.schema import COLUMNS
from mlops.sidecar.simulator import DRIFT_PROFILES, bayes_auc, simulate


def test_same_seed_same_table_other_seed_other_table() -> None:
    a, b, c = simulate(2000, 5), simulate(2000, 5), simulate(2000, 6)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


@pytest.mark.parametrize("drift", DRIFT_PROFILES)
def test_every_profile_meets_the_contract(drift: str) -> None:
    df = simulate(3000, 11, drift)
    assert list(df.columns) == list(COLUMNS)
    validate_frame(df)


def test_defaults_hit_the_targets() -> None:
    df = simulate(40000, 3, with_truth=True)
    assert 0.20 <= df["match"].mean() <= 0.40
    assert 0.85 <= bayes_auc(df) <= 0.92
    assert 0.03 <= (df["lawyer_hourly_rate"] == 0).mean() <= 0.15  # few pro-bono lawyers
    assert df["client_income"].mean() > df["client_income"].median()  # right-skewed incomes


def test_truth_is_the_label_distribution() -> None:
    """Within each decile of match_probability, the label rate equals the mean probability
    to within 4 standard errors: the labels really are drawn from the stated truth."""
    df = simulate(60000, 21, with_truth=True)
    df["bin"] = pd.qcut(df["match_probability"], 10, labels=False, duplicates="drop")
    for _, g in df.groupby("bin"):
        p = g["match_probability"].mean()
        se = np.sqrt(p * (1 - p) / len(g)) + 1e-9
        assert abs(g["match"].mean() - p) < 4 * se


def test_drift_profiles_move_what_they_name() -> None:
    base = simulate(20000, 4, with_truth=True)
    mix = simulate(20000, 4, "case_mix")
    assert (mix["case_type"] == "immigration").mean() > 2 * (base["case_type"] == "immigration").mean()
    assert (mix["client_language"] == "en").mean() < 0.7 * (base["client_language"] == "en").mean()
    prices = simulate(20000, 4, "prices")
    assert prices["lawyer_hourly_rate"].median() > 1.4 * base["lawyer_hourly_rate"].median()
    pop = simulate(20000, 4, "population")
    assert pop["client_income"].median() < 0.7 * base["client_income"].median()
    concept = simulate(20000, 4, "concept", with_truth=True)
    # same features, different truth: the old truth no longer ranks the new labels as well
    old_truth_on_new = concept.drop(columns="match_probability").assign(
        match_probability=base["match_probability"].to_numpy()
    )
    assert abs(concept["distance_km"].mean() - base["distance_km"].mean()) < 1.0
    assert bayes_auc(concept) > 0.8
    assert old_truth_on_new["match_probability"].corr(concept["match_probability"]) < 0.99


def test_committed_dataset_is_the_documented_one() -> None:
    """ml_model/matchmaking_dataset.csv is simulate(20000, seed=2024), byte for byte in value."""
    committed = read_dataset(PRODUCTION_DATA)
    regenerated = validate_frame(simulate(20000, 2024))
    pd.testing.assert_frame_equal(committed, regenerated, check_exact=False, rtol=1e-9)
