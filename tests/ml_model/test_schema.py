"""The contract's own pieces: field rules in words, the 400's error and its summary, short quotes
of any value, and the names that moved to the validators still import from here."""

from __future__ import annotations

import pytest

from ml_model.schema import (
    FIELDS_BY_NAME,
    MAX_ERRORS,
    SUMMARY_CHARS,
    InvalidRecord,
    Problem,
    short_repr,
)


def test_a_field_states_its_rule() -> None:
    assert FIELDS_BY_NAME["urgency"].describe() == "one of low, medium, high"
    assert FIELDS_BY_NAME["case_complexity"].describe() == "an integer in [1, 5]"
    assert FIELDS_BY_NAME["lawyer_rating"].describe() == "a number in [1, 5]"


def test_an_invalid_record_lists_the_first_problems_and_counts_them_all() -> None:
    problems = (Problem("instances", i, "urgency", "missing field 'urgency'") for i in range(1000))
    err = InvalidRecord.from_problems(problems)
    assert len(err.problems) == MAX_ERRORS and err.total == 1000
    body = err.as_json()
    assert list(body) == ["error", "errors", "error_count"] and body["error_count"] == 1000
    assert body["errors"][0] == {
        "location": "instances",
        "index": 0,
        "field": "urgency",
        "message": "missing field 'urgency'",
    }
    assert str(err).startswith("instances[0]: missing field 'urgency'; instances[1]: missing")
    assert len(str(err)) < SUMMARY_CHARS + 80 and str(err).endswith("more: see 'errors')")
    one = InvalidRecord([Problem("body", None, None, "request body must be a JSON object")])
    assert str(one) == "request body must be a JSON object" and one.total == 1
    with pytest.raises(ValueError, match="at least one problem"):
        InvalidRecord.from_problems([])


def test_short_repr_quotes_a_short_prefix_of_anything() -> None:
    assert short_repr("abc") == "'abc'"
    long = short_repr("y" * 1_000_000)
    assert long.startswith("'" + "y" * 40) and long.endswith("… (1000000 characters)") and len(long) < 80
    assert short_repr("\udc80") == "'\\udc80'"  # escaped: safe to put in any JSON answer
    assert short_repr(10**400) == "a 401-digit integer" and short_repr(12) == "12"
    assert short_repr([[[[]]]] * 10**5) == "a list of 100000"
    assert short_repr({"a": 1}) == "an object with 1 keys"
    assert short_repr(float("nan")) == "nan" and short_repr(None) == "None" and short_repr(True) == "True"
