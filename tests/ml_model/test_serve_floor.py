"""The production command, `make serve PORT=...`, as documented: nginx in front of gunicorn's sync
workers (scripts/serve.sh). Idle and slow clients must not take the service down (the regression
test of "two idle connections take the service down": with gunicorn alone, two idle connections
blocked both workers for 30 s), nginx's own errors are JSON, and the unit stops whole, on a signal
or when gunicorn dies, leaving no process and no file behind."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ml_model.schema import FEATURES
from mlops.scripts.generate_data import simulate
from tests.support.procs import all_pids, pgrp
from tests.support.serve import ServeUnit, cmdline, running
from tests.support.slow_clients import SlowClients, timed_requests

pytestmark = pytest.mark.slow

P99_TARGET_MS = 50.0  # the target, with 200 idle or slow connections open
NGINX_DEFAULT_PATHS = [Path("/var/lib/nginx"), Path("/run/nginx.pid"), Path("/var/log/nginx")]


@functools.cache
def one_instance() -> bytes:
    """A /predict body with one simulated instance."""
    rows = json.loads(simulate(1, 5)[list(FEATURES)].to_json(orient="records"))
    return json.dumps({"instances": rows}).encode()


def run_dir(unit: ServeUnit) -> Path:
    """The private folder serve.sh made for this run (named in its "ready" line, which it prints
    once its own check of /health got an answer: a moment after ours, maybe)."""
    deadline = time.monotonic() + 10
    while not (m := re.search(r"\[serve\] ready: .* on (/\S+)/gunicorn\.sock", unit.output())):
        assert time.monotonic() < deadline, unit.output()[-3000:]
        time.sleep(0.05)
    return Path(m[1])


def snapshot(paths: list[Path]) -> dict[str, float]:
    """mtime of every file and folder under ``paths`` (to show nothing outside the run dir is touched)."""
    out = {}
    for root in paths:
        for p in [root, *(root.rglob("*") if root.is_dir() else [])]:
            if p.exists():
                out[str(p)] = p.stat().st_mtime
    return out


def stop_and_check(unit: ServeUnit) -> int | None:
    """Stop the unit (SIGTERM to its group); fail if any of its processes is left."""
    code = unit.stop()
    left = unit.leftovers()
    unit.kill_leftovers()
    assert not left, f"left running after stop: {left}\n{unit.output()[-3000:]}"
    return code


@pytest.fixture(scope="module")
def unit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeUnit]:
    tmp = tmp_path_factory.mktemp("serve")
    before = snapshot(NGINX_DEFAULT_PATHS)
    u = ServeUnit(tmp / "serve.log", env={"PREDICTION_LOG": str(tmp / "predictions.jsonl")}).start()
    yield u
    folder = run_dir(u)
    stop_and_check(u)
    assert not folder.exists(), f"{folder} was not removed"
    assert snapshot(NGINX_DEFAULT_PATHS) == before, "nginx wrote outside its run folder"


def test_make_serve_is_nginx_in_front_of_gunicorn_on_a_private_socket(unit: ServeUnit) -> None:
    r = requests.get(unit.url + "/health", timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert r.headers["Server"] == "nginx"
    gunicorn = unit.find("gunicorn")
    nginx = unit.find("nginx: master")
    folder = run_dir(unit)
    assert f"unix:{folder}/gunicorn.sock" in cmdline(gunicorn)
    assert "-c python:ml_model.gunicorn_conf" in cmdline(gunicorn)  # the service's gunicorn settings
    assert f"-p {folder}/" in cmdline(nginx)
    assert folder.stat().st_mode & 0o007 == 0, "the run folder is open to other users"


def test_predict_passes_through_unchanged(unit: ServeUnit) -> None:
    one = one_instance()
    r = requests.post(
        unit.url + "/predict", data=one, headers={"Content-Type": "application/json"}, timeout=5
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["predictions"]) == 1 and re.fullmatch(r"[0-9a-f]{32}", body["prediction_id"])
    # The service's own errors (and their words) reach the client as they are.
    r = requests.post(unit.url + "/predict", data=b"{}", headers={"Content-Type": "text/plain"}, timeout=5)
    assert r.status_code == 400 and "error" in r.json()
    # A chunked body is buffered whole and reaches the service (the log records the id).
    r = requests.post(unit.url + "/predict", data=iter([one[:10], one[10:]]),
                      headers={"Content-Type": "application/json"}, timeout=5)  # fmt: skip
    assert r.status_code == 200, r.text
    log = Path(unit.env["PREDICTION_LOG"])
    deadline = time.monotonic() + 5
    while r.json()["prediction_id"] not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "the prediction log never recorded the id"
        time.sleep(0.1)


def test_idle_and_slow_clients_do_not_block_health_or_predict(unit: ServeUnit) -> None:
    """The regression test: 200 idle, 5 slow-header and 5 slow-body connections held open, then 50
    sequential /health and 50 /predict, each on a new connection, answer within 50 ms at p99."""
    one = one_instance()
    with SlowClients(unit.port, idle=200, slow_headers=5, slow_bodies=5) as clients:
        time.sleep(1.0)  # every connection accepted, each slow one has sent a first piece
        health = timed_requests(unit.port, "GET", "/health", n=50, timeout=5, max_failures=1)
        predict = timed_requests(unit.port, "POST", "/predict", one, n=50, timeout=5, max_failures=1)
        held = clients.stop()
    load = os.getloadavg()[0]
    assert held["open"] == 210, held  # all of them were still open at the end
    for name, t in (("/health", health), ("/predict", predict)):
        assert not t.failures and len(t.ms) == 50, (name, t.failures)
        assert t.p99 < P99_TARGET_MS, (
            f"{name} p99 {t.p99:.1f} ms (p50 {t.p50:.1f} ms, load {load:.2f}): {sorted(t.ms)[-5:]}"
        )


def test_bodies_over_1_mib_get_a_json_413_like_the_service(unit: ServeUnit) -> None:
    for size in (2 << 20, (1 << 20) + 1):
        r = requests.post(unit.url + "/predict", data=b" " * size, headers={"Content-Type": "application/json"},
                          timeout=10)  # fmt: skip
        assert r.status_code == 413, (size, r.status_code, r.text[:200])
        assert r.headers["Content-Type"].startswith("application/json")
        assert r.json() == {"error": "request body larger than 1048576 bytes"}  # the service's words
    # Exactly 1 MiB is the service's to judge (here: not JSON).
    r = requests.post(unit.url + "/predict", data=b" " * (1 << 20), headers={"Content-Type": "application/json"},
                      timeout=10)  # fmt: skip
    assert r.status_code == 400 and "JSON" in r.json()["error"]


def test_nginx_own_errors_are_json(unit: ServeUnit) -> None:
    for raw, status in (
        (b"NOT HTTP\r\n\r\n", 400),
        (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ):
        with socket.create_connection(("127.0.0.1", unit.port), timeout=5) as s:
            s.sendall(raw)
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {status} ".encode()), answer[:300]
        assert b"Content-Type: application/json" in head
        assert "error" in json.loads(body)


def test_when_gunicorn_dies_nginx_answers_json_502_and_the_unit_stops(tmp_path: Path) -> None:
    u = ServeUnit(tmp_path / "serve.log", env={"PREDICTION_LOG": str(tmp_path / "p.jsonl")}).start()
    folder = run_dir(u)
    try:
        script = u.find("scripts/serve.sh")
        master = u.find("gunicorn")
        # Hold the script still, so nginx outlives gunicorn long enough to be asked. Kill the master,
        # then its workers (orphaned, they would serve on until they notice, up to 15 s).
        os.kill(script, signal.SIGSTOP)
        os.kill(master, signal.SIGKILL)
        workers = [p for p in all_pids() if pgrp(p) == master and p != master]
        assert len(workers) == 2, workers
        for p in workers:
            os.kill(p, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(pgrp(p) == master and running(p) for p in all_pids()):  # the master is a zombie
            assert time.monotonic() < deadline, "gunicorn's workers did not die"
            time.sleep(0.05)
        t0 = time.monotonic()
        r = requests.get(u.url + "/health", timeout=5)
        assert time.monotonic() - t0 < 1.0
        assert r.status_code == 502 and r.json() == {"error": "the match service is unavailable"}
        os.kill(script, signal.SIGCONT)
        code = u.wait(timeout=30)
        assert code != 0, u.output()[-2000:]
        assert "gunicorn exited" in u.output()
        stop_and_check(u)
        assert not folder.exists()
    finally:
        u.kill_leftovers()
        shutil.rmtree(folder, ignore_errors=True)  # after a failure, the script killed


def test_sigterm_stops_both_and_a_busy_port_fails_cleanly(tmp_path: Path) -> None:
    """Two copies side by side on different ports; a third on a port in use exits non-zero; SIGTERM
    (what a Ctrl-C or a service manager sends) stops a copy whole."""
    a = ServeUnit(tmp_path / "a.log", env={"PREDICTION_LOG": str(tmp_path / "a.jsonl")}).start()
    try:
        b = ServeUnit(tmp_path / "b.log", env={"PREDICTION_LOG": str(tmp_path / "b.jsonl")}).start()
        try:
            assert requests.get(b.url + "/health", timeout=5).status_code == 200
            clash = ServeUnit(tmp_path / "c.log", port=a.port).launch()
            assert clash.wait(timeout=60) != 0
            assert "already listens" in clash.output(), clash.output()[-2000:]
            assert "[serve] ready" not in clash.output()
            clash.record()
            assert not clash.leftovers()
        finally:
            folder_b = run_dir(b)
            stop_and_check(b)
            assert not folder_b.exists()
        assert requests.get(a.url + "/health", timeout=5).status_code == 200  # untouched by the others
    finally:
        stop_and_check(a)


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root to become another user"
)
def test_serve_runs_as_an_unprivileged_user(tmp_path: Path) -> None:
    """As uid 1000 without capabilities (a user namespace): no `user` directive, and nothing
    written outside the run folder."""
    probe = subprocess.run(["unshare", "--user", "--map-user=1000", "--map-group=1000", "id", "-u"],
                           capture_output=True, text=True)  # fmt: skip
    if probe.returncode != 0 or probe.stdout.strip() != "1000":
        pytest.skip(f"user namespaces are not available here: {probe.stderr.strip()}")
    before = snapshot(NGINX_DEFAULT_PATHS)
    u = ServeUnit(tmp_path / "serve.log", env={"PREDICTION_LOG": str(tmp_path / "p.jsonl")})
    u.cmd = [
        "unshare",
        "--user",
        "--map-user=1000",
        "--map-group=1000",
        "scripts/serve.sh",
        "--port",
        str(u.port),
    ]
    u.start()
    try:
        assert requests.get(u.url + "/health", timeout=5).json()["status"] == "ok"
        conf = (run_dir(u) / "nginx.conf").read_text()
        assert not re.search(r"^user ", conf, re.MULTILINE)
    finally:
        stop_and_check(u)
    assert "[warn]" not in u.output() and "[emerg]" not in u.output(), u.output()[-2000:]
    assert snapshot(NGINX_DEFAULT_PATHS) == before
