"""collect_feedback.py: exit codes, the JSON report, and nothing written on bad input; outcomes that
join nothing are a warning, and an error with --strict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ml_model.frame_validation import read_dataset
from mlops.scripts import collect_feedback as cf
from tests.mlops.sidecar.test_feedback import rank_log, write_outcomes


def test_cli_exit_codes_and_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    served = rank_log(tmp_path / "p.jsonl", requests=3, per=4, predict_every=2)
    outcomes = [
        {"match_id": p, "lawyer_id": lw, "outcome": "declined"}
        for p, lw in zip(served.prediction_id, served.lawyer_id, strict=True)
    ]
    args = [
        "--predictions",
        str(tmp_path / "p.jsonl"),
        "--outcomes",
        str(write_outcomes(tmp_path / "o.jsonl", outcomes)),
    ]
    assert cf.main([*args, "--out", str(tmp_path / "d.csv"), "--strict"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows_written"] == 12 and report["labels"] == "12 joined of 12"
    assert report["instances_without_lawyer_id"] == 2  # the /predict lines, counted, not joined
    assert (
        cf.main([*args[:2], "--outcomes", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "x.csv")])
        == 2
    )
    assert not (tmp_path / "x.csv").exists()
    assert np.isfinite(read_dataset(tmp_path / "d.csv")["client_income"]).all()
    with pytest.raises(SystemExit) as exc:
        cf.main([*args, "--min-age-days", "-1"])
    assert exc.value.code == 2


def test_outcomes_that_join_nothing_warn_and_fail_with_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    rank_log(tmp_path / "p.jsonl", requests=2, per=3)
    stale = [{"match_id": "9" * 32, "lawyer_id": 100, "outcome": "engaged"}] * 2 + [
        {"match_id": "8" * 32, "lawyer_id": 100, "outcome": "engaged"}
    ]
    out = tmp_path / "d.csv"
    args = [
        "--predictions",
        str(tmp_path / "p.jsonl"),
        "--outcomes",
        str(write_outcomes(tmp_path / "o.jsonl", stale)),
    ]
    assert cf.main([*args, "--out", str(out)]) == 0  # a warning, not an error, without --strict
    report = json.loads(capsys.readouterr().out)
    assert report["labels"] == "0 joined of 3" and report["rows_written"] == 0
    assert "WARNING" in caplog.text and "Labels: 0 joined of 3" in caplog.text
    assert cf.main([*args, "--out", str(out), "--strict"]) == 1
    assert "--strict: labels 0 joined of 3" in caplog.text and not out.exists()
