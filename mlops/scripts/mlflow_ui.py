"""MLflow's UI over the sidecar's store, opening where a reviewer looks: ``make mlflow-ui``.

Prints the address of the experiment's runs in the review view (decision, verdict, reason, ROC
AUC and NDCG@10 of candidate and production; see ``mlflow_setup.REVIEW_COLUMNS``), then runs
``mlflow ui`` on 127.0.0.1 in the foreground. ``--url-only`` prints the address and exits.
The store is ``--store`` (default ``mlops/tracking``, the spec's file store).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mlops.mlflow_setup import review_url
from mlops.paths import EXPERIMENT_NAME, TRACKING_DIR


def experiment_id(store: Path) -> str | None:
    """Our experiment's id in the file store, None before the first run (read without MLflow: fast)."""
    for meta in store.glob("*/meta.yaml"):
        lines = dict(line.split(": ", 1) for line in meta.read_text().splitlines() if ": " in line)
        if lines.get("name", "").strip().strip("'\"") == EXPERIMENT_NAME:
            return lines.get("experiment_id", "").strip().strip("'\"") or None
    return None


def main(argv: list[str] | None = None) -> int:
    """Print the review address, then run the UI (or only print with --url-only)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, default=TRACKING_DIR, help="the MLflow file store")
    parser.add_argument("--port", type=int, default=5001, help="the UI's port on 127.0.0.1")
    parser.add_argument("--url-only", action="store_true", help="print the address and exit")
    args = parser.parse_args(argv)
    store = args.store.resolve()
    url = review_url(f"http://127.0.0.1:{args.port}", experiment_id(store))
    print(f"MLflow UI: {url}", flush=True)
    if args.url_only:
        return 0
    mlflow = str(Path(sys.executable).parent / "mlflow")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # the spec's store is a file store (mlflow_setup.py)
    cmd = [
        mlflow,
        "ui",
        "--backend-store-uri",
        store.as_uri(),
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
    ]
    os.execv(mlflow, cmd)


if __name__ == "__main__":
    sys.exit(main())
