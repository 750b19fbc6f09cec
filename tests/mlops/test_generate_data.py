"""The simulator's command: writes a valid file, refuses bad arguments and writes nothing then."""

from __future__ import annotations

import subprocess
import sys

from ml_model.frame_validation import read_dataset
from ml_model.paths import REPO_ROOT


def test_cli_writes_a_valid_file_and_refuses_bad_arguments(tmp_path) -> None:
    out = tmp_path / "d.csv"
    script = str(REPO_ROOT / "mlops" / "scripts" / "generate_data.py")
    ok = subprocess.run(
        [sys.executable, script, "--rows", "500", "--seed", "1", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert len(read_dataset(out)) == 500
    bad = subprocess.run(
        [sys.executable, script, "--rows", "0", "--seed", "1", "--out", str(tmp_path / "x.csv")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "rows must be at least 1" in bad.stderr
    assert not (tmp_path / "x.csv").exists()
