"""The monitor as a function: labelled current rows make production's ROC AUC part of the report, with
one reference figure (the held-out one); too few rows give a null verdict in the JSON."""

from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd
import pytest

from ml_model.paths import PRODUCTION_DATA
from mlops.sidecar.monitor import MonitorResult, monitor
from mlops.sidecar.monitor_inputs import load_current, one_per_request
from mlops.sidecar.simulator import simulate


@pytest.mark.slow
def test_concept_drift_fails_the_reports_roc_auc_test(tmp_path) -> None:
    current = tmp_path / "concept.csv"
    simulate(3000, 8, "concept").to_csv(current, index=False)
    result = monitor(PRODUCTION_DATA, current, out_dir=tmp_path, track=False)
    assert result.verdict.startswith("DRIFT: production ROC AUC fell"), result.verdict
    failed = result.evidently_failed_tests
    assert [t for t in failed if t.startswith("RocAuc")] == failed
    assert result.evidently_failed_tests  # the report's own test failed, at our floor
    assert isinstance(result, MonitorResult) and result.classification_quality is not None
    quality = result.as_dict()["classification_quality"]
    assert quality["labelled_rows"] == result.rows.tested and result.drift_kinds == ["concept"]
    auc = [t for t in result.tests if t["test"].startswith("Production ROC AUC")]
    assert len(auc) == 1 and not auc[0]["passed"] and auc[0]["threshold"] == quality["auc_floor"]
    assert auc[0]["value"] == pytest.approx(quality["current"]["roc_auc"])
    page = html.unescape(next(tmp_path.glob("data_drift_report_*.html")).read_text())
    reference = f"{quality['reference']['roc_auc']:.4f}"  # the held-out figure, the rule's own
    assert f"reference {reference} on production's {quality['reference_rows']:,} held-out rows" in page
    assert "RocAuc metric (reference)" not in page  # Evidently's AUC over every reference row is not shown


@pytest.mark.slow
def test_too_few_rows_write_a_null_verdict(tmp_path) -> None:
    current = tmp_path / "few.csv"
    simulate(600, 43, "population").to_csv(current, index=False)
    result = monitor(PRODUCTION_DATA, current, out_dir=tmp_path, track=False)
    assert result.verdict_word == "NO VERDICT" and result.dataset_drift is None
    assert result.tests == [] and result.drift_kinds == []
    text = next(tmp_path.glob("data_drift_report_*.json")).read_text()
    assert '"dataset_drift": null' in text and json.loads(text)["enough_data"] is False


def test_one_pair_per_request_is_seeded_uniform_and_skips_unknown_rows() -> None:
    request = np.repeat(np.arange(4), [3, 2, 1, 4])
    keep = np.array([1, 1, 1, 0, 0, 1, 1, 0, 1, 1], dtype=bool)  # request 1: every row unknown
    rows = one_per_request(request, keep, seed=7)
    assert list(request[rows]) == [0, 2, 3] and keep[rows].all()
    assert list(one_per_request(request, keep, seed=7)) == list(rows)  # seeded
    shuffled = np.random.default_rng(1).permutation(len(request))  # any order: same groups, log order
    picked = one_per_request(request[shuffled], keep[shuffled], seed=7)
    assert sorted(request[shuffled][picked]) == [0, 2, 3] and list(picked) == sorted(picked)
    draws = [one_per_request(request, keep, seed=s)[2] for s in range(400)]  # request 3: rows 6, 8, 9
    counts = pd.Series(draws).value_counts()
    assert set(counts.index) == {6, 8, 9} and counts.min() > 90  # about 133 each
    assert len(one_per_request(request, np.zeros(len(request), dtype=bool), 0)) == 0


def test_load_current_from_a_log_takes_one_known_pair_per_request(tmp_path) -> None:
    from ml_model.prediction_log import LogEntry, PredictionLog
    from ml_model.schema import FEATURES, SchemaError

    fresh = simulate(40 * 5, 3)
    log_path = tmp_path / "predictions.jsonl"
    plog = PredictionLog(log_path)
    for i in range(40):
        block = fresh.iloc[i * 5 : (i + 1) * 5]
        cols = {c: block[c].to_numpy() for c in FEATURES}
        if i % 10 == 0:  # one unknown lawyer in every tenth request: that row alone is left out
            cols["lawyer_specialization"] = np.array(["maritime", *cols["lawyer_specialization"][1:]], object)
        cols["client_income"] = np.full(5, 1000.0 * i)  # the request's own case
        plog.write(LogEntry("v", 0.0, cols, [0.5] * 5, f"p{i}", list(range(5))))
    plog.close()
    frame, unknown = load_current(log_path, seed=2)
    assert unknown == 4 and len(frame) == 40 and list(frame.columns) == list(FEATURES)
    assert list(frame["client_income"]) == [1000.0 * i for i in range(40)]  # one per request, in order
    assert "maritime" not in set(frame["lawyer_specialization"])
    again, _ = load_current(log_path, seed=2)
    pd.testing.assert_frame_equal(frame, again)
    bad = tmp_path / "bad.jsonl"
    plog = PredictionLog(bad)
    cols = {c: fresh[c].to_numpy()[:2] for c in FEATURES}
    cols["case_type"] = np.array(["maritime"] * 2, object)
    plog.write(LogEntry("v", 0.0, cols, [0.5] * 2, "only", [1, 2]))
    plog.close()
    with pytest.raises(SchemaError, match="every one of the 2 logged instances has an unknown category"):
        load_current(bad)


def test_labels_from_outcomes_put_the_concept_rule_in_the_tests_table() -> None:
    """A prediction log joined with outcomes: Evidently has no ROC AUC test (the labelled rows are not the
    tested ones), so the table gets the monitor's own row and never reads all-pass beside DRIFT."""
    from ml_model.schema import FEATURES
    from mlops.sidecar.config import Params
    from mlops.sidecar.drift import AucDrop, DriftRun
    from mlops.sidecar.monitor import build_result
    from mlops.sidecar.monitor_inputs import Observed
    from mlops.sidecar.production_quality import ProductionQuality

    cfg = Params.load().monitor
    current = simulate(cfg.min_rows, 4)
    columns = {
        c: {"method": "wasserstein", "score": 0.01, "threshold": 0.15, "drifted": False} for c in FEATURES
    }
    passing = {"test": "Share of drifted columns", "passed": True, "status": "SUCCESS", "value": 0.0,
               "operator": "<", "threshold": 0.25, "evidently_name": "Share of Drifted Columns: Less 0.250"}  # fmt: skip
    auc = AucDrop(reference=0.87, current=0.70, se=0.01)
    quality = ProductionQuality(
        "v1", 400, 4000, {"roc_auc": 0.87}, {"roc_auc": 0.70}, 0.05, auc, auc.floor(0.03), {}, None
    )
    obs = Observed(current, current, len(current), 0, current.head(400), {"summary": "400 joined of 400"})
    meta = {
        "time": "20261203_000000",
        "reference": "r.csv",
        "current": "p.jsonl",
        "production_model_version": "v1",
    }
    result = build_result(meta, obs, DriftRun(None, columns, [passing]), quality, cfg)
    assert result.verdict_word == "DRIFT" and result.drift_kinds == ["concept"]
    assert result.tests[0] == passing and len(result.tests) == 2
    row = result.tests[1]
    assert (row["passed"], row["value"], row["operator"]) == (False, 0.70, ">=")
    assert row["threshold"] == pytest.approx(0.87 - 0.03) and row["evidently_name"] is None
    assert result.evidently_failed_tests == []  # Evidently itself ran no AUC test here
