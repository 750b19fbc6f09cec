"""The two scoring calls, /predict and /rank: from a request body to the answer's payload.

Both request paths call these, the WSGI fast path (``wsgi_fast_path``) and the Flask views
(``service_app``), so a body is parsed once, checked once and answered alike whichever path
received it. A refusal is raised as InvalidRecord (400, every problem listed) or BadInput (413),
and rendered by ``service_responses``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import orjson

from ml_model.match_service import MatchService, Scored
from ml_model.request_validation import (
    batch_if_valid,
    lawyer_list_if_valid,
    lawyer_list_problems,
    record_if_valid,
    record_problems,
    validate_batch,
)
from ml_model.schema import (
    CASE_FIELDS,
    FEATURE_FIELDS,
    LAWYER_FIELDS,
    MAX_INSTANCES,
    PAIR_FIELDS,
    BadInput,
    InvalidRecord,
    Problem,
)

RANK_LAWYER_FIELDS = LAWYER_FIELDS + PAIR_FIELDS
CASE_NAMES = frozenset(f.name for f in CASE_FIELDS)
Payload = tuple[dict[str, Any], Scored]


def body_problem(message: str, field: str | None = None) -> InvalidRecord:
    """A 400 about the request as a whole (its content type, its JSON, its top-level fields)."""
    return InvalidRecord([Problem("body", None, field, message)])


def parse_json(raw: bytes) -> Any:
    """The request body as JSON, or a 400 saying why it is not JSON."""
    try:
        return orjson.loads(raw)  # faster than json on a large /rank; refuses lone surrogates
    except orjson.JSONDecodeError:
        pass
    try:  # the standard parser also reads NaN and Infinity, so validation can name the field
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, or an integer over 4300 digits
        reason = str(exc) if len(str(exc)) <= 120 else str(exc)[:120] + "…"
        raise body_problem(f"request body is not valid JSON: {reason}") from exc
    except RecursionError:
        raise body_problem("request body is not valid JSON: nested too deeply") from None


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


def predict_payload(service: MatchService, body: Any) -> Payload:
    """/predict: match probabilities for complete (case, lawyer) pairs, in input order."""
    if not isinstance(body, dict):
        raise body_problem("request body must be a JSON object")
    problem = _list_problem(body, "instances")
    if problem is not None:
        raise InvalidRecord([problem])
    items = body["instances"]
    scored = service.score(validate_batch(items, FEATURE_FIELDS, "instances"), len(items))
    payload = {
        "model_version": scored.model.version,
        "prediction_id": scored.prediction_id,
        "predictions": scored.probs,
        "warnings": scored.warnings,
        "warning_count": scored.warning_count,
    }
    return payload, scored


def rank_body_problems(body: Any) -> Iterator[Problem]:
    """Every problem of a /rank body: its shape, the case, then each lawyer (id and fields)."""
    if not isinstance(body, dict):
        yield Problem("body", None, None, "request body must be a JSON object")
        return
    list_problem = _list_problem(body, "lawyers")
    if list_problem is not None:
        yield list_problem
    yield from record_problems(body.get("case"), CASE_FIELDS, "case")
    if list_problem is None:
        yield from lawyer_list_problems(body["lawyers"], RANK_LAWYER_FIELDS, "lawyers")


def rank_body_if_valid(body: Any) -> tuple[dict[str, np.ndarray], list[Any]] | None:
    """The columns (the case beside every lawyer) and the lawyer ids of a valid /rank body, else
    None; BadInput (413) when the lawyers are too many."""
    if not isinstance(body, dict) or _list_problem(body, "lawyers") is not None:
        return None
    case = record_if_valid(body.get("case"), CASE_FIELDS)
    if case is None:
        return None
    lawyers = body["lawyers"]
    cols = batch_if_valid(lawyers, RANK_LAWYER_FIELDS)
    ids = None if cols is None else lawyer_list_if_valid(lawyers)
    if ids is None:
        return None
    n = len(lawyers)
    for name, value in case.items():  # np.repeat is much faster than np.full for text
        cols[name] = (
            np.repeat(np.array([value], dtype=object), n) if isinstance(value, str) else np.full(n, value)
        )
    return cols, ids


def rank_payload(service: MatchService, body: Any) -> Payload:
    """/rank: one case against many lawyers, best match first (the backend's one call per client
    request). Anything wrong anywhere in the body is reported at once (``rank_body_problems``)."""
    valid = rank_body_if_valid(body)
    if valid is None:
        raise InvalidRecord.from_problems(rank_body_problems(body))
    cols, ids = valid
    scored = service.score(cols, len(ids), ids, CASE_NAMES, "lawyers")
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


SCORING_CALLS: dict[str, Callable[[MatchService, Any], Payload]] = {
    "/predict": predict_payload,
    "/rank": rank_payload,
}
