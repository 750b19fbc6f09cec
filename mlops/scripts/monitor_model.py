"""Data drift between the production training snapshot and what the model sees now.

Reference: ``ml_model/matchmaking_dataset.csv``. Current: the service's prediction log when it
exists, else the newest ``mlops/data`` version; ``--reference`` and ``--current`` override. Writes
``mlops/reports/data_drift_report_<ts>.html`` and ``.json`` and MLflow run ``monitor_<ts>``; the
DVC metric ``drift.json`` only with ``--dvc-outputs``. The rule and the logic are in
``mlops/sidecar/drift.py`` and ``monitor.py``. Exits 0 even on drift unless ``--fail-on-drift``
(then 1); 1 with ``--strict`` when ``--outcomes`` holds outcomes but none joins; 2 on bad input.
Below ``min_rows`` there is no verdict: the JSON's ``dataset_drift`` is null and the exit is 0, also
with ``--fail-on-drift`` (a scheduler that must tell "no verdict" from "no drift" reads the JSON).

Daily, on the log store the shippers fill: ``--store logs/store --daily`` (or ``s3://bucket/prefix``)
monitors every complete UTC day not monitored yet, updates older days whose outcomes arrived, and
applies the persistent-drift rule (``params.yaml`` ``daily``); ``--backfill DAYS`` redoes the last
DAYS days. Each day is an MLflow run ``daily_<day>`` and two snapshots in the Evidently workspace
(``mlops/workspace/``, ``make monitor-ui``). Exits 3 when the rule fires (a new episode; the record
is ``mlops/reports/daily/alert_<day>.json``), 4 on a data gap (a missing day or a stalled shipper)
when the rule did not fire, 0 otherwise, also when there was nothing new; 2 on bad input.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from ml_model.common import exit_script, setup_logging
from ml_model.paths import PRODUCTION_DATA
from mlops.paths import DAILY_DIR, REPORTS_DIR, WORKSPACE_DIR
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
    daily = parser.add_argument_group("daily monitoring of the log store")
    daily.add_argument("--store", help="the log store: a folder (logs/store) or s3://bucket/prefix")
    daily.add_argument("--daily", action="store_true", help="monitor every complete day not monitored yet")
    daily.add_argument("--backfill", type=_days, metavar="DAYS", help="redo the last DAYS complete days")
    daily.add_argument(
        "--as-of",
        type=_as_of,
        default=None,
        help="monitor as if it were this UTC time (ISO; a replayed history)",
    )
    daily.add_argument("--workspace", type=Path, default=WORKSPACE_DIR, help="the Evidently workspace")
    args = parser.parse_args(argv)
    setup_logging()
    if args.daily or args.store or args.backfill is not None or args.as_of is not None:
        if not (args.daily and args.store):
            parser.error("--daily needs --store (and --store, --backfill, --as-of go with --daily)")
        return _run_daily(args)
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


def _days(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _as_of(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _run_daily(args: object) -> int:
    """The daily monitor: 3 when persistent drift fired, 4 on a data gap alone, else 0."""
    from mlops.sidecar.daily import run_daily

    as_of = args.as_of or datetime.now(UTC)
    run = (args.store, as_of, args.backfill, args.params, args.workspace, DAILY_DIR)
    code, result = run_cli("run the daily monitor", run_daily, *run)
    if code:
        return code
    if result.alerts:
        return 3
    return 4 if result.data_alerts else 0


if __name__ == "__main__":
    exit_script(main())
