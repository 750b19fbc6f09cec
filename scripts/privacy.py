"""Clients' data on this host: expire what is past its limit, erase one match on request.

    python scripts/privacy.py expire            # what is past its limit (changes nothing)
    python scripts/privacy.py expire --apply    # remove it: safe from cron while the app runs
    python scripts/privacy.py erase --match-id ID

The stores are found by the app's own settings (PREDICTION_LOG, DB_PATH, OUTCOME_EXPORT_DIR, and
LOG_STORE or ``store/`` beside the log for the shipped log store: its day partitions and outcome
exports expire, and erase removes the match from every host's parts) and the limits are
mlops/params.yaml's ``retention``. Exit 0 done, 1 something could not be finished
(said why; run again), 2 bad arguments or settings. README "Erasure and retention" says what
erasure cannot reach (DVC and MLflow history) and how an operator purges it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime

from clientdata.actions import erase, expire
from clientdata.config import ConfigError, Retention, Stores
from clientdata.database import DatabaseError
from ml_model.common import setup_logging

log = logging.getLogger("privacy")


def main(argv: list[str] | None = None) -> int:
    """Parse the command, run it, exit 0/1/2 as the module says."""
    parser = argparse.ArgumentParser(description="Expire clients' data past its limit, or erase one match.")
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("expire", help="remove what is past its retention limit (a dry run without --apply)")
    exp.add_argument("--apply", action="store_true", help="remove it (without: only say what would go)")
    era = sub.add_parser("erase", help="remove one search (its match_id) from every store on this host")
    era.add_argument("--match-id", required=True, help="the reference the page showed (32 hex characters)")
    args = parser.parse_args(argv)
    setup_logging()
    stores = Stores.from_env()
    try:
        if args.command == "expire":
            outcome = expire(stores, Retention.load(), datetime.now(UTC), args.apply)
        else:
            outcome = erase(stores, args.match_id.strip().lower())
    except (ValueError, ConfigError) as exc:
        log.error("%s", exc)
        return 2
    except DatabaseError as exc:
        log.error("Stopped: %s", exc)
        return 1
    return 1 if outcome.problems else 0


if __name__ == "__main__":
    sys.exit(main())
