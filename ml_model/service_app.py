"""The match service as a Flask app: the factory, the routes and the error handlers.

``create_app`` wraps Flask in ``wsgi_fast_path.ServiceApp``, which answers well-formed scoring
calls below Flask; the views here answer everything else, through the same scoring calls and
the same response builders, so both paths give the same answers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST
from threadpoolctl import threadpool_limits
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from ml_model.match_service import MatchService
from ml_model.openapi import Page, docs_page, index, index_page, openapi_document
from ml_model.schema import MAX_BODY_BYTES, BadInput, InvalidRecord, short_repr
from ml_model.scoring_calls import body_problem, parse_json, predict_payload, rank_payload
from ml_model.service_responses import (
    internal_error_response,
    json_response,
    refusal_response,
    scored_response,
)
from ml_model.wsgi_fast_path import (
    BODY_TIMEOUT_ENV,
    BodyTimeout,
    ServiceApp,
    body_timeout_from_env,
    body_timeout_response,
    gevent_serving,
)

log = logging.getLogger(__name__)
api = Blueprint("api", __name__)


def _service() -> MatchService:
    return current_app.extensions["match_service"]


def _request_json() -> Any:
    """The request's body as JSON; a 400 unless it is sent as ``application/json``."""
    if request.environ.get("CONTENT_TYPE") != "application/json" and request.mimetype != "application/json":
        raise body_problem(
            f"Content-Type must be application/json, got {short_repr(request.mimetype or 'none')}"
        )
    return parse_json(request.get_data(cache=False))


@api.get("/health")
def health() -> Response:
    """Liveness plus what is being served, for the backend and the on-call person. The counters
    are the service's (every worker's), from the same source as /metrics."""
    service = _service()
    m = service.holder.current()
    scored, unknown = service.metrics.totals()
    return json_response(
        {
            "status": "ok",
            "model_version": m.version,
            "trained_at": m.manifest.get("created_at"),
            "training_data_sha256": m.manifest.get("training_data", {}).get("sha256"),
            "instances_scored": scored,
            "unknown_category_instances": unknown,
        }
    )


def _page_response(page: Page) -> Response:
    """An HTML page with its Content-Security-Policy: its own inline scripts only, nothing loaded."""
    response = Response(page.body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = page.csp + "; frame-ancestors 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@api.get("/")
def home() -> Response:
    """Where everything is (/docs, /openapi.json, /health, /metrics): JSON, or a page for a browser."""
    pages = current_app.extensions["pages"]
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        response = _page_response(pages["index_page"])
    else:
        response = json_response(pages["index"])
    response.vary.add("Accept")
    return response


@api.get("/docs")
def docs() -> Response:
    """The API as a page (Swagger UI, self-contained), built once at start (``openapi.docs_page``)."""
    page = current_app.extensions["pages"]["docs"]
    if page is None:
        return json_response(
            {"error": "the API page is not available: its files are missing (see the log)"}, 503
        )
    return _page_response(page)


@api.get("/openapi.json")
def openapi() -> Response:
    """The service's OpenAPI 3.1 description, generated from ml_model/schema.py (``ml_model/openapi.py``)."""
    return Response(current_app.extensions["openapi"], mimetype="application/json")


@api.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics: requests by endpoint and status, latency, instances, model version."""
    service = _service()
    service.current_model()
    return Response(service.metrics.exposition(), mimetype=CONTENT_TYPE_LATEST)


@api.post("/predict")
def predict() -> Response:
    """Match probabilities for complete (case, lawyer) pairs."""
    service = _service()
    payload, scored = predict_payload(service, _request_json())
    return scored_response(payload, service.log_writer(scored))


@api.post("/rank")
def rank() -> Response:
    """One case against many lawyers, best match first."""
    service = _service()
    payload, scored = rank_payload(service, _request_json())
    return scored_response(payload, service.log_writer(scored))


def register_error_handlers(app: Flask) -> None:
    """Every error is JSON with a sentence that names the problem; 500s are logged, not explained."""

    @app.errorhandler(BadInput)
    @app.errorhandler(InvalidRecord)
    def refused(exc: InvalidRecord | BadInput) -> Response:
        return refusal_response(exc)

    @app.errorhandler(BodyTimeout)
    def body_late(exc: BodyTimeout) -> Response:  # ServiceApp closes the connection after it
        return body_timeout_response(exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        path = request.path if len(request.path) <= 100 else request.path[:100] + "…"
        messages = {
            404: f"no such endpoint: {path}",
            405: f"method {request.method} is not allowed on {path}",
            413: f"request body larger than {MAX_BODY_BYTES} bytes",
        }
        response = json_response({"error": messages.get(exc.code or 500, exc.description)}, exc.code or 500)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:  # RFC 9110: a 405 lists what is allowed
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def server_error(exc: Exception) -> Response:
        return internal_error_response(request.method, request.path)


def create_app(
    model_dir: str | Path | None = None,
    prediction_log: str | Path | None = None,
    service: MatchService | None = None,
) -> Flask:
    """Build the service around ``service``, or one from MODEL_DIR and PREDICTION_LOG (else defaults).
    Request bodies must arrive within BODY_TIMEOUT_S (default 30 s) when gevent serves the app
    (``make serve``); elsewhere a blocked read cannot be interrupted and no deadline applies."""
    body_timeout = body_timeout_from_env()  # read (and checked) even where it does not apply
    # One BLAS thread per process: with two workers on two cores, OpenBLAS's own threads made a
    # 1,000-row forward pass many times slower under load (BENCHMARKS.md).
    threadpool_limits(1)
    service = service or MatchService.from_env(model_dir, prediction_log)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["match_service"] = service
    app.extensions["model_holder"] = service.holder
    app.extensions["prediction_log"] = service.prediction_log
    document = openapi_document()
    app.extensions["openapi"] = orjson.dumps(document)  # built once: the schema does not change
    app.extensions["pages"] = {"index": index(document), "index_page": index_page(document), "docs": None}
    try:
        app.extensions["pages"]["docs"] = docs_page(document)
    except (OSError, ValueError) as exc:  # the service still scores; only the page is missing
        log.error("GET /docs will answer 503: %s (restore tools/swagger-ui/vendor/).", exc)
    app.register_blueprint(api)
    register_error_handlers(app)
    deadline = body_timeout if gevent_serving() else None
    app.wsgi_app = ServiceApp(app.wsgi_app, service, deadline)  # type: ignore[method-assign]
    log.info(
        "Serving model %s from %s; logging predictions to %s (metrics: %s; request bodies: %s).",
        service.holder.model.version,
        service.holder.model_dir,
        service.prediction_log.path,
        f"multiprocess in {service.metrics.path}" if service.metrics.multiprocess else "this process",
        f"within {deadline:g} s ({BODY_TIMEOUT_ENV})" if deadline else "no deadline (not served by gevent)",
    )
    return app
