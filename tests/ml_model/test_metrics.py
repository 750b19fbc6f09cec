"""The service's counters and latency: /metrics (Prometheus) and /health read one source, which
under gunicorn is shared by every worker (prometheus_client's multiprocess mode, set up by
ml_model/gunicorn_conf.py), so two /health calls in a row never go backwards."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from ml_model import gunicorn_conf
from ml_model.artifacts import load_model
from ml_model.paths import ML_MODEL_DIR
from ml_model.schema import FEATURES
from mlops.sidecar.simulator import simulate
from tests.support.service import Service

ROWS = json.loads(simulate(3, 9)[list(FEATURES)].to_json(orient="records"))
VERSION = load_model(ML_MODEL_DIR).version


def samples(url: str) -> dict[tuple[str, tuple], float]:
    r = requests.get(url + "/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def predict(url: str, rows: list[dict]) -> requests.Response:
    r = requests.post(url + "/predict", json={"instances": rows}, timeout=10)
    assert r.status_code == 200, r.text
    return r


def test_metrics_count_requests_latency_instances_and_the_model(service: Service) -> None:
    before = samples(service.url)
    predict(service.url, ROWS)
    predict(service.url, [{**ROWS[0], "case_type": "maritime"}])
    assert requests.post(service.url + "/predict", json={"instances": []}, timeout=5).status_code == 400
    requests.get(service.url + "/nowhere/" + "x" * 50, timeout=5)
    after = samples(service.url)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("match_requests_total", endpoint="/predict", status="200") == 2
    assert delta("match_requests_total", endpoint="/predict", status="400") == 1
    assert delta("match_requests_total", endpoint="other", status="404") == 1  # no label per unknown path
    assert delta("match_request_duration_seconds_count", endpoint="/predict") == 3
    assert delta("match_request_duration_seconds_bucket", endpoint="/predict", le="+Inf") == 3
    assert delta("match_instances_scored_total") == 4
    assert delta("match_unknown_category_instances_total") == 1
    assert after[("match_model_info", (("model_version", VERSION),))] == 1.0
    health = requests.get(service.url + "/health", timeout=5).json()
    assert health["instances_scored"] == after[("match_instances_scored_total", ())]
    assert health["unknown_category_instances"] == after[("match_unknown_category_instances_total", ())]


def test_gunicorn_hooks_prepare_and_clean_the_metrics_folder(tmp_path, monkeypatch) -> None:
    server = SimpleNamespace(
        log=SimpleNamespace(info=lambda *a: None, warning=lambda *a: None),
        cfg=SimpleNamespace(worker_connections=10),
    )
    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"old")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(given))
    gunicorn_conf.on_starting(server)
    assert list(given.iterdir()) == []  # a given folder is emptied: old counts would add up again
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    gunicorn_conf.on_starting(server)
    made = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert made.is_dir() and made != given
    gunicorn_conf.on_exit(server)
    assert not made.exists() and given.is_dir()  # only the folder it made is removed
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")


@pytest.mark.slow
def test_under_gunicorn_the_counters_are_the_services_not_a_workers(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    svc = Service(ML_MODEL_DIR, tmp_path / "p.jsonl", tmp_path / "svc.log", gunicorn=True)
    try:
        folder = Path(re.search(r"Prometheus multiprocess metrics in (\S+)", svc.output())[1])
        deadline = time.monotonic() + 30
        while len(pids := {f.name for f in folder.glob("counter_*.db")}) < 2:  # each worker's file
            assert time.monotonic() < deadline, pids
            time.sleep(0.1)
        with ThreadPoolExecutor(4) as pool:  # concurrent, so usually both workers answer some
            list(pool.map(lambda _: predict(svc.url, ROWS), range(40)))
        scored = [requests.get(svc.url + "/health", timeout=5).json()["instances_scored"] for _ in range(12)]
        assert scored == [120] * 12  # ... and every /health, from either worker, says the total
        metrics = samples(svc.url)
        assert metrics[("match_requests_total", (("endpoint", "/predict"), ("status", "200")))] == 40
        assert metrics[("match_instances_scored_total", ())] == 120
        assert metrics[("match_model_info", (("model_version", VERSION),))] == 1.0

        worker = int(next(iter(pids)).removeprefix("counter_").removesuffix(".db"))
        os.kill(worker, signal.SIGKILL)  # a worker dies; gunicorn boots a new one
        previous, deadline = 0, time.monotonic() + 20
        while time.monotonic() < deadline:
            r = requests.post(svc.url + "/predict", json={"instances": ROWS[:1]}, timeout=10)
            assert r.status_code == 200
            now = requests.get(svc.url + "/health", timeout=5).json()["instances_scored"]
            assert now >= previous and now > 120  # never backwards, the dead worker's counts kept
            previous = now
            if len(list(folder.glob("counter_*.db"))) == 3:
                break
            time.sleep(0.1)
        assert len(list(folder.glob("counter_*.db"))) == 3
    finally:
        svc.stop()
    assert not folder.exists()  # the temporary folder went with gunicorn
