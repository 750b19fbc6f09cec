"""The components of the match service's OpenAPI description: what a client sends and what it gets.

Each field's JSON Schema comes from its ``Field`` in ``ml_model/schema.py``; ``openapi.py`` puts
these schemas together with the endpoints into the document. The examples here are what a real
client sends (an income of 28,500, a lawyer 3.4 km away): a tool that makes up a request from the
description takes them instead of a range's ends (an income of 10,000,000, a distance of 20,000 km).
"""

from __future__ import annotations

from typing import Any

from ml_model.match_service import _warning as unknown_category_warning  # the service's own words
from ml_model.request_validation import lawyer_list_problems, record_problems
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
    BadInput,
    Field,
    InvalidRecord,
    Problem,
)
from ml_model.scoring_calls import _list_problem  # the service's own 413 sentence

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


# Whole requests and answers, as a client sees them (OpenAPI ``examples`` on each body). A housing
# case in Spanish against three lawyers from the directory; the scores are what model
# v20261127_025004 gave them (a later model gives others), the refusal is the service's own words.
_CASE = {
    "case_type": "housing",
    "case_complexity": 3,
    "urgency": "high",
    "client_language": "es",
    "client_region": "east",
    "client_income": 28_500,
}
_LAWYERS = [
    {
        "lawyer_id": "L-1024",
        "lawyer_specialization": "housing",
        "lawyer_language": "es",
        "lawyer_region": "east",
        "lawyer_experience_years": 11,
        "lawyer_rating": 4.6,
        "lawyer_active_cases": 9,
        "lawyer_hourly_rate": 0,
        "distance_km": 3.4,
    },
    {
        "lawyer_id": "L-2048",
        "lawyer_specialization": "family",
        "lawyer_language": "en",
        "lawyer_region": "east",
        "lawyer_experience_years": 6,
        "lawyer_rating": 4.1,
        "lawyer_active_cases": 14,
        "lawyer_hourly_rate": 95,
        "distance_km": 8.9,
    },
    {
        "lawyer_id": "L-4096",
        "lawyer_specialization": "housing",
        "lawyer_language": "en",
        "lawyer_region": "central",
        "lawyer_experience_years": 19,
        "lawyer_rating": 4.8,
        "lawyer_active_cases": 22,
        "lawyer_hourly_rate": 180,
        "distance_km": 21.5,
    },
]
_SCORES = {"L-1024": 0.96467, "L-2048": 0.00814, "L-4096": 0.01576}
_MODEL = "v20261127_025004"


def _pair(lawyer: dict[str, Any]) -> dict[str, Any]:
    """One /predict instance: the case and one lawyer (without its id)."""
    return {**_CASE, **{k: v for k, v in lawyer.items() if k != "lawyer_id"}}


def _example(summary: str, value: Any, description: str | None = None) -> dict[str, Any]:
    return {"summary": summary, "value": value} | ({"description": description} if description else {})


def refused_requests() -> dict[str, Any]:
    """The requests whose answers are the 400 examples: the request examples, made wrong (they are
    not request examples themselves, which must fit the description)."""
    bad = {**_pair(_LAWYERS[0]), "client_income": -1}
    del bad["urgency"]
    lost = [dict(lawyer) for lawyer in _LAWYERS]
    del lost[2]["distance_km"]
    lost[1]["lawyer_rating"] = 6
    return {
        "predict": {"instances": [bad]},
        "rank": {"case": {**_CASE, "client_income": -1}, "lawyers": lost},
    }


def _answer(results: str, value: list[Any], prediction_id: str, warnings: list[dict[str, Any]]) -> dict:
    return {
        "model_version": _MODEL,
        "prediction_id": prediction_id,
        results: value,
        "warnings": warnings,
        "warning_count": len(warnings),
    }


def _refusal(problems: list[Problem]) -> dict[str, Any]:
    """A 400 body exactly as the service words it (its own validator's sentences)."""
    return InvalidRecord(problems).as_json()


def _error_examples(body_timeout: str) -> dict[str, dict[str, Any]]:
    """A scoring call's other errors, in the service's words (``body_timeout``: the 408's)."""
    try:
        _list_problem({"instances": [None] * (MAX_INSTANCES + 1)}, "instances")
        raise AssertionError("a list over MAX_INSTANCES was not refused")
    except BadInput as exc:
        too_long = str(exc)
    return {
        "408": {"late": _example("The body stopped arriving", {"error": body_timeout})},
        "413": {"too_long": _example("Too many instances", {"error": too_long})},
        "500": {
            "internal": _example(
                "A bug: logged, not explained", {"error": "internal error; see the service log"}
            )
        },
    }


def operation_examples(body_timeout: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Named examples per operation and body: ``{operation: {"request" | status: {name: example}}}``;
    ``body_timeout`` is the 408's sentence."""
    errors = _error_examples(body_timeout)
    pairs = [_pair(lawyer) for lawyer in _LAWYERS[:2]]
    refused = refused_requests()
    ranked = sorted(_LAWYERS, key=lambda lawyer: -_SCORES[lawyer["lawyer_id"]])
    ranking = [{"lawyer_id": x["lawyer_id"], "match_probability": _SCORES[x["lawyer_id"]]} for x in ranked]
    cased = unknown_category_warning("case", None, "case_type", "Housing")
    rank_problems = [
        *record_problems(refused["rank"]["case"], CASE_FIELDS, "case"),
        *lawyer_list_problems(refused["rank"]["lawyers"], LAWYER_FIELDS + PAIR_FIELDS, "lawyers"),
    ]
    return {
        "health": {
            "200": {
                "serving": _example(
                    "Serving, with the service's counters",
                    {
                        "status": "ok",
                        "model_version": _MODEL,
                        "trained_at": "2026-11-27T02:50:04+00:00",
                        "training_data_sha256": "b1d328f32913badac82c491ed4e5a9a63068713a33fbb8be22db6f1a72834124",
                        "instances_scored": 1520,
                        "unknown_category_instances": 3,
                    },
                )
            }
        },
        "predict": {
            **errors,
            "request": {
                "two_pairs": _example("A housing case against two lawyers", {"instances": pairs}),
            },
            "200": {
                "two_pairs": _example(
                    "One probability per pair, in order",
                    _answer(
                        "predictions",
                        [_SCORES["L-1024"], _SCORES["L-2048"]],
                        "7788658058d2454b8eee9a03e3e5006e",
                        [],
                    ),
                )
            },
            "400": {
                "refused": _example(
                    "Every problem, with its place",
                    _refusal(
                        list(
                            record_problems(
                                refused["predict"]["instances"][0], FEATURE_FIELDS, "instances", 0
                            )
                        )
                    ),
                    "The answer to the first pair of the request example with `client_income` -1 and no `urgency`.",
                )
            },
        },
        "rank": {
            **errors,
            "request": {
                "three_lawyers": _example(
                    "A housing case in Spanish against three lawyers", {"case": _CASE, "lawyers": _LAWYERS}
                ),
                "miscased": _example(
                    'The same with case_type "Housing": scored with a warning',
                    {"case": {**_CASE, "case_type": "Housing"}, "lawyers": _LAWYERS},
                ),
            },
            "400": {
                "refused": _example(
                    "Every problem of the case and of each lawyer",
                    _refusal(rank_problems),
                    "The answer to the request example with `client_income` -1, the second lawyer's "
                    "`lawyer_rating` 6 and the third lawyer's `distance_km` missing.",
                )
            },
            "200": {
                "three_lawyers": _example(
                    "Best match first",
                    _answer("ranking", ranking, "25f8cfbee60c4a4ebea70a393c4a7204", []),
                ),
                "miscased": _example(
                    '"Housing" is not "housing": case_type ignored, and named in warnings',
                    _answer(
                        "ranking",
                        [
                            {"lawyer_id": "L-1024", "match_probability": 0.83138},
                            {"lawyer_id": "L-2048", "match_probability": 0.0087},
                            {"lawyer_id": "L-4096", "match_probability": 0.0028},
                        ],
                        "28c2ea75931c4e02879532c72d80aba3",
                        [cased],
                    ),
                ),
            },
        },
    }
