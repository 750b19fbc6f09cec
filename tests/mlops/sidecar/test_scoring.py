"""The shared split and the metrics every stage scores with; a bad dataset names file, column and row."""

from __future__ import annotations

import numpy as np
import pytest

from ml_model.frame_validation import read_dataset
from ml_model.metrics import classification_metrics
from ml_model.schema import SchemaError
from mlops.sidecar.config import SplitConfig
from mlops.sidecar.scoring import split_rows
from mlops.sidecar.simulator import simulate


def test_split_is_deterministic_stratified_and_disjoint() -> None:
    df = simulate(2000, 1)
    cfg = SplitConfig(test_size=0.2, split_seed=42)
    _a_train, a_test = split_rows(df, cfg)
    _b_train, b_test = split_rows(df, cfg)
    assert a_test.equals(b_test) and len(a_test) == 400
    assert abs(a_test["match"].mean() - df["match"].mean()) < 0.01
    other = split_rows(df, SplitConfig(test_size=0.2, split_seed=7))[1]
    assert not other.equals(a_test)


def test_metrics_are_the_five_named_ones() -> None:
    y = np.array([0, 0, 1, 1])
    m = classification_metrics(y, np.array([0.1, 0.6, 0.4, 0.9]))
    assert list(m) == ["accuracy", "precision", "recall", "f1", "roc_auc"]
    assert m["accuracy"] == 0.5 and m["roc_auc"] == 0.75


def test_read_dataset_names_file_column_row(tmp_path) -> None:
    df = simulate(50, 2)
    df.loc[3, "urgency"] = "yesterday"
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    with pytest.raises(SchemaError, match=r"(?s)bad\.csv.*column 'urgency', row 4"):
        read_dataset(path)


def test_a_split_that_cannot_be_made_names_the_source() -> None:
    one_label = simulate(50, 2).assign(match=1)
    with pytest.raises(ValueError, match=r"^data\.csv: every one of the 50 rows"):
        split_rows(one_label, SplitConfig(0.2, 42), "data.csv")
