"""Mark a DVC stage as run in this workspace: ``mlops/tracking/stage_<stage>.done``.

The mark is each stage's only DVC output, and it holds the same bytes on every run, so the
committed ``mlops/dvc.lock`` stays as it is while a fresh clone (which has no marks) runs every
stage for real; the stage's results (metrics, plots, reports, MLflow runs) are this workspace's
and are declared at the bottom of ``dvc.yaml``. Run by ``dvc repro`` after the stage's command
succeeded. Exit 0 written, 2 unknown stage.
"""

from __future__ import annotations

import argparse
import sys

import yaml

from ml_model.common import atomic_write_text
from mlops.paths import MLOPS_DIR, stage_mark


def main(argv: list[str] | None = None) -> int:
    """Write the stage's mark; refuse a name dvc.yaml does not have."""
    parser = argparse.ArgumentParser(description="Mark a DVC stage as run in this workspace.")
    parser.add_argument("stage", help="the stage's name in mlops/dvc.yaml")
    args = parser.parse_args(argv)
    stages = yaml.safe_load((MLOPS_DIR / "dvc.yaml").read_text())["stages"]
    if args.stage not in stages:
        print(f"stage_done.py: mlops/dvc.yaml has no stage {args.stage!r}", file=sys.stderr)
        return 2
    atomic_write_text(stage_mark(args.stage), f"{args.stage}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
