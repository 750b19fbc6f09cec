"""monitor_model.py --outcomes on mixed /predict and /rank traffic: the JSON's ``labels`` says how
many outcomes joined, outcomes that join nothing are a warning, and --strict makes that exit 1."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from mlops.scripts import monitor_model
from tests.mlops.sidecar.test_feedback import rank_log, write_outcomes

pytestmark = pytest.mark.slow


def _monitor(tmp_path: Path, log: Path, outcomes: Path, *flags: str) -> tuple[int, dict]:
    out = tmp_path / f"reports{len(list(tmp_path.glob('reports*')))}"
    args = ["--current", str(log), "--outcomes", str(outcomes), "--out-dir", str(out), "--no-mlflow"]
    code = monitor_model.main([*args, *flags])
    reports = list(out.glob("data_drift_report_*.json"))
    return code, json.loads(reports[0].read_text()) if reports else {}


def test_labels_are_joined_on_mixed_traffic_and_none_joined_fails_with_strict(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = tmp_path / "predictions.jsonl"
    served = rank_log(log, requests=80, per=5, ids=[3, 14, "L15", 92, 65], predict_every=7)
    label = np.random.default_rng(1).random(len(served)) < 0.4
    outcomes = [
        {"match_id": p, "lawyer_id": lw, "outcome": "engaged" if yes else "declined"}
        for p, lw, yes in zip(served.prediction_id, served.lawyer_id, label, strict=True)
    ]
    code, result = _monitor(tmp_path, log, write_outcomes(tmp_path / "o.jsonl", outcomes), "--strict")
    assert code == 0
    assert result["labels"] == {
        "summary": "400 joined of 400",
        "joined": 400,
        "outcomes": 400,
        "served_pairs": 400,
    }
    assert result["classification_quality"]["labelled_rows"] == 400

    stale = write_outcomes(tmp_path / "stale.jsonl", [dict(o, lawyer_id=999) for o in outcomes[:30]])
    with caplog.at_level(logging.WARNING):
        code, result = _monitor(tmp_path, log, stale)
    assert code == 0 and result["labels"]["summary"] == "0 joined of 30"
    assert result["classification_quality"] is None
    assert "Labels: 0 joined of 30. None of the outcomes" in caplog.text
    code, result = _monitor(tmp_path, log, stale, "--strict")
    assert code == 1 and result["labels"]["joined"] == 0  # the report is still written
