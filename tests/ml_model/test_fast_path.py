"""The service's fast path computes what the reference path computes: ``FastScorer.design_checked``
(a loop for a few rows, column-wise for many, one assignment for a constant case) equals
scikit-learn's encoder and scaler, every path equals the others value for value, and the
per-object and column-wise validations agree."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ml_model.artifacts import load_model
from ml_model.features import design_matrix, frame_columns
from ml_model.paths import ML_MODEL_DIR
from ml_model.predict_model import CASE_NAMES
from ml_model.schema import (
    FEATURE_FIELDS,
    FEATURES,
    SMALL_BATCH,
    InvalidRecord,
    short_repr,
    unknown_categories,
    validate_records,
)
from mlops.scripts.generate_data import simulate


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
    cols = validate_records(json.loads(df.to_json(orient="records")), FEATURE_FIELDS, "x")
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


def test_per_object_and_column_wise_validation_agree() -> None:
    records = json.loads(simulate(3 * SMALL_BATCH, 5)[list(FEATURES)].to_json(orient="records"))
    records[4]["lawyer_active_cases"] = 3.0  # an integral float in an int field becomes an int
    records[9]["client_income"] = 12000  # an int in a float field becomes a float
    whole = validate_records(records, FEATURE_FIELDS, "x")  # column-wise
    parts = [validate_records(records[i : i + 4], FEATURE_FIELDS, "x") for i in range(0, len(records), 4)]
    for name in FEATURES:
        joined = np.concatenate([p[name] for p in parts])
        assert whole[name].dtype == joined.dtype, name
        np.testing.assert_array_equal(whole[name], joined)


@pytest.mark.parametrize("n", [3, 40])
@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("x" * 65, "at most 64 characters"),
        ("\udc80", "lone surrogate"),
        (["family"], "must be a string"),
        (None, "must be a string"),
    ],
)
def test_both_validations_name_the_same_bad_category(n: int, value: object, words: str) -> None:
    records = json.loads(simulate(n, 5)[list(FEATURES)].to_json(orient="records"))
    records[2]["urgency"] = value
    with pytest.raises(InvalidRecord, match=rf"x\[2\]: field 'urgency' .*{words}"):
        validate_records(records, FEATURE_FIELDS, "x")


def test_short_repr_quotes_a_short_prefix_of_anything() -> None:
    assert short_repr("abc") == "'abc'"
    long = short_repr("y" * 1_000_000)
    assert long.startswith("'" + "y" * 40) and long.endswith("… (1000000 characters)") and len(long) < 80
    assert short_repr("\udc80") == "'\\udc80'"  # escaped: safe to put in any JSON answer
    assert short_repr(10**400) == "a 401-digit integer" and short_repr(12) == "12"
    assert (
        short_repr([[[[]]]] * 10**5) == "a list of 100000" and short_repr({"a": 1}) == "an object with 1 keys"
    )
    assert short_repr(float("nan")) == "nan" and short_repr(None) == "None" and short_repr(True) == "True"
