"""Promote a candidate to production, or roll the last promotion back. Run only by a person.

The outgoing set is archived in ``mlops/models/archive/<ts>/``, the new one swapped in by a
journalled swap that a crash cannot leave half done (the next run finishes it), and the MLflow
alias ``champion`` moved. ``--from-registry [challenger|champion|<number>]`` first downloads that
registered version into ``mlops/models/``. Only signed sets from a finished run that the gate
approved are promoted; ``--force --reason "..."`` overrides the gate's decision (recorded), never
the signature. The logic is ``mlops/sidecar/promotion.py`` and
``swap.py``. Exit 2 refused (production unchanged), 3 busy, 4 files promoted but alias not moved,
1 with ``--check`` when the state is not consistent afterwards.
"""

from __future__ import annotations

import argparse
import logging

from mlflow.exceptions import MlflowException

from ml_model.artifacts import verify_manifest
from ml_model.common import exit_script, setup_logging
from ml_model.paths import ML_MODEL_DIR
from mlops.mlflow_setup import TrackingUnavailable
from mlops.paths import PROMOTE_LOCK
from mlops.scripts.utils import BAD_INPUT, BUSY
from mlops.sidecar.consistency import check
from mlops.sidecar.locks import Busy
from mlops.sidecar.promotion import PromotionError, Request, run
from mlops.sidecar.registry import RegistryError, move_champion

log = logging.getLogger(__name__)

ALIAS_NOT_MOVED = 4


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line: what to promote (or roll back), and how carefully."""
    parser = argparse.ArgumentParser(
        description="Promote a candidate to production (ml_model/), or roll back."
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--version", help="candidate folder name in mlops/models, e.g. v20261127_101500")
    what.add_argument(
        "--from-registry",
        nargs="?",
        const="challenger",
        metavar="ALIAS_OR_VERSION",
        help="a registered version of lawyer_match_model: an alias (default challenger) or a number",
    )
    what.add_argument("--rollback", action="store_true", help="restore the set the last promotion replaced")
    parser.add_argument(
        "--dry-run", action="store_true", help="verify and say what would happen; change nothing"
    )
    parser.add_argument(
        "--check", action="store_true", help="afterwards, run doctor.py's consistency check (exit 1 if not)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="promote although the gate did not approve the candidate (needs --reason; never skips "
        "the signature or the safe loading)",
    )
    parser.add_argument(
        "--reason", help="why the gate is overridden: recorded in the run, version and archive"
    )
    args = parser.parse_args(argv)
    if args.force and not (args.reason or "").strip():
        parser.error('--force needs --reason "why the gate is overridden"')
    if args.reason and not args.force:
        parser.error("--reason is only for --force")
    if args.force and args.rollback:
        parser.error("--force is for promotions; a rollback restores an archived set as it was")
    return args


def consistent() -> int:
    """doctor.py's findings, in this process: 0 when there are none, else 1 with one line each."""
    found = check()
    for line in found:
        log.error("Inconsistent: %s", line)
    return 1 if found else 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, take the promotion lock, run; exit 2 refused, 3 busy, 4 alias not moved."""
    args = parse(argv)
    setup_logging()
    try:
        forced = args.reason.strip() if args.force else None
        plan = run(Request(args.version, args.from_registry, args.rollback, args.dry_run, forced))
    except Busy:
        log.error(
            "Another promotion or rollback is running (lock %s); try again when it has finished.",
            PROMOTE_LOCK,
        )
        return BUSY
    except (PromotionError, RegistryError, TrackingUnavailable, OSError) as exc:
        log.error("Not promoted: %s", exc)
        return BAD_INPUT
    except MlflowException as exc:  # the registry answered with an error; production unchanged
        log.error("Not promoted: MLflow answered %s", exc.error_code)
        return BAD_INPUT
    if args.dry_run:
        return 0
    try:
        log.info("MLflow: %s.", move_champion(verify_manifest(ML_MODEL_DIR)))
    except Exception as exc:  # the files are promoted; say exactly what is left to do
        log.error("Production files are %s, but moving the MLflow alias failed: %s", plan.incoming, exc)
        return ALIAS_NOT_MOVED
    log.info(
        "Production is %s. A running service picks it up within a second (or restart it).", plan.incoming
    )
    return consistent() if args.check else 0


if __name__ == "__main__":
    exit_script(main())
