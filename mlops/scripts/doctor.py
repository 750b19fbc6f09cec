"""Is the MLOps state consistent? After any crash, the next retrain or promote repairs it; this says so.

Checks production, candidates, archives, debris and the MLflow registry
(``mlops/sidecar/consistency.py`` says what consistent means). Exit 0 when consistent, 1 with one
line per finding, 2 when MLflow is unreachable, 3 when a retrain or promotion holds its lock;
``--fix`` first applies the repairs the retrain and promote commands apply at their start (taking
both their locks), then moves ``champion`` back to the version production serves and removes an
alias that names a version that does not exist; it never promotes.
"""

from __future__ import annotations

import argparse
import logging

from mlflow.exceptions import MlflowException

from ml_model.common import exit_script, setup_logging
from mlops.mlflow_setup import TrackingUnavailable
from mlops.scripts.utils import BAD_INPUT, BUSY
from mlops.sidecar.consistency import check
from mlops.sidecar.locks import Busy

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and check; exit 0 consistent, 1 findings, 2 tracking unreachable, 3 busy."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--fix",
        action="store_true",
        help="first repair what retrain and promote repair, and move champion back to production",
    )
    args = parser.parse_args(argv)
    setup_logging()
    try:
        found = check(args.fix)
    except Busy:
        log.error("A retrain or promotion is running (its lock is held); try again when it has finished.")
        return BUSY
    except TrackingUnavailable as exc:
        log.error("Cannot check MLflow: %s", exc)
        return BAD_INPUT
    except MlflowException as exc:  # the server answered with an error: nothing was judged
        log.error("Cannot check MLflow: it answered %s", exc.error_code)
        return BAD_INPUT
    for line in found:
        log.error("Inconsistent: %s", line)
    if not found:
        log.info("Consistent: production verifies, no debris, every alias names a verified version.")
    return 1 if found else 0


if __name__ == "__main__":
    exit_script(main())
