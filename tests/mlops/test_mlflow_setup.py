"""The sidecar's MLflow configuration: the repository's file store by default, a server that is down
fails fast."""

from __future__ import annotations

import time

import pytest

from ml_model.paths import REPO_ROOT
from mlops import mlflow_setup


def test_default_tracking_uri_is_the_repo_file_store(monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert mlflow_setup.tracking_uri() == (REPO_ROOT / "mlops" / "tracking").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    assert mlflow_setup.tracking_uri().startswith("file:")


def test_unreachable_tracking_server_fails_fast_naming_the_uri(monkeypatch) -> None:
    from tests.support.ports import free_port

    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    t0 = time.monotonic()
    with pytest.raises(mlflow_setup.TrackingUnavailable, match=uri.replace(".", r"\.")):
        mlflow_setup.configure()
    assert time.monotonic() - t0 < 10
