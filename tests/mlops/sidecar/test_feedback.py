"""Feedback collection: served pairs joined with outcomes, every row accounted for, nothing invented."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from ml_model.frame_validation import read_dataset
from ml_model.prediction_log import LogEntry, PredictionLog
from ml_model.schema import COLUMNS, FEATURES, SchemaError
from mlops.sidecar.feedback import collect
from mlops.sidecar.simulator import simulate

CASE = ("case_type", "case_complexity", "urgency", "client_language", "client_region", "client_income")


def rank_log(path: Path, requests: int, per: int, seed: int = 3, when: float | None = None) -> pd.DataFrame:
    """A /rank-shaped log: one case and ``per`` lawyers per request; returns the pairs as served."""
    df = simulate(requests * per, seed)
    log = PredictionLog(path)
    for i in range(requests):
        block = df.iloc[i * per : (i + 1) * per].copy()
        for c in CASE:
            block[c] = block[c].iloc[0]
        df.iloc[i * per : (i + 1) * per] = block
        cols = {c: block[c].to_numpy() for c in FEATURES}
        log.write(
            LogEntry("v1", when or time.time(), cols, [0.5] * per, f"{i:032x}", list(range(100, 100 + per)))
        )
    log.close()
    df["prediction_id"] = [f"{i // per:032x}" for i in range(len(df))]
    df["lawyer_id"] = [100 + i % per for i in range(len(df))]
    return df


def write_outcomes(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_join_keeps_the_served_features_and_the_outcome_and_invents_nothing(tmp_path: Path) -> None:
    served = rank_log(tmp_path / "p.jsonl", requests=30, per=5)
    picked = served.iloc[::3]  # outcomes for every third pair only
    outcomes = [
        {"match_id": r.prediction_id, "lawyer_id": r.lawyer_id, "outcome": o}
        for r, o in zip(picked.itertuples(), ["engaged", "declined", "no_response"] * 99, strict=False)
    ]
    out = tmp_path / "data.csv"
    report = collect([tmp_path / "p.jsonl"], write_outcomes(tmp_path / "o.jsonl", outcomes), out)
    assert report.served == 150 and report.with_outcome == 50 and report.without_outcome_yet == 100
    got = read_dataset(out)
    assert list(got.columns) == list(COLUMNS) and len(got) == 50
    expected = picked[list(FEATURES)].reset_index(drop=True)
    pd.testing.assert_frame_equal(got[list(FEATURES)], expected, check_dtype=False)
    assert got["match"].tolist() == [1, 0, 0] * 16 + [1, 0]


def test_unknown_categories_duplicates_and_the_window_are_counted(tmp_path: Path) -> None:
    old = rank_log(tmp_path / "old.jsonl", requests=4, per=5, seed=5, when=time.time() - 10 * 86400)
    new = rank_log(tmp_path / "new.jsonl", requests=4, per=5, seed=6)
    # the same request logged twice (a rotated copy), and one request with an unknown case type
    (tmp_path / "new.jsonl").write_text((tmp_path / "new.jsonl").read_text() * 2)
    lines = (tmp_path / "old.jsonl").read_text().splitlines()
    rec = json.loads(lines[0])
    rec["features"]["case_type"] = ["maritime"] * 5
    rec["prediction_id"] = "f" * 32
    (tmp_path / "old.jsonl").write_text("\n".join([*lines, json.dumps(rec)]) + "\n")
    pairs = pd.concat([old, new])
    outcomes = [
        {"match_id": p, "lawyer_id": lw, "outcome": "engaged"}
        for p, lw in zip(pairs.prediction_id, pairs.lawyer_id, strict=True)
    ]
    outcomes.append({"match_id": "e" * 32, "lawyer_id": 1, "outcome": "declined"})  # not in these logs
    report = collect(
        [tmp_path / "old.jsonl", tmp_path / "new.jsonl"],
        write_outcomes(tmp_path / "o.jsonl", outcomes),
        tmp_path / "d.csv",
        min_age_days=1,
    )
    # old: 20 pairs + 5 unknown, all 10 days old; new: 20 pairs logged twice, all too recent
    assert report.served == 65
    assert report.dropped["outside the window (--since / --min-age-days)"] == 40
    assert report.dropped["unknown category (not in the data contract)"] == 5
    assert report.rows_written == 20 and report.outcomes_without_prediction >= 1
    report = collect([tmp_path / "new.jsonl"], tmp_path / "o.jsonl", tmp_path / "d2.csv")
    assert report.dropped["duplicate (same prediction_id and lawyer_id logged twice)"] == 20
    assert report.rows_written == 20


def test_bad_input_names_the_problem_and_writes_nothing(tmp_path: Path) -> None:
    rank_log(tmp_path / "p.jsonl", requests=2, per=3)
    out = tmp_path / "data.csv"
    out.write_text("previous version\n")
    bad = write_outcomes(tmp_path / "o.jsonl", [{"match_id": "0" * 32, "lawyer_id": 100, "outcome": "maybe"}])
    with pytest.raises(SchemaError, match=r"(?s)o\.jsonl.*line 1.*unknown outcome 'maybe'"):
        collect([tmp_path / "p.jsonl"], bad, out)
    none = write_outcomes(
        tmp_path / "none.jsonl", [{"match_id": "9" * 32, "lawyer_id": 1, "outcome": "engaged"}]
    )
    with pytest.raises(ValueError, match="no served pair"):
        collect([tmp_path / "p.jsonl"], none, out)
    assert out.read_text() == "previous version\n" and not list(tmp_path.glob(".data.csv.*"))
