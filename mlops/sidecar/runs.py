"""MLflow runs that always end: FINISHED on success, FAILED on an error, closed by the next run if killed.

Every run is tagged with its process id and host, so a run left RUNNING by a ``kill -9`` is told
apart from one still working and is closed as FAILED by the next stage that starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from mlops.paths import EXPERIMENT_NAME

log = logging.getLogger(__name__)


DESCRIPTION_TAG = "mlflow.note.content"  # what MLflow's UI shows as the run's description
DIGITS = 4  # metrics as logged: a reviewer reads 0.8748, not 0.8747906854049424


@contextlib.contextmanager
def mlflow_run(
    mlflow: Any, run_name: str, tags: dict[str, str], started: float | None = None
) -> Iterator[Any]:
    """An MLflow run that ends FINISHED on success and FAILED on any error or interruption.

    ``started`` (epoch seconds): when the command began, so the run's duration in the UI is the
    command's, not the moment its logging took (a monitor that works 10 s and logs at the end)."""
    tags = {**tags, "pid": str(os.getpid()), "host": os.uname().nodename}
    if started is None:
        run = mlflow.start_run(run_name=run_name, tags=tags)
    else:
        experiment = mlflow.get_experiment_by_name(EXPERIMENT_NAME)  # configure() made it
        created = mlflow.tracking.MlflowClient().create_run(
            experiment.experiment_id, start_time=int(started * 1000), tags=tags, run_name=run_name
        )
        run = mlflow.start_run(run_id=created.info.run_id)
    try:
        yield run
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    mlflow.end_run(status="FINISHED")


def describe(mlflow: Any, text: str) -> None:
    """The active run's description: one or two sentences a reviewer reads in the runs list."""
    mlflow.set_tag(DESCRIPTION_TAG, text)


def rounded(metrics: dict[str, float]) -> dict[str, float]:
    """Metrics to ``DIGITS`` decimals, as they are logged."""
    return {k: round(float(v), DIGITS) for k, v in metrics.items()}


def process_alive(pid: int) -> bool:
    """Whether a process that tagged a run still runs here (ourselves included)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphaned(run: Any) -> bool:
    """A RUNNING run whose process is gone: tagged by this host with a pid that no longer runs."""
    pid = run.data.tags.get("pid", "")
    return pid.isdigit() and not process_alive(int(pid))


def running_runs(mlflow: Any) -> list[Any]:
    """The experiment's runs still marked RUNNING (the newest 200)."""
    exp = mlflow.get_experiment_by_name(EXPERIMENT_NAME)
    if exp is None:
        return []
    client = mlflow.tracking.MlflowClient()
    return client.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'", max_results=200)


def close_orphaned_runs(mlflow: Any) -> int:
    """Mark FAILED the runs still RUNNING whose process on this host is gone (killed with -9)."""
    client = mlflow.tracking.MlflowClient()
    host, closed = os.uname().nodename, 0
    for run in running_runs(mlflow):
        if run.data.tags.get("host") != host or not orphaned(run):
            continue
        client.set_terminated(run.info.run_id, status="FAILED")
        log.warning("Marked run %s FAILED: its process %s is gone.", run.info.run_name, run.data.tags["pid"])
        closed += 1
    return closed
