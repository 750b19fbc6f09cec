"""Property tests over real HTTP (hypothesis): arbitrary JSON and arbitrary Unicode, lone
surrogates and huge numbers included, sent to /predict and /rank of a real service process.
Whatever arrives: no 5xx, every answer is JSON, and the prediction log stays valid JSON (read
with orjson, as the monitor reads it) with exactly one line per answered (200) request.

Bounded: 200 examples per property, no per-example deadline, 60 s per property at most, no
example database, and hypothesis' caches in the temporary folder, not the work tree; the whole
file takes under 15 s here (800 requests)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator

import orjson
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from ml_model.schema import CASE_FIELDS, FEATURE_FIELDS, FEATURES
from mlops.sidecar.simulator import simulate
from tests.support.service import Service, running_service

# Hypothesis caches what it learns (constants, Unicode tables) in ./.hypothesis: not in the work tree.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "legalaid-hypothesis"))
pytestmark = pytest.mark.timeout(60)  # the time budget of each property (about 2 s each here)

CASE = [f.name for f in CASE_FIELDS]
GOOD = json.loads(simulate(8, 77)[list(FEATURES)].to_json(orient="records"))
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples every run: CI sees what a developer saw
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Every code point, lone surrogates (category Cs) included: the standard library writes them as
# "\udXXX" escapes, which is how a client can send one.
any_char = st.characters(codec=None, exclude_categories=())
any_text = st.text(any_char, max_size=80) | st.text(any_char, min_size=60, max_size=300)
numbers = (
    st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
)
scalars = st.none() | st.booleans() | numbers | any_text
any_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from([f.name for f in FEATURE_FIELDS])
vocab_values = st.sampled_from([v for f in FEATURE_FIELDS for v in f.vocab])
short_text = st.text(any_char, max_size=70)  # unknown categories, up to and past the 64-character limit
field_values = any_json | vocab_values | short_text | st.integers(-5, 100) | st.floats(-5, 1e5)
good_ids = st.integers(0, 2**53 - 1) | st.text(any_char, min_size=1, max_size=64)


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("properties")) as svc:
        yield svc


ANSWERED: set[str] = set()  # the prediction ids answered with a 200, for the log check at the end


def send(svc: Service, path: str, body: object | bytes) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()  # NaN, Infinity, escapes
    r = requests.post(svc.url + path, data=data, headers={"Content-Type": "application/json"}, timeout=20)
    assert r.status_code < 500, (path, data[:300], r.status_code, r.text[:300])
    answer = r.json()  # every answer is JSON
    if r.status_code == 200:
        assert len(answer["prediction_id"]) == 32 and answer["model_version"]
        ANSWERED.add(answer["prediction_id"])
    else:
        assert 400 <= r.status_code < 500 and len(answer["error"]) < 400, answer
    return r


def mutated(record: dict, changes: dict) -> dict:
    out = dict(record)
    for name, value in changes.items():
        if value is _DROP:
            out.pop(name, None)
        else:
            out[name] = value
    return out


_DROP = object()
changes = st.dictionaries(field_names, field_values | st.just(_DROP), min_size=1, max_size=3)


@SETTINGS
@given(body=any_json, path=st.sampled_from(["/predict", "/rank"]))
def test_any_json_body_is_answered_without_a_5xx(svc: Service, body: object, path: str) -> None:
    send(svc, path, body)


@SETTINGS
@given(raw=st.binary(max_size=400), path=st.sampled_from(["/predict", "/rank"]))
def test_any_bytes_are_answered_without_a_5xx(svc: Service, raw: bytes, path: str) -> None:
    send(svc, path, raw)


@SETTINGS
@given(edits=st.lists(changes, min_size=1, max_size=3), extra=st.dictionaries(any_text, any_json, max_size=2))
def test_predict_with_arbitrary_fields(svc: Service, edits: list[dict], extra: dict) -> None:
    instances = [mutated(GOOD[i] | extra, edit) for i, edit in enumerate(edits)]
    r = send(svc, "/predict", {"instances": instances})
    if r.status_code == 200:
        assert len(r.json()["predictions"]) == len(instances)


@SETTINGS
@given(
    case_edit=st.dictionaries(st.sampled_from(CASE), field_values, max_size=2),
    lawyer_ids=st.lists(good_ids | any_json, min_size=1, max_size=4),
    edit=changes,
)
def test_rank_with_arbitrary_ids_and_fields(
    svc: Service, case_edit: dict, lawyer_ids: list, edit: dict
) -> None:
    case = {k: GOOD[0][k] for k in CASE} | case_edit
    lawyers = [
        mutated(
            {"lawyer_id": lid, **{k: v for k, v in GOOD[i + 1].items() if k not in CASE}}, edit if i else {}
        )
        for i, lid in enumerate(lawyer_ids)
    ]
    r = send(svc, "/rank", {"case": case, "lawyers": lawyers})
    if r.status_code == 200:
        assert sorted(map(repr, (x["lawyer_id"] for x in r.json()["ranking"]))) == sorted(
            map(repr, lawyer_ids)
        )


def test_the_log_has_one_valid_line_per_answered_request(svc: Service) -> None:
    """Runs after the properties above (pytest keeps file order): the log they produced."""
    assert len(ANSWERED) >= 30, len(ANSWERED)  # the properties did reach the model
    deadline = time.monotonic() + 15
    while True:
        data = svc.prediction_log.read_bytes() if svc.prediction_log.exists() else b""
        if not data.endswith(b"\n") and time.monotonic() < deadline:
            time.sleep(0.1)  # a line is being appended right now: read again once it is whole
            continue
        records = [orjson.loads(line) for line in data.splitlines()]  # every line valid JSON, strictly
        logged = [rec["prediction_id"] for rec in records]
        if set(logged) >= ANSWERED or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sorted(logged) == sorted(ANSWERED)  # one line per answered request, no other
    assert not any(rec.get("sanitized") for rec in records)
