"""The workflow's job summary (mlops/sidecar/job_summary.py): what it says for each record, and what
it says when one is missing. The command that writes it: tests/mlops/test_job_summary.py."""

from __future__ import annotations

from typing import Any

from mlops.sidecar.job_summary import summary_markdown, uses_tracking_server


def retrain_record(improved: bool = True, saved: bool = True) -> dict[str, Any]:
    """A last_retrain.json as retrain_model.py writes it."""
    record: dict[str, Any] = {
        "run_name": "retrain_20261127_101500",
        "version": "v20261127_101500",
        "candidate": {"roc_auc": 0.91, "f1": 0.70, "accuracy": 0.85},
        "production": {"roc_auc": 0.80, "f1": 0.72, "accuracy": 0.84},
        "production_version": "v20261127_025004",
        "decision": {
            "improved": improved,
            "reason": "roc_auc 0.9100 >= 0.8020 | guards hold" if improved else "roc_auc below the floor",
            "checks": {"min_roc_auc": True, "min_delta": improved, "f1_drop": True},
        },
        "thresholds": {"min_roc_auc": 0.75},
        "saved_to": "mlops/models/v20261127_101500" if saved else None,
    }
    if saved:
        record["registered_version"] = "3"
    return record


DRIFT = {"drift": True, "drifted": 0.25}
EVALUATION = {
    "auc": 0.8748,
    "ece": 0.0147,
    "ndcg10": 0.9875,
    "top3": 0.9667,
}  # production.json


def test_improved_candidate_decision_metrics_checks_and_how_to_promote() -> None:
    text = summary_markdown(retrain_record(), DRIFT, EVALUATION)
    assert text.startswith("## MLOps pipeline\n")
    assert "**Gate: candidate v20261127_101500 improved** (production v20261127_025004)" in text
    assert "Reason: roc_auc 0.9100 >= 0.8020 | guards hold" in text
    assert "| metric | candidate | production | change |" in text
    assert "| roc_auc | 0.9100 | 0.8000 | +0.1100 |" in text
    assert "| f1 | 0.7000 | 0.7200 | -0.0200 |" in text
    assert "| min_delta | yes |" in text
    assert "Candidate saved to `mlops/models/v20261127_101500`." in text
    # how to promote: the candidate, then --version; the
    # registry only once there is a server
    assert "`mlops-candidate` artifact into `mlops/models/`" in text
    assert "mlops-tracking" not in text  # a runner's file store is not portable: not offered
    assert "alias `champion` is not moved elsewhere" in text
    assert "`lawyer_match_model` (version 3)" in text
    assert "python mlops/scripts/promote_model.py --version v20261127_101500" in text
    assert "once the workflow has a tracking server (`MLFLOW_TRACKING_URI`)" in text
    # drift and the production model
    assert "| yes | 0.2500 | – |" in text  # the drifted columns' names come from the report
    assert "### Production model v20261127_025004" in text
    assert "| auc | 0.8748 |" in text and "| ndcg10 | 0.9875 |" in text and "| top3 | 0.9667 |" in text
    assert "model_version |" not in text  # strings are not metrics


def test_with_a_tracking_server_the_registry_is_named() -> None:
    text = summary_markdown(retrain_record(), DRIFT, EVALUATION, tracking_server=True)
    assert "python mlops/scripts/promote_model.py --from-registry challenger" in text
    assert "`lawyer_match_model` (version 3) with alias `challenger`" in text
    assert "python mlops/scripts/promote_model.py --version v20261127_101500" in text
    assert "once the workflow has a tracking server" not in text and "mlops-tracking" not in text


def test_a_rejected_candidate_has_no_promotion_section() -> None:
    text = summary_markdown(retrain_record(improved=False, saved=False), DRIFT, EVALUATION)
    assert "**Gate: candidate v20261127_101500 not improved**" in text
    assert "Reason: roc_auc below the floor" in text
    assert "| min_delta | no |" in text
    assert "promote" not in text.lower() and "saved to" not in text


def test_missing_records_are_said_not_invented() -> None:
    text = summary_markdown({}, {}, {})
    assert "No retrain record (mlops/tracking/last_retrain.json); see the step logs." in text
    assert "No drift result (mlops/tracking/drift.json)." in text
    assert "No evaluation of the production model (mlops/tracking/production.json)." in text
    assert "| metric |" not in text


def test_table_cells_are_escaped_and_missing_values_shown_as_a_dash() -> None:
    record = retrain_record()
    record["candidate"]["brier"] = 0.1
    record["production_version"] = "v1|v2"
    text = summary_markdown(record, {}, {})
    assert "| brier | 0.1000 | – | – |" in text
    assert "(production v1\\|v2)" in text


def test_tracking_server_is_an_http_uri() -> None:
    assert uses_tracking_server("http://127.0.0.1:5000") and uses_tracking_server(" HTTPS://mlflow.example ")
    for uri in (None, "", "file:///x/mlops/tracking", "sqlite:///mlflow.db", "databricks"):
        assert not uses_tracking_server(uri)


def test_too_few_rows_give_no_verdict_and_name_no_column() -> None:
    few = {"drifted": 1.0}  # no "drift" key: too few rows for a verdict
    report = {
        "verdict": "NO VERDICT: only 3 rows, fewer than min_rows 1000",
        "dataset_drift": None,
        "enough_data": False,
        "reasons": ["only 3 rows, fewer than min_rows 1000"],
        "drifted_columns": ["lawyer_rating"],  # over the threshold at 3 rows: noise, not a verdict
        "rule": {"min_rows": 1000},
        "rows": {"tested": 3},
        "current": "few.csv",
    }
    text = summary_markdown({}, few, {}, drift_report=report)
    assert "**NO VERDICT: only 3 rows" in text  # 14 drifted columns at 3 rows is not "no drift"
    assert "lawyer_rating" not in text and "1.0000" not in text and "No column is judged" in text
    assert "What to do next:" in text and "1. Collect at least 1,000 current rows (this run had 3)" in text
    assert "**NO VERDICT: too few current rows" in summary_markdown({}, few, {})  # without the report
    assert "| no | 0.0000 | none |" in summary_markdown(
        {}, {"drift": False, "drifted": 0.0}, {}, drift_report={"drifted_columns": []}
    )


def test_a_drift_verdict_lists_the_reports_next_steps() -> None:
    report = {
        "verdict": "DRIFT: key feature(s) drifted: client_income",
        "dataset_drift": True,
        "enough_data": True,
        "reasons": ["key feature(s) drifted: client_income"],
        "drift_kinds": ["inputs"],
        "drifted_columns": ["client_income"],
        "rule": {"min_rows": 1000},
        "rows": {"tested": 5000},
        "current": "logs/predictions.jsonl",
        "classification_quality": None,
    }
    text = summary_markdown({}, {"drift": True, "drifted": 0.07}, {}, drift_report=report)
    assert "| yes | 0.0700 | client_income |" in text
    steps = text[text.index("What to do next:") :]
    assert "1. Look at the drifted columns (client_income)" in steps
    assert "`python mlops/scripts/collect_feedback.py" in steps and "`dvc repro mlops/dvc.yaml`" in steps


def test_the_signer_line_says_whether_production_trusts_the_key(tmp_path, monkeypatch) -> None:
    import json

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mlops.sidecar import job_summary
    from tests.support.service import copy_artifacts

    trusted = tmp_path / "trusted"
    monkeypatch.setattr(job_summary, "TRUSTED_KEYS_DIR", trusted)
    monkeypatch.setattr(job_summary, "_rel", lambda p: p.name)
    cand = copy_artifacts(tmp_path / "v1")
    from ml_model.signing import sign_set, trust

    key = Ed25519PrivateKey.generate()
    kid = sign_set(cand, key=key)
    assert "does not hold: production elsewhere will refuse it" in job_summary.signer_line(cand)
    trust(key.public_key(), trusted)
    assert f"Signed by key `{kid}`, which production trusts" in job_summary.signer_line(cand)
    (cand / "signature.json").unlink()
    assert "The candidate is not signed" in job_summary.signer_line(cand)
    assert json.loads((cand / "manifest.json").read_text())  # the set itself is untouched
