"""Whole requests and answers for the match service's OpenAPI description (its ``examples``).

A housing case in Spanish against three lawyers from the directory, as a real client sends it (an
income of 28,500, lawyers 3 to 22 km away): a tool that makes up a request from the description
takes these instead of a range's ends. The refusals and warnings are worded by the service's own
code, so they cannot drift; the scores are what model v20261127_025004 gave (a later model gives
others). tests/ml_model/test_openapi.py checks each example fits the description and that the
service answers each request as shown.
"""

from __future__ import annotations

from typing import Any

from ml_model.match_service import _warning as unknown_category_warning  # the service's own words
from ml_model.request_validation import lawyer_list_problems, record_problems
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
from ml_model.scoring_calls import _list_problem  # the service's own 413 sentence

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
