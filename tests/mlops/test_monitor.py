"""monitor_model.py on a prediction log and on CSVs: one pair per request, no verdict on too few rows
(null in the JSON, exit 0 even with --fail-on-drift), exit 1 on drift with --fail-on-drift, 2 on bad
input; every view of a report says the same."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

from ml_model.schema import FEATURES
from mlops.sidecar.drift_report import verdict_word
from mlops.sidecar.simulator import simulate
from tests.support.repo import Repo


@pytest.mark.slow
def test_cli_on_a_prediction_log_and_fail_on_drift(repo: Repo, tmp_path) -> None:
    from ml_model.prediction_log import LogEntry, PredictionLog

    fresh = simulate(1500 * 20, 41)
    log_path = tmp_path / "predictions.jsonl"
    plog = PredictionLog(log_path)
    for i in range(1500):  # /rank-shaped: one case, twenty lawyers per request
        block = fresh.iloc[i * 20 : (i + 1) * 20]
        cols = {c: block[c].to_numpy() for c in FEATURES}
        for c in (
            "case_type",
            "case_complexity",
            "urgency",
            "client_language",
            "client_region",
            "client_income",
        ):
            cols[c] = np.repeat(cols[c][:1], 20)
        if i < 5:  # the service scores unknown categories; the monitor counts and leaves them out
            cols["case_type"] = np.array(["maritime"] * 20, dtype=object)
        plog.write(LogEntry("v_test", 0.0, cols, [0.5] * 20, f"p{i}", list(range(20))))
    plog.close()
    out = tmp_path / "reports"
    r = repo.script("monitor_model.py", "--current", str(log_path), "--out-dir", str(out), "--fail-on-drift")
    assert r.returncode == 0, r.stderr[-1500:]
    result = json.loads(next(out.glob("data_drift_report_*.json")).read_text())
    assert (
        result["unknown_category_rows"] == 5 * 20 and result["rows"]["current"] == 1495
    )  # one pair per request
    assert result["dataset_drift"] is False and result["classification_quality"] is None
    few = tmp_path / "few.csv"
    simulate(600, 43, "population").to_csv(few, index=False)
    r = repo.script("monitor_model.py", "--current", str(few), "--out-dir", str(out), "--fail-on-drift")
    assert r.returncode == 0 and "NO VERDICT: only 600 rows, fewer than min_rows 1000" in r.stderr
    drifted = tmp_path / "drifted.csv"
    simulate(2000, 42, "population").to_csv(drifted, index=False)
    r = repo.script("monitor_model.py", "--current", str(drifted), "--out-dir", str(out), "--fail-on-drift")
    assert r.returncode == 1 and "DRIFT" in r.stderr  # --fail-on-drift turns a drift verdict into exit 1
    assert len(list(out.glob("data_drift_report_*.html"))) >= 2
    assert_every_view_agrees(out, r.stderr)
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n" + log_path.read_text())
    r = repo.script("monitor_model.py", "--current", str(garbage), "--out-dir", str(out))
    assert r.returncode == 0 and "garbage.jsonl, line 1: not JSON" in r.stderr  # skipped and named


def assert_every_view_agrees(out, stderr: str) -> None:
    """Each report's HTML headline, title and JSON verdict agree; the log printed the same line."""
    seen = set()
    for js in sorted(out.glob("data_drift_report_*.json")):
        result = json.loads(js.read_text())
        page = js.with_suffix(".html").read_text()
        word = verdict_word(result)
        seen.add(word)
        head = re.search(r"<head>(.*?)</head>", page, re.S).group(1)
        assert f"Drift verdict: {word}</h1>" in page and f"<title>Drift {word.lower()} " in head
        assert (
            result["production_model_version"].startswith("v") and result["production_model_version"] in page
        )
        assert result["current"] in page and all(html.escape(r) in page for r in result["reasons"])
        assert bool(result["evidently_failed_tests"]) == (word == "DRIFT")  # the report's tests agree
        # null, not false, without a verdict: a scheduler reading the JSON never sees "no drift"
        assert result["dataset_drift"] is {"DRIFT": True, "NO DRIFT": False, "NO VERDICT": None}[word]
        assert "What to do next" in page and "id='legalaid-tests'" in page
        top = page[: page.index("This run")]  # the tests' pass or fail, above the run's details
        assert all(html.escape(t["test"]) in top for t in result["tests"])
        assert bool(result["tests"]) == (word != "NO VERDICT")
        if word == "DRIFT":  # the last run: its log line is the JSON's verdict, word for word
            assert result["verdict"] in stderr and result["verdict"].startswith("DRIFT: ")
    assert seen == {"NO DRIFT", "NO VERDICT", "DRIFT"}, seen
