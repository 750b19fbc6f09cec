"""The MLOps job's summary: the gate's decision, the metrics, the drift verdict and how to promote.

Appends one Markdown section to ``$GITHUB_STEP_SUMMARY`` (GitHub shows it on the run's page), or
prints it when that is not set, from what the pipeline left in the tracking folder
(``mlops/sidecar/job_summary.py``). With ``--daily``, the scheduled job's section instead: the days
the daily monitor saw in this run, its alert and data alerts, and after a retrain the gate's
decision (``mlops/sidecar/job_summary_daily.py``). Always exits 0: the summary must never fail the
job that it describes.

    python mlops/scripts/job_summary.py                       # in the workflow's pipeline job
    python mlops/scripts/job_summary.py --daily --monitor-exit 3   # in its daily job
    python mlops/scripts/job_summary.py --out -               # locally, to stdout
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from ml_model.common import exit_script, setup_logging
from mlops.paths import DAILY_DIR, DRIFT_LATEST, EVAL_LATEST, LAST_RETRAIN, PARAMS_FILE, TRACKING_DIR
from mlops.sidecar.job_summary import summary_from
from mlops.sidecar.job_summary_daily import DAILY_SUMMARY, daily_summary_from, exit_code_arg

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, write the summary; always exit 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = f"{LAST_RETRAIN.name}, {DRIFT_LATEST.name}, {EVAL_LATEST.name}"
    parser.add_argument(
        "--tracking-dir", type=Path, default=TRACKING_DIR, help=f"folder with {names} (default: %(default)s)"
    )
    parser.add_argument(
        "--out",
        default=os.environ.get("GITHUB_STEP_SUMMARY") or "-",
        help="file to append the summary to; '-' for stdout (default: $GITHUB_STEP_SUMMARY, else stdout)",
    )
    daily = parser.add_argument_group("the scheduled job (the daily monitor)")
    daily.add_argument(
        "--daily", action="store_true", help="the daily monitor's section instead of the pipeline's"
    )
    daily.add_argument(
        "--daily-dir",
        type=Path,
        default=DAILY_DIR,
        help=f"folder with {DAILY_SUMMARY} (default: %(default)s)",
    )
    daily.add_argument(
        "--monitor-exit",
        type=exit_code_arg,
        default=None,
        help="the monitor's exit code (0, 3 persistent drift, 4 data gap, else failed); empty or "
        "unset: read from the summary",
    )
    daily.add_argument("--params", type=Path, default=PARAMS_FILE, help="params.yaml (the rule's settings)")
    args = parser.parse_args(argv)
    setup_logging()
    if args.daily:
        text = daily_summary_from(args.daily_dir, args.tracking_dir, args.params, args.monitor_exit)
    else:
        text = summary_from(args.tracking_dir)
    if args.out == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return 0
    try:
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:  # the summary must not fail the job: say so, and show it in the log
        log.warning("cannot write the summary to %s (%s); here it is:", args.out, exc)
        sys.stdout.write(text)
        return 0
    log.info("Job summary appended to %s.", args.out)
    return 0


if __name__ == "__main__":
    exit_script(main())
