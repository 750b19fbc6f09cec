"""A fresh clone's main job (`make run`) does the job: every stage runs for real, MLflow holds the
runs and a registered champion, the reports and plots are there, `git status` stays clean, and a
second run reproduces nothing and says why.

The clone is `git clone` of this repository's HEAD. Its `make run` uses our venv and our Vega
package instead of installing them (`VENV=`, links, and `-o` marks the install stamps as done),
with the clone first on PYTHONPATH so its own code is what runs; everything else is the Makefile
as a newcomer runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ml_model.paths import REPO_ROOT
from mlops.paths import EXPERIMENT_NAME, REGISTERED_MODEL

pytestmark = pytest.mark.slow

VENV = Path(sys.executable).parent.parent
VEGA_STAMP = "tools/vega/node_modules/.installed-stamp"


def make_run(clone: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(clone)}
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        env.pop(name, None)  # the clone's own file store, as for a newcomer
    return subprocess.run(
        ["make", "-o", str(VENV / ".installed-stamp"), "-o", VEGA_STAMP, f"VENV={VENV}", "run"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_fresh_clone_make_run_does_the_job_clean_and_idempotent(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True, timeout=120)
    (clone / "tools" / "vega" / "node_modules").symlink_to(REPO_ROOT / "tools" / "vega" / "node_modules")
    first = make_run(clone)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for stage in ("train", "evaluate", "monitor"):  # on a fresh clone every stage runs for real
        assert f"Running stage '{stage}'" in first.stdout, first.stdout[-3000:]
    assert "nothing to reproduce" not in first.stdout
    assert "tracking/candidate.json" in first.stdout and "ndcg10" in first.stdout  # dvc metrics show

    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    from mlflow.tracking import MlflowClient

    store = (clone / "mlops" / "tracking").as_uri()
    client = MlflowClient(tracking_uri=store, registry_uri=store)  # not this process's registry
    exp = client.get_experiment_by_name(EXPERIMENT_NAME)
    names = {r.info.run_name.split("_")[0] for r in client.search_runs([exp.experiment_id])}
    assert {"retrain", "evaluate", "monitor"} <= names, names
    assert client.get_model_version_by_alias(REGISTERED_MODEL, "champion").version
    reports = {p.name.split("_2")[0] for p in (clone / "mlops" / "reports").iterdir()}
    assert {"evaluation", "data_drift_report"} <= reports, reports
    plots = subprocess.run(
        [str(VENV / "bin" / "dvc"), "plots", "show"],
        cwd=clone / "mlops",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert plots.returncode == 0 and (clone / "mlops" / "dvc_plots" / "index.html").exists(), plots.stderr

    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True)
    assert status.stdout == "", f"make run left the tree dirty:\n{status.stdout}"
    second = make_run(clone)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "Running stage" not in second.stdout, second.stdout
    assert "nothing to reproduce" in second.stdout and "tracking/candidate.json" in second.stdout
