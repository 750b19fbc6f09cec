"""Simulate a production history: one rotated prediction-log file per served day, and outcome exports.

For trying and testing the daily monitor through the real commands: ship the files with
``scripts/ship_logs.py`` (``--outcomes`` for each export), then run
``mlops/scripts/monitor_model.py --store ... --daily --as-of ...``. The world, the drift profiles
and the outcomes are ``mlops/sidecar/history_sim.py``'s. Refuses a log path that already holds a
log. Exit 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import logging
from datetime import date
from pathlib import Path

from ml_model.common import exit_script, setup_logging
from mlops.sidecar.history_sim import HistoryPlan, simulate_history
from mlops.sidecar.simulator import DRIFT_PROFILES

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse the plan, write the files; 0 on success, 2 on bad arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--log", type=Path, required=True, help="the prediction log path (its folder must be empty of it)"
    )
    parser.add_argument("--outcomes-dir", type=Path, required=True, help="where the outcome exports go")
    parser.add_argument("--days", type=int, default=20, help="served days (default 20)")
    parser.add_argument(
        "--end", type=date.fromisoformat, required=True, help="the last served day (YYYY-MM-DD)"
    )
    parser.add_argument("--drift", choices=DRIFT_PROFILES, default="none", help="the drift profile")
    parser.add_argument(
        "--drift-from", type=int, default=11, help="the first drifted day, 1-based (default 11)"
    )
    parser.add_argument("--pairs-per-day", type=int, default=4400, help="served pairs a day (default 4400)")
    parser.add_argument("--lawyers", type=int, default=4, help="pairs per logged request (default 4)")
    parser.add_argument("--label-share", type=float, default=0.3, help="share of pairs that get an outcome")
    parser.add_argument("--label-delay-days", type=int, default=14, help="days until an outcome is recorded")
    parser.add_argument("--seed", type=int, default=1, help="random seed; same seed, same history")
    args = parser.parse_args(argv)
    setup_logging()
    plan = HistoryPlan(
        args.days,
        args.end,
        args.drift,
        args.drift_from,
        args.pairs_per_day,
        args.lawyers,
        args.label_share,
        args.label_delay_days,
        args.seed,
    )
    try:
        done = simulate_history(
            plan, args.log, args.outcomes_dir, lambda i, n: log.info("Simulated day %d of %d.", i, n)
        )
    except (ValueError, OSError) as exc:
        log.error("Could not simulate the history: %s", exc)
        return 2
    log.info(
        "Wrote %d days (%d pairs) as rotated files of %s and %d outcome export(s) in %s.",
        done["days"],
        done["pairs"],
        args.log,
        done["outcome_files"],
        args.outcomes_dir,
    )
    return 0


if __name__ == "__main__":
    exit_script(main())
