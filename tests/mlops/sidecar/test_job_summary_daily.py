"""The scheduled job's summary (mlops/sidecar/job_summary_daily.py): what it says after a quiet day,
after persistent drift and its retrain, after a data gap, and when the monitor left nothing. The
command that writes it: tests/mlops/test_job_summary.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops.paths import PARAMS_FILE
from mlops.sidecar.job_summary_daily import (
    CONCEPT_NOTE,
    daily_markdown,
    exit_code_arg,
    monitor_exit_of,
    rule_text,
)
from tests.mlops.sidecar.test_job_summary import retrain_record

RULE = "3 failing days of the last 5"
PRICE = "key feature drifted: lawyer_hourly_rate"


def day_record(day: str, failing: list[str] | None = None, **values: Any) -> dict[str, Any]:
    """A history record as daily_summary.json holds it (mlops/sidecar/daily_day.DayRecord)."""
    drifted = bool(failing)
    record: dict[str, Any] = {
        "day": day,
        "pairs": 1200,
        "tested": 1200,
        "verdict": "DRIFT" if drifted else "NO DRIFT",
        "verdict_line": "DRIFT: key feature(s) drifted" if drifted else "NO DRIFT",
        "share_drifted": 0.0714 if drifted else 0.0,
        "drifted_columns": ["lawyer_hourly_rate"] if drifted else [],
        "key_drifted": ["lawyer_hourly_rate"] if drifted else [],
        "model_versions": ["v20261127_025004"],
        "reference_auc": 0.87,
        "estimated_roc_auc": 0.861,
        "estimated_roc_auc_low": 0.842,
        "estimated_roc_auc_high": 0.88,
        "estimate_reliable": True,
        "estimate_note": "",
        "labelled_pairs": 0,
        "realized_roc_auc": None,
        "failing": failing or [],
    }
    return {**record, **values}


def quiet_run() -> dict[str, Any]:
    days = [day_record(d) for d in ("2026-12-01", "2026-12-02")]
    return {
        "as_of": "2026-12-03T02:17:00+00:00",
        "monitored": ["2026-12-01", "2026-12-02"],
        "updated": [],
        "alerts": [],
        "data_alerts": [],
        "history": [day_record("2026-11-30"), *days],  # an earlier run's day too
    }


def drift_run() -> dict[str, Any]:
    history = [day_record("2026-11-25"), day_record("2026-11-26")]
    history += [day_record(f"2026-11-{d}", [PRICE]) for d in (27, 28, 29, 30)]
    history[1] = day_record("2026-11-26", labelled_pairs=1500, realized_roc_auc=0.8712)
    reasons = [f"2026-11-{d}: {PRICE}" for d in (27, 28, 29)]
    return {
        "as_of": "2026-12-01T02:17:00+00:00",
        "monitored": [f"2026-11-{d}" for d in (27, 28, 29, 30)],
        "updated": ["2026-11-26"],
        "alerts": [{"first_day": "2026-11-29", "last_day": "2026-11-30", "reasons": reasons}],
        "data_alerts": [],
        "history": history,
    }


def test_a_quiet_run_lists_its_days_and_says_no_persistent_drift() -> None:
    text = daily_markdown(quiet_run(), rule=RULE)
    assert text.startswith("## Daily drift monitor\n")
    assert (
        "**No persistent drift**: 2 day(s) monitored in this run; the rule (3 failing days of the last 5)"
        in text
    )
    assert (
        "| day | verdict | share drifted | estimated ROC AUC [band] | realized ROC AUC | fails the rule? |"
        in text
    )
    assert "| 2026-12-01 | NO DRIFT | 0.0000 | 0.861 [0.842, 0.880] | – (0 labels) | no |" in text
    assert "| 2026-12-02 | NO DRIFT |" in text
    assert "2026-11-30" not in text  # monitored by an earlier run: not this run's table
    assert CONCEPT_NOTE in text and "cannot see concept drift" in text
    assert "### Alert" not in text and "### Data alerts" not in text and "Gate" not in text


def test_persistent_drift_gives_the_alert_its_reasons_and_the_gates_decision() -> None:
    text = daily_markdown(drift_run(), retrain_record(), monitor_exit=3, rule=RULE)
    assert (
        "**PERSISTENT DRIFT from 2026-11-29** (3 failing days of the last 5): the retraining loop ran" in text
    )
    assert f"| 2026-11-27 | DRIFT | 0.0714 | 0.861 [0.842, 0.880] | – (0 labels) | yes: {PRICE} |" in text
    # an earlier day whose outcomes arrived in this run: its realized AUC
    assert (
        "| 2026-11-26 (outcomes arrived) | NO DRIFT | 0.0000 | 0.861 [0.842, 0.880] | 0.871 (1,500 labels) | no |"
        in text
    )
    assert "2026-11-25" not in text
    alert = text[text.index("### Alert") :]
    assert (
        "**Persistent drift from 2026-11-29** (episode 2026-11-29 to 2026-11-30; the rule: 3 failing" in alert
    )
    assert f"- 2026-11-27: {PRICE}" in alert and f"- 2026-11-29: {PRICE}" in alert
    retrain = text[text.index("### The retrain on the store's labelled data") :]
    assert "**Gate: candidate v20261127_101500 improved**" in retrain
    assert "python mlops/scripts/promote_model.py --version v20261127_101500" in retrain
    assert text.index("### Alert") < text.index(CONCEPT_NOTE) < text.index("### The retrain")


def test_a_rejected_or_missing_retrain_is_said() -> None:
    rejected = daily_markdown(drift_run(), retrain_record(improved=False, saved=False), monitor_exit=3)
    assert "**Gate: candidate v20261127_101500 not improved**" in rejected and "promote_model" not in rejected
    assert "(the persistent-drift rule of params.yaml)" in rejected  # no rule given: said generically
    missing = daily_markdown(drift_run(), None, monitor_exit=3)
    assert "No retrain record (mlops/tracking/last_retrain.json); see the step logs." in missing


def test_a_data_gap_is_named() -> None:
    gap = {**quiet_run(), "data_alerts": ["no prediction was shipped for 2026-12-01 (a missing day)"]}
    text = daily_markdown(gap, rule=RULE)
    assert "**DATA GAP**" in text and "### Data alerts" in text
    assert "- no prediction was shipped for 2026-12-01 (a missing day)" in text
    assert "The retrain" not in text


def test_nothing_new_and_a_failed_monitor_and_no_summary() -> None:
    empty = {**quiet_run(), "monitored": [], "history": []}
    text = daily_markdown(empty)
    assert "nothing new to monitor (as of 2026-12-03T02:17:00+00:00)" in text
    assert "No day was monitored in this run" in text
    failed = daily_markdown(quiet_run(), monitor_exit=2)
    assert "**The daily monitor failed (exit 2)**" in failed and "No persistent drift" not in failed
    none = daily_markdown({}, monitor_exit=2)
    assert "No daily summary (mlops/reports/daily/daily_summary.json; the monitor's exit: 2)." in none
    assert "| day |" not in none


def test_estimate_cells_say_when_there_is_none_or_it_is_unreliable() -> None:
    run = quiet_run()
    run["history"][1] = day_record(
        "2026-12-01",
        estimated_roc_auc=None,
        estimate_note="no estimate: 300 pairs served by v1, fewer than 500",
    )
    run["history"][2] = day_record("2026-12-02", estimate_reliable=False)
    text = daily_markdown(run)
    assert "| – (no estimate: 300 pairs served by v1, fewer than 500) |" in text
    assert "| 0.861 [0.842, 0.880] (unreliable) |" in text


def test_the_file_store_note_is_given_only_without_a_tracking_server() -> None:
    assert "starts it afresh" in daily_markdown(quiet_run())
    assert "starts it afresh" not in daily_markdown(quiet_run(), tracking_server=True)


def test_exit_codes_and_the_rule(tmp_path: Path) -> None:
    assert monitor_exit_of(drift_run()) == 3 and monitor_exit_of(quiet_run()) == 0
    assert monitor_exit_of({"alerts": [], "data_alerts": ["x"]}) == 4
    assert exit_code_arg("3") == 3 and exit_code_arg("") is None and exit_code_arg(" ") is None
    with pytest.raises(Exception, match="not an exit code"):
        exit_code_arg("three")
    params = tmp_path / "params.yaml"
    params.write_text(
        "daily:\n  window_days: 7\n  min_failing_days: 2\n  stalled_shipper_hours: 26\n  min_realized_labels: 200\n"
    )
    assert rule_text(params) == "2 failing days of the last 7"
    assert rule_text(PARAMS_FILE)  # the repository's own settings read
    params.write_text(
        "daily:\n  window_days: 2\n  min_failing_days: 3\n  stalled_shipper_hours: 26\n  min_realized_labels: 200\n"
    )
    assert rule_text(params) is None and rule_text(tmp_path / "none.yaml") is None
