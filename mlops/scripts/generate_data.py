"""A seeded simulator of the LegalAid Connect world: (client case, lawyer) pairs and their outcome.

Writes a CSV of the data contract (atomically); ``--with-truth`` adds ``match_probability``, the
true probability each label was drawn from, so anyone can compute the Bayes-optimal ROC AUC. The
simulator and its documented ground truth are ``mlops/sidecar/simulator.py``. Exit 2 on bad
arguments.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ml_model.common import atomic_write_csv, exit_script, setup_logging
from mlops.sidecar.simulator import DRIFT_PROFILES, bayes_auc, simulate

log = logging.getLogger(__name__)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line: how many rows, which seed, where, and which world."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True, help="number of (case, lawyer) pairs")
    parser.add_argument("--seed", type=int, required=True, help="random seed; same seed, same file")
    parser.add_argument("--out", type=Path, required=True, help="CSV file to write (atomically)")
    parser.add_argument("--drift", choices=DRIFT_PROFILES, default="none", help="drift profile")
    parser.add_argument("--with-truth", action="store_true", help="add the true match_probability column")
    parser.add_argument(
        "--balanced",
        action="store_true",
        help="case types and languages in equal shares (equity evaluation set)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, simulate, write the CSV atomically; exit 2 on bad arguments."""
    args = parse(argv)
    setup_logging()
    try:
        df = simulate(args.rows, args.seed, args.drift, with_truth=True, balanced=args.balanced)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    msg = f"Simulated {len(df)} rows (seed {args.seed}, drift {args.drift}): positive rate {df['match'].mean():.3f}"
    if len(df) >= 100 and df["match"].nunique() == 2:
        msg += f", Bayes-optimal ROC AUC {bayes_auc(df):.4f}"
    log.info("%s.", msg)
    if not args.with_truth:
        df = df.drop(columns=["match_probability"])
    atomic_write_csv(df, args.out)
    log.info("Wrote %s.", args.out)
    return 0


if __name__ == "__main__":
    exit_script(main())
