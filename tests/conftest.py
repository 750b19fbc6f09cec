"""Shared fixtures: free ports, a real service process, small simulated datasets."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ml_model.paths import ARTIFACT_FILES, MANIFEST_FILE, ML_MODEL_DIR, REPO_ROOT

PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


class Service:
    """A real match-service process on a free port."""

    def __init__(self, model_dir: Path, log_path: Path, stderr_path: Path, gunicorn: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.prediction_log = log_path
        env = {**os.environ, "PREDICTION_LOG": str(log_path), "MODEL_DIR": str(model_dir)}
        if gunicorn:
            cmd = [
                str(Path(PY).parent / "gunicorn"),
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{self.port}",
                "ml_model.predict_model:create_app()",
            ]
        else:
            cmd = [PY, str(REPO_ROOT / "ml_model" / "predict_model.py"), "--port", str(self.port)]
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "w")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self._stderr, stderr=subprocess.STDOUT, cwd=REPO_ROOT
        )
        wait_http(self.url + "/health", self.proc)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._stderr.close()

    def output(self) -> str:
        return self.stderr_path.read_text()


def copy_artifacts(dest: Path) -> Path:
    """A private copy of the production artifacts, for tests that tamper or promote."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in (*ARTIFACT_FILES, MANIFEST_FILE):
        shutil.copy2(ML_MODEL_DIR / name, dest / name)
    return dest


@pytest.fixture(scope="session", autouse=True)
def _private_mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Anything in the test process that reaches MLflow without its own URI lands in a temporary
    store, never in the work tree (MLflow's own default is ./mlflow.db)."""
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = (tmp_path_factory.mktemp("mlflow") / "store").as_uri()
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    yield
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("service")
    svc = Service(ML_MODEL_DIR, tmp / "predictions.jsonl", tmp / "service.log")
    yield svc
    svc.stop()
