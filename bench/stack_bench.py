"""The scale-out stack, measured: start-up time and memory of each component, retrain against the
server beside the embedded file store (same session, interleaved), and DVC push/pull through S3.

Runs its own stack (temporary state folder, free ports) and brings it down at the end; it never
touches a stack a developer runs, nor the work tree.

Run: .venv/bin/python bench/stack_bench.py [--reps 2] [--big-rows 500000]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlops.sidecar.simulator import simulate
from tests.support.procs import all_pids, pgrp, ppid, rss_mib
from tests.support.repo import Repo, make_repo
from tests.support.stack import Stack, parse_env, point_dvc_at, sidecar_env

COMPONENTS = {
    "mon": "ceph-mon",
    "osd": "ceph-osd",
    "rgw": "radosgw",
    "pg": "PostgreSQL",
    "mlflow": "mlflow server",
}


def groups(stack: Stack) -> dict[str, int]:
    out = {name: stack.pid(name) for name in ("mon", "osd", "rgw", "mlflow")}
    pg = Path((stack.state / "pg.path").read_text().strip()) / "data" / "postmaster.pid"
    out["pg"] = int(pg.read_text().split()[0])
    return out


def members(pgid: int, children: bool = False) -> list[int]:
    """A process group; with ``children``, the leader and its children (PostgreSQL's backends each
    start a session of their own)."""
    procs = all_pids()
    if children:
        return [p for p in procs if p == pgid or ppid(p) == pgid]
    return [p for p in procs if pgrp(p) == pgid]


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])
        except (OSError, IndexError):
            pass
    return total


def timed(fn, *args, **kw) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    r = fn(*args, **kw)
    return time.perf_counter() - t0, r


def retrain(repo: Repo, env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, str(repo.root / "mlops" / "scripts" / "retrain_model.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    found = re.findall(r"Retrain finished: (.*)\.$", r.stderr, re.M)
    return wall, found[-1] if found else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=2, help="retrains per store (interleaved)")
    parser.add_argument(
        "--big-rows", type=int, default=500000, help="rows of the larger dataset pushed and pulled"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="stack-bench-") as tmp_s:
        tmp = Path(tmp_s)
        stack = Stack.on_free_ports(tmp / "state")
        try:
            up_s, up = timed(stack.up, timeout=600)
            if up.returncode != 0:
                raise RuntimeError(up.stderr)
            stack.env = parse_env(stack.sh("env").stdout)
            starts = {}
            for line in up.stderr.splitlines():
                m = re.search(
                    r"\[stack\] (ceph-mon|ceph-osd\.\d+|radosgw|PostgreSQL|mlflow server) up .*\(([\d.]+) s\)",
                    line,
                )
                if m:
                    starts[m.group(1).split(".")[0]] = float(m.group(2))
            g = groups(stack)
            print(
                f"Stack start-up from nothing (first `up`, incl. creating keys, cluster, user, bucket, database): {up_s:.1f} s"
            )
            print(f"\n{'component':<15} {'start s':>8} {'RSS MiB':>8} {'procs':>6}")
            total = 0.0
            for key, label in COMPONENTS.items():
                pids = members(g[key], children=key == "pg")
                rss = rss_mib(pids)
                total += rss
                start = starts.get(
                    {
                        "mon": "ceph-mon",
                        "osd": "ceph-osd",
                        "rgw": "radosgw",
                        "pg": "PostgreSQL",
                        "mlflow": "mlflow server",
                    }[key]
                )
                print(
                    f"{label:<15} {start if start is not None else float('nan'):>8.1f} {rss:>8.0f} {len(pids):>6}"
                )
            print(f"{'all':<15} {'':>8} {total:>8.0f}")
            every_pid = [p for key, pgid in g.items() for p in members(pgid, children=key == "pg")]
            c0 = cpu_ticks(every_pid)
            time.sleep(10)
            idle = (cpu_ticks(every_pid) - c0) / os.sysconf("SC_CLK_TCK") / 10 * 100
            print(f"Idle CPU of the whole stack over 10 s: {idle:.1f} % of one core")

            # Retrain: the committed 20,000 rows, params.yaml as committed, both stores, interleaved.
            repo = make_repo(tmp / "repo", rows=0, epochs=None)
            server_env = sidecar_env(repo, stack)
            local_env = {k: v for k, v in server_env.items() if k != "MLFLOW_TRACKING_URI"}
            times: dict[str, list[float]] = {"embedded file store": [], "server": []}
            notes: dict[str, str] = {}
            for _ in range(args.reps):
                for name, e in (("embedded file store", local_env), ("server", server_env)):
                    wall, note = retrain(repo, e)
                    times[name].append(wall)
                    notes[name] = note
            print(
                f"\nRetrain on 20,000 rows (median of {args.reps}, interleaved; wall time of the whole command):"
            )
            med = {k: statistics.median(v) for k, v in times.items()}
            for name, vals in times.items():
                print(f"  {name:<20} {med[name]:6.1f} s  (runs: {', '.join(f'{v:.1f}' for v in vals)})")
                print(f"  {'':<20} last run: {notes[name]}")
            print(f"  server / embedded: {med['server'] / med['embedded file store']:.2f}")

            # DVC push/pull through S3: the committed dataset, then a larger one.
            repo.env = server_env
            point_dvc_at(repo, stack)
            print("\nDVC through the S3 remote (push from the copy; pull into a fresh git clone):")
            for label, rows in (("committed 20,000 rows", 0), (f"{args.big_rows:,} rows", args.big_rows)):
                if rows:
                    simulate(rows, 11).to_csv(repo.data, index=False)
                    r = repo.dvc("add", "-q", "data/matchmaking_dataset.csv")
                    assert r.returncode == 0, r.stderr
                    repo.run("git", "add", "-A")
                    repo.run("git", "-c", "user.email=b@e", "-c", "user.name=b", "commit", "-q", "-m", "big")
                size = repo.data.stat().st_size / 1e6
                push_s, r = timed(repo.dvc, "push", "-r", "s3remote", "data/matchmaking_dataset.csv.dvc")
                assert r.returncode == 0, r.stderr
                clone = tmp / f"clone-{rows}"
                subprocess.run(["git", "clone", "-q", str(repo.root), str(clone)], check=True)
                c = Repo(clone, {**server_env, "PYTHONPATH": str(clone)})
                point_dvc_at(c, stack)
                pull_s, r = timed(c.dvc, "pull", "-r", "s3remote", "data/matchmaking_dataset.csv.dvc")
                assert r.returncode == 0, r.stderr
                print(f"  {label:<22} {size:6.1f} MB   push {push_s:5.1f} s   pull {pull_s:5.1f} s")
        finally:
            down_s, down = timed(stack.sh, "purge", timeout=300)
            print(f"\nStack down and purged: {down_s:.1f} s (exit {down.returncode})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
