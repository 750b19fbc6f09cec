"""The drift report people read: our verdict heads the page and its title; old reports are pruned."""

from __future__ import annotations

import re

import pytest

from mlops.sidecar.drift_report import prune_reports, verdict_word, with_header


def test_header_leads_the_page_and_reports_are_pruned(tmp_path) -> None:
    result = {
        "timestamp": "20261127_101500",
        "enough_data": False,
        "dataset_drift": False,
        "reasons": ["only 3 rows, fewer than min_rows 1000: no verdict"],
        "production_model_version": "v1",
        "reference": "ref.csv",
        "current": "<script>x</script>.jsonl",
        "unknown_category_rows": 0,
        "rows": {"reference": 10, "current": 3, "tested": 3},
        "drifted_columns": ["a"],
        "rule": {
            "threshold": 0.15,
            "drift_share": 0.25,
            "key_features": ["a"],
            "max_auc_drop": 0.03,
            "min_rows": 1000,
        },
    }
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


def test_the_verdict_word_of_a_report() -> None:
    base = {"reasons": ["x"], "enough_data": True}
    assert verdict_word({**base, "dataset_drift": True}) == "DRIFT"
    assert verdict_word({**base, "dataset_drift": False}) == "NO DRIFT"
    assert verdict_word({**base, "dataset_drift": False, "enough_data": False}) == "NO VERDICT"
