"""The match service: Flask, serving the production model from ``ml_model/``.

Development: ``python ml_model/predict_model.py`` (127.0.0.1:8000; HOST and PORT override).
Production: ``gunicorn -c python:ml_model.gunicorn_conf -w 2 ... 'ml_model.predict_model:create_app()'``
(the config module shares the Prometheus metrics across workers; ``scripts/serve.sh`` runs it).

This module is the command line and the entry point; the service lives in one module per concern:

- ``service_app``: the app factory (``create_app``), the routes and the error handlers;
- ``wsgi_fast_path``: the WSGI entry point, answering the scoring calls below Flask;
- ``scoring_calls``: /predict and /rank, from a body to a payload, for both paths;
- ``service_responses``: every JSON response, built one way for both paths;
- ``match_service``: scoring, warnings and the log line; ``model_holder``: the model and reload;
- ``service_metrics``: the Prometheus metrics.

A promoted model is picked up within a second (each worker watches the manifest), on SIGHUP
(development server) or on restart; a set that does not verify is refused and the model that was
serving stays.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask

from ml_model.artifacts import ManifestError
from ml_model.common import setup_logging
from ml_model.model_holder import ModelHolder
from ml_model.service_app import create_app

__all__ = ["create_app", "install_sighup", "main"]

log = logging.getLogger(__name__)


def install_sighup(app: Flask) -> Callable[..., None]:
    """Reload the model on SIGHUP (development server; gunicorn handles HUP itself)."""
    holder: ModelHolder = app.extensions["model_holder"]

    def handler(signum: int, frame: Any) -> None:
        log.info("Received SIGHUP; reloading the model from %s.", holder.model_dir)
        holder.reload()

    signal.signal(signal.SIGHUP, handler)
    return handler


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the development server; exit 1 when the model does not verify."""
    parser = argparse.ArgumentParser(description="Serve the production match model over HTTP (development).")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"), help="bind address (HOST)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")), help="port (PORT)")
    parser.add_argument("--model-dir", type=Path, default=None, help="artifacts folder (MODEL_DIR)")
    parser.add_argument("--prediction-log", type=Path, default=None, help="JSON-lines log (PREDICTION_LOG)")
    args = parser.parse_args(argv)
    setup_logging()
    try:
        app = create_app(args.model_dir, args.prediction_log)
    except (ManifestError, OSError) as exc:
        log.error("Cannot start: %s", exc)
        return 1
    install_sighup(app)
    from werkzeug.serving import run_simple

    log.info(
        "Listening on http://%s:%d (development server; use gunicorn in production).", args.host, args.port
    )
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False, use_debugger=False)
    app.extensions["prediction_log"].close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
