"""The whole loop on this machine: production traffic and outcomes become a data version that retrains.

The simulator's clients ask the real backend for matches (which asks the real match service), and
between them someone calls the service's /predict the README's way, so the log mixes /predict lines
(no lawyer ids) with /rank lines: every label must still join (a /predict line once turned the ids
into floats and lost them all);
after a concept change in the world, an intake worker records what happened for each lawyer shown,
drawn from the simulator's truth on exactly the features the model saw. The outcomes are exported
(`npm run export-outcomes`), joined with the prediction log (`collect_feedback.py`), and a retrain
on that data version, pushed as the README says (`dvc add`, `dvc push`, commit), runs the workflow
(act), whose gate, equity guard included, must let the new model in.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from ml_model.paths import ML_MODEL_DIR, REPO_ROOT
from ml_model.prediction_log import read_prediction_log
from mlops.sidecar.simulator import simulate, true_logit
from tests.support.act import ActRun, check, fresh_clone, git, run_act
from tests.support.ports import free_port, wait_http
from tests.support.repo import Repo, make_repo
from tests.support.service import Service

pytestmark = pytest.mark.slow

TOKEN = "intake-worker-token-0123456789"
CASE = ("case_type", "case_complexity", "urgency", "client_language", "client_region", "client_income")
MATCHES, SHOWN = 600, 20
PREDICT_EVERY = 50  # a direct /predict (README's curl) after every that many matches


def start_backend(tmp: Path, ml_url: str) -> tuple[subprocess.Popen, str, Path]:
    port, db = free_port(), tmp / "backend.db"
    env = {
        **os.environ,
        "PORT": str(port),
        "ML_SERVICE_URL": ml_url,
        "DB_PATH": str(db),
        "OUTCOMES_TOKEN": TOKEN,
    }
    proc = subprocess.Popen(
        ["node", "server.js"],
        cwd=REPO_ROOT / "backend",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/api/health", proc)
    return proc, url, db


def logged_after(path: Path, match_ids: set[str], timeout: float = 60.0) -> pd.DataFrame:
    """The prediction log once it holds every match: the service writes a request's line after its
    answer is sent, so the last answer can arrive before its line."""
    deadline = time.monotonic() + timeout
    while True:
        logged = read_prediction_log(path)
        if match_ids <= set(logged["prediction_id"]) or time.monotonic() > deadline:
            return logged
        time.sleep(0.1)


def test_outcomes_from_production_retrain_a_model_the_gate_lets_in(tmp_path: Path) -> None:
    svc = Service(ML_MODEL_DIR, tmp_path / "predictions.jsonl", tmp_path / "service.log")
    backend, url, db = start_backend(tmp_path, svc.url)
    try:
        http = requests.Session()
        cases = simulate(MATCHES, 71)[list(CASE)]
        shown, predicted = [], 0
        instances = simulate(MATCHES // PREDICT_EVERY * 3, 72).drop(columns="match")
        for i, case in enumerate(cases.to_dict("records")):
            r = http.post(url + "/api/match", json={**case, "limit": SHOWN}, timeout=10)
            assert r.status_code == 200, r.text
            body = r.json()
            assert len(body["match_id"]) == 32 and len(body["lawyers"]) == SHOWN
            shown += [(body["match_id"], lw["id"]) for lw in body["lawyers"]]
            if i % PREDICT_EVERY == 0:  # README's curl .../predict, into the same log
                batch = instances.iloc[predicted : predicted + 1 + i % 3].to_dict("records")
                r = http.post(svc.url + "/predict", json={"instances": batch}, timeout=10)
                assert r.status_code == 200, r.text
                predicted += len(batch)
        logged = logged_after(svc.prediction_log, {m for m, _ in shown})
        assert logged["lawyer_id"].isna().sum() == predicted  # /predict lines hold no lawyer id
        served = logged.set_index(["prediction_id", "lawyer_id"]).loc[shown].reset_index()
        assert len(served) == len(shown)  # every shown lawyer is in the log with the features served
        truth = 1 / (1 + np.exp(-true_logit(served, concept=True)))  # the world has changed
        engaged = np.random.default_rng(3).random(len(served)) < truth
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for (match_id, lawyer_id), yes in zip(shown, engaged, strict=True):
            outcome = "engaged" if yes else "declined"
            r = http.post(
                url + "/api/outcomes",
                json={"match_id": match_id, "lawyer_id": lawyer_id, "outcome": outcome},
                headers=auth,
                timeout=10,
            )
            assert r.status_code == 201, r.text
    finally:
        backend.terminate()
        backend.wait(timeout=10)
        svc.stop()

    export = tmp_path / "outcomes.jsonl"
    r = subprocess.run(
        ["npm", "run", "-s", "export-outcomes", "--", "--out", str(export), "--db", str(db)],
        cwd=REPO_ROOT / "backend",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert sum(1 for _ in export.open()) == len(shown)

    repo = make_repo(tmp_path / "repo", rows=3000, epochs=None)
    # The world changed: the fixed equity evaluation set is refreshed to today's world (README).
    simulate(30000, 4243, drift="concept", balanced=True).to_csv(
        repo.root / "mlops/data/equity_eval.csv", index=False
    )
    r = repo.script(
        "collect_feedback.py",
        "--predictions",
        str(svc.prediction_log),
        "--outcomes",
        str(export),
        "--out",
        str(repo.data),
        "--strict",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    assert report["with_outcome"] == len(shown) == report["rows_written"]
    assert report["labels"] == f"{len(shown)} joined of {len(shown)}" and not report["dropped"]
    assert report["instances_without_lawyer_id"] == predicted and report["bad_log_lines"] == 0
    data = pd.read_csv(repo.data)
    assert data["match"].mean() == pytest.approx(engaged.mean())

    run = retrain_through_the_workflow(repo, tmp_path)
    summary = run.summary()
    print(
        f"{len(shown)} outcomes, positive rate {engaged.mean():.3f}; act push {run.seconds:.0f} s\n{summary}"
    )
    assert run.returncode == 0 and all(v == "Success" for v in run.steps().values()), run.tail()
    assert " improved** " in summary and "| equity_guard | yes |" in summary, summary
    assert list((run.artifacts / "mlops-candidate").glob("v*/manifest.json"))


def retrain_through_the_workflow(repo: Repo, tmp_path: Path) -> ActRun:
    """The README's path for a production data version: `dvc add`, `dvc push`, commit, push, which
    runs the workflow (act). The refreshed equity evaluation set travels the same way."""
    clone = fresh_clone(tmp_path / "clone")
    dvc = str(Path(sys.executable).parent / "dvc")
    check(clone.run(dvc, "remote", "add", "feedback", str(tmp_path / "dvc-remote")))
    for name in ("matchmaking_dataset.csv", "equity_eval.csv"):
        shutil.copyfile(repo.root / "mlops/data" / name, clone.root / "mlops/data" / name)
        check(clone.run(dvc, "add", "-q", f"mlops/data/{name}"))
        check(clone.run(dvc, "push", "-q", "-r", "feedback", f"mlops/data/{name}.dvc"))
        (clone.root / "mlops/data" / name).unlink()
    git(clone.root, "add", "-A")
    git(clone.root, "commit", "-q", "-m", "data: production feedback")
    shutil.rmtree(clone.root / ".dvc" / "cache")
    return run_act(clone.root, "push", tmp_path / "act", variables={"DVC_REMOTE": "feedback"})
