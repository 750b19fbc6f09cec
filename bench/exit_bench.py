"""Interpreter shutdown after a monitor run: plain ``sys.exit`` against ``exit_script``.

Scripts that import TensorFlow or Evidently used to spend 2-3 s after their work was done in
CPython's final garbage collections. Each run is the real monitor (100,000 current rows) in a
child process of a temporary copy of the repository; the child stamps the time when its work is
done and the parent stamps the time the child is gone. Both exits run interleaved in one session.

Run: .venv/bin/python bench/exit_bench.py [--rows 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlops.sidecar.simulator import simulate
from tests.support.repo import make_repo

CHILD = """
import sys, time
from mlops.scripts import monitor_model
from ml_model.common import exit_script
code = monitor_model.main(["--current", sys.argv[2]])
print(f"WORK_DONE {time.time():.6f}", file=sys.stderr, flush=True)
exit_script(code) if sys.argv[1] == "exit_script" else sys.exit(code)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time interpreter shutdown with and without gc.freeze.")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp) / "repo", rows=2000, epochs=None)
        current = Path(tmp) / "current.csv"
        simulate(args.rows, 2027, "population").to_csv(current, index=False)
        exits: dict[str, list[float]] = {"sys.exit": [], "exit_script": []}
        walls: dict[str, list[float]] = {"sys.exit": [], "exit_script": []}
        for i in range(args.repeats):
            for mode in exits:
                t0 = time.time()
                r = subprocess.run(
                    [sys.executable, "-c", CHILD, mode, str(current)],
                    cwd=repo.root,
                    env=repo.env,
                    capture_output=True,
                    text=True,
                )
                end = time.time()
                if r.returncode != 0:
                    raise RuntimeError(f"monitor failed: {r.stderr[-2000:]}")
                done = float(r.stderr.split("WORK_DONE ")[1].split()[0])
                exits[mode].append(end - done)
                walls[mode].append(end - t0)
                print(f"run {i + 1} {mode:>12}: wall {end - t0:5.2f} s, exit {end - done:5.2f} s", flush=True)
    base, new = statistics.median(exits["sys.exit"]), statistics.median(exits["exit_script"])
    wall_base, wall_new = statistics.median(walls["sys.exit"]), statistics.median(walls["exit_script"])
    print(f"\nmedian exit: sys.exit {base:.2f} s, exit_script {new:.2f} s, ratio {base / new:.1f}x")
    print(
        f"median wall: sys.exit {wall_base:.2f} s, exit_script {wall_new:.2f} s, saved {wall_base - wall_new:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
