"""Wall time of the MLOps pipeline: `dvc repro` on the committed 20,000 rows, then retrain and
monitor at 20k, 100k and 500k rows, each the real command in a temporary copy of the repository.
The 20k run is the baseline the larger ones are compared with (same session).

Run: .venv/bin/python bench/pipeline_bench.py [--sizes 20000 100000 500000]
"""

from __future__ import annotations

import argparse
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

from mlops.sidecar.simulator import simulate
from tests.support.repo import Repo, make_repo


def timed(repo: Repo, *args: str) -> tuple[float, str, float]:
    """Wall seconds, the script's own 'where the time goes' line, and the peak RSS (MB) of children."""
    t0 = time.perf_counter()
    r = repo.script(*args, timeout=3600)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {r.stderr[-2000:]}")
    found = re.findall(r"finished: (.*)\.$", r.stderr, re.M)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, (found[-1] if found else ""), peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time dvc repro, retrain and monitor at several data sizes.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000, 100000, 500000])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp) / "repro", rows=0, epochs=None)
        t0 = time.perf_counter()
        r = repo.dvc("repro")
        repro = time.perf_counter() - t0
        if r.returncode != 0:
            raise RuntimeError(r.stdout + r.stderr)
        t0 = time.perf_counter()
        repo.dvc("repro")
        second = time.perf_counter() - t0
        print(
            f"dvc repro on the committed 20,000 rows: {repro:.1f} s (target 45 s); again with nothing changed: {second:.1f} s"
        )
        for line in r.stdout.splitlines() + r.stderr.splitlines():
            if "finished:" in line:
                print("   ", line.split(": ", 1)[1] if ": " in line else line)
        base: dict[str, float] = {}
        print(
            f"\n{'rows':>8} {'retrain s':>10} {'x 20k':>6} {'monitor s':>10} {'x 20k':>6}   where the time goes"
        )
        for n in args.sizes:
            repo = make_repo(Path(tmp) / f"n{n}", rows=2000, epochs=None)
            big = Path(tmp) / f"data_{n}.csv"
            simulate(n, 2026).to_csv(big, index=False)
            cur = Path(tmp) / f"current_{n}.csv"
            simulate(n, 2027, "population").to_csv(cur, index=False)
            rt, rt_where, _ = timed(repo, "retrain_model.py", "--data", str(big))
            mt, mt_where, peak = timed(repo, "monitor_model.py", "--current", str(cur))
            base.setdefault("retrain", rt)
            base.setdefault("monitor", mt)
            print(f"{n:>8} {rt:>10.1f} {rt / base['retrain']:>6.1f} {mt:>10.1f} {mt / base['monitor']:>6.1f}")
            print(f"{'':>8} retrain: {rt_where}")
            print(f"{'':>8} monitor: {mt_where}; peak RSS of any child so far {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
