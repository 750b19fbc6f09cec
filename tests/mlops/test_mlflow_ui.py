"""`make mlflow-ui` prints the address of the runs in the review view and serves the store on
127.0.0.1; its REST API lists our runs, and the experiment holds the review view's columns."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import requests

from ml_model.paths import REPO_ROOT
from mlops.paths import EXPERIMENT_NAME
from tests.support.ports import free_port, wait_http
from tests.support.procs import stop_group
from tests.support.repo import Repo

pytestmark = pytest.mark.slow


def test_make_mlflow_ui_lists_the_experiment_and_its_runs(repo: Repo, tmp_path: Path) -> None:
    r = repo.script("evaluate_model.py")  # no TensorFlow: a quick run to look for
    assert r.returncode == 0, r.stderr[-1500:]
    port = free_port()
    store = repo.root / "mlops" / "tracking"
    proc = subprocess.Popen(
        ["make", "-s", "mlflow-ui", f"MLFLOW_PORT={port}", f"MLFLOW_STORE={store}"],
        cwd=REPO_ROOT,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
        stdout=open(tmp_path / "ui.out", "w"),  # noqa: SIM115 (the child holds it)
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/health", proc, timeout=120)
        exps = requests.get(
            base + "/api/2.0/mlflow/experiments/search", params={"max_results": 50}, timeout=10
        )
        assert exps.status_code == 200, exps.text
        ours = [e for e in exps.json()["experiments"] if e["name"] == EXPERIMENT_NAME]
        assert len(ours) == 1
        runs = requests.post(
            base + "/api/2.0/mlflow/runs/search",
            json={"experiment_ids": [ours[0]["experiment_id"]], "max_results": 100},
            timeout=10,
        )
        assert runs.status_code == 200, runs.text
        names = [x["info"]["run_name"] for x in runs.json()["runs"]]
        assert any(n.startswith("evaluate_") for n in names)
        exp_id = ours[0]["experiment_id"]
        printed = (tmp_path / "ui.out").read_text()
        assert (
            f"{base}/#/experiments/{exp_id}/runs?workflowType=machine_learning&viewStateShareKey=review"
            in printed
        )
        tags = {t["key"]: t["value"] for t in ours[0]["tags"]}
        view = json.loads(tags["mlflow.sharedViewState.review"])
        assert {"tags.`decision`", "tags.`verdict`", "metrics.`candidate_roc_auc`"} <= set(
            view["selectedColumns"]
        )
    finally:
        stop_group(proc)
