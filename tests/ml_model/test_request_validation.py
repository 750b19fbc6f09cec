"""Request validation: the fast path (``*_if_valid``) and the slow path (``*_problems``) agree on
every input, the same accept-or-refuse decision and, when they accept, the same values; and the
slow path names each problem with its place.

The properties run without a service (hypothesis, bounded: no deadline, no example database,
the same examples every run); ``oracle`` is the contract's conversion written out plainly.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from ml_model.request_validation import (
    batch_if_valid,
    batch_problems,
    field_problem,
    lawyer_id_problem,
    lawyer_list_if_valid,
    lawyer_list_problems,
    record_if_valid,
    validate_batch,
    validate_record,
)
from ml_model.schema import (
    CASE_FIELDS,
    FEATURE_FIELDS,
    FEATURES,
    LAWYER_FIELDS,
    PAIR_FIELDS,
    SMALL_BATCH,
    Field,
    InvalidRecord,
)
from ml_model.scoring_calls import CASE_NAMES, rank_body_if_valid, rank_body_problems
from mlops.sidecar.simulator import simulate

set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "legalaid-hypothesis"))
SETTINGS = settings(max_examples=300, deadline=None, database=None, derandomize=True)
ONE = json.loads(simulate(40, 13)[list(FEATURES)].to_json(orient="records"))
CASE = [f.name for f in CASE_FIELDS]
RANK_LAWYER = LAWYER_FIELDS + PAIR_FIELDS
SINGLE = {f.name: (f,) for f in FEATURE_FIELDS}  # one tuple per field: the fast path caches by tuple
DTYPES = {"category": object, "int": np.int64, "float": np.float64}

any_value = (
    st.sampled_from([v for f in FEATURE_FIELDS for v in f.vocab])
    | st.sampled_from(["Family", " family", "maritime", "", "x" * 64, "x" * 65, "\udc80", "é" * 64])
    | st.integers(min_value=-3, max_value=30)
    | st.integers()
    | st.integers(min_value=2**53 - 2, max_value=2**64)
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(min_value=-1, max_value=50).map(round)  # integral floats: 3.0 is an integer
    | st.sampled_from([0.0, -0.0, 1.0, 5.0, 5.000000000000001, 45.0, 10_000.0, 20_000.0, 1e308])
    | st.text(st.characters(codec=None, exclude_categories=()), max_size=70)
    | st.none()
    | st.booleans()
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)


def oracle(field: Field, value: Any) -> Any:
    """What an accepted value becomes: text as it is, an int field's value as an int, a float's as a float."""
    if field.kind == "category":
        return value
    return int(value) if field.kind == "int" else float(value)


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type (1 and 1.0 differ here)."""
    return type(a) is type(b) and a == b


@SETTINGS
@given(field=st.sampled_from(FEATURE_FIELDS), value=any_value)
def test_one_value_every_path_decides_alike_and_gives_the_same_value(field: Field, value: Any) -> None:
    """Per object (a few objects), column-wise (a large batch) and the slow rule agree on any value."""
    fields, name = SINGLE[field.name], field.name
    good = {name: ONE[0][name]}
    accepted = field_problem(field, value) is None
    row = record_if_valid({name: value}, fields)
    small = batch_if_valid([good, {name: value}], fields)
    large = batch_if_valid([good] * SMALL_BATCH + [{name: value}], fields)
    assert (row is not None) == (small is not None) == (large is not None) == accepted, (row, small, large)
    if accepted:
        want = oracle(field, value)
        assert same(row[name], want)
        for cols in (small, large):
            assert cols[name].dtype == DTYPES[field.kind]
            assert same(cols[name].tolist()[-1], want)


@st.composite
def instances(draw: st.DrawFn, size: int) -> list:
    """Good /predict instances with up to three fields replaced by anything (often still valid)
    or removed, and sometimes an entry that is not an object."""
    items = [dict(ONE[i % len(ONE)]) for i in range(size)]
    places = st.tuples(st.integers(0, size - 1), st.sampled_from(FEATURES))
    for i, name in draw(st.lists(places, max_size=3, unique=True)):
        if draw(st.integers(0, 4)):
            items[i][name] = draw(any_value)
        else:
            del items[i][name]
    if draw(st.integers(0, 9)) == 0:
        items[draw(st.integers(0, size - 1))] = draw(any_value)
    return items


@SETTINGS
@given(st.one_of(instances(1), instances(3), instances(SMALL_BATCH), instances(SMALL_BATCH + 5)))
def test_a_batch_is_accepted_exactly_when_it_has_no_problem_with_the_same_values(items: list) -> None:
    problems = list(batch_problems(items, FEATURE_FIELDS, "instances"))
    cols = batch_if_valid(items, FEATURE_FIELDS)
    assert (cols is None) == bool(problems), problems[:3]
    for i, item in enumerate(items):
        assert (record_if_valid(item, FEATURE_FIELDS) is None) == any(p.index == i for p in problems)
    if cols is None:
        return
    parts = [batch_if_valid(items[i : i + 4], FEATURE_FIELDS) for i in range(0, len(items), 4)]
    for f in FEATURE_FIELDS:
        want = [oracle(f, item[f.name]) for item in items]
        assert cols[f.name].dtype == DTYPES[f.kind] and all(map(same, cols[f.name].tolist(), want)), f.name
        joined = np.concatenate([p[f.name] for p in parts])  # per object (4 at a time) = column-wise
        assert joined.dtype == cols[f.name].dtype
        np.testing.assert_array_equal(joined, cols[f.name])


@st.composite
def lawyers(draw: st.DrawFn, size: int) -> list:
    """Good lawyer objects with up to three fields (lawyer_id included) replaced or removed."""
    good = [
        {"lawyer_id": i, **{k: ONE[i % len(ONE)][k] for k in FEATURES if k not in CASE}} for i in range(size)
    ]
    places = st.tuples(st.integers(0, size - 1), st.sampled_from([*good[0]]))
    ids = st.integers(0, 2**53 - 1) | st.text(st.characters(codec=None, exclude_categories=()), max_size=65)
    for i, name in draw(st.lists(places, max_size=3, unique=True)):
        if draw(st.integers(0, 4)):
            good[i][name] = draw(ids | any_value if name == "lawyer_id" else any_value)
        else:
            del good[i][name]
    return good


@SETTINGS
@given(st.one_of(lawyers(1), lawyers(3), lawyers(SMALL_BATCH + 5)))
def test_the_lawyer_checks_and_the_problem_lists_agree(items: list) -> None:
    """The fast checks (per object for a few, column-wise for many) refuse exactly what the slow
    path reports a problem for, so an answer is never a 200 with problems nor a 400 without."""
    problems = list(lawyer_list_problems(items, RANK_LAWYER, "lawyers"))
    cols = batch_if_valid(items, RANK_LAWYER)
    ids = lawyer_list_if_valid(items) if cols is not None else None
    assert (ids is None) == bool(problems), problems[:3]
    for i, item in enumerate(items[:4]):
        assert (record_if_valid(item, RANK_LAWYER) is None) == any(
            p.field != "lawyer_id" for p in problems if p.index == i
        )
    if ids is not None:
        assert all(
            map(
                same,
                ids,
                [int(x["lawyer_id"]) if type(x["lawyer_id"]) is float else x["lawyer_id"] for x in items],
            )
        )


@SETTINGS
@given(id_=st.integers(-5, 2**64) | st.floats() | st.text(max_size=70) | st.none() | st.booleans())
def test_one_lawyer_id_every_path_decides_alike(id_: Any) -> None:
    accepted = lawyer_id_problem(id_) is None
    assert (lawyer_list_if_valid([{"lawyer_id": id_}]) is not None) == accepted
    assert (lawyer_list_if_valid([{"lawyer_id": 1}, {"lawyer_id": id_}]) is not None) == accepted


@SETTINGS
@given(
    case_edit=st.dictionaries(st.sampled_from(CASE), any_value, max_size=2),
    lawyer_list=st.one_of(lawyers(2), lawyers(SMALL_BATCH + 1), st.just([]), any_value),
    shape=st.sampled_from(["object", "no case", "not an object"]),
)
def test_a_rank_body_is_accepted_exactly_when_it_has_no_problem(
    case_edit: dict, lawyer_list: Any, shape: str
) -> None:
    body: Any = {"case": {k: ONE[0][k] for k in CASE} | case_edit, "lawyers": lawyer_list}
    if shape == "no case":
        del body["case"]
    elif shape == "not an object":
        body = [body]
    valid = rank_body_if_valid(body)
    problems = list(rank_body_problems(body))
    assert (valid is None) == bool(problems), problems[:3]
    if valid is not None:
        cols, ids = valid
        assert set(cols) == set(FEATURES) and len(ids) == len(lawyer_list)
        for name in CASE_NAMES:
            want = oracle(next(f for f in CASE_FIELDS if f.name == name), body["case"][name])
            assert all(same(v, want) for v in cols[name].tolist()), name


def test_per_object_and_column_wise_validation_agree() -> None:
    records = json.loads(simulate(3 * SMALL_BATCH, 5)[list(FEATURES)].to_json(orient="records"))
    records[4]["lawyer_active_cases"] = 3.0  # an integral float in an int field becomes an int
    records[9]["client_income"] = 12000  # an int in a float field becomes a float
    whole = validate_batch(records, FEATURE_FIELDS, "x")  # column-wise
    parts = [validate_batch(records[i : i + 4], FEATURE_FIELDS, "x") for i in range(0, len(records), 4)]
    for name in FEATURES:
        joined = np.concatenate([p[name] for p in parts])
        assert whole[name].dtype == joined.dtype, name
        np.testing.assert_array_equal(whole[name], joined)


@pytest.mark.parametrize("n", [3, 40])
@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("x" * 65, "at most 64 characters"),
        ("\udc80", "lone surrogate"),
        (["family"], "must be a string"),
        (None, "must be a string"),
    ],
)
def test_both_paths_name_the_same_bad_category(n: int, value: object, words: str) -> None:
    records = json.loads(simulate(n, 5)[list(FEATURES)].to_json(orient="records"))
    records[2]["urgency"] = value
    with pytest.raises(InvalidRecord, match=rf"x\[2\]: field 'urgency' .*{words}"):
        validate_batch(records, FEATURE_FIELDS, "x")


def _record() -> dict:
    return {k: v for k, v in ONE[4].items() if k != "match"}


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("case_type", 3, "field 'case_type' must be a string"),
        ("client_income", "1000", "field 'client_income' must be a number"),
        ("client_income", True, "field 'client_income' must be a number"),
        ("client_income", float("nan"), "field 'client_income' must be finite"),
        ("distance_km", float("inf"), "field 'distance_km' must be finite"),
        ("case_complexity", 2.5, "field 'case_complexity' must be an integer"),
        ("lawyer_rating", 9, "field 'lawyer_rating' must be a number in [1, 5]"),
        pytest.param(
            "client_income",
            10**400,
            "field 'client_income' must be a number in [0, 1e+07], got a 401-digit number",
            id="a-401-digit-integer",
        ),
    ],
)
def test_validate_record_names_the_field(field: str, value: object, expected: str) -> None:
    rec = _record()
    rec[field] = value
    with pytest.raises(ValueError, match=re.escape(f"instances[4]: {expected}")):
        validate_record(rec, FEATURE_FIELDS, "instances[4]")


def test_validate_record_missing_field_and_not_object() -> None:
    rec = _record()
    del rec["urgency"]
    with pytest.raises(ValueError, match="missing field 'urgency'"):
        validate_record(rec, FEATURE_FIELDS, "x")
    with pytest.raises(ValueError, match="expected a JSON object"):
        validate_record([1, 2], FEATURE_FIELDS, "x")
