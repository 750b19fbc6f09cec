"""A fresh clone's main job (`make run`) leaves `git status` clean, and a second run runs no stage.

The clone is `git clone` of this repository's HEAD. Its `make run` uses our venv instead of
installing one (`VENV=`, and `-o` marks the install stamp as done), with the clone first on
PYTHONPATH so its own code is what runs; everything else is the Makefile as a newcomer runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ml_model.paths import REPO_ROOT

pytestmark = pytest.mark.slow

VENV = Path(sys.executable).parent.parent


def make_run(clone: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(clone)}
    env.pop("MLFLOW_TRACKING_URI", None)  # the clone's own file store, as for a newcomer
    return subprocess.run(
        ["make", "-o", str(VENV / ".installed-stamp"), f"VENV={VENV}", "run"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_fresh_clone_make_run_is_clean_and_idempotent(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True, timeout=120)
    first = make_run(clone)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True)
    assert status.stdout == "", f"make run left the tree dirty:\n{status.stdout}"
    second = make_run(clone)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "Running stage" not in second.stdout, second.stdout
