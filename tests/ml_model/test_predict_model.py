"""The match service over real HTTP: every endpoint and every error path of the contract."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import numpy as np
import pytest
import requests

from ml_model.artifacts import load_model
from ml_model.features import frame_columns
from ml_model.paths import ML_MODEL_DIR
from ml_model.prediction_log import read_prediction_log
from ml_model.schema import CASE_FIELDS, FEATURES, LAWYER_FIELDS
from mlops.sidecar.simulator import simulate
from tests.support.service import Service, copy_artifacts, write_signed_manifest

CASE = [f.name for f in CASE_FIELDS]
LAWYER = [f.name for f in LAWYER_FIELDS] + ["distance_km"]


def instances(n: int, seed: int = 0) -> list[dict]:
    df = simulate(n, seed)[list(FEATURES)]
    return json.loads(df.to_json(orient="records"))


def post(svc: Service, path: str, body: object) -> requests.Response:
    return requests.post(svc.url + path, json=body, timeout=10)


def test_health(service: Service) -> None:
    r = requests.get(service.url + "/health", timeout=5)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["model_version"] == load_model(ML_MODEL_DIR).version


def test_predict_matches_the_model_in_input_order(service: Service) -> None:
    items = instances(50, seed=3)
    r = post(service, "/predict", {"instances": items})
    assert r.status_code == 200
    body = r.json()
    assert body["model_version"].startswith("v")
    probs = np.array(body["predictions"])
    assert probs.shape == (50,) and np.all((probs >= 0) & (probs <= 1))
    df = simulate(50, 3)[list(FEATURES)]
    expected = load_model(ML_MODEL_DIR).scorer.score(frame_columns(df), 50)
    np.testing.assert_allclose(probs, expected, atol=1e-9)
    reversed_probs = post(service, "/predict", {"instances": items[::-1]}).json()["predictions"]
    np.testing.assert_allclose(reversed_probs, probs[::-1], atol=1e-12)


def test_rank_orders_best_first_and_agrees_with_predict(service: Service) -> None:
    items = instances(30, seed=4)
    case = {k: items[0][k] for k in CASE}
    lawyers = [{"lawyer_id": f"L{i}", **{k: it[k] for k in LAWYER}} for i, it in enumerate(items)]
    r = post(service, "/rank", {"case": case, "lawyers": lawyers})
    assert r.status_code == 200
    ranking = r.json()["ranking"]
    probs = [x["match_probability"] for x in ranking]
    assert probs == sorted(probs, reverse=True)
    assert sorted(x["lawyer_id"] for x in ranking) == sorted(lw["lawyer_id"] for lw in lawyers)
    pairs = [{**case, **{k: lw[k] for k in LAWYER}} for lw in lawyers]
    direct = dict(
        zip(
            [lw["lawyer_id"] for lw in lawyers],
            post(service, "/predict", {"instances": pairs}).json()["predictions"],
            strict=True,
        )
    )
    for x in ranking:
        assert x["match_probability"] == pytest.approx(direct[x["lawyer_id"]], abs=1e-12)


def _error(r: requests.Response, status: int, *words: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    message = r.json()["error"]
    for w in words:
        assert w in message, message


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda it: it.pop("urgency"), ["instances[1]", "missing field 'urgency'"]),
        (lambda it: it.update(client_income="rich"), ["instances[1]", "'client_income' must be a number"]),
        (lambda it: it.update(case_type=7), ["instances[1]", "'case_type' must be a string"]),
        (
            lambda it: it.update(lawyer_rating=6.0),
            ["instances[1]", "'lawyer_rating' must be a number in [1, 5]"],
        ),
        (lambda it: it.update(case_complexity=0), ["instances[1]", "'case_complexity'"]),
        (lambda it: it.update(distance_km=-1), ["instances[1]", "'distance_km'"]),
        (lambda it: it.update(lawyer_active_cases=1.5), ["instances[1]", "must be an integer"]),
    ],
)
def test_predict_bad_fields_are_400_naming_field_and_index(service: Service, mutate, words) -> None:
    items = instances(3)
    mutate(items[1])
    _error(post(service, "/predict", {"instances": items}), 400, *words)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_400(service: Service, token: str) -> None:
    text = json.dumps({"instances": instances(1)}).replace(
        '"distance_km": ', f'"distance_km": {token}, "x": ', 1
    )
    r = requests.post(
        service.url + "/predict", data=text, headers={"Content-Type": "application/json"}, timeout=5
    )
    _error(r, 400, "instances[0]", "'distance_km' must be finite")


def test_shape_and_transport_errors(service: Service) -> None:
    _error(post(service, "/predict", {"instances": []}), 400, "'instances' must not be empty")
    _error(post(service, "/predict", {"rows": []}), 400, "'instances' must be a list")
    _error(post(service, "/predict", [1, 2]), 400, "JSON object")
    _error(post(service, "/predict", {"instances": [5]}), 400, "instances[0]", "JSON object")
    r = requests.post(
        service.url + "/predict", data="{not json", headers={"Content-Type": "application/json"}, timeout=5
    )
    _error(r, 400, "not valid JSON")
    r = requests.post(
        service.url + "/predict",
        data=json.dumps({"instances": instances(1)}),
        headers={"Content-Type": "text/plain"},
        timeout=5,
    )
    _error(r, 400, "Content-Type must be application/json")
    _error(requests.get(service.url + "/nowhere", timeout=5), 404, "/nowhere")
    _error(requests.get(service.url + "/predict", timeout=5), 405, "GET")
    _error(requests.delete(service.url + "/rank", timeout=5), 405, "DELETE")


def test_limits_are_413(service: Service) -> None:
    big = json.dumps({"instances": instances(1), "pad": "x" * (1 << 20)})
    r = requests.post(
        service.url + "/predict", data=big, headers={"Content-Type": "application/json"}, timeout=10
    )
    _error(r, 413, "larger than")
    _error(post(service, "/predict", {"instances": [{}] * 10_001}), 413, "at most 10000")
    _error(post(service, "/rank", {"case": {}, "lawyers": [{}] * 10_001}), 413, "at most 10000")


def test_rank_errors_name_the_field(service: Service) -> None:
    items = instances(2)
    case = {k: items[0][k] for k in CASE}
    lawyers = [{"lawyer_id": i, **{k: it[k] for k in LAWYER}} for i, it in enumerate(items)]
    _error(
        post(service, "/rank", {"case": {**case, "urgency": 3}, "lawyers": lawyers}), 400, "case", "'urgency'"
    )
    _error(post(service, "/rank", {"lawyers": lawyers}), 400, "case", "JSON object")
    bad = [dict(lawyers[0]), {**lawyers[1], "lawyer_hourly_rate": -3}]
    _error(post(service, "/rank", {"case": case, "lawyers": bad}), 400, "lawyers[1]", "'lawyer_hourly_rate'")
    no_id = [dict(lawyers[0]), {k: v for k, v in lawyers[1].items() if k != "lawyer_id"}]
    _error(post(service, "/rank", {"case": case, "lawyers": no_id}), 400, "lawyers[1]", "'lawyer_id'")


def test_unknown_category_is_scored_and_counted(service: Service) -> None:
    before = requests.get(service.url + "/health", timeout=5).json()["unknown_category_instances"]
    items = instances(2)
    items[0]["case_type"] = "maritime"
    r = post(service, "/predict", {"instances": items})
    assert r.status_code == 200 and len(r.json()["predictions"]) == 2
    after = requests.get(service.url + "/health", timeout=5).json()["unknown_category_instances"]
    assert after == before + 1
    assert "unknown categories in ['case_type']" in service.output()


def test_junk_never_causes_a_500(service: Service) -> None:
    rng = np.random.default_rng(0)
    bodies = [
        b"",
        b"null",
        b"[]",
        b'{"instances": null}',
        b'{"instances": "x"}',
        b'{"case": 1, "lawyers": [1]}',
        b'{"instances": [{"case_type": []}]}',
        bytes(rng.integers(0, 256, 300, dtype=np.uint8)),
    ]
    one = json.dumps({"instances": instances(1)})
    bodies += [
        one.replace('"client_income": ', '"client_income": 1' + "0" * 400 + ', "x": ', 1).encode(),  # > float
        one.replace(
            '"client_income": ', '"client_income": 1' + "0" * 5000 + ', "x": ', 1
        ).encode(),  # > int parser
        b"[" * 100_000 + b"]" * 100_000,  # nested deeper than the recursion limit
        one.replace('"lawyer_hourly_rate": ', '"lawyer_hourly_rate": 1e308, "x": ', 1).encode(),
    ]
    for path in ("/predict", "/rank"):
        for body in bodies:
            r = requests.post(
                service.url + path, data=body, headers={"Content-Type": "application/json"}, timeout=5
            )
            assert 400 <= r.status_code < 500, (path, body, r.text)


def test_every_scored_instance_is_logged(service: Service) -> None:
    items = instances(7, seed=12)
    version = post(service, "/predict", {"instances": items}).json()["model_version"]
    incomes = {it["client_income"] for it in items}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        logged = read_prediction_log(service.prediction_log)
        mine = logged[logged["client_income"].isin(incomes)]
        if len(mine) >= 7:
            break
        time.sleep(0.1)
    assert len(mine) >= 7
    assert set(FEATURES) <= set(mine.columns)
    assert (mine["model_version"] == version).all()
    assert mine["match_probability"].between(0, 1).all() and mine["time"].notna().all()


def _logged_request(service: Service, prediction_id: str, n: int):
    deadline = time.monotonic() + 5
    while True:
        logged = read_prediction_log(service.prediction_log)
        mine = logged[logged["prediction_id"] == prediction_id]
        if len(mine) >= n or time.monotonic() > deadline:
            return mine
        time.sleep(0.1)


def test_every_request_has_a_prediction_id_that_the_log_records(service: Service) -> None:
    items = instances(5, seed=21)
    first = post(service, "/predict", {"instances": items}).json()
    second = post(service, "/predict", {"instances": items}).json()
    assert len(first["prediction_id"]) == 32 and first["prediction_id"] != second["prediction_id"]
    assert len(_logged_request(service, first["prediction_id"], 5)) == 5
    case = {k: items[0][k] for k in CASE}
    lawyers = [
        {"lawyer_id": lid, **{k: it[k] for k in LAWYER}}
        for lid, it in zip(["A", 7, "C"], items, strict=False)
    ]
    ranked = post(service, "/rank", {"case": case, "lawyers": lawyers}).json()
    mine = _logged_request(service, ranked["prediction_id"], 3)
    assert mine["lawyer_id"].tolist() == ["A", 7, "C"]  # prediction_id + lawyer_id names a shown pair
    by_id = dict(zip(mine["lawyer_id"], mine["match_probability"], strict=True))
    assert all(by_id[x["lawyer_id"]] == x["match_probability"] for x in ranked["ranking"])


def _wait_for_version(svc: Service, want: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    version = ""
    while time.monotonic() < deadline:
        version = requests.get(svc.url + "/health", timeout=5).json()["model_version"]
        if version == want:
            break
        time.sleep(0.2)
    return version


def _promote_in_place(d) -> None:
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["model_version"] = "v_promoted_test"
    write_signed_manifest(d, manifest)


@pytest.mark.slow
def test_sighup_reloads_a_promoted_model_and_a_bad_set_is_refused(tmp_path) -> None:
    d = copy_artifacts(tmp_path / "model")
    svc = Service(d, tmp_path / "p.jsonl", tmp_path / "svc.log")
    try:
        _promote_in_place(d)
        os.kill(svc.proc.pid, signal.SIGHUP)
        assert _wait_for_version(svc, "v_promoted_test") == "v_promoted_test"
        assert "Received SIGHUP" in svc.output()
        with open(d / "scaler.pkl", "ab") as fh:
            fh.write(b"x")
        os.kill(svc.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "Reload failed" not in svc.output() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "Reload failed" in svc.output()
        assert requests.get(svc.url + "/health", timeout=5).json()["model_version"] == "v_promoted_test"
        assert post(svc, "/predict", {"instances": instances(1)}).status_code == 200
    finally:
        svc.stop()


@pytest.mark.slow
def test_gunicorn_workers_pick_up_a_promotion_and_survive_a_bad_set(tmp_path) -> None:
    d = copy_artifacts(tmp_path / "model")
    svc = Service(d, tmp_path / "p.jsonl", tmp_path / "svc.log", gunicorn=True)
    try:
        old = requests.get(svc.url + "/health", timeout=5).json()["model_version"]
        with open(d / "encoder.pkl", "ab") as fh:  # a broken set whose manifest changes ...
            fh.write(b"x")
        (d / "manifest.json").write_text((d / "manifest.json").read_text() + " ")
        time.sleep(2.5)
        for _ in range(6):  # ... is refused by every worker, which keep serving
            r = post(svc, "/predict", {"instances": instances(1)})
            assert r.status_code == 200 and r.json()["model_version"] == old
        assert "Reload failed" in svc.output() and svc.proc.poll() is None
        shutil.copy2(ML_MODEL_DIR / "encoder.pkl", d / "encoder.pkl")
        _promote_in_place(d)  # a good set: picked up without any signal
        time.sleep(1.5)
        versions = {
            post(svc, "/predict", {"instances": instances(1)}).json()["model_version"] for _ in range(8)
        }
        assert versions == {"v_promoted_test"}
        os.kill(svc.proc.pid, signal.SIGHUP)  # a HUP (fresh workers) with a good set also works
        assert _wait_for_version(svc, "v_promoted_test") == "v_promoted_test"
        time.sleep(2)
        assert svc.proc.poll() is None
    finally:
        svc.stop()
