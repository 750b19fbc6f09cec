"""What the signature check costs at service start and per request.

Each round starts two fresh interpreters (as a worker boots) that load production the service's
way, ``load_model(ml_model/)``: one as it is, one with ``verify_signature`` replaced by a no-op
(the baseline: manifest, hashes, safe unpickling, h5 weights). Both time only the load, after the
imports the service has anyway (NumPy, scikit-learn, h5py); the signed load also pays for importing
``cryptography``. Rounds alternate, in one session. Per request the cost is nothing by design: the
check runs at load and reload, never in a request; the last line shows the check's own time warm.

Run: .venv/bin/python bench/signature_bench.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

CHILD = """
import sys, time
import numpy, sklearn.preprocessing, h5py  # the service imports these before it loads a model
from ml_model import artifacts
from ml_model.paths import ML_MODEL_DIR
if sys.argv[1] == "unsigned":
    artifacts.verify_signature = lambda folder, manifest: None
t = time.perf_counter()
artifacts.load_model(ML_MODEL_DIR)
print(f"{(time.perf_counter() - t) * 1000:.3f}")
"""


def load_ms(kind: str) -> float:
    """One fresh interpreter's model load, in ms."""
    out = subprocess.run([sys.executable, "-c", CHILD, kind], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def warm_check_ms(repeats: int = 200) -> float:
    """The check alone in a warm process (a reload): read the keys, verify one signature."""
    from ml_model.artifacts import read_manifest
    from ml_model.paths import ML_MODEL_DIR
    from ml_model.signing import verify_signature

    manifest = read_manifest(ML_MODEL_DIR)
    verify_signature(ML_MODEL_DIR, manifest)
    t = time.perf_counter()
    for _ in range(repeats):
        verify_signature(ML_MODEL_DIR, manifest)
    return (time.perf_counter() - t) * 1000 / repeats


def main() -> int:
    """Alternate signed and unsigned loads; print medians and the difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    signed, unsigned = [], []
    for i in range(args.rounds):
        for kind in ("signed", "unsigned") if i % 2 else ("unsigned", "signed"):
            (signed if kind == "signed" else unsigned).append(load_ms(kind))
        print(f"round {i + 1}/{args.rounds}", file=sys.stderr, flush=True)
    s, u = statistics.median(signed), statistics.median(unsigned)
    print(f"model load at start, median of {args.rounds} fresh interpreters:")
    print(f"  without the signature check: {u:7.1f} ms")
    print(f"  with the signature check:    {s:7.1f} ms  (+{s - u:.1f} ms, {s / u:.2f}x)")
    print(f"the check alone, warm (a reload): {warm_check_ms():.3f} ms; per request: not called")
    return 0


if __name__ == "__main__":
    sys.exit(main())
