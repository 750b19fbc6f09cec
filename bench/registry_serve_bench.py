"""What the registry's pyfunc costs when served by MLflow, against our service, in the same run.

A temporary copy of the repository retrains on a concept change, so ``lawyer_match_model@challenger``
exists; then ``mlflow models serve`` of that version and our service (gunicorn with the
production settings, 2 gevent workers) over the same candidate folder are started one after the other and sent the
same single-row requests (new connection each, like the backend). Prints start-up time, p50/p99
and the ratio.

Run: .venv/bin/python bench/registry_serve_bench.py [--requests 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlops.sidecar.simulator import simulate
from tests.support.ports import free_port, timed_posts, wait_http
from tests.support.repo import candidates, make_repo

BIN = Path(sys.executable).parent


def serve(cmd: list[str], env: dict[str, str], cwd: Path, probe: str) -> tuple[subprocess.Popen, float]:
    """Start a server and return it with its start-up time (until ``probe`` answers)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(probe, proc, timeout=180)
    return proc, time.perf_counter() - t0


def measure(
    label: str, cmd: list[str], env: dict[str, str], cwd: Path, port: int, path: str, body: bytes, n: int
) -> dict:
    """Start-up, a warm-up, then ``n`` timed requests; the server is stopped afterwards."""
    probe = f"http://127.0.0.1:{port}/" + ("ping" if path == "/invocations" else "health")
    proc, startup = serve(cmd, env, cwd, probe)
    try:
        timed_posts(port, path, body, 20)
        ms = timed_posts(port, path, body, n)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    q = statistics.quantiles(ms, n=100)
    return {"label": label, "startup_s": startup, "p50_ms": statistics.median(ms), "p99_ms": q[98]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="timed single-row requests per server")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="registry-bench."))
    repo = make_repo(tmp / "repo", rows=3000, epochs=8)
    simulate(20000, 12, drift="concept").to_csv(repo.data, index=False)
    r = repo.script("retrain_model.py")
    if r.returncode != 0 or "Gate: IMPROVED" not in r.stderr:
        print(r.stderr[-2000:], file=sys.stderr)
        return 1
    env = {
        **repo.env,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": (repo.root / "mlops" / "tracking").as_uri(),
        "MLFLOW_ALLOW_FILE_STORE": "true",
    }
    row = simulate(1, 5).drop(columns="match")
    split = json.loads(row.to_json(orient="split", index=False))
    p1, p2 = free_port(), free_port()
    ours = measure(
        "our service (gunicorn, production settings, /predict)",
        [
            str(BIN / "gunicorn"),
            "-c",
            "python:ml_model.gunicorn_conf",
            "--no-control-socket",
            "-b",
            f"127.0.0.1:{p1}",
            "ml_model.predict_model:create_app()",
        ],
        {**env, "MODEL_DIR": str(candidates(repo)[-1]), "PREDICTION_LOG": str(tmp / "p.jsonl")},
        repo.root,
        p1,
        "/predict",
        json.dumps({"instances": row.to_dict("records")}).encode(),
        args.requests,
    )
    theirs = measure(
        "mlflow models serve (pyfunc, /invocations)",
        [
            str(BIN / "mlflow"),
            "models",
            "serve",
            "-m",
            "models:/lawyer_match_model@challenger",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(p2),
        ],
        env,
        repo.root,
        p2,
        "/invocations",
        json.dumps({"dataframe_split": split}).encode(),
        args.requests,
    )
    print(f"load average {os.getloadavg()[0]:.2f}; {args.requests} single-row requests each")
    for m in (ours, theirs):
        print(
            f"{m['label']:<44} start-up {m['startup_s']:5.1f} s  p50 {m['p50_ms']:7.2f} ms  p99 {m['p99_ms']:7.2f} ms"
        )
    print(
        f"mlflow models serve / ours: p50 {theirs['p50_ms'] / ours['p50_ms']:.1f}x, "
        f"start-up {theirs['startup_s'] / ours['startup_s']:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
