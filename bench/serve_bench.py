"""Latency of the match service over HTTP: the naive ``model.predict`` handler and ours, both
under gunicorn (2 sync workers) on 127.0.0.1, in the same run, with the ratio.

Run: .venv/bin/python bench/serve_bench.py [--requests 2000]
Prints p50/p99 of single-instance /predict, p50 of /rank with 1,000 lawyers, start-up time and
worker memory (RSS summed over the gunicorn processes).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ml_model.paths import REPO_ROOT
from ml_model.schema import CASE_FIELDS, FEATURES
from mlops.scripts.generate_data import simulate
from tests.support.ports import free_port, wait_http

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
BENCH_DIR = Path(__file__).resolve().parent  # naive_app.py: a script folder, not a package


def rss_mb(pid: int) -> float:
    """RSS of a process and its children, from /proc."""
    total = 0
    pids = [pid] + [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def timed_posts(port: int, path: str, body: bytes, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        out.append((time.perf_counter() - t0) * 1000)
        if resp.status != 200:
            raise RuntimeError(f"{path} answered {resp.status}")
    return out


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100)[int(q) - 1] if len(xs) >= 100 else max(xs)


def measure(
    app: str, n: int, n_rank: int, log_path: Path, pythonpath: Path | None = None
) -> dict[str, float]:
    port = free_port()
    env = {**os.environ, "PREDICTION_LOG": str(log_path)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            GUNICORN,
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            *(["--pythonpath", str(pythonpath)] if pythonpath else []),
            app,
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc, timeout=120)
        startup = time.perf_counter() - t0
        df = simulate(1000, 5)
        rows = json.loads(df[list(FEATURES)].to_json(orient="records"))
        one = json.dumps({"instances": rows[:1]}).encode()
        case = {f.name: rows[0][f.name] for f in CASE_FIELDS}
        lawyers = [
            {"lawyer_id": i, **{k: v for k, v in r.items() if k not in case}} for i, r in enumerate(rows)
        ]
        rank = json.dumps({"case": case, "lawyers": lawyers}).encode()
        timed_posts(port, "/predict", one, 20)  # warm both workers
        single = timed_posts(port, "/predict", one, n)
        ranks = timed_posts(port, "/rank", rank, n_rank)
        return {
            "startup_s": startup,
            "rss_mb": rss_mb(proc.pid),
            "predict_p50_ms": statistics.median(single),
            "predict_p99_ms": pct(single, 99),
            "predict_rps": 1000 / statistics.mean(single),
            "rank1000_p50_ms": statistics.median(ranks),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark the match service against a naive model.predict one."
    )
    parser.add_argument("--requests", type=int, default=2000, help="single-instance requests for ours")
    parser.add_argument("--naive-requests", type=int, default=100, help="requests for the naive baseline")
    args = parser.parse_args(argv)
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    naive = measure(
        "naive_app:create_naive_app()", args.naive_requests, 20, tmp / "bench_naive.jsonl", BENCH_DIR
    )
    ours = measure("ml_model.predict_model:create_app()", args.requests, 200, tmp / "bench_ours.jsonl")
    print(f"{'metric':<18}{'naive predict()':>18}{'ours':>12}{'ours better by':>16}")
    for key in naive:
        ratio = ours[key] / naive[key] if key.endswith("rps") else naive[key] / ours[key]
        print(f"{key:<18}{naive[key]:>18.2f}{ours[key]:>12.2f}{ratio:>15.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
