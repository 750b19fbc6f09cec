"""The drift report people read: our verdict heads the page and its title, with what to do next and
the tests' pass or fail on the first screen; one reference ROC AUC; a NO VERDICT page judges no
column; old reports are pruned."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys

import pytest

from ml_model.paths import REPO_ROOT
from mlops.sidecar.drift_report import (
    header_html,
    next_steps,
    prune_reports,
    verdict_word,
    with_header,
    write_report,
)


def test_header_leads_the_page_and_reports_are_pruned(tmp_path) -> None:
    result = {
        "timestamp": "20261127_101500",
        "enough_data": False,
        "dataset_drift": None,
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
    assert verdict_word({**base, "dataset_drift": None, "enough_data": False}) == "NO VERDICT"


RULE = {
    "threshold": 0.15,
    "drift_share": 0.25,
    "key_features": ["case_type", "client_language", "client_income", "lawyer_hourly_rate"],
    "max_auc_drop": 0.03,
    "min_rows": 1000,
}
QUALITY = {
    "labelled_rows": 3000,
    "reference_rows": 4000,
    "reference": {"roc_auc": 0.8748},
    "current": {"roc_auc": 0.7508},
    "auc_floor": 0.8337,
}


def a_result(word: str, kinds: tuple[str, ...] = (), quality: dict | None = None) -> dict:
    """A monitor JSON of the given verdict, as ``MonitorResult.as_dict`` writes it."""
    judged = word != "NO VERDICT"
    drifted = ["client_income", "lawyer_rating"] if "inputs" in kinds or not judged else []
    tests = [
        {"test": "Share of drifted columns", "passed": True, "status": "SUCCESS", "value": 0.1429,
         "operator": "<", "threshold": 0.25, "evidently_name": "Share of Drifted Columns: Less 0.250"},
        {"test": "Drift score of client_income (key feature)", "passed": "inputs" not in kinds,
         "status": "FAIL" if "inputs" in kinds else "SUCCESS", "value": 0.697, "operator": "<",
         "threshold": 0.15, "evidently_name": "Value drift for client_income: Less 0.150"},
    ]  # fmt: skip
    if quality:
        tests.append(
            {"test": "Production ROC AUC on the labelled current rows", "passed": "concept" not in kinds,
             "status": "FAIL" if "concept" in kinds else "SUCCESS", "value": quality["current"]["roc_auc"],
             "operator": ">=", "threshold": quality["auc_floor"], "evidently_name": "RocAuc metric: ..."}
        )  # fmt: skip
    return {
        "timestamp": "20261203_064430",
        "production_model_version": "v20261127_025004",
        "reference": "ml_model/matchmaking_dataset.csv",
        "current": "logs/predictions.jsonl" if judged else "few.csv",
        "rows": {"reference": 20000, "current": 3000 if judged else 600, "tested": 3000 if judged else 600},
        "unknown_category_rows": 0,
        "dataset_drift": None if not judged else word == "DRIFT",
        "enough_data": judged,
        "reasons": ["only 600 rows, fewer than min_rows 1000: not judged"]
        if not judged
        else ["x"] * len(kinds),
        "drift_kinds": list(kinds),
        "rule": RULE,
        "drifted_columns": drifted,
        "classification_quality": quality,
        "tests": tests if judged else [],
    }


def section(page: str, element_id: str) -> str:
    """The text of one of the header's sections (tags stripped, entities decoded)."""
    found = re.search(rf"<section id='{element_id}'.*?</section>", page, re.S)
    assert found, element_id
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(0)))


def test_the_header_says_what_to_do_next_for_each_verdict() -> None:
    inputs = header_html(a_result("DRIFT", ("inputs",)))
    steps = section(inputs, "legalaid-next-steps")
    assert "What to do next" in steps and "client_income, lawyer_rating" in steps  # the columns to look at
    assert "collect_feedback.py" in steps and "dvc repro mlops/dvc.yaml" in steps
    assert "retrain_model.py" in steps and "The gate decides" in steps and "a person promotes" in steps
    assert "equity_eval" not in steps  # the equity set is for concept drift
    concept = section(header_html(a_result("DRIFT", ("concept",), QUALITY)), "legalaid-next-steps")
    assert "equity_eval" in concept and "--since" in concept and "dvc repro mlops/dvc.yaml" in concept
    assert "Look at the drifted columns" not in concept  # no column drifted
    both = section(header_html(a_result("DRIFT", ("inputs", "concept"), QUALITY)), "legalaid-next-steps")
    assert "Look at the drifted columns" in both and "equity_eval" in both
    few = section(header_html(a_result("NO VERDICT")), "legalaid-next-steps")
    assert "Collect at least 1,000 current rows (this run had 600)" in few
    assert "monitor_model.py --current few.csv" in few
    quiet = section(header_html(a_result("NO DRIFT", quality=QUALITY)), "legalaid-next-steps")
    assert "Nothing to do" in quiet and "--outcomes" not in quiet
    unlabelled = section(header_html(a_result("NO DRIFT")), "legalaid-next-steps")
    assert "Nothing to do" in unlabelled and "Concept drift was not checked" in unlabelled


def test_every_step_is_escaped_and_its_commands_are_code() -> None:
    result = {**a_result("NO VERDICT"), "current": "<b>`x`</b>.csv"}
    page = header_html(result)
    assert "<b>" not in page and "&lt;b&gt;" in page  # a path is text, even inside a command
    steps = [s for r in ALL_RESULTS for s in next_steps(r)]
    assert all(s.count("`") % 2 == 0 for s in steps)  # every command opens and closes


ALL_RESULTS = [
    a_result("DRIFT", ("inputs",)),
    a_result("DRIFT", ("inputs", "concept"), QUALITY),
    a_result("NO VERDICT"),
    a_result("NO DRIFT"),
]


@pytest.mark.slow
def test_every_command_named_exists_and_takes_those_arguments() -> None:
    """Each command in a step: the script exists, and its --help names every option the step gives it."""
    commands = {c for r in ALL_RESULTS for s in next_steps(r) for c in s.split("`")[1::2] if " " in c}
    scripts: dict[str, set[str]] = {}
    for command in commands:
        for part in command.split("&&"):
            words = part.split()
            if words[:1] == ["python"]:
                scripts.setdefault(words[1], set()).update(w for w in words if w.startswith("--"))
            elif words[:2] == ["dvc", "repro"]:
                assert (REPO_ROOT / words[2]).is_file(), words
            elif words[:2] == ["npm", "run"]:
                package = json.loads((REPO_ROOT / "backend" / "package.json").read_text())
                assert words[2] in package["scripts"], words
            else:
                assert words[:2] in (["dvc", "add"], ["cd", "backend"]), part
    assert {"mlops/scripts/collect_feedback.py", "mlops/scripts/retrain_model.py"} <= set(scripts)
    assert {"mlops/scripts/promote_model.py", "mlops/scripts/monitor_model.py"} <= set(scripts)
    for script, options in scripts.items():
        r = subprocess.run(
            [sys.executable, str(REPO_ROOT / script), "--help"], capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, (script, r.stderr[-500:])
        assert all(o in r.stdout for o in options), (script, options - {o for o in options if o in r.stdout})


def test_the_pass_fail_summary_leads_the_page() -> None:
    result = a_result("DRIFT", ("inputs", "concept"), QUALITY)
    page = with_header("<html><head></head><body><div id='evidently'/></body></html>", result)
    table = section(page, "legalaid-tests")
    assert re.search(r"Drift score of client_income \(key feature\)\s+FAIL\s+0\.6970\s+< 0\.15", table), table
    assert re.search(r"Share of drifted columns\s+pass\s+0\.1429\s+< 0\.25", table)
    assert re.search(r"Production ROC AUC on the labelled current rows\s+FAIL\s+0\.7508\s+>= 0\.8337", table)
    order = [page.index(m) for m in ("Drift verdict: DRIFT", "legalaid-next-steps", "legalaid-tests")]
    assert order == sorted(order) and order[-1] < page.index("This run") < page.index("id='evidently'")


def test_one_reference_roc_auc_the_held_out_one() -> None:
    page = header_html(a_result("DRIFT", ("concept",), QUALITY))
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    figures = set(re.findall(r"reference (\d\.\d{4})", text)) | set(re.findall(r"(\d\.\d{4}) held out", text))
    assert figures == {"0.8748"}, figures
    assert "4,000 held-out rows" in text and "concept drift below 0.8337" in text


def test_a_no_verdict_page_states_no_column_verdict(tmp_path) -> None:
    result = a_result("NO VERDICT")  # lawyer_rating and client_income are over the threshold, not judged
    result["drifted_columns"] = ["lawyer_rating", "distance_km"]
    page = write_report(None, result, tmp_path).read_text()
    assert "Drift verdict: NO VERDICT" in page and "<script" not in page  # our header alone
    for said in ("lawyer_rating", "distance_km", "Drifted columns", "over the threshold", "drift detected"):
        assert said not in page, said
    assert "No tests were run" in section(page, "legalaid-tests")
    saved = json.loads((tmp_path / "data_drift_report_20261203_064430.json").read_text())
    assert saved["drifted_columns"] == ["lawyer_rating", "distance_km"] and saved["dataset_drift"] is None
