"""The WSGI fast path, in process: it answers a scoring call exactly as the Flask path does (status
line, headers, body), its refusals included, and it parses and checks a body once: a refused call
is answered here, never handed back to Flask to be read again."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from flask import Flask

from ml_model import request_validation, scoring_calls, wsgi_fast_path
from ml_model import service_app as service_app_module
from ml_model.schema import CASE_FIELDS, FEATURES
from ml_model.service_app import create_app
from mlops.sidecar.simulator import simulate

ROWS = json.loads(simulate(30, 17)[list(FEATURES)].to_json(orient="records"))
CASE = {f.name: ROWS[0][f.name] for f in CASE_FIELDS}
LAWYERS = [{"lawyer_id": i, **{k: v for k, v in r.items() if k not in CASE}} for i, r in enumerate(ROWS)]
FLASK_ONLY = "application/json; charset=utf-8"  # the fast path takes exactly "application/json"
BODIES = {
    "predict": ("/predict", {"instances": ROWS[:3]}),
    "predict-warnings": ("/predict", {"instances": [{**ROWS[0], "urgency": "ASAP"}, *ROWS[1:25]]}),
    "predict-problems": ("/predict", {"instances": [{**ROWS[0], "lawyer_rating": 0}, {}, 5]}),
    "predict-too-many": ("/predict", {"instances": [{}] * 10_001}),
    "predict-empty": ("/predict", {"instances": []}),
    "not-an-object": ("/predict", [1]),
    "rank": ("/rank", {"case": CASE, "lawyers": LAWYERS}),
    "rank-problems": ("/rank", {"case": {**CASE, "urgency": 3}, "lawyers": [LAWYERS[0], {"lawyer_id": ""}]}),
    "rank-too-many": ("/rank", {"case": [], "lawyers": [{}] * 10_001}),
    "not-json": ("/rank", b"{not json"),
    "nan": ("/predict", json.dumps({"instances": [{**ROWS[0], "distance_km": float("nan")}]}).encode()),
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = create_app(prediction_log=tmp_path_factory.mktemp("fast-path") / "predictions.jsonl")
    yield app
    app.extensions["prediction_log"].close()


def call(app: Flask, path: str, body: Any, content_type: str = "application/json") -> dict[str, Any]:
    """One request through the whole WSGI stack: its status line, headers and body (the random
    prediction id masked)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SERVER_NAME": "test",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(data),
        "wsgi.errors": sys.stderr,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(data)),
    }
    started: list[tuple[str, list]] = []
    out = app(environ, lambda status, headers, exc_info=None: started.append((status, headers)))
    answer = b"".join(out)
    getattr(out, "close", lambda: None)()  # the server's close: writes a 200's log line
    text = re.sub(r'"prediction_id":"[0-9a-f]{32}"', '"prediction_id":"-"', answer.decode())
    return {"status": started[0][0], "headers": started[0][1], "body": text}


@pytest.mark.parametrize("name", list(BODIES))
def test_the_fast_path_answers_as_flask_does(app: Flask, name: str) -> None:
    path, body = BODIES[name]
    fast, flask = call(app, path, body), call(app, path, body, FLASK_ONLY)
    assert fast == flask


def test_a_refused_call_is_parsed_and_checked_once_and_never_reaches_flask(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = {"parse": 0, "checked": 0, "listed": 0, "flask": 0}

    def counting(key: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[key] += 1
            return fn(*args, **kwargs)

        return wrapper

    entry = app.wsgi_app  # the ServiceApp in front of Flask
    parse = counting("parse", scoring_calls.parse_json)
    monkeypatch.setattr(wsgi_fast_path, "parse_json", parse)
    monkeypatch.setattr(service_app_module, "parse_json", parse)
    monkeypatch.setattr(
        scoring_calls, "validate_batch", counting("checked", request_validation.validate_batch)
    )
    monkeypatch.setattr(
        request_validation, "batch_problems", counting("listed", request_validation.batch_problems)
    )
    monkeypatch.setattr(entry, "flask_app", counting("flask", entry.flask_app))
    answer = call(app, *BODIES["predict-problems"])
    assert answer["status"] == "400 BAD REQUEST" and json.loads(answer["body"])["error_count"] == 1 + 14 + 1
    assert counts == {"parse": 1, "checked": 1, "listed": 1, "flask": 0}
    call(app, *BODIES["predict-problems"], FLASK_ONLY)  # the Flask path: the same functions, once each
    assert counts == {"parse": 2, "checked": 2, "listed": 2, "flask": 1}


def test_an_internal_error_is_logged_once_and_answered_alike(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    scorer = app.extensions["model_holder"].model.scorer
    forward = scorer.forward
    monkeypatch.setattr(scorer, "forward", lambda x: forward(x) * np.nan)
    answers = []
    for content_type in ("application/json", FLASK_ONLY):
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            answers.append(call(app, *BODIES["predict"], content_type))
        [record] = caplog.records
        assert record.getMessage() == "Unhandled error on POST /predict" and record.exc_info
    assert answers[0] == answers[1]
    assert answers[0]["status"] == "500 INTERNAL SERVER ERROR"
    assert json.loads(answers[0]["body"]) == {"error": "internal error; see the service log"}


def test_only_a_well_formed_scoring_post_takes_the_fast_path() -> None:
    base = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "10"}
    assert wsgi_fast_path.fast_body_length(base) == 10
    for change in (
        {"REQUEST_METHOD": "PUT"},
        {"CONTENT_TYPE": FLASK_ONLY},
        {"CONTENT_LENGTH": ""},
        {"CONTENT_LENGTH": "-1"},
        {"CONTENT_LENGTH": str((1 << 20) + 1)},
        {"HTTP_TRANSFER_ENCODING": "chunked"},
    ):
        assert wsgi_fast_path.fast_body_length({**base, **change}) is None, change
