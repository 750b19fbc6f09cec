"""Bytes that break the service (issue "Hardening and the serving floor", section 2), one
regression test per failure seen, over real HTTP: no client input gives a 5xx, every answered
request has exactly one log line, strings have a length limit, errors quote a short prefix, and
lawyer_id has a type and size rule. Each of these failed before the fix (a 500, a lost or
megabyte log line, a megabyte echoed in a 400)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests

from ml_model.schema import CASE_FIELDS, FEATURES, MAX_TEXT_CHARS
from mlops.sidecar.simulator import simulate
from tests.support.service import Service, running_service

CASE = [f.name for f in CASE_FIELDS]
ONE = json.loads(simulate(3, 41)[list(FEATURES)].to_json(orient="records"))
MEGABYTE = "x" * 1_000_000  # "1 MB", within the 1 MiB body limit
# A 400 quotes the value twice (the "error" sentence and its "errors" entry): still a few hundred
# bytes, where it was the whole megabyte before.
SHORT_ANSWER = 600


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A service of our own, so its log holds exactly the lines of these tests."""
    with running_service(tmp_path_factory.mktemp("hardening")) as svc:
        yield svc


def raw_post(svc: Service, path: str, body: object) -> requests.Response:
    """POST ``body`` as the standard library writes JSON (ensure_ascii: a lone surrogate goes out
    as its escape, "\\udc80", which is how a client sends one)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(svc.url + path, data=data, headers={"Content-Type": "application/json"}, timeout=10)


def rank_body(lawyer_id: object, **case_changes: object) -> dict:
    case = {k: ONE[0][k] for k in CASE} | case_changes
    lawyers = [
        {"lawyer_id": "ok", **{k: v for k, v in ONE[1].items() if k not in CASE}},
        {"lawyer_id": lawyer_id, **{k: v for k, v in ONE[2].items() if k not in CASE}},
    ]
    return {"case": case, "lawyers": lawyers}


def log_lines(path: Path) -> list[dict]:
    """Every complete line of the log, each parsed by the strict reader the monitor uses (orjson).

    The service appends while we read, so the bytes after the last newline may be a line still
    being written: it is not settled yet and is left for the next read, as the monitor does.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    return [orjson.loads(line) for line in complete.splitlines()]


def settled_log(svc: Service, answered: set[str], timeout: float = 10) -> list[dict]:
    """The log once every answered prediction id is in it (lines are written after the response)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = log_lines(svc.prediction_log)
        if answered <= {line["prediction_id"] for line in lines} or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def error_of(r: requests.Response, *words: str) -> str:
    assert r.status_code == 400, (r.status_code, r.text[:300])
    message = r.json()["error"]
    for w in words:
        assert w in message, message
    return message


@pytest.mark.parametrize(
    ("lawyer_id", "words"),
    [
        ("\udc80", ["lawyers[1]", "'lawyer_id'", "lone surrogate"]),  # was a 500
        (10**400, ["lawyers[1]", "'lawyer_id'", "401-digit"]),  # was a 500 (orjson cannot write it back)
        (2**64, ["lawyers[1]", "'lawyer_id'"]),  # was a 500
        (2**53, ["lawyers[1]", "'lawyer_id'", "2**53"]),  # not exact in JavaScript
        (-1, ["lawyers[1]", "'lawyer_id'"]),
        ("", ["lawyers[1]", "'lawyer_id'", "empty"]),
        ("L" * (MAX_TEXT_CHARS + 1), ["lawyers[1]", "'lawyer_id'", "at most 64 characters"]),
        (1.5, ["lawyers[1]", "'lawyer_id'"]),
        (True, ["lawyers[1]", "'lawyer_id'"]),
        ([1], ["lawyers[1]", "'lawyer_id'"]),
    ],
    ids=[
        "surrogate",
        "401-digit",
        "2**64",
        "2**53",
        "negative",
        "empty",
        "65-chars",
        "float",
        "bool",
        "list",
    ],
)
def test_a_bad_lawyer_id_is_a_400_and_nothing_is_logged(
    svc: Service, lawyer_id: object, words: list[str]
) -> None:
    before = len(log_lines(svc.prediction_log))
    error_of(raw_post(svc, "/rank", rank_body(lawyer_id)), *words)
    ok = raw_post(svc, "/rank", rank_body(7))  # a good request after it: its line marks "settled"
    assert ok.status_code == 200 and ok.json()["ranking"][0]["lawyer_id"] in ("ok", 7)
    lines = settled_log(svc, {ok.json()["prediction_id"]})
    assert len(lines) == before + 1  # the refused request left no line (it did before the fix)


def test_good_lawyer_ids_at_the_limits_are_answered_and_logged_as_sent(svc: Service) -> None:
    for lawyer_id in (0, 2**53 - 1, "L", "é" * MAX_TEXT_CHARS, "\U0001f600 emoji"):
        r = raw_post(svc, "/rank", rank_body(lawyer_id))
        assert r.status_code == 200, r.text
        pid = r.json()["prediction_id"]
        assert {x["lawyer_id"] for x in r.json()["ranking"]} == {"ok", lawyer_id}
        line = next(x for x in settled_log(svc, {pid}) if x["prediction_id"] == pid)
        assert line["lawyer_id"] == ["ok", lawyer_id]


@pytest.mark.parametrize("field", ["case_type", "urgency", "client_language", "lawyer_region"])
@pytest.mark.parametrize("text", ["\udc80", "\ud800", "ok\udfffok"])
def test_a_lone_surrogate_in_a_category_is_a_400(svc: Service, field: str, text: str) -> None:
    # Before: 200, and the log line was lost (TypeError: str is not valid UTF-8: surrogates not allowed).
    r = raw_post(svc, "/predict", {"instances": [ONE[0], {**ONE[1], field: text}]})
    error_of(r, "instances[1]", f"'{field}'", "lone surrogate")
    error_of(raw_post(svc, "/rank", rank_body(3, client_language=text)), "case", "'client_language'")


def test_a_megabyte_in_a_category_is_refused_not_scored_and_logged(svc: Service) -> None:
    before = svc.prediction_log.stat().st_size if svc.prediction_log.exists() else 0
    r = raw_post(svc, "/predict", {"instances": [{**ONE[0], "case_type": MEGABYTE}]})
    message = error_of(r, "instances[0]", "'case_type'", f"at most {MAX_TEXT_CHARS} characters")
    assert len(r.content) < SHORT_ANSWER and f"({len(MEGABYTE)} characters)" in message
    [entry] = r.json()["errors"]
    assert (entry["index"], entry["field"]) == (0, "case_type") and "x" * 41 not in entry["message"]
    r = raw_post(svc, "/predict", {"instances": [{**ONE[0], "case_type": "m" * (MAX_TEXT_CHARS + 1)}]})
    error_of(r, "'case_type'", "at most 64 characters")
    ok = raw_post(svc, "/predict", {"instances": [{**ONE[0], "case_type": "m" * MAX_TEXT_CHARS}]})
    assert ok.status_code == 200  # an unknown category up to the limit is still scored
    settled_log(svc, {ok.json()["prediction_id"]})
    assert svc.prediction_log.stat().st_size - before < 10_000  # was over a megabyte


@pytest.mark.parametrize("field", ["client_income", "lawyer_rating", "case_complexity"])
def test_a_megabyte_in_a_number_is_not_echoed(svc: Service, field: str) -> None:
    r = raw_post(svc, "/predict", {"instances": [{**ONE[0], field: MEGABYTE}]})
    message = error_of(r, "instances[0]", f"'{field}' must be a number")
    assert len(r.content) < SHORT_ANSWER, len(r.content)  # was the whole megabyte
    assert "x" * 40 + "'…" in message and "x" * 41 not in message


def test_huge_and_nested_values_are_400_with_short_messages(svc: Service) -> None:
    text = json.dumps({"instances": [ONE[0]]})
    for replacement in ("1" + "0" * 4000, "[" * 500 + "]" * 500, '{"a": ' * 300 + "1" + "}" * 300, "-1e999"):
        body = text.replace('"client_income": ', f'"client_income": {replacement}, "x": ', 1).encode()
        r = raw_post(svc, "/predict", body)
        assert r.status_code == 400 and len(r.content) < SHORT_ANSWER, (replacement[:10], r.text[:200])


def test_every_answered_request_has_exactly_one_log_line(svc: Service) -> None:
    bodies = [
        ("/predict", {"instances": ONE}),
        ("/predict", {"instances": [{**ONE[0], "case_type": "maritime"}]}),  # unknown: scored and logged
        ("/rank", rank_body("L2")),
        ("/rank", rank_body("\udc80")),  # refused
        ("/predict", {"instances": [{**ONE[0], "urgency": "\udc80"}]}),  # refused
        ("/predict", {"instances": [{**ONE[0], "lawyer_language": "é" * 64}]}),  # scored
    ] * 5
    answered = set()
    for path, body in bodies:
        r = raw_post(svc, path, body)
        assert r.status_code in (200, 400), r.text
        if r.status_code == 200:
            answered.add(r.json()["prediction_id"])
    assert len(answered) == 20
    lines = settled_log(svc, answered)
    ids = [line["prediction_id"] for line in lines if line["prediction_id"] in answered]
    assert sorted(ids) == sorted(answered)  # each exactly once
    assert all(line.get("sanitized") is None for line in lines)
