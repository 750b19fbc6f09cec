"""Data drift between the production training snapshot and what the model sees now.

Reference: ``ml_model/matchmaking_dataset.csv``. Current: the service's prediction log when it
exists, else the newest ``mlops/data`` version; ``--reference`` and ``--current`` override. Writes
``mlops/reports/data_drift_report_<ts>.html`` and ``.json`` and MLflow run ``monitor_<ts>``; the
DVC metric ``drift.json`` only with ``--dvc-outputs``. The rule and the logic are in
``mlops/sidecar/drift.py`` and ``monitor.py``. Exits 0 even on drift unless ``--fail-on-drift``
(then 1); 1 with ``--strict`` when ``--outcomes`` holds outcomes but none joins; 2 on bad input.
Below ``min_rows`` there is no verdict: the JSON's ``dataset_drift`` is null and the exit is 0, also
with ``--fail-on-drift`` (a scheduler that must tell "no verdict" from "no drift" reads the JSON).
"""

from __future__ import annotations

import logging
from pathlib import Path

from ml_model.common import exit_script, setup_logging
from ml_model.paths import PRODUCTION_DATA
from mlops.paths import REPORTS_DIR
from mlops.scripts.utils import add_dvc_outputs_flag, run_cli, script_parser
from mlops.sidecar.monitor import monitor
from mlops.sidecar.monitor_inputs import default_current

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run; exit 1 on drift only with ``--fail-on-drift``, 2 on bad input."""
    parser = script_parser(__doc__, data=False, params_help="params.yaml (the monitor section)")
    parser.add_argument("--reference", type=Path, default=PRODUCTION_DATA, help="training snapshot CSV")
    parser.add_argument("--current", type=Path, default=None, help="CSV or prediction log (.jsonl)")
    parser.add_argument("--outcomes", type=Path, help="with a prediction log: the backend's outcome export")
    parser.add_argument("--out-dir", type=Path, default=REPORTS_DIR, help="where the reports go")
    parser.add_argument("--fail-on-drift", action="store_true", help="exit 1 when dataset drift is found")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when --outcomes holds outcomes but none joins a served pair",
    )
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the run to MLflow")
    add_dvc_outputs_flag(parser)
    args = parser.parse_args(argv)
    setup_logging()
    current = args.current or default_current()
    log.info("Comparing %s (current) with %s (reference).", current, args.reference)
    run = (
        args.reference,
        current,
        args.params,
        args.out_dir,
        args.outcomes,
        args.dvc_outputs,
        not args.no_mlflow,
    )
    code, result = run_cli("monitor", monitor, *run)
    if code:
        return code
    labels = result.labels or {}
    if args.strict and labels.get("outcomes") and not labels.get("joined"):
        log.error("--strict: labels %s; exiting 1.", labels["summary"])
        return 1
    return 1 if result.dataset_drift is True and args.fail_on_drift else 0  # None: no verdict


if __name__ == "__main__":
    exit_script(main())
