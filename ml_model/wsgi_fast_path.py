"""The service's WSGI entry point: metrics for every request, and a fast path for the scoring calls.

A scoring call (POST /predict or /rank) is the one request that must be fast, and Flask's
request context, URL matching and Response object are a large share of a single /predict's
time (BENCHMARKS.md). So a well-formed scoring call is answered here, below Flask, by the same
functions the Flask views call (``scoring_calls``), and its refusals and errors are rendered by
the same functions Flask's error handlers use (``service_responses``). Every other request goes
to Flask untouched. Once this path has read a body it answers the request itself: nothing is
handed back, so no body is parsed or checked twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from ml_model.match_service import MatchService
from ml_model.schema import MAX_BODY_BYTES, BadInput, InvalidRecord
from ml_model.scoring_calls import SCORING_CALLS, Payload, parse_json
from ml_model.service_responses import internal_error_response, refusal_response

StartResponse = Callable[..., Any]


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


def fast_body_length(environ: dict[str, Any]) -> int | None:
    """The body's length when the fast path may read it: a POST of exactly ``application/json``
    with a Content-Length within the limit (not chunked). None: Flask answers (a wrong content
    type, or a body over the limit, with its own handlers)."""
    if (
        environ.get("REQUEST_METHOD") != "POST"
        or environ.get("CONTENT_TYPE") != "application/json"
        or "HTTP_TRANSFER_ENCODING" in environ
    ):
        return None
    length = environ.get("CONTENT_LENGTH", "")
    if not length.isdigit() or int(length) > MAX_BODY_BYTES:
        return None
    return int(length)


class ServiceApp:
    """The WSGI entry point: every request is counted by endpoint and status and timed
    (``ServiceMetrics.observe``); a scoring call that ``fast_body_length`` admits is answered
    here with the same status, headers and body as Flask would give; anything else goes to Flask.
    """

    def __init__(self, flask_app: Callable[..., Any], service: MatchService) -> None:
        self.flask_app = flask_app
        self.service = service
        self.metrics = service.metrics

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        t0 = time.perf_counter()
        path = environ.get("PATH_INFO", "")
        call = SCORING_CALLS.get(path)
        length = None if call is None else fast_body_length(environ)
        if call is not None and length is not None:
            body, status = self._direct(call, environ, length, start_response)
        else:
            body, status = self._flask(environ, start_response)
        self.metrics.observe(path, status, time.perf_counter() - t0)
        return body

    def _direct(
        self,
        call: Callable[[MatchService, Any], Payload],
        environ: dict[str, Any],
        length: int,
        start_response: StartResponse,
    ) -> tuple[Iterable[bytes], str]:
        """Answer a scoring call: its 200, its refusal (400, 413) or a 500; and the status."""
        raw = environ["wsgi.input"].read(length)
        try:
            payload, scored = call(self.service, parse_json(raw))
            data = orjson.dumps(payload)
        except (InvalidRecord, BadInput) as exc:
            response = refusal_response(exc)
        except Exception:
            response = internal_error_response(environ["REQUEST_METHOD"], environ["PATH_INFO"])
        else:
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
            start_response("200 OK", headers)
            return _LoggedBody(data, self.service.log_writer(scored)), "200"
        return response(environ, start_response), str(response.status_code)

    def _flask(self, environ: dict[str, Any], start_response: StartResponse) -> tuple[Iterable[bytes], str]:
        """Flask's answer and its status ("000" if it never started a response)."""
        status: list[str] = []

        def recording_start_response(code: str, headers: list, exc_info: Any = None) -> Any:
            status.append(code)
            return start_response(code, headers, exc_info)

        body = self.flask_app(environ, recording_start_response)
        return body, status[-1][:3] if status else "000"
