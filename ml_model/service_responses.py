"""Every JSON response of the match service, built one way for both request paths.

The Flask error handlers (``service_app``) and the WSGI fast path (``wsgi_fast_path``) render
a refusal or an internal error with these same functions, so an answer's status line, headers
and body do not depend on which path produced it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from flask import Response

from ml_model.schema import BadInput, InvalidRecord

log = logging.getLogger(__name__)


def json_response(payload: dict[str, Any], status: int = 200) -> Response:
    """``payload`` as a JSON response."""
    return Response(orjson.dumps(payload), status=status, mimetype="application/json")


def scored_response(payload: dict[str, Any], write_log_line: Callable[[], None]) -> Response:
    """A scoring call's 200, whose log line is written once it is sent (``call_on_close``)."""
    response = json_response(payload)
    response.call_on_close(write_log_line)
    return response


def refusal_response(exc: InvalidRecord | BadInput) -> Response:
    """A refused request: a 400 listing every problem, or a 413 with its one sentence."""
    if isinstance(exc, BadInput):
        return json_response({"error": str(exc)}, exc.status)
    return json_response(exc.as_json(), 400)


def internal_error_response(method: str, path: str) -> Response:
    """A 500 for the exception being handled: logged with its traceback, not explained to the client."""
    log.exception("Unhandled error on %s %s", method, path[:100])
    return json_response({"error": "internal error; see the service log"}, 500)
