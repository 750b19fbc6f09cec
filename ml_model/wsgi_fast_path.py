"""The service's WSGI entry point: metrics for every request, and a fast path for the scoring calls.

A scoring call (POST /predict or /rank) is the one request that must be fast, and Flask's
request context, URL matching and Response object are a large share of a single /predict's
time (BENCHMARKS.md). So a well-formed scoring call is answered here, below Flask, by the same
functions the Flask views call (``scoring_calls``), and its refusals and errors are rendered by
the same functions Flask's error handlers use (``service_responses``). Every other request goes
to Flask untouched. Once this path has read a body it answers the request itself: nothing is
handed back, so no body is parsed or checked twice.

Bodies have a deadline (``body_timeout``, from BODY_TIMEOUT_S: ``body_timeout_from_env``). gunicorn
gives a client ``keepalive`` seconds (5) to send its headers, then nothing for the body: a client
that announced ``Content-Length: 100000`` and went silent held its connection forever. Under gevent
(``make serve``) every read of ``wsgi.input``, by either path, runs under a ``gevent.Timeout`` for
what is left of the deadline, the same mechanism gunicorn uses for the headers. A body not complete
by then is answered 408 with ``Connection: close``, counted in /metrics (``match_body_timeouts``),
and the connection is closed. A blocked read on a plain socket cannot be interrupted that way, so
elsewhere (the development server, sync or gthread workers) no deadline applies.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
from werkzeug.exceptions import RequestTimeout

from ml_model.match_service import MatchService
from ml_model.schema import MAX_BODY_BYTES, BadInput, InvalidRecord
from ml_model.scoring_calls import SCORING_CALLS, Payload, parse_json
from ml_model.service_responses import internal_error_response, json_response, refusal_response

StartResponse = Callable[..., Any]

BODY_TIMEOUT_ENV = "BODY_TIMEOUT_S"
DEFAULT_BODY_TIMEOUT_S = 30.0


def body_timeout_from_env() -> float:
    """Seconds a request's body may take to arrive: BODY_TIMEOUT_S, else 30. The one place the
    setting is read. A value that is not a positive number of seconds stops the service at start
    (better than serving without the deadline the operator asked for)."""
    raw = os.environ.get(BODY_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_BODY_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{BODY_TIMEOUT_ENV} must be a number of seconds, got {raw!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{BODY_TIMEOUT_ENV} must be a positive number of seconds, got {raw!r}")
    return value


def gevent_serving() -> bool:
    """True when gevent has patched the socket module (gunicorn's gevent worker does so before it
    loads the app): only then can a blocked body read be interrupted by a ``gevent.Timeout``."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("socket")


class BodyTimeout(RequestTimeout):
    """The request's body did not fully arrive within the deadline: a 408 naming the limit. A
    werkzeug HTTPException, so Flask's handler renders it as the fast path does, and not an
    OSError, which werkzeug's input stream would turn into a 400 "client disconnected"."""

    def __init__(self, limit: float) -> None:
        super().__init__(f"request body did not arrive within {limit:g} s ({BODY_TIMEOUT_ENV})")
        self.limit = limit


def body_timeout_response(exc: BodyTimeout) -> Any:
    """The 408, as Flask's HTTPException handler renders it (``{"error": description}``)."""
    return json_response({"error": exc.description}, exc.code)


class DeadlineInput:
    """``wsgi.input`` with a deadline for the whole body: each read waits at most for what is left
    of it (a ``gevent.Timeout``), so a body trickled one byte a second times out as a silent one
    does. Once a read has timed out, ``timed_out`` is set and every later read fails the same way
    (the stream's position is lost; the connection is closed after the answer)."""

    __slots__ = ("_deadline", "_limit", "_stream", "_timeout", "timed_out")

    def __init__(self, stream: Any, deadline: float, limit: float, timeout_class: type) -> None:
        self._stream = stream
        self._deadline = deadline
        self._limit = limit
        self._timeout = timeout_class
        self.timed_out = False

    def _within(self, read: Callable[..., Any], *args: Any) -> Any:
        if self.timed_out:
            raise BodyTimeout(self._limit)
        # What has already arrived is read even at the deadline (a zero timer fires only when the
        # read would have to wait).
        timer = self._timeout.start_new(max(0.0, self._deadline - time.monotonic()))
        try:
            return read(*args)
        except self._timeout as exc:
            if exc is not timer:
                raise
            self.timed_out = True
            raise BodyTimeout(self._limit) from None
        finally:
            timer.close()

    def read(self, *args: Any) -> bytes:
        return self._within(self._stream.read, *args)

    def readline(self, *args: Any) -> bytes:
        return self._within(self._stream.readline, *args)

    def readlines(self, *args: Any) -> list[bytes]:
        return self._within(self._stream.readlines, *args)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def close_after_response(start_response: StartResponse) -> None:
    """Make the server close the connection once this answer is sent, and say so in it. An app's
    own ``Connection`` header is hop-by-hop and gunicorn drops it; its ``start_response`` is its
    Response's bound method, whose ``force_close`` does both. Elsewhere: nothing."""
    force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
    if callable(force_close):
        force_close()


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

    With ``body_timeout`` (seconds; ``create_app`` gives it only under gevent), ``wsgi.input`` is a
    ``DeadlineInput``: a body not complete that many seconds after the headers is a 408 and the
    connection is closed.
    """

    def __init__(
        self, flask_app: Callable[..., Any], service: MatchService, body_timeout: float | None = None
    ) -> None:
        self.flask_app = flask_app
        self.service = service
        self.metrics = service.metrics
        self.body_timeout = body_timeout
        self._timeout_class: type | None = None
        if body_timeout is not None:
            from gevent import Timeout  # only where the deadline applies: gunicorn's gevent worker

            self._timeout_class = Timeout

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        t0 = time.perf_counter()
        path = environ.get("PATH_INFO", "")
        body_input = None
        if self._timeout_class is not None and "wsgi.input" in environ:
            assert self.body_timeout is not None
            body_input = environ["wsgi.input"] = DeadlineInput(
                environ["wsgi.input"],
                time.monotonic() + self.body_timeout,
                self.body_timeout,
                self._timeout_class,
            )
        call = SCORING_CALLS.get(path)
        length = None if call is None else fast_body_length(environ)
        if call is not None and length is not None:
            body, status = self._direct(call, environ, length, start_response)
        else:
            body, status = self._flask(environ, start_response)
        if body_input is not None and body_input.timed_out:
            self.metrics.body_timeout(path)
            close_after_response(start_response)
        self.metrics.observe(path, status, time.perf_counter() - t0)
        return body

    def _direct(
        self,
        call: Callable[[MatchService, Any], Payload],
        environ: dict[str, Any],
        length: int,
        start_response: StartResponse,
    ) -> tuple[Iterable[bytes], str]:
        """Answer a scoring call: its 200, its refusal (400, 413), a 408 or a 500; and the status."""
        try:
            raw = environ["wsgi.input"].read(length)
        except BodyTimeout as exc:
            response = body_timeout_response(exc)
            return response(environ, start_response), str(response.status_code)
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
