"""Build a labelled data version from production: scored pairs joined with their recorded outcomes.

The features are exactly what the service was served (its prediction log), ``match`` is the
outcome an intake worker recorded (the backend's export); pairs without an outcome are left out,
never invented as negatives. Prints what it found as JSON, ``labels`` first ("k joined of N").
When outcomes exist but none joins a served pair it warns and writes nothing; ``--strict`` then
exits 1. Exits 2 on bad input. The logic is ``mlops/sidecar/feedback.py``. Next: ``dvc add`` the
file, ``dvc push``, commit the ``.dvc`` file.

Two sources: ``--predictions LOG --outcomes EXPORT`` (a host's own files), or ``--store URI``: the
log store the shippers fill (``scripts/ship_logs.py``), with the outcome exports put into it
(``ship_logs.py --outcomes``); the scheduled workflow builds its data version this way.
"""

from __future__ import annotations

import argparse
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from ml_model.common import exit_script, setup_logging
from mlops.paths import DATASET
from mlops.scripts.utils import run_cli, script_parser
from mlops.sidecar.feedback import FeedbackReport, collect
from mlops.sidecar.feedback_store import collect_from_store

log = logging.getLogger(__name__)


def _time(text: str) -> datetime:
    """An ISO time; without a zone it is UTC."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _days(text: str) -> float:
    """A number of days, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise argparse.ArgumentTypeError(f"must be a number of days, 0 or more, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run; exit 2 on bad input, with the file and line or field named; 1 with
    ``--strict`` when outcomes exist but none joins."""
    parser = script_parser(__doc__, data=False, params_help=None)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--predictions", type=Path, nargs="+", help="prediction log(s) (.jsonl), with --outcomes"
    )
    source.add_argument(
        "--store", help="the log store (a folder or s3://bucket/prefix): its pairs and its outcome exports"
    )
    parser.add_argument("--outcomes", type=Path, help="the backend's export (JSON Lines), with --predictions")
    parser.add_argument("--out", type=Path, default=DATASET, help="the labelled CSV to write")
    parser.add_argument("--since", type=_time, help="only pairs served at or after this ISO time")
    parser.add_argument(
        "--min-age-days", type=_days, default=0.0, help="only pairs served at least this long ago"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when outcomes exist but none joins a served pair"
    )
    args = parser.parse_args(argv)
    if args.predictions and not args.outcomes:
        parser.error("--predictions needs --outcomes (the backend's export)")
    if args.store and args.outcomes:
        parser.error("--store reads the outcome exports put into the store (ship_logs.py --outcomes)")
    setup_logging()
    if args.store:
        code, report = run_cli(
            "collect feedback", _from_store, args.store, args.out, args.since, args.min_age_days
        )
    else:
        run = (args.predictions, args.outcomes, args.out, args.since, args.min_age_days)
        code, report = run_cli("collect feedback", collect, *run)
    if report:
        print(json.dumps(report.as_dict(), indent=2))
        if args.strict and report.nothing_joined:
            log.error("--strict: labels %s; exiting 1.", report.labels()["summary"])
            return 1
    return code


def _from_store(uri: str, out: Path, since: datetime | None, min_age_days: float) -> FeedbackReport:
    from logstore.store import LogStore

    return collect_from_store(LogStore.open(uri), out, since, min_age_days)


if __name__ == "__main__":
    exit_script(main())
