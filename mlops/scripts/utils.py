"""What the sidecar's commands share as commands: the argparse frame and the mapping of errors to exits.

The logic the commands run is the library, ``mlops/sidecar/``; a command parses its arguments,
takes its lock, calls the library and turns the outcome into an exit code. Exit codes: 0 done,
1 a finding (drift with ``--fail-on-drift``, an inconsistency), 2 bad input or environment,
3 another run holds the lock.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ml_model.artifacts import ManifestError
from ml_model.schema import SchemaError
from mlops.mlflow_setup import TrackingUnavailable
from mlops.paths import DATASET, PARAMS_FILE

log = logging.getLogger(__name__)

BAD_INPUT = 2
BUSY = 3

# What a sidecar run may meet that is the input's or the environment's fault, not a bug: bad data
# or params, a tampered artifact, an unreachable tracking server, a missing file.
EXPECTED_FAILURES = (SchemaError, ManifestError, TrackingUnavailable, ValueError, KeyError, OSError)


def script_parser(
    doc: str, data: bool = True, params_help: str | None = "params.yaml"
) -> argparse.ArgumentParser:
    """The argparse frame the sidecar commands share: the docstring's first paragraph, --data, --params."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    if data:
        parser.add_argument(
            "--data", type=Path, default=DATASET, help="labelled CSV (default: the DVC-tracked dataset)"
        )
    if params_help:
        parser.add_argument("--params", type=Path, default=PARAMS_FILE, help=params_help)
    return parser


def add_dvc_outputs_flag(parser: argparse.ArgumentParser) -> None:
    """Only the DVC stages write the files dvc.yaml tracks (they pass this flag): a run by hand keeps
    its timestamped reports and MLflow run, and leaves `dvc status` and `dvc metrics show` alone."""
    parser.add_argument(
        "--dvc-outputs",
        action="store_true",
        help="also write the DVC-tracked metrics (the dvc.yaml stages do)",
    )


def run_cli(action: str, fn: Callable[..., Any], *args: Any) -> tuple[int, Any]:
    """Run a command's work; expected failures become one plain sentence and exit code 2."""
    try:
        return 0, fn(*args)
    except KeyError as exc:
        log.error("Could not %s: setting or column %s is missing (see mlops/params.yaml).", action, exc)
    except EXPECTED_FAILURES as exc:
        log.error("Could not %s: %s", action, exc)
    return BAD_INPUT, None
