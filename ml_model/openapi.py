"""The match service's published contract: an OpenAPI 3.1 description generated from ``ml_model/schema.py``.

The schema is the one source: every field's kind, vocabulary and range, the text and lawyer_id
rules and the request limits come from it, so the description cannot drift from what the
service checks. The service serves it at ``GET /openapi.json``; ``python ml_model/contract.py``
also writes it to ``ml_model/openapi.json`` for tools that read a file, and the tests fail when
that file differs from this module's output (and validate it with openapi-spec-validator).
"""

from __future__ import annotations

import json
from typing import Any

from ml_model.openapi_schemas import ref, request_schemas, response_schemas
from ml_model.paths import REPO_ROOT
from ml_model.schema import MAX_BODY_BYTES, MAX_ERRORS, MAX_INSTANCES, MAX_TEXT_CHARS
from ml_model.wsgi_fast_path import BODY_TIMEOUT_ENV, DEFAULT_BODY_TIMEOUT_S

OPENAPI_FILE = REPO_ROOT / "ml_model" / "openapi.json"
API_VERSION = "1.2.0"  # the contract's own version: raise it when a field, rule or endpoint changes

_DESCRIPTION = f"""Scores (client case, lawyer) pairs with the production model.

Every field comes from `ml_model/schema.py`. A category field is text of at most {MAX_TEXT_CHARS}
characters of valid Unicode (no lone surrogates); a value outside its known values is scored
with that field ignored and named in the answer's `warnings` (nothing is normalised: "Family" is
not read as "family", though the warning suggests it). A 400 lists every problem in `errors`
(location, index, field, message; at most {MAX_ERRORS}, `error_count` counts all) and joins the
first few into the readable `error` sentence. Errors quote at most 40 characters of a value.
A body over {MAX_BODY_BYTES} bytes or a list over {MAX_INSTANCES} entries is a 413; a body not
complete {DEFAULT_BODY_TIMEOUT_S:g} s after the headers ({BODY_TIMEOUT_ENV}) is a 408, and the
connection is closed. Properties not described here are ignored."""


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _responses(ok: str, ok_schema: str | None, errors: dict[str, str]) -> dict[str, Any]:
    """The 200 (a schema name, or None for text) and the error statuses an operation answers."""
    content = _json_content(ref(ok_schema)) if ok_schema else {"text/plain": {"schema": {"type": "string"}}}
    out: dict[str, Any] = {"200": {"description": ok, "content": content}}
    for status, (description, schema) in {
        **{code: (text, "BadRequest" if code == "400" else "Error") for code, text in errors.items()},
        "500": ("An internal error (logged by the service, not explained).", "Error"),
    }.items():
        out[status] = {"description": description, "content": _json_content(ref(schema))}
    return out


def _scoring_operation(name: str, summary: str, request: str, response: str) -> dict[str, Any]:
    return {
        "operationId": name,
        "summary": summary,
        "requestBody": {"required": True, "content": _json_content(ref(request))},
        "responses": _responses(
            "Scored.",
            response,
            {
                "400": "The request breaks the contract: every problem is listed.",
                "408": f"The body did not fully arrive within {BODY_TIMEOUT_ENV} seconds of the headers "
                f"(default {DEFAULT_BODY_TIMEOUT_S:g}); the connection is closed.",
                "413": f"A body over {MAX_BODY_BYTES} bytes or a list over {MAX_INSTANCES} entries.",
            },
        ),
    }


def _get(name: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    """A GET endpoint's description."""
    return {"get": {"operationId": name, "summary": summary, "responses": responses}}


def _paths() -> dict[str, Any]:
    """Every endpoint the service answers."""
    document = {"description": "The OpenAPI 3.1 document.", "content": _json_content({"type": "object"})}
    return {
        "/health": _get(
            "health", "Liveness and the model being served.", _responses("Serving.", "Health", {})
        ),
        "/predict": {
            "post": _scoring_operation(
                "predict",
                "Match probabilities for complete (case, lawyer) pairs, in input order.",
                "PredictRequest",
                "PredictResponse",
            )
        },
        "/rank": {
            "post": _scoring_operation(
                "rank", "One case against many lawyers, best match first.", "RankRequest", "RankResponse"
            )
        },
        "/metrics": _get("metrics", "Prometheus metrics (text format).", _responses("Metrics.", None, {})),
        "/openapi.json": _get("openapi", "This description.", {"200": document}),
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of the match service, from the schema (plain data, no I/O)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "LegalAid Connect match service",
            "version": API_VERSION,
            "description": _DESCRIPTION,
        },
        "servers": [{"url": "http://127.0.0.1:8000", "description": "The development server's default."}],
        "paths": _paths(),
        "components": {"schemas": {**request_schemas(), **response_schemas()}},
    }


def rendered() -> str:
    """The committed file's exact text (stable: sorted keys, one trailing newline)."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
