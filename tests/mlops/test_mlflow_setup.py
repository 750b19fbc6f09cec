"""The sidecar's MLflow configuration: the repository's file store by default, a server that is down
fails fast, MLflow's own credential settings are sent, and no URI is printed with its secrets."""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


# --------------------------------------------------------------------------- credentials
SECRET = "S3cretPassw0rd"


class _AuthHandler(BaseHTTPRequestHandler):
    """A stand-in for a tracking server behind basic auth (or a token): /health is open."""

    accepted = frozenset({"Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode(), "Bearer tok-123"})

    def do_GET(self) -> None:
        ok = self.path == "/health" or self.headers.get("Authorization") in self.accepted
        self.send_response(200 if ok else 401)
        self.end_headers()
        self.wfile.write(b"{}" if ok else b"You are not authenticated.")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def auth_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AuthHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize(
    ("uri", "env"),
    [
        ("http://{host}", {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": SECRET}),
        ("http://alice:" + SECRET + "@{host}", {}),
        ("http://{host}", {"MLFLOW_TRACKING_TOKEN": "tok-123"}),
    ],
    ids=["username-password", "in-the-uri", "token"],
)
def test_the_check_sends_mlflows_own_credentials(auth_server: str, uri: str, env: dict, monkeypatch) -> None:
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    mlflow_setup.check_server(uri.format(host=auth_server))


def test_a_refusal_names_the_settings_and_never_the_password(auth_server: str, monkeypatch) -> None:
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(mlflow_setup.TrackingUnavailable) as err:
        mlflow_setup.check_server(f"http://alice:wrong-{SECRET}@{auth_server}")
    message = str(err.value)
    assert "401" in message and "MLFLOW_TRACKING_USERNAME" in message
    assert SECRET not in message and "alice" not in message
    assert f"http://{auth_server}" in message


def test_redact_drops_userinfo_and_query_values() -> None:
    assert (
        mlflow_setup.redact(f"http://alice:{SECRET}@mlflow.example:5001/x") == "http://mlflow.example:5001/x"
    )
    assert mlflow_setup.redact("https://h/p?token=abc&x=1") == "https://h/p?token=***&x=***"
    assert mlflow_setup.redact("file:///work/mlops/tracking") == "file:///work/mlops/tracking"


def test_configure_hands_mlflow_the_uri_without_its_credentials(monkeypatch) -> None:
    """MLflow prints its tracking URI in run links and errors: it never gets the password."""
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    plain = mlflow_setup._credentials_to_environment(f"http://alice:{SECRET}@mlflow.example:5001")
    assert plain == "http://mlflow.example:5001"
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "alice"
    assert os.environ["MLFLOW_TRACKING_PASSWORD"] == SECRET
    assert mlflow_setup._credentials_to_environment("http://h:1") == "http://h:1"
