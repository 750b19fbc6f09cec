"""The daily monitor at scale: 30 days x 50,000 served pairs a day (1.5 M rows), through the real
commands in a temporary copy of the repository.

simulate_history.py writes the rotated log files and the outcome exports; ship_logs.py ships them
(timed, peak memory); then monitor_model.py --daily: 29 days from an empty history, then the one
new day 30 (the daily case), then ``--backfill 30`` over a 30-day history, and ``--backfill 10``
as the baseline the per-day cost is compared with (same session). Peak memory is each command's
own (``/usr/bin/time``). ``--s3`` does the same against a scale-out stack of its own (Ceph
radosgw for the store, the MLflow server for the history), brought down at the end.

Targets (issue 21): one new day <= 15 s, the 30-day backfill <= 5 min, peak memory <= 2 GB, cost
linear in days, not in history.

Run: .venv/bin/python bench/daily_bench.py [--days 30] [--pairs 50000] [--s3]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

from tests.support.repo import make_repo

END = date(2026, 11, 30)


def timed(env: dict[str, str], cwd: Path, *cmd: str) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) of the command itself, and its log."""
    t0 = time.perf_counter()
    r = subprocess.run(
        ["/usr/bin/time", "-f", "PEAK_KB=%M", *cmd],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    wall = time.perf_counter() - t0
    if r.returncode not in (0, 3, 4):
        raise RuntimeError(f"{cmd[1]} failed ({r.returncode}): {r.stderr[-3000:]}")
    peak = int(re.findall(r"PEAK_KB=(\d+)", r.stderr)[-1]) / 1024
    return wall, peak, r.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--pairs", type=int, default=50000, help="served pairs a day")
    parser.add_argument(
        "--s3", action="store_true", help="against a stack of its own (S3 store, MLflow server)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack_down:
        repo = make_repo(Path(tmp) / "repo", rows=0, epochs=None)
        env, store = dict(repo.env), str(repo.root / "prod" / "store")
        where = "a folder store and the MLflow file store"
        if args.s3:
            from tests.support.stack import Stack, sidecar_env

            stack = Stack.on_free_ports(Path(tmp) / "state")
            stack.up()
            stack_down.callback(lambda: stack.sh("down"))
            env = sidecar_env(repo, stack)
            env["AWS_ENDPOINT_URL"] = env["MLFLOW_S3_ENDPOINT_URL"]
            store = f"s3://{stack.bucket}/logstore-bench"
            where = "the stack's S3 (radosgw) store and its MLflow server"
        py, root = sys.executable, repo.root
        log, exports = root / "prod" / "logs" / "predictions.jsonl", root / "prod" / "exports"
        t0 = time.perf_counter()
        subprocess.run(
            [py, str(root / "mlops/scripts/simulate_history.py"), "--log", str(log), "--outcomes-dir", str(exports),
             "--end", str(END), "--days", str(args.days), "--drift", "prices", "--drift-from", str(args.days - 5),
             "--pairs-per-day", str(args.pairs), "--lawyers", "10", "--label-share", "0.1", "--label-delay-days", "3"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        print(
            f"Simulated {args.days} days x {args.pairs:,} pairs in {time.perf_counter() - t0:.0f} s.",
            flush=True,
        )
        outcomes = [a for f in sorted(exports.iterdir()) for a in ("--outcomes", str(f))]
        ship_env = {**env, "PREDICTION_LOG": str(log)}
        wall, peak, _ = timed(
            ship_env,
            root,
            py,
            str(root / "scripts/ship_logs.py"),
            "--store",
            store,
            "--host",
            "bench",
            *outcomes,
        )
        rows = args.days * args.pairs
        print(
            f"ship_logs.py: {rows:,} rows in {wall:.1f} s ({rows / wall:,.0f} rows/s), peak {peak:.0f} MiB",
            flush=True,
        )

        def daily(as_of_day: int, *extra: str) -> tuple[float, float, str]:
            as_of = END + timedelta(days=as_of_day - args.days)
            cmd = [
                py,
                str(root / "mlops/scripts/monitor_model.py"),
                "--store",
                store,
                "--daily",
                "--as-of",
                str(as_of),
            ]
            return timed(env, root, *cmd, "--workspace", str(root / "mlops/workspace"), *extra)

        results = {}
        results["first"] = daily(
            args.days,
        )  # days 1..N-1 (as of day N's midnight: day N not complete)
        results["one"] = daily(args.days + 1)  # the one new day N
        results["back10"] = daily(args.days + 1, "--backfill", "10")
        results["back30"] = daily(args.days + 1, "--backfill", str(args.days))
        n_first = args.days - 1
        print(f"\nDaily monitor on {where} ({args.pairs:,} pairs a day):")
        print("| run | days | wall | per day | peak memory |\n|---|---:|---:|---:|---:|")
        for name, days in (("first", n_first), ("one", 1), ("back10", 10), ("back30", args.days)):
            wall, peak, _ = results[name]
            label = {"first": f"{n_first} days, empty history", "one": f"1 new day, {n_first}-day history",
                     "back10": "--backfill 10 (baseline)", "back30": f"--backfill {args.days}"}[name]  # fmt: skip
            print(f"| {label} | {days} | {wall:.1f} s | {wall / days:.2f} s | {peak:.0f} MiB |")
        per10 = results["back10"][0] / 10
        per30 = results["back30"][0] / args.days
        print(
            f"\nper-day cost, backfill {args.days} / backfill 10: {per30 / per10:.2f} (1.0 = linear in days)"
        )
        for name in ("one", "back30"):
            found = re.findall(r"finished: (.*)\.$", results[name][2], re.M)
            print(f"{name}: {found[-1] if found else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
