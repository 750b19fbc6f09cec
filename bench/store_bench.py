"""Shipping to the log store, and reading a day back: speed and peak memory.

Writes a month of rotated prediction-log files with the service's own line format
(``format_line``): ``--days`` files, one per UTC day, of ``--rows`` scored instances each (/rank
lines of 50 lawyers with integer ids, a /predict line every 20 requests). Each measurement runs in
a fresh interpreter and reports its peak RSS (``getrusage``), so one does not inherit another's heap:

- ``ship``: ``logstore.ship.ship`` of every file into an empty store (a folder, or ``--s3 URI``):
  rows/s, seconds per day, peak RSS; against ``read``, the reader alone (``scan_prediction_logs``,
  file by file) on the same files in the same run: the ratio is what shipping adds to reading;
- ``read_day``: ``LogStore.read_day`` of one day (best of 5, after one warm-up), against reading
  that day's JSONL file with the reader: the ratio is what the store saves a daily monitor.

Run: nice .venv/bin/python bench/store_bench.py [--days 30 --rows 50000]
     .venv/bin/python bench/store_bench.py --s3 s3://legalaid/bench-store   # with the stack's env
(``eval "$(mlops/infra/stack.sh env)"`` gives AWS_* and MLFLOW_S3_ENDPOINT_URL; the prefix is
emptied first.)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
LAWYERS = 50

CHILD = r"""
import json, resource, sys, time
from datetime import date
from pathlib import Path
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
kind, log, store_uri = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
from ml_model.prediction_log_reader import log_files, scan_prediction_logs
from logstore.store import LogStore
out = {}
if kind == "ship":
    from logstore.ship import ship
    t = time.perf_counter()
    result = ship(log, LogStore.open(store_uri), "bench", rotate=False)
    out = {"seconds": time.perf_counter() - t, "rows": result.rows_shipped, "files": result.files_shipped}
elif kind == "read":
    t = time.perf_counter()
    rows = 0
    for f in [f for f in log_files(log) if f != log]:
        rows += len(scan_prediction_logs([f])[0])
    out = {"seconds": time.perf_counter() - t, "rows": rows}
elif kind == "read_day":
    store = LogStore.open(store_uri)
    day = date.fromisoformat(sys.argv[4])
    store.read_day(day)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        rows = len(store.read_day(day))
        times.append(time.perf_counter() - t)
    jsonl = log.with_name(log.name + "." + sys.argv[5])
    scan_prediction_logs([jsonl])
    base = []
    for _ in range(3):
        t = time.perf_counter()
        scan_prediction_logs([jsonl])
        base.append(time.perf_counter() - t)
    out = {"seconds": min(times), "rows": rows, "jsonl_seconds": min(base)}
out["peak_mib"] = peak()
print(json.dumps(out))
"""


def write_month(path: Path, days: int, rows: int, seed: int = 3) -> list[str]:
    """``days`` rotated files ``path.days`` (oldest) .. ``path.1``; their days, oldest first."""
    from ml_model.prediction_log import LogEntry, format_line
    from ml_model.schema import FEATURES
    from mlops.sidecar.simulator import simulate

    rng = np.random.default_rng(seed)
    pool = simulate(5000, seed)
    cols_pool = {c: pool[c].to_numpy() for c in FEATURES}
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    first = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for d in range(days):
        start = (first + timedelta(days=d)).timestamp()
        lines, done, i = [], 0, 0
        while done < rows:
            rank = i % 20 != 19
            n = min(LAWYERS if rank else 1, rows - done)
            pick = rng.integers(0, len(pool), n)
            cols = {c: v[pick] for c, v in cols_pool.items()}
            ids = [int(x) for x in rng.choice(10**6, n, replace=False)] if rank else None
            when = start + 86000 * done / rows
            lines.append(
                format_line(LogEntry("v1", when, cols, list(rng.random(n)), f"{d:08x}{i:024x}", ids))
            )
            done, i = done + n, i + 1
        target = path.with_name(f"{path.name}.{days - d}")
        target.write_bytes(b"".join(lines))
        target.chmod(0o600)
        out.append((first + timedelta(days=d)).date().isoformat())
    return out


def child(kind: str, log: Path, store: str, *extra: str) -> dict:
    r = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(log), store, *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if r.returncode:
        raise SystemExit(f"{kind} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def empty_s3(uri: str) -> None:
    """Remove the bench's prefix from the bucket, so every run ships into an empty store."""
    from logstore.backend import Backend

    backend = Backend.open(uri)
    for name in ("predictions", "hosts", "outcomes"):
        backend.delete_tree(name)


def main() -> None:
    """Write the month, ship it, read it; print the numbers and the ratios as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows", type=int, default=50_000, help="scored instances per day")
    parser.add_argument("--s3", metavar="URI", help="ship into s3://bucket/prefix instead of a folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
        log = Path(tmp) / "logs" / "predictions.jsonl"
        days = write_month(log, args.days, args.rows)
        size = sum(f.stat().st_size for f in log.parent.iterdir())
        store = args.s3 or str(Path(tmp) / "logs" / "store")
        if args.s3:
            empty_s3(args.s3)
        read = child("read", log, store)
        shipped = child("ship", log, store)
        middle = len(days) // 2
        day = child("read_day", log, store, days[middle], str(args.days - middle))
        if not args.s3:
            stored = sum(p.stat().st_size for p in (Path(store) / "predictions").rglob("*.parquet"))
        else:
            stored = None
    print(
        json.dumps(
            {
                "store": "s3" if args.s3 else "folder",
                "days": args.days,
                "rows_per_day": args.rows,
                "log_mib": round(size / 2**20, 1),
                "store_mib": None if stored is None else round(stored / 2**20, 1),
                "ship": {
                    "seconds": round(shipped["seconds"], 2),
                    "rows_per_s": round(shipped["rows"] / shipped["seconds"]),
                    "seconds_per_day": round(shipped["seconds"] / args.days, 3),
                    "peak_rss_mib": round(shipped["peak_mib"]),
                    "rows": shipped["rows"],
                },
                "read_baseline": {
                    "seconds": round(read["seconds"], 2),
                    "peak_rss_mib": round(read["peak_mib"]),
                },
                "ship_over_read": round(shipped["seconds"] / read["seconds"], 2),
                "read_day": {
                    "seconds": round(day["seconds"], 4),
                    "rows": day["rows"],
                    "jsonl_seconds": round(day["jsonl_seconds"], 3),
                    "store_speedup": round(day["jsonl_seconds"] / day["seconds"], 1),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
