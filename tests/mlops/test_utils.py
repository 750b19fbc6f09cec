"""The sidecar's shared helpers and MLflow configuration."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from ml_model.metrics import classification_metrics
from ml_model.paths import REPO_ROOT
from ml_model.schema import SchemaError, read_dataset
from mlops import mlflow_setup
from mlops.scripts import utils
from mlops.scripts.generate_data import simulate


def test_split_is_deterministic_stratified_and_disjoint() -> None:
    df = simulate(2000, 1)
    params = {"data": {"test_size": 0.2, "split_seed": 42}}
    _a_train, a_test = utils.test_split(df, params)
    _b_train, b_test = utils.test_split(df, params)
    assert a_test.equals(b_test) and len(a_test) == 400
    assert abs(a_test["match"].mean() - df["match"].mean()) < 0.01
    other = utils.test_split(df, {"data": {"test_size": 0.2, "split_seed": 7}})[1]
    assert not other.equals(a_test)


def test_metrics_are_the_five_named_ones() -> None:
    y = np.array([0, 0, 1, 1])
    m = classification_metrics(y, np.array([0.1, 0.6, 0.4, 0.9]))
    assert list(m) == ["accuracy", "precision", "recall", "f1", "roc_auc"]
    assert m["accuracy"] == 0.5 and m["roc_auc"] == 0.75


def test_read_dataset_names_file_column_row(tmp_path) -> None:
    df = simulate(50, 2)
    df.loc[3, "urgency"] = "yesterday"
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    with pytest.raises(SchemaError, match=r"(?s)bad\.csv.*column 'urgency', row 4"):
        read_dataset(path)


def test_params_have_every_stage_section() -> None:
    params = utils.load_params()
    assert {"data", "train", "gate", "monitor"} <= set(params)


def test_default_tracking_uri_is_the_repo_file_store(monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert mlflow_setup.tracking_uri() == (REPO_ROOT / "mlops" / "tracking").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    assert mlflow_setup.tracking_uri().startswith("file:")


@pytest.mark.slow
def test_sqlite_uri_works_and_a_failed_run_is_marked_failed(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    mlflow = mlflow_setup.configure()
    with pytest.raises(RuntimeError), utils.mlflow_run(mlflow, "boom", {"timestamp": "x"}):
        mlflow.log_metric("roc_auc", 0.5)
        raise RuntimeError("boom")
    with utils.mlflow_run(mlflow, "ok", {"timestamp": "y"}):
        mlflow.log_metric("roc_auc", 0.8)
    runs = mlflow.search_runs(experiment_names=[mlflow_setup.EXPERIMENT_NAME], output_format="list")
    assert {r.info.run_name: r.info.status for r in runs} == {"boom": "FAILED", "ok": "FINISHED"}
    # an orphan from a dead process is closed
    client = mlflow.tracking.MlflowClient()
    exp = mlflow.get_experiment_by_name(mlflow_setup.EXPERIMENT_NAME)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    orphan = client.create_run(
        exp.experiment_id, run_name="orphan", tags={"pid": dead.stdout.strip(), "host": os.uname().nodename}
    )
    assert utils.close_orphaned_runs(mlflow) == 1
    assert client.get_run(orphan.info.run_id).info.status == "FAILED"
    mlflow.set_tracking_uri("")


def test_unreachable_tracking_server_fails_fast_naming_the_uri(monkeypatch) -> None:
    from tests.support.ports import free_port

    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    t0 = time.monotonic()
    with pytest.raises(mlflow_setup.TrackingUnavailable, match=uri.replace(".", r"\.")):
        mlflow_setup.configure()
    assert time.monotonic() - t0 < 10
