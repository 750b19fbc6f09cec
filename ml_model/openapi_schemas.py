"""The components of the match service's OpenAPI description: what a client sends and what it gets.

Each field's JSON Schema comes from its ``Field`` in ``ml_model/schema.py``; ``openapi.py`` puts
these schemas together with the endpoints into the document. Each number's ``examples`` are what
a real client sends (``TYPICAL``: an income of 28,500, a lawyer 3.4 km away), so a tool that makes
up a value from the description does not take a range's end (an income of 10,000,000, a distance
of 20,000 km); whole requests and answers are in ``openapi_examples``.
"""

from __future__ import annotations

from typing import Any

from ml_model.schema import (
    CASE_FIELDS,
    CATEGORICAL,
    FEATURE_FIELDS,
    LAWYER_FIELDS,
    MAX_ERRORS,
    MAX_INSTANCES,
    MAX_LAWYER_ID,
    MAX_TEXT_CHARS,
    PAIR_FIELDS,
    Field,
)

_REF = "#/components/schemas/"

# Typical values of each number, first the most common: every field's ``examples``. The tests hold
# them inside the contract's ranges and incomes and distances to what a legal-aid client has.
TYPICAL: dict[str, tuple[float, ...]] = {
    "case_complexity": (3, 2, 4),
    "client_income": (28_500, 18_000, 46_000),
    "lawyer_experience_years": (11, 4, 23),
    "lawyer_rating": (4.4, 3.9, 4.8),
    "lawyer_active_cases": (12, 6, 21),
    "lawyer_hourly_rate": (95, 0, 180),
    "distance_km": (3.4, 8.9, 21.5),
}


def field_schema(f: Field) -> dict[str, Any]:
    """One field of the contract as a JSON Schema: a category is open text whose known values are
    listed (``x-known-values``, also as ``examples``); a number has its inclusive range."""
    if f.kind == "category":
        known = ", ".join(f.vocab)
        return {
            "type": "string",
            "maxLength": MAX_TEXT_CHARS,
            "x-known-values": list(f.vocab),
            "examples": list(f.vocab),
            "description": f"Known values: {known}. Any other text is scored with this field ignored "
            "and named in `warnings`.",
        }
    out: dict[str, Any] = {"type": "integer" if f.kind == "int" else "number"}
    if f.min is not None:
        out["minimum"] = f.min
    if f.max is not None:
        out["maximum"] = f.max
    out["description"] = f"{f.describe()[0].upper()}{f.describe()[1:]}; NaN and Infinity are refused."
    if f.name in TYPICAL:
        out["examples"] = list(TYPICAL[f.name])
    return out


def _object(
    description: str, fields: tuple[Field, ...], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An object that requires every field in ``fields`` (and ``extra``, first); others are ignored."""
    properties = {**(extra or {}), **{f.name: field_schema(f) for f in fields}}
    return {
        "type": "object",
        "description": description,
        "required": list(properties),
        "properties": properties,
    }


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema ``name``."""
    return {"$ref": _REF + name}


def _list(item: str, description: str) -> dict[str, Any]:
    return {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_INSTANCES,
        "items": ref(item),
        "description": description,
    }


def _nullable(kind: str, description: str) -> dict[str, Any]:
    return {"type": [kind, "null"], "description": description}


def request_schemas() -> dict[str, dict[str, Any]]:
    """What a client sends: /predict's instances, /rank's case and lawyers."""
    lawyer_id = {
        "examples": ["L-1024", 17],
        "description": f"The lawyer's id, given back in the ranking: a string of 1 to {MAX_TEXT_CHARS} characters "
        "of valid Unicode, or an integer in [0, 2**53) (exact in every JSON reader).",
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_CHARS},
            {"type": "integer", "minimum": 0, "maximum": MAX_LAWYER_ID - 1},
        ],
    }
    return {
        "LawyerId": lawyer_id,
        "Instance": _object("One complete (case, lawyer) pair.", FEATURE_FIELDS),
        "Case": _object("The client's case, scored against every lawyer.", CASE_FIELDS),
        "RankLawyer": _object(
            "One candidate lawyer and the distance to the client.",
            LAWYER_FIELDS + PAIR_FIELDS,
            {"lawyer_id": ref("LawyerId")},
        ),
        "PredictRequest": {
            "type": "object",
            "required": ["instances"],
            "properties": {"instances": _list("Instance", "The pairs to score, in the order wanted back.")},
        },
        "RankRequest": {
            "type": "object",
            "required": ["case", "lawyers"],
            "properties": {"case": ref("Case"), "lawyers": _list("RankLawyer", "The candidates.")},
        },
    }


def _scored(results: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A 200 answer: ``results``, the model version, the prediction id and the warnings."""
    return {
        "type": "object",
        "required": ["model_version", "prediction_id", results, "warnings", "warning_count"],
        "properties": {
            "model_version": {"type": "string", "description": "The model that produced these scores."},
            "prediction_id": {
                "type": "string",
                "pattern": "^[0-9a-f]{32}$",
                "description": "This request's id in the prediction log; outcomes refer to it.",
            },
            results: schema,
            "warnings": {"type": "array", "maxItems": MAX_ERRORS, "items": ref("Warning")},
            "warning_count": {"type": "integer", "minimum": 0, "description": "All warnings, listed or not."},
        },
    }


def response_schemas() -> dict[str, dict[str, Any]]:
    """What the service answers: scores, warnings, health, errors. Every answer object is closed
    (``additionalProperties: false``): a key the service adds without describing it breaks the tests."""
    probability = {"type": "number", "minimum": 0, "maximum": 1}
    ranked = {
        "type": "object",
        "required": ["lawyer_id", "match_probability"],
        "properties": {"lawyer_id": ref("LawyerId"), "match_probability": probability},
        "additionalProperties": False,
    }
    schemas = {
        "PredictResponse": _scored(
            "predictions",
            {"type": "array", "items": probability, "description": "One per instance, in order."},
        ),
        "RankResponse": _scored(
            "ranking", {"type": "array", "items": ranked, "description": "Every lawyer, best match first."}
        ),
        "Warning": {
            "type": "object",
            "description": "A category the model does not know: scored with that field ignored.",
            "required": ["location", "index", "field", "value", "message"],
            "properties": {
                "location": {"enum": ["case", "instances", "lawyers"]},
                "index": {"type": ["integer", "null"], "minimum": 0, "description": "Position in the list."},
                "field": {"enum": list(CATEGORICAL)},
                "value": {"type": "string", "description": "The value, or its first 40 characters and '…'."},
                "message": {"type": "string"},
            },
        },
        "Health": _health_schema(),
        "Index": _index_schema(),
        **_error_schemas(),
    }
    return {name: {**schema, "additionalProperties": False} for name, schema in schemas.items()}


def _health_schema() -> dict[str, Any]:
    """/health: liveness, the model being served and the service's counters."""
    return {
        "type": "object",
        "required": [
            "status",
            "model_version",
            "trained_at",
            "training_data_sha256",
            "instances_scored",
            "unknown_category_instances",
        ],
        "properties": {
            "status": {"const": "ok"},
            "model_version": {"type": "string"},
            "trained_at": _nullable("string", "When the served model was trained (its manifest)."),
            "training_data_sha256": _nullable("string", "The training data's hash (its manifest)."),
            "instances_scored": {"type": "integer", "minimum": 0},
            "unknown_category_instances": {"type": "integer", "minimum": 0},
        },
    }


def _index_schema() -> dict[str, Any]:
    """/: where everything is, for a person who found the port."""
    text = {"type": "string"}
    link = {"type": "string", "pattern": "^/"}
    endpoint = {
        "type": "object",
        "required": ["method", "path", "summary"],
        "properties": {"method": text, "path": link, "summary": text},
        "additionalProperties": False,
    }
    links = ["docs", "openapi", "health", "metrics"]
    return {
        "type": "object",
        "required": ["service", "api_version", "links", "endpoints"],
        "properties": {
            "service": text,
            "api_version": text,
            "links": {
                "type": "object",
                "required": links,
                "properties": dict.fromkeys(links, link),
                "additionalProperties": False,
            },
            "endpoints": {"type": "array", "items": endpoint},
        },
    }


def _error_schemas() -> dict[str, dict[str, Any]]:
    """Every error is ``{"error": sentence}``; a 400 adds each problem and their count."""
    problem = {
        "type": "object",
        "required": ["location", "index", "field", "message"],
        "properties": {
            "location": {"enum": ["body", "case", "instances", "lawyers"]},
            "index": {"type": ["integer", "null"], "minimum": 0, "description": "Position in the list."},
            "field": _nullable("string", "The field, or null for the body or a whole entry."),
            "message": {"type": "string", "description": "The problem, naming the field."},
        },
    }
    properties = {
        "error": {"type": "string", "description": "The first problems in one readable sentence."},
        "errors": {"type": "array", "maxItems": MAX_ERRORS, "items": ref("Problem")},
        "error_count": {"type": "integer", "minimum": 1, "description": "All problems, listed or not."},
    }
    return {
        "Problem": problem,
        "Error": {"type": "object", "required": ["error"], "properties": properties},
        "BadRequest": {"type": "object", "required": list(properties), "properties": properties},
    }
