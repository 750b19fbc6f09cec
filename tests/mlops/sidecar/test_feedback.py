"""Feedback collection: served pairs joined with outcomes, every row accounted for, nothing invented."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml_model.frame_validation import read_dataset
from ml_model.prediction_log import LogEntry, PredictionLog
from ml_model.schema import COLUMNS, FEATURES, SchemaError
from mlops.sidecar.feedback import CONFLICT, DUPLICATE, OUTSIDE, UNKNOWN, collect
from mlops.sidecar.monitor_inputs import labelled_rows
from mlops.sidecar.simulator import simulate

CASE = ("case_type", "case_complexity", "urgency", "client_language", "client_region", "client_income")


def rank_log(
    path: Path,
    requests: int,
    per: int,
    seed: int = 3,
    when: float | None = None,
    first: int = 0,
    ids: list | None = None,
    predict_every: int = 0,
) -> pd.DataFrame:
    """A /rank-shaped log: one case and ``per`` lawyers per request (ids ``ids``, default 100,
    101, ...; request i's prediction_id is ``first + i`` in hex); with ``predict_every``, a
    /predict line (no lawyer ids) before every that many requests, as README's curl writes.
    Returns the pairs as served."""
    df = simulate(requests * per, seed)
    lawyers = ids or list(range(100, 100 + per))
    log = PredictionLog(path)
    for i in range(requests):
        if predict_every and i % predict_every == 0:
            one = simulate(1, seed + 1000 + i)
            log.write(
                LogEntry("v1", when or time.time(), {c: one[c].to_numpy() for c in FEATURES}, [0.5], f"q{i}")
            )
        block = df.iloc[i * per : (i + 1) * per].copy()
        for c in CASE:
            block[c] = block[c].iloc[0]
        df.iloc[i * per : (i + 1) * per] = block
        cols = {c: block[c].to_numpy() for c in FEATURES}
        log.write(LogEntry("v1", when or time.time(), cols, [0.5] * per, f"{first + i:032x}", lawyers))
    log.close()
    df["prediction_id"] = [f"{first + i // per:032x}" for i in range(len(df))]
    df["lawyer_id"] = [lawyers[i % per] for i in range(len(df))]
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
    new = rank_log(tmp_path / "new.jsonl", requests=4, per=5, seed=6, first=100)
    # the same requests logged twice (a copied file), and one request with an unknown case type
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
    assert report.dropped == {
        DUPLICATE: 20,  # the second copy of new.jsonl, read once
        OUTSIDE: 20,  # new.jsonl's pairs, too recent for --min-age-days 1
        UNKNOWN: 5,
    }
    assert report.rows_written == 20 and report.with_outcome == 20 and report.without_outcome_yet == 0
    assert report.outcomes_of_dropped_pairs == 20 and report.outcomes_without_prediction == 1
    report = collect([tmp_path / "new.jsonl"], tmp_path / "o.jsonl", tmp_path / "d2.csv")
    assert report.dropped == {DUPLICATE: 20} and report.rows_written == 20


def test_bad_input_names_the_problem_and_writes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rank_log(tmp_path / "p.jsonl", requests=2, per=3)
    out = tmp_path / "data.csv"
    out.write_text("previous version\n")
    bad = write_outcomes(tmp_path / "o.jsonl", [{"match_id": "0" * 32, "lawyer_id": 100, "outcome": "maybe"}])
    with pytest.raises(SchemaError, match=r"(?s)o\.jsonl.*line 1.*unknown outcome 'maybe'"):
        collect([tmp_path / "p.jsonl"], bad, out)
    for lawyer in (True, 1.5, "", None, [100]):  # a lawyer id is text or a whole number, never a bool
        bad = write_outcomes(
            tmp_path / "o.jsonl", [{"match_id": "0" * 32, "lawyer_id": lawyer, "outcome": "engaged"}]
        )
        with pytest.raises(SchemaError, match=r"(?s)o\.jsonl.*line 1.*lawyer_id"):
            collect([tmp_path / "p.jsonl"], bad, out)
    none = write_outcomes(
        tmp_path / "none.jsonl", [{"match_id": "9" * 32, "lawyer_id": 1, "outcome": "engaged"}]
    )
    report = collect([tmp_path / "p.jsonl"], none, out)
    assert (
        report.nothing_joined and report.rows_written == 0 and report.labels()["summary"] == "0 joined of 1"
    )
    assert "Labels: 0 joined of 1. None of the outcomes" in caplog.text
    assert out.read_text() == "previous version\n" and not list(tmp_path.glob(".data.csv.*"))


def _outcomes_for(served: pd.DataFrame, outcome: str = "engaged") -> list[dict]:
    return [
        {"match_id": p, "lawyer_id": lw, "outcome": outcome}
        for p, lw in zip(served.prediction_id, served.lawyer_id, strict=True)
    ]


@pytest.mark.parametrize("ids", [[10, 11, 12], ["L1", "L2", "L3"], [7, "7b", 2**53 - 1]])
def test_one_predict_line_breaks_no_label(tmp_path: Path, ids: list) -> None:
    """Before: one /predict line (no lawyer ids) made the column float64, 10 became "10.0", and no
    outcome joined ("no served pair has an outcome"). Ids are joined as the values served."""
    served = rank_log(tmp_path / "p.jsonl", requests=6, per=3, ids=ids, predict_every=4)
    outcomes = write_outcomes(tmp_path / "o.jsonl", _outcomes_for(served))
    report = collect([tmp_path / "p.jsonl"], outcomes, tmp_path / "d.csv")
    assert (
        report.rows_written == 18 == report.with_outcome and report.labels()["summary"] == "18 joined of 18"
    )
    assert report.instances_without_lawyer_id == 2 and report.served == 18 and not report.dropped
    got = read_dataset(tmp_path / "d.csv")
    pd.testing.assert_frame_equal(got[list(FEATURES)], served[list(FEATURES)], check_dtype=False)
    # the monitor's join is the same one
    rows, labels = labelled_rows(pd.DataFrame(), tmp_path / "p.jsonl", outcomes)
    assert rows is not None and len(rows) == 18 and labels["summary"] == "18 joined of 18"


def test_an_outcome_joins_the_id_as_served_not_its_float(tmp_path: Path) -> None:
    served = rank_log(tmp_path / "p.jsonl", requests=2, per=2, ids=[10, "10x"], predict_every=1)
    outcomes = _outcomes_for(served)
    outcomes[0]["lawyer_id"] = 10.0  # a JSON writer may spell the integer 10 so: it is still 10
    outcomes[1]["lawyer_id"] = "10x.0"  # but a text id is matched exactly
    report = collect(
        [tmp_path / "p.jsonl"], write_outcomes(tmp_path / "o.jsonl", outcomes), tmp_path / "d.csv"
    )
    assert report.with_outcome == 3 and report.outcomes_without_prediction == 1


def test_outcomes_that_join_nothing_are_a_warning_in_the_monitor(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rank_log(tmp_path / "p.jsonl", requests=3, per=4, predict_every=2)
    stale = [{"match_id": f"{i:032x}", "lawyer_id": 999, "outcome": "declined"} for i in range(5)]
    with caplog.at_level(logging.INFO):
        rows, labels = labelled_rows(
            pd.DataFrame(), tmp_path / "p.jsonl", write_outcomes(tmp_path / "o.jsonl", stale)
        )
    assert rows is None
    assert labels == {"summary": "0 joined of 5", "joined": 0, "outcomes": 5, "served_pairs": 12}
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "Labels: 0 joined of 5" in warned[0].getMessage()


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write_lines(path: Path, records: list) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))


def test_hostile_lines_are_skipped_named_and_never_become_labels(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    served = rank_log(tmp_path / "p.jsonl", requests=6, per=3)
    recs = _lines(tmp_path / "p.jsonl")
    forged = json.loads(json.dumps(recs[1]))
    forged["features"]["client_income"] = [1.0, 2.0, 3.0]  # same prediction_id, other features
    listed = dict(recs[2], prediction_id=["x"])
    boolean = json.loads(json.dumps(recs[3]))
    boolean["features"]["case_complexity"] = [True] * 3
    no_time = dict(recs[4], time=None)
    _write_lines(tmp_path / "p.jsonl", [recs[0], recs[1], listed, boolean, no_time, recs[5], forged])
    outcomes = write_outcomes(tmp_path / "o.jsonl", _outcomes_for(served))
    report = collect([tmp_path / "p.jsonl"], outcomes, tmp_path / "d.csv")
    # requests 0 and 5 join; 1 is forged (both copies dropped); 2, 3, 4 are bad lines
    assert report.with_outcome == 6 == report.rows_written
    assert report.bad_log_lines == 3 and report.dropped == {CONFLICT: 6}
    assert report.served == 12  # 0, 1, 5 and the forged copy of 1: every pair read, accounted for
    # the forged request's 3, and 6 of bad lines whose prediction_id could be read (not ["x"])
    assert report.outcomes_of_dropped_pairs == 9 and report.outcomes_without_prediction == 3
    text = caplog.text
    assert "p.jsonl, line 3, field 'prediction_id': must be text" in text
    assert (
        "p.jsonl, line 4, field 'case_complexity': must be an integer in [1, 5], got a true/false value"
        in text
    )
    assert "p.jsonl, line 5, field 'time': must be an ISO 8601 time, got null" in text
    assert "is logged 2 times with different features" in text and "line 2; " in text and "line 7)" in text
    assert "outside the window" not in text  # no window was given: time is no reason to drop here
    got = read_dataset(tmp_path / "d.csv")
    assert 2.0 not in got["client_income"].tolist()


def test_without_a_window_no_time_drops_a_pair(tmp_path: Path) -> None:
    """A clock ahead of ours is no reason to drop a pair when no window was asked for."""
    served = rank_log(tmp_path / "p.jsonl", requests=2, per=2, when=time.time() + 86400)
    outcomes = write_outcomes(tmp_path / "o.jsonl", _outcomes_for(served))
    assert collect([tmp_path / "p.jsonl"], outcomes, tmp_path / "d.csv").rows_written == 4
    report = collect([tmp_path / "p.jsonl"], outcomes, tmp_path / "d.csv", min_age_days=1)
    assert report.dropped == {OUTSIDE: 4} and report.nothing_joined


def test_a_lawyer_listed_twice_in_one_request_is_never_guessed(tmp_path: Path) -> None:
    df = simulate(3, 9)
    cols = {c: df[c].to_numpy() for c in FEATURES}
    log = PredictionLog(tmp_path / "p.jsonl")
    log.write(LogEntry("v1", time.time(), cols, [0.5] * 3, "a" * 32, [5, 5, 6]))  # 5 twice, different rows
    same = {c: np.repeat(v[:1], 3) for c, v in cols.items()}
    log.write(LogEntry("v1", time.time(), same, [0.5] * 3, "b" * 32, [5, 5, 6]))  # 5 twice, same row
    log.close()
    outcomes = [
        {"match_id": m, "lawyer_id": lw, "outcome": "engaged"} for m in ("a" * 32, "b" * 32) for lw in (5, 6)
    ]
    report = collect(
        [tmp_path / "p.jsonl"], write_outcomes(tmp_path / "o.jsonl", outcomes), tmp_path / "d.csv"
    )
    assert report.dropped == {CONFLICT: 2, DUPLICATE: 1} and report.with_outcome == 3
    assert report.outcomes_of_dropped_pairs == 1 and report.outcomes_without_prediction == 0
