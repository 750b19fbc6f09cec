"""What the promotion gate decides on an unchanged dataset and on each drift profile.

Each case: 20,000 simulated rows, a real `retrain_model.py` run in a temporary copy of the
repository (candidate and production scored on the same held-out rows of that data).

Run: .venv/bin/python bench/gate_on_drift.py [--rows 20000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from mlops.sidecar.simulator import DRIFT_PROFILES, simulate
from tests.support.repo import make_repo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the retrain gate on unchanged and drifted data.")
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args(argv)
    print(f"{'data':<12}{'candidate AUC':>14}{'production AUC':>16}  decision: reason")
    with tempfile.TemporaryDirectory() as tmp:
        for profile in DRIFT_PROFILES:
            repo = make_repo(Path(tmp) / profile, rows=2000, epochs=None)
            data = Path(tmp) / f"{profile}.csv"
            if profile == "none":
                data = repo.root / "ml_model" / "matchmaking_dataset.csv"  # the unchanged dataset itself
            else:
                simulate(args.rows, 4242, profile).to_csv(data, index=False)
            r = repo.script("retrain_model.py", "--data", str(data))
            if r.returncode != 0:
                print(f"{profile:<12} retrain failed: {r.stderr[-500:]}")
                continue
            rec = json.loads((repo.root / "mlops" / "tracking" / "last_retrain.json").read_text())
            c, p = rec["candidate"]["roc_auc"], rec["production"]["roc_auc"]
            verdict = "IMPROVED" if rec["decision"]["improved"] else "rejected"
            print(
                f"{'unchanged' if profile == 'none' else profile:<12}{c:>14.4f}{p:>16.4f}  {verdict}: {rec['decision']['reason']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
