"""The prediction log's writer and reader agree, and a torn last line is tolerated."""

from __future__ import annotations

import numpy as np
import pytest

from ml_model.prediction_log import LogEntry, PredictionLog, read_prediction_log
from ml_model.schema import FEATURES
from mlops.scripts.generate_data import simulate


def test_round_trip_one_row_per_instance(tmp_path) -> None:
    df = simulate(30, 1)
    log = PredictionLog(tmp_path / "p.jsonl")
    cols = {c: df[c].to_numpy() for c in FEATURES}
    log.write(LogEntry("v1", 1_800_000_000.0, cols, list(np.linspace(0, 1, 30)), "p1"))
    log.write(
        LogEntry("v2", 1_800_000_001.0, {c: v[:2] for c, v in cols.items()}, [0.1, 0.2], "p2", ["L7", 9])
    )
    log.close()
    back = read_prediction_log(tmp_path / "p.jsonl")
    assert len(back) == 32 and list(back.columns[: len(FEATURES)]) == list(FEATURES)
    assert back["model_version"].tolist() == ["v1"] * 30 + ["v2"] * 2
    assert back["client_income"].iloc[:30].tolist() == df["client_income"].tolist()
    assert back["case_complexity"].iloc[0] == df["case_complexity"].iloc[0]
    assert back["prediction_id"].tolist() == ["p1"] * 30 + ["p2"] * 2
    assert back["lawyer_id"].tolist() == [None] * 30 + ["L7", 9]


def test_torn_last_line_is_skipped_but_a_bad_middle_line_is_an_error(tmp_path) -> None:
    df = simulate(3, 2)
    path = tmp_path / "p.jsonl"
    log = PredictionLog(path)
    log.write(LogEntry("v1", 0.0, {c: df[c].to_numpy() for c in FEATURES}, [0.5, 0.5, 0.5], "p1"))
    log.close()
    good = path.read_text()
    path.write_text(good + '{"time": "2026-')
    assert len(read_prediction_log(path)) == 3
    path.write_text("oops\n" + good)
    with pytest.raises(ValueError, match=r"p\.jsonl, line 1"):
        read_prediction_log(path)
    path.write_text("")
    with pytest.raises(ValueError, match="no records"):
        read_prediction_log(path)
