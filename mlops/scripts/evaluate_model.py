"""Evaluate the production model on the held-out split of the newest data version.

Writes ``mlops/reports/evaluation_<ts>.txt`` and ``mlops/tracking/eval_<ts>.json``, logs MLflow
run ``evaluate_<ts>``, and with ``--dvc-outputs`` the DVC metric ``production.json``. The logic is
``mlops/sidecar/evaluation.py``. Exit 2 on bad input.
"""

from __future__ import annotations

from ml_model.common import exit_script, setup_logging
from mlops.scripts.utils import add_dvc_outputs_flag, run_cli, script_parser
from mlops.sidecar.evaluation import evaluate


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run; exit 2 on bad input."""
    parser = script_parser(__doc__, params_help="params.yaml (the data split)")
    add_dvc_outputs_flag(parser)
    args = parser.parse_args(argv)
    setup_logging()
    return run_cli("evaluate", evaluate, args.data, args.params, args.dvc_outputs)[0]


if __name__ == "__main__":
    exit_script(main())
