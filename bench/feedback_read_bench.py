"""Peak memory of reading the prediction log: the streamed, typed reader against the old one.

Writes a synthetic window with the real writer (``PredictionLog``, so the real line format and
the real rotation): /rank lines of 50 lawyers with the backend's integer ids, and a /predict line
(one instance, no ids) every 20 requests. Each measurement runs in a fresh interpreter and reports
its peak RSS (``getrusage``), so one does not inherit the other's heap:

- ``old``: the reader before the change (``git show <rev>:ml_model/prediction_log_reader.py``),
  on the small window only (it needs about 14 times the file's size);
- ``new``: ``read_prediction_log`` on the same small window (the ratio), then on the big window;
- ``collect``: ``feedback.collect`` (read, join, validate, write) on the big window, with
  outcomes for 2 % of the served pairs;
- ``monitor``: the monitor's ``load_current`` (read, one pair per request) on the big window
  (its rows are the requests, not the instances), against ``monitor_old``: the same function
  before it picked the rows with numpy (``git show <rev>:mlops/sidecar/monitor_inputs.py``), in
  the same run.

Run: .venv/bin/python bench/feedback_read_bench.py [--small-mib 100] [--files 6 --file-mib 100]
     [--steps reader,collect,monitor]
The default big window is the service's default: 6 files of 100 MiB (the log and 5 rotated).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BASELINE_REV = "3c7efd0"  # main before the streamed reader
MONITOR_BASELINE_REV = "ceeb696"  # main before load_current picked its rows with numpy
STEPS = ("reader", "collect", "monitor")
MIB = 1024 * 1024

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[4])
def peak() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
kind, log, extra = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
if kind == "old":
    import importlib.util
    spec = importlib.util.spec_from_file_location("old_reader", extra)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    read = module.read_prediction_log
elif kind == "new":
    from ml_model.prediction_log import read_prediction_log as read
elif kind in ("monitor", "monitor_old"):
    if kind == "monitor_old":
        import importlib.util
        spec = importlib.util.spec_from_file_location("old_monitor_inputs", extra)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
        load_current = module.load_current
    else:
        from mlops.sidecar.monitor_inputs import load_current
    read = lambda path: load_current(path)[0]
else:
    from mlops.sidecar.feedback import collect
before = peak()
t = time.perf_counter()
if kind == "collect":
    report = collect([log], Path(extra), log.parent / "feedback.csv")
    rows = report.rows_written
else:
    frame = read(log)
    rows = len(frame)
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - t, "before_mib": before, "peak_mib": peak()}))
"""


def write_window(path: Path, files: int, file_mib: int, seed: int) -> tuple[int, list[dict]]:
    """A window of ``files`` files of ``file_mib`` MiB, written by the real writer; returns its
    size in bytes and outcomes for 2 % of its served pairs."""
    from ml_model.prediction_log import LogEntry, PredictionLog
    from ml_model.prediction_log_reader import log_files
    from ml_model.schema import CASE_FIELDS, FEATURES
    from mlops.sidecar.simulator import simulate

    pool = simulate(20_000, seed)
    columns = {c: pool[c].to_numpy() for c in FEATURES}
    case = [f.name for f in CASE_FIELDS]
    rng = np.random.default_rng(seed)
    log = PredictionLog(path, max_bytes=file_mib * MIB, keep=files - 1)
    outcomes: list[dict] = []
    target = files * file_mib * MIB - 64 * 1024  # the current file rotates at file_mib: stop just short
    written, i = 0, 0
    while written < target:
        if i % 20 == 0:  # README's curl .../predict: one instance, no lawyer ids
            row = rng.integers(len(pool), size=1)
            cols = {c: v[row] for c, v in columns.items()}
            log.write(LogEntry("v_bench", time.time(), cols, [0.5], uuid.uuid4().hex))
        rows = rng.integers(len(pool), size=50)
        cols = {c: v[rows] for c, v in columns.items()}
        for c in case:
            cols[c] = np.repeat(cols[c][:1], 50)
        ids = rng.choice(5000, size=50, replace=False).tolist()
        pid = uuid.uuid4().hex
        log.write(LogEntry("v_bench", time.time(), cols, rng.random(50).tolist(), pid, ids))
        if i % 50 == 0:
            outcomes += [{"match_id": pid, "lawyer_id": lw, "outcome": "engaged"} for lw in ids[:1]]
            outcomes += [{"match_id": pid, "lawyer_id": lw, "outcome": "declined"} for lw in ids[1:]]
        i += 1
        written = sum(p.stat().st_size for p in log_files(path))
    log.close()
    return written, outcomes


def measure(kind: str, log: Path, extra: str = "") -> dict:
    """One fresh interpreter's result: rows, seconds, and peak RSS in MiB."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(log), extra, str(ROOT)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode:
        return {
            "error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"
        }
    return json.loads(out.stdout.strip().splitlines()[-1])


def show(label: str, size: int, result: dict) -> None:
    if "error" in result:
        print(f"{label:<44} {size / MIB:7.0f} MiB  failed: {result['error']}")
        return
    print(
        f"{label:<44} {size / MIB:7.0f} MiB  {result['rows']:>10,} rows  {result['seconds']:6.1f} s  "
        f"peak RSS {result['peak_mib']:7.0f} MiB (after imports {result['before_mib']:.0f})"
    )


def old_source(rev: str, path: str, out: Path) -> str | None:
    """``path`` as it was at ``rev``, written to ``out``; None when git cannot show it."""
    git = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True, cwd=ROOT)
    if git.returncode:
        return None
    out.write_text(git.stdout)
    return str(out)


def ratio(label: str, old: dict, new: dict) -> None:
    if "error" not in old and "error" not in new:
        print(f"{'':<44} {label}: {old['peak_mib'] / new['peak_mib']:.1f}x")


def main() -> int:
    """Write both windows, measure each reader in its own interpreter, print MiB and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small-mib", type=int, default=100, help="the one-file window for old against new")
    parser.add_argument("--files", type=int, default=6, help="files in the big window")
    parser.add_argument("--file-mib", type=int, default=100, help="size of each file of the big window")
    parser.add_argument("--baseline-rev", default=BASELINE_REV, help="git revision of the old reader")
    parser.add_argument(
        "--monitor-baseline-rev", default=MONITOR_BASELINE_REV, help="git revision of the old load_current"
    )
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help=f"comma-separated, of {', '.join(STEPS)} (default: all)",
    )
    parser.add_argument("--dir", type=Path, help="where to write the logs (default: a temporary folder)")
    args = parser.parse_args()
    steps = set(args.steps.split(","))
    if not steps or steps - set(STEPS):
        parser.error(f"--steps: unknown step(s) {sorted(steps - set(STEPS))}; choose from {', '.join(STEPS)}")
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmp_path = Path(tmp)
        small, big = tmp_path / "small" / "predictions.jsonl", tmp_path / "big" / "predictions.jsonl"
        t = time.perf_counter()
        small_size = write_window(small, 1, args.small_mib, 1)[0] if "reader" in steps else 0
        big_size, outcomes = write_window(big, args.files, args.file_mib, 2)
        outcome_file = tmp_path / "outcomes.jsonl"
        outcome_file.write_text("".join(json.dumps(o) + "\n" for o in outcomes))
        print(f"wrote the windows in {time.perf_counter() - t:.0f} s; {len(outcomes):,} outcomes\n")
        limit, results = 2048, {}
        if "reader" in steps:
            source = old_source(
                args.baseline_rev, "ml_model/prediction_log_reader.py", tmp_path / "old_reader.py"
            )
            old = (
                measure("old", small, source) if source else {"error": f"git show {args.baseline_rev} failed"}
            )
            new_small = measure("new", small)
            show(f"old reader ({args.baseline_rev}), 1 file", small_size, old)
            show("new reader, 1 file", small_size, new_small)
            ratio("peak RSS old / new", old, new_small)
            results["reader"] = measure("new", big)
            show(f"new reader, {args.files} files (the window)", big_size, results["reader"])
        if "collect" in steps:
            results["collect"] = measure("collect", big, str(outcome_file))
            show(f"collect_feedback's join, {args.files} files", big_size, results["collect"])
        if "monitor" in steps:
            rev = args.monitor_baseline_rev
            source = old_source(rev, "mlops/sidecar/monitor_inputs.py", tmp_path / "old_monitor_inputs.py")
            old = measure("monitor_old", big, source) if source else {"error": f"git show {rev} failed"}
            show(f"load_current before ({rev}), {args.files} files", big_size, old)
            results["monitor"] = measure("monitor", big)
            show(f"the monitor's load_current, {args.files} files", big_size, results["monitor"])
            ratio("peak RSS before / now", old, results["monitor"])
        for label, result in results.items():
            if "error" not in result:
                verdict = "under" if result["peak_mib"] < limit else "OVER"
                print(
                    f"{label}: peak {result['peak_mib']:.0f} MiB on {big_size / MIB:.0f} MiB, {verdict} {limit} MiB"
                )
    return 0


if __name__ == "__main__":
    os.nice(5)
    sys.exit(main())
