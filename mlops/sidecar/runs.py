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


@contextlib.contextmanager
def mlflow_run(mlflow: Any, run_name: str, tags: dict[str, str]) -> Iterator[Any]:
    """An MLflow run that ends FINISHED on success and FAILED on any error or interruption."""
    run = mlflow.start_run(
        run_name=run_name, tags={**tags, "pid": str(os.getpid()), "host": os.uname().nodename}
    )
    try:
        yield run
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    mlflow.end_run(status="FINISHED")


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
