"""Tables against the contract: every kind of bad value is reported with column, row and value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml_model.frame_validation import read_dataset, validate_frame
from ml_model.schema import COLUMNS, SchemaError
from mlops.sidecar.simulator import simulate


@pytest.fixture(scope="module")
def good() -> pd.DataFrame:
    return simulate(50, seed=1)


def test_good_frame_passes_with_canonical_dtypes(good: pd.DataFrame) -> None:
    out = validate_frame(good)
    assert list(out.columns) == list(COLUMNS)
    assert out["case_complexity"].dtype == np.int64
    assert out["distance_km"].dtype == np.float64


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("case_type", "tax", "column 'case_type', row 3: not one of"),
        ("client_language", "de", "column 'client_language', row 3"),
        ("urgency", np.nan, "column 'urgency', row 3: missing value"),
        ("case_complexity", 6, "column 'case_complexity', row 3: above the maximum 5"),
        ("case_complexity", 2.5, "column 'case_complexity', row 3: not an integer"),
        ("client_income", -5.0, "column 'client_income', row 3: below the minimum 0"),
        ("client_income", "lots", "column 'client_income', row 3: not a number"),
        ("lawyer_rating", 5.5, "column 'lawyer_rating', row 3: above the maximum 5"),
        ("lawyer_experience_years", 50, "column 'lawyer_experience_years', row 3: above the maximum 45"),
        ("lawyer_active_cases", -1, "column 'lawyer_active_cases', row 3: below the minimum 0"),
        ("distance_km", np.inf, "column 'distance_km', row 3: infinite value"),
        ("match", 2, "column 'match', row 3: above the maximum 1"),
    ],
)
def test_each_bad_value_is_named(good: pd.DataFrame, column: str, value: object, expected: str) -> None:
    bad = good.astype(object).copy()
    bad.loc[2, column] = value
    with pytest.raises(SchemaError) as err:
        validate_frame(bad, source="cases.csv")
    assert "cases.csv" in str(err.value)
    assert expected in str(err.value)
    assert repr(value) in str(err.value) or value is np.nan


def test_all_problems_are_collected(good: pd.DataFrame) -> None:
    bad = good.astype(object).copy()
    bad.loc[0, "case_type"] = "tax"
    bad.loc[4, "lawyer_rating"] = 0.1
    with pytest.raises(SchemaError) as err:
        validate_frame(bad)
    assert len(err.value.problems) == 2


def test_missing_extra_and_reordered_columns(good: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match="missing column"):
        validate_frame(good.drop(columns=["urgency"]))
    with pytest.raises(SchemaError, match="unexpected column"):
        validate_frame(good.assign(notes="x"))
    with pytest.raises(SchemaError, match="out of order"):
        validate_frame(good[list(reversed(COLUMNS))])


def test_empty_frame(good: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match="no data rows"):
        validate_frame(good.iloc[:0])


def test_read_dataset_file_errors(tmp_path, good: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match="file not found"):
        read_dataset(tmp_path / "nope.csv")
    binary = tmp_path / "model.csv"
    binary.write_bytes(b"\x89HDF\r\n\x1a\n\x00\x00\xff\xfe" * 50)
    with pytest.raises(SchemaError):
        read_dataset(binary)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(SchemaError, match="not a readable CSV"):
        read_dataset(empty)
    ok = tmp_path / "ok.csv"
    good.to_csv(ok, index=False)
    assert len(read_dataset(ok)) == len(good)


def test_unlabelled_data_allowed_when_asked(good: pd.DataFrame) -> None:
    out = validate_frame(good.drop(columns=["match"]), require_label=False)
    assert "match" not in out.columns


def test_true_counts_per_column_and_plain_values() -> None:
    df = simulate(20000, 8)
    df.loc[:5999, "case_type"] = "maritime"  # 30% unknown categories
    df.loc[3, "case_complexity"] = 9
    with pytest.raises(SchemaError) as info:
        validate_frame(df, "big.csv")
    text = str(info.value)
    assert "column 'case_type': 6000 rows in all (30%): not one of" in text
    assert "column 'case_complexity', row 4: above the maximum 5 (value 9)" in text
    assert "np.int64" not in text and "np.float64" not in text
    assert text.count("column 'case_type', row") == 5  # a few examples, then the true count


def test_a_huge_value_is_quoted_as_a_short_prefix() -> None:
    df = simulate(10, 8)
    df["urgency"] = df["urgency"].astype(object)
    df.loc[0, "urgency"] = "x" * 1_000_000
    with pytest.raises(SchemaError) as info:
        validate_frame(df, "huge.csv")
    assert len(str(info.value)) < 2000 and "xxx…" in str(info.value)
