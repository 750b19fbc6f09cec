"""The match service: Flask, serving the production model from ``ml_model/``.

Development: ``python ml_model/predict_model.py`` (127.0.0.1:8000; HOST and PORT override).
Production: ``gunicorn -c python:ml_model.gunicorn_conf -w 2 ... 'ml_model.predict_model:create_app()'``
(the config module shares the Prometheus metrics across workers; ``scripts/serve.sh`` runs it).

Scoring is a NumPy forward pass over the verified artifacts (see ``artifacts.FastScorer``), so a
request costs well under a millisecond of our own work and TensorFlow is never imported here.
A promoted model is picked up within a second (each worker watches the manifest), on SIGHUP
(development server) or on restart; a set that does not verify is refused and the model that was
serving stays.
"""

from __future__ import annotations

import argparse
import glob
import io
import json
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import orjson
from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import values as prometheus_values
from prometheus_client.multiprocess import MultiProcessCollector
from threadpoolctl import threadpool_limits
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from ml_model.artifacts import LoadedModel, ManifestError, load_model
from ml_model.common import setup_logging
from ml_model.openapi import openapi_document
from ml_model.paths import DEFAULT_PREDICTION_LOG, MANIFEST_FILE, ML_MODEL_DIR
from ml_model.prediction_log import LogEntry, PredictionLog
from ml_model.schema import (
    CASE_FIELDS,
    FEATURE_FIELDS,
    FIELDS_BY_NAME,
    LAWYER_FIELDS,
    MAX_BODY_BYTES,
    MAX_ERRORS,
    MAX_INSTANCES,
    PAIR_FIELDS,
    SHORT_REPR_CHARS,
    InvalidRecord,
    Problem,
    checked_lawyer_ids,
    checked_record,
    checked_records,
    collect,
    lawyer_problems,
    record_problems,
    records_problems,
    short_repr,
)

log = logging.getLogger(__name__)

RANK_LAWYER_FIELDS = LAWYER_FIELDS + PAIR_FIELDS
CASE_NAMES = frozenset(f.name for f in CASE_FIELDS)


class BadInput(ValueError):
    """A request over a size limit: refused with a 413 and one sentence (a 400 is an InvalidRecord)."""

    def __init__(self, message: str, status: int = 413) -> None:
        super().__init__(message)
        self.status = status


def _body_problem(message: str, field: str | None = None) -> InvalidRecord:
    """A 400 about the request as a whole (its content type, its JSON, its top-level fields)."""
    return InvalidRecord([Problem("body", None, field, message)])


class ModelHolder:
    """The model in service. ``reload`` swaps in a new verified set or keeps the old one.

    ``current`` also notices a promotion by itself: at most once a second it compares the
    manifest's mtime (one ``stat``), and reloads when it changed. Promotion replaces the manifest
    last, so a changed manifest means a complete set. This is what makes gunicorn safe: its HUP
    boots fresh workers, and a worker that cannot verify the set fails to boot, which stops
    gunicorn; a worker that reloads in place keeps its old model instead.
    """

    CHECK_EVERY_S = 1.0

    def __init__(self, model_dir: Path, model: LoadedModel | None = None) -> None:
        """Load and verify the set in ``model_dir``, or serve ``model`` as given (tests hand one in)."""
        self.model_dir = model_dir
        self._manifest = model_dir / MANIFEST_FILE
        self._mtime = self._manifest_mtime()
        self.model: LoadedModel = model if model is not None else load_model(model_dir)
        self._checked = time.monotonic()

    def _manifest_mtime(self) -> int | None:
        try:
            return self._manifest.stat().st_mtime_ns
        except OSError:
            return None

    def current(self) -> LoadedModel:
        """The model to score with; reloads first if a promotion replaced the manifest."""
        now = time.monotonic()
        if now - self._checked >= self.CHECK_EVERY_S:
            self._checked = now
            mtime = self._manifest_mtime()
            if mtime != self._mtime:
                self._mtime = mtime  # one attempt per change of the manifest
                log.info("The manifest in %s changed; reloading.", self.model_dir)
                self.reload()
        return self.model

    def reload(self) -> bool:
        """Swap in the set now in ``model_dir`` if it verifies; otherwise keep serving the old one."""
        try:
            new = load_model(self.model_dir)
        except Exception as exc:  # whatever is wrong with the new set, keep serving the old one
            log.error("Reload failed, still serving model %s: %s", self.model.version, exc)
            return False
        old, self.model = self.model.version, new
        log.info("Reloaded: now serving model %s (was %s).", new.version, old)
        return True


def _parse_body() -> Any:
    if request.environ.get("CONTENT_TYPE") != "application/json" and request.mimetype != "application/json":
        raise _body_problem(
            f"Content-Type must be application/json, got {short_repr(request.mimetype or 'none')}"
        )
    raw = request.get_data(cache=False)
    try:
        return orjson.loads(raw)  # 4x faster than json on a 1,000-lawyer /rank; refuses lone surrogates
    except orjson.JSONDecodeError:
        pass
    try:  # the standard parser also reads NaN and Infinity, so validation can name the field
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, or an integer over 4300 digits
        reason = str(exc) if len(str(exc)) <= 120 else str(exc)[:120] + "…"
        raise _body_problem(f"request body is not valid JSON: {reason}") from exc
    except RecursionError:
        raise _body_problem("request body is not valid JSON: nested too deeply") from None


def _list_problem(body: dict[str, Any], name: str) -> Problem | None:
    """What is wrong with the list ``body[name]`` (a 400), or None; BadInput (413) when it is too long."""
    items = body.get(name)
    if not isinstance(items, list):
        return Problem("body", None, name, f"field '{name}' must be a list")
    if not items:
        return Problem("body", None, name, f"field '{name}' must not be empty")
    if len(items) > MAX_INSTANCES:
        raise BadInput(f"field '{name}' has {len(items)} entries; at most {MAX_INSTANCES} are allowed")
    return None


def _list_field(body: Any, name: str) -> list:
    """The non-empty list ``body[name]``, or InvalidRecord (400) / BadInput (413)."""
    if not isinstance(body, dict):
        raise _body_problem("request body must be a JSON object")
    problem = _list_problem(body, name)
    if problem is not None:
        raise InvalidRecord([problem])
    return body[name]


class Scored(NamedTuple):
    """One request's scores, with everything its response and its log line need."""

    model: LoadedModel
    prediction_id: str
    scores: np.ndarray
    probs: list[float]
    entry: LogEntry
    warnings: list[dict[str, Any]]  # the first MAX_ERRORS unknown categories
    warning_count: int  # all of them


_NO_WARNINGS: list[dict[str, Any]] = []


def _close_match(value: str, vocab: tuple[str, ...]) -> str | None:
    """The known value that ``value`` differs from only in case or surrounding spaces ("Family ")."""
    folded = value.strip().casefold()
    return next((v for v in vocab if v.casefold() == folded), None)


def _warning(location: str, index: int | None, name: str, value: str) -> dict[str, Any]:
    """One unknown category as the response names it: where, which field, a prefix of the value."""
    vocab = FIELDS_BY_NAME[name].vocab
    close = _close_match(value, vocab)
    hint = f" (did you mean {close!r}?)" if close else f" (known: {', '.join(vocab)})"
    message = f"unknown value {short_repr(value)} in field '{name}', scored with the field ignored{hint}"
    prefix = value if len(value) <= SHORT_REPR_CHARS else value[:SHORT_REPR_CHARS] + "…"
    return {"location": location, "index": index, "field": name, "value": prefix, "message": message}


def category_warnings(
    cols: dict[str, np.ndarray],
    fields: list[str],
    known: dict[str, dict[str, int]],
    constant: frozenset[str],
    location: str,
) -> tuple[list[dict[str, Any]], int]:
    """The warnings for the categories the model does not know (only called when there are some):
    a constant (/rank case) field once, then each row's fields in input order; MAX_ERRORS at most,
    and the count of all. The service scores them with that one-hot group all zero and does not
    guess: "Family" is not silently read as "family", but the warning suggests it."""
    found: list[tuple[str, int | None, str, str]] = []
    per_row: list[tuple[int, int, str, str]] = []
    for order, name in enumerate(n for n in FIELDS_BY_NAME if n in fields):
        index = known[name]
        if name in constant:
            found.append(("case", None, name, str(cols[name][0])))
            continue
        per_row.extend((r, order, name, v) for r, v in enumerate(cols[name].tolist()) if v not in index)
    per_row.sort()
    total = len(found) + len(per_row)
    found.extend((location, r, name, v) for r, _, name, v in per_row[: MAX_ERRORS - len(found)])
    return [_warning(*w) for w in found[:MAX_ERRORS]], total


class ServiceMetrics:
    """The service's counters and latency, as Prometheus metrics: one source for /metrics and
    for /health's counters, shared by every gunicorn worker.

    With PROMETHEUS_MULTIPROC_DIR set when prometheus_client is imported (gunicorn started with
    ``-c python:ml_model.gunicorn_conf`` sets it), each worker writes its values to mmap files
    there and every reader (/metrics, /health, in any worker) adds up all workers' files,
    including those of workers that have exited, so counters never go backwards. Without it
    (the development server, tests) the values live in this process. An update costs a few
    microseconds (a dict lookup and an mmap write per value).
    """

    ENDPOINTS = frozenset({"/predict", "/rank", "/health", "/metrics", "/openapi.json"})
    BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

    def __init__(self) -> None:
        self.path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self.multiprocess = bool(self.path) and getattr(prometheus_values.ValueClass, "_multiprocess", False)
        if self.path and not self.multiprocess:
            log.warning("PROMETHEUS_MULTIPROC_DIR was set after prometheus_client was imported; "
                        "metrics are per process.")  # fmt: skip
        if not self.path and "gunicorn" in sys.modules:
            log.warning("Under gunicorn without PROMETHEUS_MULTIPROC_DIR, /metrics and /health count per "
                        "worker; start gunicorn with -c python:ml_model.gunicorn_conf.")  # fmt: skip
        if self.multiprocess:
            os.makedirs(self.path, exist_ok=True)
        registry = None if self.multiprocess else CollectorRegistry()
        self.requests = Counter("match_requests", "HTTP requests answered, by endpoint and status code.",
                                ["endpoint", "status"], registry=registry)  # fmt: skip
        self.latency = Histogram("match_request_duration_seconds",
                                 "Time in the service per request (from the WSGI call until the response is built).",
                                 ["endpoint"], buckets=self.BUCKETS, registry=registry)  # fmt: skip
        self.instances = Counter("match_instances_scored", "Instances (case, lawyer pairs) scored.",
                                 registry=registry)  # fmt: skip
        self.unknown = Counter("match_unknown_category_instances",
                               "Scored instances with a category the model does not know.", registry=registry)  # fmt: skip
        self.log_failures = Counter("match_prediction_log_failures",
                                    "Answered requests whose prediction-log line could not be written.",
                                    registry=registry)  # fmt: skip
        self.model_info = Gauge("match_model_info", "The model version being served (1), or served before (0).",
                                ["model_version"], multiprocess_mode="livemax", registry=registry)  # fmt: skip
        if self.multiprocess:
            self.registry = CollectorRegistry()
            MultiProcessCollector(self.registry, path=self.path)
        else:
            self.registry = registry
        self.model_version: str | None = None
        self._requests: dict[tuple[str, str], Any] = {}
        self._latency: dict[str, Any] = {}

    def observe(self, path: str, status: str, seconds: float) -> None:
        """Count one answered request and its time (a path we do not serve counts as "other")."""
        endpoint = path if path in self.ENDPOINTS else "other"
        counter = self._requests.get((endpoint, status))
        if counter is None:
            counter = self._requests[endpoint, status] = self.requests.labels(endpoint, status)
        counter.inc()
        histogram = self._latency.get(endpoint)
        if histogram is None:
            histogram = self._latency[endpoint] = self.latency.labels(endpoint)
        histogram.observe(seconds)

    def scored(self, n: int, unknown: int) -> None:
        """Count ``n`` scored instances, ``unknown`` of them with an unknown category."""
        self.instances.inc(n)
        if unknown:
            self.unknown.inc(unknown)

    def serving(self, version: str) -> None:
        """Record the model version this process now serves (the previous one drops to 0)."""
        if self.model_version is not None:
            self.model_info.labels(self.model_version).set(0)
        self.model_info.labels(version).set(1)
        self.model_version = version

    def totals(self) -> tuple[int, int]:
        """(instances scored, unknown-category instances) over the whole service."""
        names = ("match_instances_scored_total", "match_unknown_category_instances_total")
        if not self.multiprocess:
            values = [self.registry.get_sample_value(name) or 0.0 for name in names]
            return int(values[0]), int(values[1])
        found = dict.fromkeys(names, 0.0)
        files = glob.glob(os.path.join(self.path, "counter_*.db"))
        for metric in MultiProcessCollector.merge(files, accumulate=False):
            for sample in metric.samples:
                if sample.name in found:
                    found[sample.name] += sample.value
        return int(found[names[0]]), int(found[names[1]])

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric (all workers' under gunicorn)."""
        return generate_latest(self.registry)


class _LoggedBody:
    """A response body whose ``close`` (called by the server once it is sent) writes the log line."""

    __slots__ = ("_data", "_on_close")

    def __init__(self, data: bytes, on_close: Callable[[], None]) -> None:
        self._data = data
        self._on_close = on_close

    def __iter__(self) -> Iterator[bytes]:
        return iter((self._data,))

    def close(self) -> None:
        self._on_close()


class ServiceApp:
    """The WSGI entry point: metrics for every request, and a direct path for the scoring calls.

    Every request is counted by endpoint and status and timed (``ServiceMetrics.observe``).
    A well-formed scoring call (POST /predict or /rank, ``Content-Type: application/json``, a
    Content-Length within the limit, a body orjson reads and the service accepts) is answered
    here, without Flask's request context, URL matching and Response object: the same payload
    functions the Flask views call, and the same status, headers and body. That machinery was
    about 45 µs of a single /predict (BENCHMARKS.md). Anything else, and any request the direct
    path cannot answer with a 200, is handed to Flask from the start (with the body it read), so
    every error is produced by the one set of handlers.
    """

    def __init__(self, flask_app: Callable[..., Any], service: MatchService) -> None:
        self.flask_app = flask_app
        self.service = service
        self.metrics = service.metrics

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        t0 = time.perf_counter()
        path = environ.get("PATH_INFO", "")
        handler = SCORING.get(path)
        if (
            handler is not None
            and environ.get("REQUEST_METHOD") == "POST"
            and environ.get("CONTENT_TYPE") == "application/json"
            and "HTTP_TRANSFER_ENCODING" not in environ
        ):
            answer = self._direct(handler, environ)
            if answer is not None:
                start_response(
                    "200 OK",
                    [("Content-Type", "application/json"), ("Content-Length", str(len(answer._data)))],
                )
                self.metrics.observe(path, "200", time.perf_counter() - t0)
                return answer
        status: list[str] = []

        def recording_start_response(code: str, headers: list, exc_info: Any = None) -> Any:
            status.append(code)
            return start_response(code, headers, exc_info)

        body = self.flask_app(environ, recording_start_response)
        self.metrics.observe(path, status[-1][:3] if status else "000", time.perf_counter() - t0)
        return body

    def _direct(
        self, handler: Callable[..., tuple[dict[str, Any], Scored]], environ: dict[str, Any]
    ) -> _LoggedBody | None:
        """The 200 answer of a scoring call, or None (the body is put back for Flask to read)."""
        length = environ.get("CONTENT_LENGTH", "")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            return None
        raw = environ["wsgi.input"].read(int(length))
        try:
            payload, scored = handler(self.service, orjson.loads(raw))
            data = orjson.dumps(payload)
        except Exception:  # not valid for orjson, refused, or worse: Flask answers it from the start
            environ["wsgi.input"] = io.BytesIO(raw)
            environ["CONTENT_LENGTH"] = str(len(raw))
            return None
        return _LoggedBody(data, self.service.log_writer(scored))


class MatchService:
    """What the routes need: the model holder, the prediction log and the metrics. The app
    factory takes one, so a test can hand the service any model it likes."""

    def __init__(
        self, holder: ModelHolder, prediction_log: PredictionLog, metrics: ServiceMetrics | None = None
    ) -> None:
        self.holder = holder
        self.prediction_log = prediction_log
        self.metrics = metrics or ServiceMetrics()
        self.metrics.serving(holder.model.version)

    @classmethod
    def from_env(
        cls, model_dir: str | Path | None = None, prediction_log: str | Path | None = None
    ) -> MatchService:
        """Defaults from MODEL_DIR and PREDICTION_LOG, else ``ml_model/`` and ``logs/predictions.jsonl``
        (rotation from PREDICTION_LOG_MAX_BYTES and PREDICTION_LOG_KEEP)."""
        model_dir = Path(model_dir or os.environ.get("MODEL_DIR") or ML_MODEL_DIR)
        log_path = Path(prediction_log or os.environ.get("PREDICTION_LOG") or DEFAULT_PREDICTION_LOG)
        return cls(ModelHolder(model_dir), PredictionLog(log_path))

    def score(
        self,
        cols: dict[str, np.ndarray],
        n: int,
        lawyer_ids: list[Any] | None = None,
        constant: frozenset[str] = frozenset(),
        location: str = "instances",
    ) -> Scored:
        """Probabilities for ``n`` validated rows, the request's prediction id, its warnings (rows
        ``location[i]`` with unknown categories) and its log entry (``respond`` writes it once the
        response is sent)."""
        model = self.holder.current()  # one reference for the whole request, even across a reload
        if model.version != self.metrics.model_version:
            self.metrics.serving(model.version)
        x, unknown, fields = model.scorer.design_checked(cols, n, constant)
        scores = model.scorer.forward(x)
        if not np.isfinite(scores).all():  # cannot happen within the schema's bounds; never answer NaN
            raise RuntimeError(f"model {model.version} produced a non-finite probability")
        self.metrics.scored(n, len(unknown))
        warnings, warning_count = _NO_WARNINGS, 0
        if len(unknown):
            log.warning("%d instance(s) (first: %s) have unknown categories in %s; scored with them ignored.",
                        len(unknown), unknown[:10].tolist(), sorted(fields))  # fmt: skip
            known = dict(model.scorer.offsets)
            warnings, warning_count = category_warnings(cols, fields, known, constant, location)
        prediction_id = uuid.uuid4().hex  # what an outcome later refers to (with the lawyer_id)
        entry = LogEntry(model.version, time.time(), cols, scores, prediction_id, lawyer_ids)
        return Scored(model, prediction_id, scores, scores.tolist(), entry, warnings, warning_count)

    def respond(self, payload: dict[str, Any], scored: Scored) -> Response:
        """The 200 response; its log line is written once it is sent (``call_on_close``), and
        only for a response that was built: a request that fails later is not logged."""
        response = _json(payload)
        response.call_on_close(self.log_writer(scored))
        return response

    def log_writer(self, scored: Scored) -> Callable[[], None]:
        """What writes this request's log line (and counts a failure), for after the response."""
        plog, failures, entry = self.prediction_log, self.metrics.log_failures, scored.entry

        def write_log_line() -> None:
            if not plog.write(entry):
                failures.inc()

        return write_log_line


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status=status, mimetype="application/json")


def _service() -> MatchService:
    return current_app.extensions["match_service"]


api = Blueprint("api", __name__)


@api.get("/health")
def health() -> Response:
    """Liveness plus what is being served, for the backend and the on-call person. The counters
    are the service's (every worker's), from the same source as /metrics."""
    service = _service()
    m = service.holder.current()
    scored, unknown = service.metrics.totals()
    return _json({
        "status": "ok",
        "model_version": m.version,
        "trained_at": m.manifest.get("created_at"),
        "training_data_sha256": m.manifest.get("training_data", {}).get("sha256"),
        "instances_scored": scored,
        "unknown_category_instances": unknown,
    })  # fmt: skip


@api.get("/openapi.json")
def openapi() -> Response:
    """The service's OpenAPI 3.1 description, generated from ml_model/schema.py (``ml_model/openapi.py``)."""
    return Response(current_app.extensions["openapi"], mimetype="application/json")


@api.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics: requests by endpoint and status, latency, instances, model version."""
    service = _service()
    model = service.holder.current()
    if model.version != service.metrics.model_version:
        service.metrics.serving(model.version)
    return Response(service.metrics.exposition(), mimetype=CONTENT_TYPE_LATEST)


def predict_payload(service: MatchService, body: Any) -> tuple[dict[str, Any], Scored]:
    """/predict: match probabilities for complete (case, lawyer) pairs, in input order."""
    items = _list_field(body, "instances")
    cols = checked_records(items, FEATURE_FIELDS)
    if cols is None:
        raise collect(records_problems(items, FEATURE_FIELDS, "instances"))
    scored = service.score(cols, len(items))
    payload = {"model_version": scored.model.version, "prediction_id": scored.prediction_id,
               "predictions": scored.probs, "warnings": scored.warnings,
               "warning_count": scored.warning_count}  # fmt: skip
    return payload, scored


def _rank_problems(body: Any) -> Iterator[Problem]:
    """Every problem of a /rank body: its shape, the case, then each lawyer (id and fields)."""
    if not isinstance(body, dict):
        yield Problem("body", None, None, "request body must be a JSON object")
        return
    list_problem = _list_problem(body, "lawyers")
    if list_problem is not None:
        yield list_problem
    yield from record_problems(body.get("case"), CASE_FIELDS, "case")
    if list_problem is None:
        yield from lawyer_problems(body["lawyers"], RANK_LAWYER_FIELDS, "lawyers")


def rank_payload(service: MatchService, body: Any) -> tuple[dict[str, Any], Scored]:
    """/rank: one case against many lawyers, best match first (the backend's one call per client
    request). Anything wrong anywhere in the body is reported at once (``_rank_problems``)."""
    fields = body if isinstance(body, dict) else {}  # not an object: every check below fails
    lawyers = fields.get("lawyers")
    case = checked_record(fields.get("case"), CASE_FIELDS)
    cols = ids = None
    if case is not None and isinstance(lawyers, list) and 0 < len(lawyers) <= MAX_INSTANCES:
        cols = checked_records(lawyers, RANK_LAWYER_FIELDS)
        ids = None if cols is None else checked_lawyer_ids(lawyers)
    if ids is None:
        raise collect(_rank_problems(body))
    n = len(lawyers)
    for name, value in case.items():  # the case beside every lawyer (np.repeat: 6x np.full's speed for text)
        cols[name] = (
            np.repeat(np.array([value], dtype=object), n) if isinstance(value, str) else np.full(n, value)
        )
    scored = service.score(cols, n, ids, CASE_NAMES, "lawyers")
    probs = scored.probs
    ranking = [
        {"lawyer_id": ids[i], "match_probability": probs[i]}
        for i in np.argsort(-scored.scores, kind="stable").tolist()
    ]
    payload = {
        "model_version": scored.model.version,
        "prediction_id": scored.prediction_id,
        "ranking": ranking,
        "warnings": scored.warnings,
        "warning_count": scored.warning_count,
    }
    return payload, scored


SCORING = {"/predict": predict_payload, "/rank": rank_payload}


@api.post("/predict")
def predict() -> Response:
    """Match probabilities for complete (case, lawyer) pairs."""
    service = _service()
    return service.respond(*predict_payload(service, _parse_body()))


@api.post("/rank")
def rank() -> Response:
    """One case against many lawyers, best match first."""
    service = _service()
    return service.respond(*rank_payload(service, _parse_body()))


def register_error_handlers(app: Flask) -> None:
    """Every error is JSON with a sentence that names the problem; 500s are logged, not explained."""

    @app.errorhandler(BadInput)
    def bad_input(exc: BadInput) -> Response:
        return _json({"error": str(exc)}, exc.status)

    @app.errorhandler(InvalidRecord)
    def bad_record(exc: InvalidRecord) -> Response:
        return _json(exc.as_json(), 400)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        path = request.path if len(request.path) <= 100 else request.path[:100] + "…"
        messages = {
            404: f"no such endpoint: {path}",
            405: f"method {request.method} is not allowed on {path}",
            413: f"request body larger than {MAX_BODY_BYTES} bytes",
        }
        response = _json({"error": messages.get(exc.code or 500, exc.description)}, exc.code or 500)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:  # RFC 9110: a 405 lists what is allowed
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def server_error(exc: Exception) -> Response:
        log.exception("Unhandled error on %s %s", request.method, request.path[:100])
        return _json({"error": "internal error; see the service log"}, 500)


def create_app(
    model_dir: str | Path | None = None,
    prediction_log: str | Path | None = None,
    service: MatchService | None = None,
) -> Flask:
    """Build the service around ``service``, or one from MODEL_DIR and PREDICTION_LOG (else defaults)."""
    # One BLAS thread per process: with two workers on two cores, OpenBLAS's own threads
    # made a 1,000-row forward pass 30x slower (8 ms instead of 0.26 ms) under load.
    threadpool_limits(1)
    service = service or MatchService.from_env(model_dir, prediction_log)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["match_service"] = service
    app.extensions["model_holder"] = service.holder
    app.extensions["prediction_log"] = service.prediction_log
    app.extensions["openapi"] = orjson.dumps(openapi_document())  # built once: the schema does not change
    app.register_blueprint(api)
    register_error_handlers(app)
    app.wsgi_app = ServiceApp(app.wsgi_app, service)  # type: ignore[method-assign]
    log.info("Serving model %s from %s; logging predictions to %s (metrics: %s).",
             service.holder.model.version, service.holder.model_dir, service.prediction_log.path,
             f"multiprocess in {service.metrics.path}" if service.metrics.multiprocess else "this process")  # fmt: skip
    return app


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
