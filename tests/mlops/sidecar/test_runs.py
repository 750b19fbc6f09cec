"""MLflow runs end FINISHED or FAILED, and a run whose process was killed is closed by the next one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mlops import mlflow_setup
from mlops.paths import EXPERIMENT_NAME
from mlops.sidecar.runs import close_orphaned_runs, mlflow_run, process_alive


@pytest.mark.slow
def test_sqlite_uri_works_and_a_failed_run_is_marked_failed(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    mlflow = mlflow_setup.configure()
    with pytest.raises(RuntimeError), mlflow_run(mlflow, "boom", {"timestamp": "x"}):
        mlflow.log_metric("roc_auc", 0.5)
        raise RuntimeError("boom")
    with mlflow_run(mlflow, "ok", {"timestamp": "y"}):
        mlflow.log_metric("roc_auc", 0.8)
    runs = mlflow.search_runs(experiment_names=[EXPERIMENT_NAME], output_format="list")
    assert {r.info.run_name: r.info.status for r in runs} == {"boom": "FAILED", "ok": "FINISHED"}
    # an orphan from a dead process is closed
    client = mlflow.tracking.MlflowClient()
    exp = mlflow.get_experiment_by_name(EXPERIMENT_NAME)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    orphan = client.create_run(
        exp.experiment_id, run_name="orphan", tags={"pid": dead.stdout.strip(), "host": os.uname().nodename}
    )
    assert close_orphaned_runs(mlflow) == 1
    assert client.get_run(orphan.info.run_id).info.status == "FAILED"
    mlflow.set_tracking_uri("")


def test_process_alive_knows_ourselves_and_a_finished_child() -> None:
    assert process_alive(os.getpid())
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    assert not process_alive(int(child.stdout))
