"""Drift monitoring: quiet on sampling noise, loud on every drift profile."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pandas as pd
import pytest

from ml_model.metrics import classification_metrics
from ml_model.paths import PRODUCTION_DATA
from ml_model.schema import FEATURES, read_dataset
from mlops.scripts.equity import auc_se
from mlops.scripts.generate_data import DRIFT_PROFILES, simulate
from mlops.scripts.monitor_model import drift_verdict, failed_tests, run_drift
from mlops.scripts.utils import load_params, load_production, score, test_split
from tests.support.repo import Repo

CFG = load_params()["monitor"]


def col(drifted: bool) -> dict:
    return {"method": "wasserstein", "score": 0.3 if drifted else 0.01, "threshold": 0.15, "drifted": drifted}


def test_rule_share_key_features_and_quality() -> None:
    quiet = {c: col(False) for c in FEATURES}
    assert drift_verdict(quiet, None, CFG) == (False, [])
    one_minor = {**quiet, "lawyer_rating": col(True)}
    assert drift_verdict(one_minor, None, CFG)[0] is False
    one_key = {**quiet, "client_income": col(True)}
    verdict, reasons = drift_verdict(one_key, None, CFG)
    assert verdict and "key feature(s) drifted: client_income" in reasons[0]
    minor = ("lawyer_rating", "distance_km", "urgency", "lawyer_region")
    many = {c: col(c in minor) for c in FEATURES}  # 4 of 14 non-key columns: share 0.29 >= 0.25
    assert drift_verdict(many, None, CFG)[0]
    q = {"reference": {"roc_auc": 0.88}, "current": {"roc_auc": 0.80}, "auc_drop": 0.08, "auc_drop_se": 0.01}
    assert drift_verdict(quiet, q, CFG)[0]
    noisy = {**q, "auc_drop_se": 0.03}  # a drop within 3 standard errors is noise
    assert not drift_verdict(quiet, noisy, CFG)[0]


def test_auc_standard_error_shrinks_with_rows() -> None:
    small = auc_se(0.87, pd.Series([1] * 270 + [0] * 730))
    large = auc_se(0.87, pd.Series([1] * 2700 + [0] * 7300))
    assert 0.005 < small < 0.03 and large < small / 3


@pytest.fixture(scope="module")
def world() -> dict:
    reference = read_dataset(PRODUCTION_DATA)
    model = load_production()
    _, held_out = test_split(reference, load_params())
    return {
        "reference": reference,
        "model": model,
        "ref_q": classification_metrics(held_out["match"], score(model, held_out)),
        "held_out": held_out,
    }


def verdict(world: dict, current: pd.DataFrame) -> tuple[bool, list[str], dict]:
    """Our verdict; and the Evidently report's tests (what its HTML shows) must say the same."""
    snapshot, columns = run_drift(world["reference"], current, CFG)
    features_drift, _ = drift_verdict(columns, None, CFG)  # the part the report's tests carry
    assert bool(failed_tests(snapshot)) == features_drift, failed_tests(snapshot)
    cur_q = classification_metrics(current["match"], score(world["model"], current))
    se = (
        auc_se(world["ref_q"]["roc_auc"], world["held_out"]["match"]) ** 2
        + auc_se(cur_q["roc_auc"], current["match"]) ** 2
    ) ** 0.5
    q = {
        "reference": world["ref_q"],
        "current": cur_q,
        "auc_drop": world["ref_q"]["roc_auc"] - cur_q["roc_auc"],
        "auc_drop_se": se,
    }
    v, reasons = drift_verdict(columns, q, CFG)
    return v, reasons, columns


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rows", "seeds"), [(1000, range(100, 110)), (5000, range(200, 203)), (20000, range(300, 302))]
)
def test_no_alarm_on_fresh_samples_of_the_same_world(world: dict, rows: int, seeds: range) -> None:
    for seed in seeds:
        v, reasons, columns = verdict(world, simulate(rows, seed))
        top = max(c["score"] for c in columns.values())
        assert not v, (rows, seed, reasons)
        assert top < CFG["threshold"] * 0.75, (rows, seed, top)  # and with a margin


@pytest.mark.slow
@pytest.mark.parametrize("profile", [p for p in DRIFT_PROFILES if p != "none"])
@pytest.mark.parametrize("rows", [1000, 20000])
def test_every_drift_profile_raises_the_alarm(world: dict, profile: str, rows: int) -> None:
    v, reasons, _ = verdict(world, simulate(rows, 900 + rows, profile))
    assert v, (profile, rows)
    if profile == "concept":
        assert any("ROC AUC fell" in r for r in reasons)
    else:
        assert any("key feature" in r for r in reasons)


@pytest.mark.slow
def test_cli_on_a_prediction_log_and_fail_on_drift(shared_repo: Repo, tmp_path) -> None:
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
    r = shared_repo.script(
        "monitor_model.py", "--current", str(log_path), "--out-dir", str(out), "--fail-on-drift"
    )
    assert r.returncode == 0, r.stderr[-1500:]
    result = json.loads(next(out.glob("data_drift_report_*.json")).read_text())
    assert (
        result["unknown_category_rows"] == 5 * 20 and result["rows"]["current"] == 1495
    )  # one pair per request
    assert result["dataset_drift"] is False and result["classification_quality"] is None
    few = tmp_path / "few.csv"
    simulate(600, 43, "population").to_csv(few, index=False)
    r = shared_repo.script(
        "monitor_model.py", "--current", str(few), "--out-dir", str(out), "--fail-on-drift"
    )
    assert r.returncode == 0 and "NO VERDICT: only 600 rows, fewer than min_rows 1000" in r.stderr
    drifted = tmp_path / "drifted.csv"
    simulate(2000, 42, "population").to_csv(drifted, index=False)
    r = shared_repo.script(
        "monitor_model.py", "--current", str(drifted), "--out-dir", str(out), "--fail-on-drift"
    )
    assert r.returncode == 1 and "DRIFT" in r.stderr  # --fail-on-drift turns a drift verdict into exit 1
    assert len(list(out.glob("data_drift_report_*.html"))) >= 2
    assert_every_view_agrees(out, r.stderr)
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n" + log_path.read_text())
    r = shared_repo.script("monitor_model.py", "--current", str(garbage), "--out-dir", str(out))
    assert r.returncode == 2 and "garbage.jsonl, line 1" in r.stderr


def assert_every_view_agrees(out, stderr: str) -> None:
    """Each report's HTML headline, title and JSON verdict agree; the log printed the same line."""
    from mlops.scripts.drift_report import verdict_word

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
        if word == "DRIFT":  # the last run: its log line is the JSON's verdict, word for word
            assert result["verdict"] in stderr and result["verdict"].startswith("DRIFT: ")
    assert seen == {"NO DRIFT", "NO VERDICT", "DRIFT"}, seen


def test_header_leads_the_page_and_reports_are_pruned(tmp_path) -> None:
    from mlops.scripts.drift_report import prune_reports, with_header

    result = {"timestamp": "20261127_101500", "enough_data": False, "dataset_drift": False,
              "reasons": ["only 3 rows, fewer than min_rows 1000: no verdict"], "production_model_version": "v1",
              "reference": "ref.csv", "current": "<script>x</script>.jsonl", "unknown_category_rows": 0,
              "rows": {"reference": 10, "current": 3, "tested": 3}, "drifted_columns": ["a"],
              "rule": {"threshold": 0.15, "drift_share": 0.25, "key_features": ["a"], "max_auc_drop": 0.03,
                       "min_rows": 1000}}  # fmt: skip
    evidently = "<html><head><meta charset='utf-8'></head><body class='x'><script>s='<title>plotly-logomark</title>'</script><div/></body></html>"
    page = with_header(evidently, result)
    head = re.search(r"<head>(.*?)</head>", page, re.S).group(1)
    assert head.startswith("<title>Drift no verdict") and "s='<title>plotly-logomark</title>'" in page
    assert (
        page.index("Drift verdict: NO VERDICT") < page.index("<div/>") and "2026-11-27 10:15:00 UTC" in page
    )
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page  # inputs are text
    for i in range(5):
        for ext in ("html", "json"):
            (tmp_path / f"data_drift_report_2026010{i}_000000.{ext}").write_text("x")
    (tmp_path / ".data_drift_report_x.html.tmp").write_text("being written")
    (tmp_path / "data_drift_report_20250101_000000.html.bak").write_text("kept by hand")
    with pytest.raises(ValueError, match="at least 1"):
        prune_reports(tmp_path, 0)
    removed = prune_reports(tmp_path, 2)
    assert len(removed) == 6 and (tmp_path / ".data_drift_report_x.html.tmp").exists()
    assert (tmp_path / "data_drift_report_20250101_000000.html.bak").exists()
    assert sorted(p.name for p in tmp_path.glob("data_drift_report_*.*[ln]")) == [
        f"data_drift_report_2026010{i}_000000.{ext}" for i in (3, 4) for ext in ("html", "json")
    ]


@pytest.mark.slow
def test_concept_drift_fails_the_reports_roc_auc_test(tmp_path) -> None:
    from mlops.scripts.monitor_model import monitor

    current = tmp_path / "concept.csv"
    simulate(3000, 8, "concept").to_csv(current, index=False)
    result = monitor(PRODUCTION_DATA, current, out_dir=tmp_path, track=False)
    assert result["verdict"].startswith("DRIFT: production ROC AUC fell"), result["verdict"]
    assert [t for t in result["evidently_failed_tests"] if t.startswith("RocAuc")] == result[
        "evidently_failed_tests"
    ]
    assert result["evidently_failed_tests"]  # the report's own test failed, at our floor
