"""Retrain a candidate on the newest data version and compare it with production.

Both models are scored on the same held-out rows and the gate says whether the candidate is an
improvement and why; an improved candidate goes to ``mlops/models/v<ts>/`` and is registered with
alias ``challenger``. The logic is ``mlops/sidecar/retrain.py``. Exit 2 on bad input, 3 when
another retrain is running.
"""

from __future__ import annotations

import logging
import signal
import sys

from ml_model.common import exit_script, setup_logging
from mlops.paths import RETRAIN_LOCK
from mlops.scripts.utils import BUSY, add_dvc_outputs_flag, run_cli, script_parser
from mlops.sidecar.candidates import remove_retrain_debris
from mlops.sidecar.locks import Busy, held
from mlops.sidecar.retrain import retrain

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, take the retrain lock, run; exit 2 on bad input, 3 when another retrain runs."""
    parser = script_parser(__doc__, params_help="params.yaml with train, data and gate")
    add_dvc_outputs_flag(parser)
    args = parser.parse_args(argv)
    setup_logging()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a TERM ends the MLflow run as FAILED
    try:
        with held(RETRAIN_LOCK):
            remove_retrain_debris()  # leftovers of a killed retrain; we hold the lock
            return run_cli("retrain", retrain, args.data, args.params, args.dvc_outputs)[0]
    except Busy:
        log.error(
            "Another retrain is running (lock %s is held); refusing to start a second one.", RETRAIN_LOCK
        )
        return BUSY


if __name__ == "__main__":
    exit_script(main())
