"""The registry's model is servable: raw rows in, the service's probabilities out, verified on load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import requests

from ml_model.artifacts import ManifestError
from ml_model.paths import MODEL_FILE
from mlops.paths import REGISTERED_MODEL
from mlops.pyfunc_model import SET_FILES, LawyerMatchModel, artifact_paths
from mlops.sidecar.simulator import simulate
from tests.support.ports import free_port, wait_http
from tests.support.procs import stop_group
from tests.support.repo import Repo, candidates, make_repo
from tests.support.service import Service, copy_artifacts

ROWS = simulate(200, 77).drop(columns="match")

PYFUNC_PREDICT = """
import json, sys
import mlflow, pandas as pd
from ml_model.frame_validation import validate_frame
from mlops.mlflow_setup import configure
configure()
model = mlflow.pyfunc.load_model(sys.argv[1])
rows = validate_frame(pd.read_json(sys.argv[2], orient="split"), require_label=False)  # the contract's dtypes
print(json.dumps(model.predict(rows).tolist()))
"""


def test_loading_verifies_the_manifest_before_unpickling(tmp_path: Path) -> None:
    folder = copy_artifacts(tmp_path / "set")
    model = LawyerMatchModel()
    model.load_context(SimpleNamespace(artifacts=artifact_paths(folder)))
    assert len(model.predict(None, ROWS.head(3))) == 3
    with open(folder / MODEL_FILE, "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(ManifestError, match="does not match the manifest"):
        LawyerMatchModel().load_context(SimpleNamespace(artifacts=artifact_paths(folder)))


def test_raw_rows_are_validated_like_the_service(tmp_path: Path) -> None:
    model = LawyerMatchModel()
    model.load_context(SimpleNamespace(artifacts=artifact_paths(copy_artifacts(tmp_path / "set"))))
    assert set(SET_FILES) == {
        "lawyer_match_model.h5",
        "encoder.pkl",
        "scaler.pkl",
        "signature.json",
        "manifest.json",
    }
    bad = ROWS.head(2).assign(case_complexity=[3, 99])
    with pytest.raises(ValueError, match=r"case_complexity"):
        model.predict(None, bad)


@pytest.fixture(scope="module")
def improved(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """A copy whose retrain on a concept change registered a challenger."""
    repo = make_repo(tmp_path_factory.mktemp("pyfunc") / "repo", rows=3000, epochs=8)
    simulate(20000, 12, drift="concept").to_csv(repo.data, index=False)
    r = repo.script("retrain_model.py")
    assert r.returncode == 0 and "Gate: IMPROVED" in r.stderr, r.stderr[-2000:]
    repo.env = {**repo.env, "MLFLOW_TRACKING_URI": (repo.root / "mlops" / "tracking").as_uri()}
    return repo


@pytest.mark.slow
def test_registry_model_scores_raw_rows_like_the_service(improved: Repo, tmp_path: Path) -> None:
    rows_json = tmp_path / "rows.json"
    ROWS.to_json(rows_json, orient="split", index=False)
    uri = f"models:/{REGISTERED_MODEL}@challenger"
    r = improved.run(sys.executable, "-c", PYFUNC_PREDICT, uri, str(rows_json))
    assert r.returncode == 0, r.stderr[-2000:]
    from_registry = np.array(json.loads(r.stdout.strip().splitlines()[-1]))

    cand = candidates(improved)[-1]
    svc = Service(cand, tmp_path / "p.jsonl", tmp_path / "svc.log", env=improved.trust)
    try:
        served = requests.post(svc.url + "/predict", json={"instances": ROWS.to_dict("records")}, timeout=10)
    finally:
        svc.stop()
    assert served.status_code == 200, served.text
    np.testing.assert_allclose(from_registry, served.json()["predictions"], atol=1e-6, rtol=0)


def _start_mlflow_serve(improved: Repo, tmp_path: Path) -> tuple[subprocess.Popen, int]:
    """``mlflow models serve`` on a free port; a port taken between our pick and its bind (another
    test on the other core) is tried again on a new one, anything else fails with the server's log."""
    env = {**improved.env, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    mlflow = str(Path(sys.executable).parent / "mlflow")
    for attempt in range(3):
        port = free_port()
        log_path = tmp_path / f"serve-{attempt}.log"
        serve = f"models serve -m models:/{REGISTERED_MODEL}@challenger --env-manager local -h 127.0.0.1 -p {port}"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [mlflow, *serve.split()],
                env=env,
                cwd=improved.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_http(f"http://127.0.0.1:{port}/ping", proc, timeout=120)
            return proc, port
        except RuntimeError:
            stop_group(proc)
            text = log_path.read_text()
            if "address already in use" not in text.lower():
                raise AssertionError(text[-3000:]) from None
    raise AssertionError("three ports were taken before mlflow models serve could bind one")


@pytest.mark.slow
def test_mlflow_models_serve_answers_invocations_with_raw_fields(improved: Repo, tmp_path: Path) -> None:
    proc, port = _start_mlflow_serve(improved, tmp_path)
    try:
        body = {"dataframe_split": json.loads(ROWS.head(20).to_json(orient="split", index=False))}
        r = requests.post(f"http://127.0.0.1:{port}/invocations", json=body, timeout=30)
        assert r.status_code == 200, r.text
        preds = [p["match_probability"] for p in r.json()["predictions"]]  # the pyfunc's named output
        assert len(preds) == 20 and all(0.0 < p < 1.0 for p in preds)
        missing = {
            "dataframe_split": json.loads(
                ROWS.head(2).drop(columns="urgency").to_json(orient="split", index=False)
            )
        }
        refused = requests.post(f"http://127.0.0.1:{port}/invocations", json=missing, timeout=30)
        assert refused.status_code == 400 and "urgency" in refused.text
    finally:
        stop_group(proc)
