"""alert_webhook.py: the drift alert arrives at a webhook on 127.0.0.1 as JSON; a webhook that fails
is named without its token and does not hide the drift (the last step still fails the run); no
webhook set posts nothing; ``--fail`` says the sentence and exits 1. The library:
tests/mlops/sidecar/test_drift_alert.py."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ml_model.paths import REPO_ROOT
from mlops.scripts.alert_webhook import main
from tests.mlops.sidecar.test_job_summary import retrain_record
from tests.mlops.sidecar.test_job_summary_daily import drift_run, quiet_run
from tests.mlops.webhook_server import Webhook, webhook_server

SCRIPT = REPO_ROOT / "mlops" / "scripts" / "alert_webhook.py"
SENTENCE = (
    "Persistent drift from 2026-11-29: a candidate is in the registry as challenger (v20261127_101500); "
    "a person decides whether to promote."
)


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    monkeypatch.setenv("GITHUB_REPOSITORY", "legalaid/connect")
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    with webhook_server() as server:
        yield server


def run_folders(tmp_path: Path, daily: dict[str, Any], retrain: dict[str, Any] | None = None) -> list[str]:
    """The run's daily summary and retrain record; the arguments that point the script at them."""
    daily_dir, tracking = tmp_path / "daily", tmp_path / "tracking"
    daily_dir.mkdir(parents=True)
    tracking.mkdir(parents=True)
    (daily_dir / "daily_summary.json").write_text(json.dumps(daily))
    (tracking / "last_retrain.json").write_text(json.dumps(retrain or retrain_record()))
    return ["--daily-dir", str(daily_dir), "--tracking-dir", str(tracking)]


def test_the_alert_arrives_as_json(hook: Webhook, tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.setenv("ALERT_WEBHOOK_URL", hook.url("/hook?token=SECRETQ"))
    with caplog.at_level("INFO"):
        assert main([*run_folders(tmp_path, drift_run()), "--monitor-exit", "3"]) == 0
    (got,) = hook.received
    assert got.method == "POST" and got.content_type == "application/json"
    body = json.loads(got.body)
    assert body["event"] == "persistent_drift" and body["message"] == SENTENCE
    assert body["repository"] == "legalaid/connect"
    assert body["run_url"] == "https://github.com/legalaid/connect/actions/runs/4242"
    assert body["episode"]["first_day"] == "2026-11-29" and len(body["episode"]["reasons"]) == 3
    assert body["gate"]["decision"] == "improved" and body["candidate_version"] == "v20261127_101500"
    assert f"Alert posted to the webhook http://127.0.0.1:{hook.port}/… (HTTP 204)" in caplog.text
    assert "SECRETQ" not in caplog.text


def test_a_failing_webhook_is_named_without_its_query_and_the_drift_still_fails(
    hook: Webhook, tmp_path, monkeypatch, caplog, capsys
) -> None:
    monkeypatch.setenv("ALERT_WEBHOOK_URL", hook.url("/fail/SECRETPATH?token=SECRETQ"))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    args = [*run_folders(tmp_path, drift_run()), "--monitor-exit", "3"]
    with caplog.at_level("INFO"):
        assert main(args) == 1  # the delivery failed: this step is red
    said = caplog.text + capsys.readouterr().out
    assert f"Could not deliver the alert to the webhook http://127.0.0.1:{hook.port}/…: HTTP 500" in said
    assert "SECRET" not in said and "token" not in said
    assert SENTENCE in said  # the alert itself is in the log
    assert len(hook.received) == 1
    # and the workflow's last step still fails the run for the drift, with its sentence
    assert main([*args, "--fail"]) == 1
    assert f"::error title=Persistent drift::{SENTENCE}" in capsys.readouterr().out
    assert len(hook.received) == 1  # --fail posts nothing


def test_no_webhook_no_alert_and_a_data_gap(hook: Webhook, tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.delenv("ALERT_WEBHOOK_URL", raising=False)
    args = run_folders(tmp_path, drift_run())
    with caplog.at_level("INFO"):
        assert main([*args, "--monitor-exit", "3"]) == 0
    assert "No webhook is set" in caplog.text and SENTENCE in caplog.text
    monkeypatch.setenv("ALERT_WEBHOOK_URL", hook.url("/hook"))
    quiet = run_folders(tmp_path / "quiet", quiet_run())
    assert main([*quiet, "--monitor-exit", "0"]) == 0 and main([*quiet, "--fail", "--monitor-exit", ""]) == 0
    assert hook.received == []  # nothing fired: nothing posted
    gap = {**quiet_run(), "data_alerts": ["no prediction was shipped for 2026-12-01 (a missing day)"]}
    assert main([*run_folders(tmp_path / "gap", gap), "--monitor-exit", "4"]) == 0
    body = json.loads(hook.received[0].body)
    assert body["event"] == "data_gap" and body["gate"] is None and body["candidate_version"] is None
    assert body["data_alerts"] == gap["data_alerts"]


def test_a_webhook_that_is_not_http_is_refused_without_printing_it(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.setenv("ALERT_WEBHOOK_URL", "ftp://user:SECRETPW@files.example.org/drop")
    with caplog.at_level("INFO"):
        assert main([*run_folders(tmp_path, drift_run()), "--monitor-exit", "3"]) == 2
    assert "ALERT_WEBHOOK_URL must be an http:// or https:// URL" in caplog.text
    assert "SECRETPW" not in caplog.text and "files.example.org" not in caplog.text


def test_script_fails_the_run_from_any_directory(tmp_path) -> None:
    args = run_folders(tmp_path, drift_run())
    env = {"PATH": str(Path(sys.executable).parent), "PYTHONDONTWRITEBYTECODE": "1", "GITHUB_ACTIONS": "true"}
    r = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--fail", "--monitor-exit", "3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1, r.stderr
    assert f"::error title=Persistent drift::{SENTENCE}" in r.stdout
