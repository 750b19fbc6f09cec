"""The match service over HTTP against two references, all under the same gunicorn settings
(``-c python:ml_model.gunicorn_conf -w 2``, gevent workers, 127.0.0.1, metrics on), in one run:

- the floor: a trivial Flask handler that reads the body and answers a constant JSON
  (bench/floor_app.py), and beside it the same from a bare WSGI callable (no Flask): our
  scoring calls are answered below Flask, so the bare one bounds what we could reach. Measured with wrk
  (``apt-get install wrk``; bench/post.lua) at concurrency 1 and 4, in rounds that take turns
  between the floor and ours (so a change of machine load hits both), and the ratios
  ours / floor of requests per second;
- the naive service: the obvious handler calling Keras ``model.predict`` per request
  (bench/naive_app.py), by a Python client opening a new connection per request.

Run: .venv/bin/python bench/serve_bench.py [--rounds 3] [--seconds 5] [--no-naive]
Prints the load average beside each table (the machine is shared; timings move with it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ml_model.paths import REPO_ROOT
from ml_model.schema import CASE_FIELDS, FEATURES
from mlops.sidecar.simulator import simulate
from tests.support.ports import free_port, timed_posts, wait_http
from tests.support.procs import children, rss_mib

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
BENCH_DIR = Path(__file__).resolve().parent  # naive_app.py, floor_app.py: a script folder, not a package
POST_LUA = BENCH_DIR / "post.lua"
SETTINGS = ["-c", "python:ml_model.gunicorn_conf", "-w", "2"]  # the production settings (scripts/serve.sh)
OURS = "ml_model.predict_model:create_app()"
FLOOR = "floor_app:create_floor_app()"
BARE = "floor_app:create_bare_app()"
NAIVE = "naive_app:create_naive_app()"


def load() -> str:
    """The 1-minute load average, as printed beside each figure."""
    return Path("/proc/loadavg").read_text().split()[0]


class Server:
    """One gunicorn (the production settings: 2 gevent workers) serving ``app`` on a free port."""

    def __init__(self, app: str, tmp: Path, pythonpath: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PREDICTION_LOG": str(tmp / f"predictions-{self.port}.jsonl")}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # gunicorn_conf makes a private one
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                GUNICORN,
                *SETTINGS,
                "-b",
                f"127.0.0.1:{self.port}",
                *(["--pythonpath", str(pythonpath)] if pythonpath else []),
                app,
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_http(self.url + "/health", self.proc, timeout=120)
        self.startup_s = time.perf_counter() - t0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100)[int(q) - 1] if len(xs) >= 100 else max(xs)


def wrk(url: str, body_file: Path, connections: int, seconds: float) -> dict[str, float]:
    """Requests per second and median latency (ms) of wrk POSTing ``body_file`` to ``url``."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--latency",
            "-s",
            str(POST_LUA),
            url,
            "--",
            str(body_file),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{url} answered errors under wrk:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
    value, unit = re.search(r"\s50%\s+([\d.]+)(us|ms|s)\b", out).groups()
    p50 = float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    return {"rps": rps, "p50_ms": p50}


def bodies(tmp: Path) -> tuple[bytes, bytes, Path]:
    """A single-instance /predict body, a 1,000-lawyer /rank body, and the first as a file (wrk)."""
    rows = json.loads(simulate(1000, 5)[list(FEATURES)].to_json(orient="records"))
    one = json.dumps({"instances": rows[:1]}).encode()
    case = {f.name: rows[0][f.name] for f in CASE_FIELDS}
    lawyers = [{"lawyer_id": i, **{k: v for k, v in r.items() if k not in case}} for i, r in enumerate(rows)]
    rank = json.dumps({"case": case, "lawyers": lawyers}).encode()
    (tmp / "one.json").write_bytes(one)
    return one, rank, tmp / "one.json"


def floor_table(args: argparse.Namespace, tmp: Path, one: bytes, rank: bytes, one_file: Path) -> None:
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk): the floor comparison is skipped")
        return
    floor, bare, ours = Server(FLOOR, tmp, BENCH_DIR), Server(BARE, tmp, BENCH_DIR), Server(OURS, tmp)
    servers = (("floor", floor), ("bare", bare), ("ours", ours))
    try:
        for _, server in servers:  # warm both workers of each
            timed_posts(server.port, "/predict", one, 20)
            timed_posts(server.port, "/rank", rank, 5)
        load_start = load()
        runs: dict[tuple[str, int], list[dict[str, float]]] = {}
        for _ in range(args.rounds):
            for c in (1, 4):
                for name, server in servers:
                    runs.setdefault((name, c), []).append(
                        wrk(server.url + "/predict", one_file, c, args.seconds)
                    )
        rank_ms = {
            name: statistics.median(timed_posts(s.port, "/rank", rank, args.rank_requests))
            for name, s in servers
        }
        load_end = load()
    finally:
        for _, server in servers:
            server.stop()

    def med(name: str, c: int, key: str) -> float:
        return statistics.median(r[key] for r in runs[name, c])

    print(
        f"\nSingle-instance /predict with wrk, {args.rounds} rounds of {args.seconds:g} s taking turns "
        f"(medians); load average {load_start} at the start, {load_end} at the end"
    )
    print(f"{'':<28}{'floor (Flask)':>14}{'ours':>9}{'ours / floor':>14}{'bare WSGI':>11}{'ours / bare':>13}")
    for c in (1, 4):
        f_rps, o_rps, b_rps = med("floor", c, "rps"), med("ours", c, "rps"), med("bare", c, "rps")
        print(
            f"{f'requests/s, concurrency {c}':<28}{f_rps:>14,.0f}{o_rps:>9,.0f}{o_rps / f_rps:>13.2f}x"
            f"{b_rps:>11,.0f}{o_rps / b_rps:>12.2f}x"
        )
        print(
            f"{f'p50 ms, concurrency {c}':<28}{med('floor', c, 'p50_ms'):>14.2f}{med('ours', c, 'p50_ms'):>9.2f}"
            f"{'':>14}{med('bare', c, 'p50_ms'):>11.2f}"
        )
    for c in (1, 4):
        ratios = [o["rps"] / f["rps"] for o, f in zip(runs["ours", c], runs["floor", c], strict=True)]
        print(f"ours / floor per round, concurrency {c}: " + ", ".join(f"{r:.2f}" for r in ratios))
    print(
        f"/rank with 1,000 lawyers, p50 of {args.rank_requests} (new connection each): ours {rank_ms['ours']:.2f} ms; "
        f"floor {rank_ms['floor']:.2f} ms, bare {rank_ms['bare']:.2f} ms (reading the 240 KB body only)"
    )


def naive_table(args: argparse.Namespace, tmp: Path, one: bytes, rank: bytes) -> None:
    rows = {}
    for name, app, n, n_rank, path in (
        ("naive", NAIVE, args.naive_requests, 20, BENCH_DIR),
        ("ours", OURS, args.requests, 200, None),
    ):
        server = Server(app, tmp, path)
        try:
            timed_posts(server.port, "/predict", one, 20)  # warm both workers
            single = timed_posts(server.port, "/predict", one, n)
            ranks = timed_posts(server.port, "/rank", rank, n_rank)
            rows[name] = {
                "startup_s": server.startup_s,
                "rss_mb": rss_mib([server.proc.pid, *children(server.proc.pid)]),
                "predict_p50_ms": statistics.median(single),
                "predict_p99_ms": pct(single, 99),
                "predict_rps": 1000 / statistics.mean(single),
                "rank1000_p50_ms": statistics.median(ranks),
            }
        finally:
            server.stop()
    naive, ours = rows["naive"], rows["ours"]
    print(
        f"\nAgainst the naive model.predict service (Python client, new connection per request); load {load()}"
    )
    print(f"{'metric':<18}{'naive predict()':>18}{'ours':>12}{'ours better by':>16}")
    for key in naive:
        ratio = ours[key] / naive[key] if key.endswith("rps") else naive[key] / ours[key]
        print(f"{key:<18}{naive[key]:>18.2f}{ours[key]:>12.2f}{ratio:>15.1f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark the match service against the floor and a naive one."
    )
    parser.add_argument("--rounds", type=int, default=3, help="wrk rounds per concurrency (taking turns)")
    parser.add_argument("--seconds", type=float, default=5, help="length of one wrk run")
    parser.add_argument("--rank-requests", type=int, default=200, help="/rank requests for the p50")
    parser.add_argument("--requests", type=int, default=2000, help="single-instance requests for ours")
    parser.add_argument("--naive-requests", type=int, default=100, help="requests for the naive baseline")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive (TensorFlow) baseline")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as d:
        tmp = Path(d)
        one, rank, one_file = bodies(tmp)
        floor_table(args, tmp, one, rank, one_file)
        if not args.no_naive:
            naive_table(args, tmp, one, rank)
    return 0


if __name__ == "__main__":
    sys.exit(main())
