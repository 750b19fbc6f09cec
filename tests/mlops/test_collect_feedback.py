"""collect_feedback.py: exit codes, the JSON report, and nothing written on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ml_model.frame_validation import read_dataset
from mlops.scripts import collect_feedback as cf
from tests.mlops.sidecar.test_feedback import rank_log, write_outcomes


def test_cli_exit_codes_and_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    served = rank_log(tmp_path / "p.jsonl", requests=3, per=4)
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
    assert cf.main([*args, "--out", str(tmp_path / "d.csv")]) == 0
    assert json.loads(capsys.readouterr().out)["rows_written"] == 12
    assert (
        cf.main([*args[:2], "--outcomes", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "x.csv")])
        == 2
    )
    assert not (tmp_path / "x.csv").exists()
    assert np.isfinite(read_dataset(tmp_path / "d.csv")["client_income"]).all()
