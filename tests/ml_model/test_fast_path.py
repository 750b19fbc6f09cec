"""The service's fast scoring computes what the reference path computes: ``FastScorer.design_checked``
(a loop for a few rows, column-wise for many, one assignment for a constant case) equals
scikit-learn's encoder and scaler, and every path equals the others value for value. (The fast
and slow validations agree: tests/ml_model/test_request_validation.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest

from ml_model.artifacts import load_model
from ml_model.features import design_matrix, frame_columns
from ml_model.paths import ML_MODEL_DIR
from ml_model.request_validation import validate_batch
from ml_model.schema import FEATURE_FIELDS, FEATURES, SMALL_BATCH, Field
from ml_model.scoring_calls import CASE_NAMES
from mlops.sidecar.simulator import simulate


def unknown_categories(cols: dict[str, np.ndarray], fields: tuple[Field, ...]) -> dict[str, np.ndarray]:
    """The oracle: per categorical field, the row indices whose value is outside the known vocabulary."""
    out: dict[str, np.ndarray] = {}
    for f in fields:
        if f.kind == "category" and f.name in cols and not set(cols[f.name]) <= set(f.vocab):
            out[f.name] = np.flatnonzero(~np.isin(cols[f.name], f.vocab))
    return out


@pytest.fixture(scope="module")
def model():
    return load_model(ML_MODEL_DIR)


@pytest.fixture(scope="module")
def scorer(model):
    return model.scorer


@pytest.mark.parametrize("n", [1, 2, SMALL_BATCH, SMALL_BATCH + 1, 1000])
@pytest.mark.parametrize("unknown", [False, True])
def test_design_equals_scikit_learns(model, scorer, n: int, unknown: bool) -> None:
    df = simulate(n, 7 + n)[list(FEATURES)]
    if unknown:
        df.loc[df.index[:: max(n // 3, 1)], "case_type"] = "maritime"
        df.loc[df.index[-1], "lawyer_language"] = "tlh"
    cols = validate_batch(json.loads(df.to_json(orient="records")), FEATURE_FIELDS, "x")
    x, rows, fields = scorer.design_checked(cols, n)
    reference = design_matrix(df, model.encoder, model.scaler)  # float32, as Keras takes it
    np.testing.assert_allclose(x, reference, atol=1e-6, rtol=1e-6)
    if n > 1:  # the few-rows loop and the column-wise path agree exactly
        head = {k: v[:1] for k, v in cols.items()}
        np.testing.assert_array_equal(scorer.design_checked(head, 1)[0], x[:1])
    np.testing.assert_array_equal(scorer.forward(x), scorer.score(cols, n))
    expected = unknown_categories(cols, FEATURE_FIELDS)
    assert sorted(fields) == sorted(expected)
    want = np.unique(np.concatenate(list(expected.values()))) if expected else np.zeros(0)
    np.testing.assert_array_equal(rows, want)


@pytest.mark.parametrize("known_case", [True, False])
def test_a_constant_case_gives_the_same_design(scorer, known_case: bool) -> None:
    n = 500
    df = simulate(n, 3)[list(FEATURES)]
    for name in CASE_NAMES:
        df[name] = df[name].iloc[0]
    if not known_case:
        df["urgency"] = "yesterday"
    cols = frame_columns(df)
    x, rows, fields = scorer.design_checked(cols, n, CASE_NAMES)
    np.testing.assert_array_equal(x, scorer.design_checked(cols, n)[0])
    assert (fields, len(rows)) == (([], 0) if known_case else (["urgency"], n))
