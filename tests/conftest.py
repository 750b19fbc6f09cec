"""Fixtures every test folder shares: a private MLflow store, a real service process.

Helpers live in tests/support (shared with the benchmarks); this file holds only fixtures.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.service import Service, running_service


@pytest.fixture(scope="session", autouse=True)
def _private_mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Anything in the test process that reaches MLflow without its own URI lands in a temporary
    store, never in the work tree (MLflow's own default is ./mlflow.db)."""
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = (tmp_path_factory.mktemp("mlflow") / "store").as_uri()
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    yield
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old


@pytest.fixture(autouse=True)
def _mlflow_environment_restored() -> Iterator[None]:
    """MLflow's ``set_tracking_uri``/``set_registry_uri`` also write MLFLOW_TRACKING_URI and
    MLFLOW_REGISTRY_URI into os.environ, so a test that configures MLflow in-process would point every
    later subprocess of this worker (``mlflow models serve``) at its store; each test gets its own."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    yield
    for k in [k for k in os.environ if k.startswith("MLFLOW_")]:
        if k not in saved:
            del os.environ[k]
    os.environ.update(saved)


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("service")) as svc:
        yield svc
