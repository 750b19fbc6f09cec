"""Ship this host's rotated prediction-log files to the log store: nothing lost, nothing doubled.

    python scripts/ship_logs.py                                   # from cron or a systemd timer
    #   e.g. cron, hourly: 5 * * * *  cd /srv/legalaid && .venv/bin/python scripts/ship_logs.py
    python scripts/ship_logs.py --store s3://legalaid/logs --host web-1
    python scripts/ship_logs.py --outcomes backend/var/exports/outcomes-20261201T000000Z.jsonl

Run it beside the service (not inside a worker), as often as you like; a run just after midnight
(UTC) rotates the live file and ships all of yesterday. The log is ``PREDICTION_LOG``, read as the
service reads it; the store is ``--store``, else ``LOG_STORE``, else ``store/`` beside the log
(a folder, or ``s3://bucket/prefix`` with the usual AWS variables and ``AWS_ENDPOINT_URL`` or
``MLFLOW_S3_ENDPOINT_URL``). Once it has run, the service keeps every rotated file until it is
shipped. How it works: ``logstore/ship.py``. Exit 0 shipped (or nothing to ship), 1 something
could not be shipped (said why; run again: what was shipped stays shipped, nothing is doubled),
2 bad settings or input.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from logstore.backend import StoreError
from logstore.ledger import Busy
from logstore.settings import host_name, prediction_log, store_uri
from logstore.ship import ShipError, ship
from logstore.store import LogStore
from ml_model.common import setup_logging

log = logging.getLogger("ship_logs")


def main(argv: list[str] | None = None) -> int:
    """Parse, ship, put the outcome exports; exit 0/1/2 as the module says."""
    parser = argparse.ArgumentParser(
        description="Ship this host's rotated prediction-log files to the log store (day-partitioned Parquet)."
    )
    parser.add_argument(
        "--store", help="a folder or s3://bucket/prefix (default: LOG_STORE, else store/ beside the log)"
    )
    parser.add_argument(
        "--host", help="this host's name in the store (default: LOG_HOST, else the machine's name)"
    )
    parser.add_argument(
        "--outcomes",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="also put this outcome export (the backend's JSON Lines) into the store; may be repeated",
    )
    parser.add_argument(
        "--no-rotate", action="store_true", help="ship the rotated files only; never rotate the live file"
    )
    args = parser.parse_args(argv)
    setup_logging()
    log_path = prediction_log()
    try:
        host = host_name(given=args.host)
        store = LogStore.open(store_uri(log_path, given=args.store))
        names = [store.put_outcomes(path) for path in args.outcomes]
    except (StoreError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    except OSError as exc:
        log.error("The log store could not be reached: %s", exc)
        return 1
    for path, name in zip(args.outcomes, names, strict=True):
        log.info("Put the outcome export %s into the log store %s as %s.", path, store, name)
    try:
        result = ship(log_path, store, host, rotate=not args.no_rotate)
    except ValueError as exc:  # a bad setting (PREDICTION_LOG_KEEP), or a damaged part (StoreError)
        log.error("%s", exc)
        return 2 if not isinstance(exc, StoreError) else 1
    except (ShipError, Busy, OSError) as exc:
        log.error("Shipping stopped: %s. What was shipped stays shipped; run again.", exc)
        return 1
    through = result.complete_through
    log.info(
        "Host %s: shipped %d file(s), %d row(s) in %d part(s) to %s%s; complete through %s.",
        host,
        result.files_shipped,
        result.rows_shipped,
        result.parts_written,
        store,
        f" ({result.files_vanished} vanished before shipping)" if result.files_vanished else "",
        through.isoformat(timespec="seconds") if through else "unknown",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
