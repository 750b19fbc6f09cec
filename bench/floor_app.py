"""The floor the benchmark compares our service against: a trivial Flask handler that reads the
request body and returns a constant JSON answer, run under the same gunicorn settings as ours.

Whatever our /predict costs above this is our own work (parsing, validation, scoring, metrics,
the log); below it lie only gunicorn, Werkzeug and Flask themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, request

CONSTANT = b'{"model_version":"floor","prediction_id":"0","predictions":[0.5]}'


def create_floor_app() -> Flask:
    """A Flask app whose /predict and /rank read the body and answer a constant JSON."""
    app = Flask(__name__)

    @app.get("/health")
    def health() -> Response:
        return Response(b'{"status":"ok"}', mimetype="application/json")

    @app.post("/predict")
    @app.post("/rank")
    def constant() -> Response:
        request.get_data()
        return Response(CONSTANT, mimetype="application/json")

    return app


def create_bare_app() -> Callable[..., Iterable[bytes]]:
    """The same constant answer from a bare WSGI callable, without Flask: gunicorn's own floor.

    Our service answers its scoring calls below Flask (``wsgi_fast_path.ServiceApp``), so this,
    not the Flask handler, bounds what it could reach; printed beside the issue's Flask floor."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(CONSTANT)))]
        )
        return [CONSTANT]

    return app
