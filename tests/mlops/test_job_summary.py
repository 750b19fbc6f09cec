"""job_summary.py: appends to the step summary, prints without one, and never fails the job."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ml_model.paths import REPO_ROOT
from mlops.scripts.job_summary import main
from mlops.sidecar.job_summary import summary_markdown
from tests.mlops.sidecar.test_job_summary import DRIFT, EVALUATION, retrain_record

SCRIPT = REPO_ROOT / "mlops" / "scripts" / "job_summary.py"


def write_records(folder: Path, retrain: dict[str, Any] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (
        ("last_retrain.json", retrain or retrain_record()),
        ("drift.json", DRIFT),
        ("production.json", EVALUATION),
    ):
        (folder / name).write_text(json.dumps(data))
    return folder


def test_main_appends_to_the_step_summary(tmp_path, monkeypatch) -> None:
    tracking = write_records(tmp_path / "tracking")
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert main(["--tracking-dir", str(tracking)]) == 0
    text = summary.read_text()
    assert text.startswith("earlier step\n## MLOps pipeline\n")
    assert "improved**" in text and "--from-registry challenger" in text


def test_main_tolerates_missing_and_broken_files(tmp_path, monkeypatch, capsys, caplog) -> None:
    tracking = tmp_path / "tracking"
    tracking.mkdir()
    (tracking / "drift.json").write_text("{not json")
    (tracking / "production.json").write_text("[1, 2]")
    out = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    with caplog.at_level("WARNING"):
        assert main(["--tracking-dir", str(tracking), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    # A GitHub annotation for each unreadable record, as the inline step printed them.
    for name in ("last_retrain.json", "drift.json", "production.json"):
        assert f"::warning::cannot read {tracking / name}: " in stdout, stdout
        assert any(name in r.getMessage() for r in caplog.records)
    text = out.read_text()
    assert "No retrain record" in text and "No drift result" in text and "No evaluation" in text


def test_main_prints_to_stdout_without_a_step_summary(tmp_path, monkeypatch, capsys) -> None:
    tracking = write_records(tmp_path / "tracking")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert main(["--tracking-dir", str(tracking)]) == 0
    assert capsys.readouterr().out == summary_markdown(retrain_record(), DRIFT, EVALUATION)


def test_an_unwritable_summary_file_does_not_fail_the_job(tmp_path, capsys) -> None:
    tracking = write_records(tmp_path / "tracking")
    assert main(["--tracking-dir", str(tracking), "--out", str(tmp_path / "no" / "such" / "dir" / "x")]) == 0
    assert "## MLOps pipeline" in capsys.readouterr().out


def test_script_runs_from_any_directory(tmp_path) -> None:
    tracking = write_records(tmp_path / "tracking", retrain_record(improved=False, saved=False))
    env = {"PATH": str(Path(sys.executable).parent), "PYTHONDONTWRITEBYTECODE": "1"}
    r = subprocess.run(
        [sys.executable, str(SCRIPT), "--tracking-dir", str(tracking)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "not improved**" in r.stdout and "| yes | 0.2500 | – |" in r.stdout
    help_ = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], env=env, capture_output=True, text=True, timeout=60
    )
    assert (
        help_.returncode == 0 and "--tracking-dir" in help_.stdout and "GITHUB_STEP_SUMMARY" in help_.stdout
    )


def test_the_drift_verdict_is_the_stage_runs_own_sentence(tmp_path) -> None:
    report = {
        "verdict": "DRIFT: key feature(s) drifted: lawyer_hourly_rate",
        "drifted_columns": ["lawyer_hourly_rate"],
    }
    tracking = write_records(tmp_path / "tracking")
    (tracking / "drift_report_latest.json").write_text(json.dumps(report))  # the stage's own run
    (tmp_path / "data_drift_report_20990101_000000.json").write_text(json.dumps({"verdict": "NO DRIFT: old"}))
    out = tmp_path / "summary.md"
    assert main(["--tracking-dir", str(tracking), "--out", str(out)]) == 0
    assert "**DRIFT: key feature(s) drifted: lawyer_hourly_rate**" in out.read_text()
    assert "| yes | 0.2500 | lawyer_hourly_rate |" in out.read_text()
    assert "NO DRIFT: old" not in out.read_text()


# ---------------------------------------------------------------------------- the daily job (--daily)


def write_daily(folder: Path, summary: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "daily_summary.json").write_text(json.dumps(summary))
    return folder


def test_daily_appends_the_monitors_section_and_the_retrain_only_after_drift(tmp_path, monkeypatch) -> None:
    from tests.mlops.sidecar.test_job_summary_daily import drift_run, quiet_run

    tracking = write_records(tmp_path / "tracking")  # a retrain record is there in both cases
    out = tmp_path / "summary.md"
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    daily = write_daily(tmp_path / "daily", drift_run())
    common = ["--daily", "--daily-dir", str(daily), "--tracking-dir", str(tracking), "--out", str(out)]
    assert main([*common, "--monitor-exit", "3"]) == 0
    text = out.read_text()
    assert text.startswith("## Daily drift monitor\n") and "**PERSISTENT DRIFT from 2026-11-29**" in text
    assert "**Gate: candidate v20261127_101500 improved**" in text
    assert "## MLOps pipeline" not in text  # not the pipeline job's section

    out.unlink()
    write_daily(daily, quiet_run())
    assert main([*common, "--monitor-exit", ""]) == 0  # the step output empty: read from the summary
    text = out.read_text()
    assert "**No persistent drift**: 2 day(s)" in text
    assert "Gate" not in text  # no rule fired: another run's retrain record is not read


def test_daily_without_a_summary_says_so_and_exits_0(tmp_path, capsys) -> None:
    assert main(["--daily", "--daily-dir", str(tmp_path / "none"), "--monitor-exit", "2", "--out", "-"]) == 0
    assert "No daily summary" in capsys.readouterr().out
