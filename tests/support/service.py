"""A real match-service process, and private copies of the production artifacts."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from ml_model import gunicorn_conf
from ml_model.paths import ARTIFACT_FILES, MANIFEST_FILE, ML_MODEL_DIR, REPO_ROOT, SIGNATURE_FILE
from tests.support.ports import free_port, wait_http

PY = sys.executable


class Service:
    """A real match-service process on a free port."""

    def __init__(
        self,
        model_dir: Path,
        log_path: Path,
        stderr_path: Path,
        gunicorn: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        """Start it and wait until it (and with ``gunicorn`` every worker) answers; ``env`` adds
        settings (e.g. the trusted keys of the repository copy a candidate was signed in)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.prediction_log = log_path
        env = {**os.environ, **(env or {}), "PREDICTION_LOG": str(log_path), "MODEL_DIR": str(model_dir)}
        if gunicorn:
            cmd = [  # the production settings (gevent workers), as scripts/serve.sh runs them
                str(Path(PY).parent / "gunicorn"),
                "-c",
                "python:ml_model.gunicorn_conf",
                "--no-control-socket",
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
        if gunicorn:  # every worker, not only the first to answer, has loaded the model
            self._wait_for_workers(int(gunicorn_conf.workers))

    def _wait_for_workers(self, n: int) -> None:
        """Until ``n`` workers said they are ready (gunicorn_conf.post_worker_init); a master that
        exits meanwhile fails the wait at once."""
        while self.output().count("Worker ready") < n:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.output()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Terminate the process (kill it if it lingers) and close its output file."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._stderr.close()

    def output(self) -> str:
        """Everything the process printed so far (stdout and stderr)."""
        return self.stderr_path.read_text()


def copy_artifacts(dest: Path) -> Path:
    """A private copy of the production artifacts, for tests that tamper or promote."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in (*ARTIFACT_FILES, SIGNATURE_FILE, MANIFEST_FILE):
        shutil.copy2(ML_MODEL_DIR / name, dest / name)
    return dest


def write_signed_manifest(folder: Path, manifest: dict) -> None:
    """Rewrite a set's manifest as its maker would: signed (with this machine's key), then written.
    For tests that build a set on purpose; a tamperer has no trusted key."""
    from ml_model.signing import sign_set

    sign_set(folder, manifest)
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))


@contextlib.contextmanager
def running_service(
    folder: Path, model_dir: Path = ML_MODEL_DIR, gunicorn: bool = False
) -> Iterator[Service]:
    """A service with its own prediction log and output in ``folder``, stopped on the way out."""
    svc = Service(model_dir, folder / "predictions.jsonl", folder / "service.log", gunicorn=gunicorn)
    try:
        yield svc
    finally:
        svc.stop()
