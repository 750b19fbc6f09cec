"""Bodies have a deadline (issue 19, item 8): a client that sends its headers with
``Content-Length: 100000`` and then nothing, or trickles its body a byte at a time, used to hold its
connection forever (gunicorn gives headers 5 s, bodies nothing). Now a body not complete
BODY_TIMEOUT_S seconds (default 30) after the headers is a JSON 408 naming the limit, the connection
is closed, and /metrics counts it; a slow body that finishes in time is still scored.

In process: the setting, and the mechanism (``DeadlineInput``: a ``gevent.Timeout`` around every
read of ``wsgi.input``) on both paths, against a stream that waits cooperatively. End to end: under
`make serve` (gunicorn, gevent workers) with a 3 s limit, over raw sockets."""

from __future__ import annotations

import functools
import http.client
import io
import json
import select
import socket
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import gevent
import pytest
import requests
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from ml_model.schema import CASE_FIELDS, FEATURES
from ml_model.service_app import create_app
from ml_model.wsgi_fast_path import (
    BODY_TIMEOUT_ENV,
    DEFAULT_BODY_TIMEOUT_S,
    ServiceApp,
    body_timeout_from_env,
)
from mlops.sidecar.simulator import simulate
from tests.support.serve import ServeUnit

ROWS = json.loads(simulate(3, 23)[list(FEATURES)].to_json(orient="records"))
CASE = {f.name: ROWS[0][f.name] for f in CASE_FIELDS}
PREDICT = json.dumps({"instances": ROWS}).encode()
RANK = json.dumps(
    {
        "case": CASE,
        "lawyers": [
            {"lawyer_id": i, **{k: v for k, v in r.items() if k not in CASE}} for i, r in enumerate(ROWS)
        ],
    }
).encode()
FLASK_ONLY = "application/json; charset=utf-8"  # the fast path takes exactly "application/json"
ANNOUNCED = 100_000  # the silent body: within the 1 MiB limit, so the service reads it
SILENT_S = 10.0  # how long an in-process client stays silent (then the body ends short: a 400, not a hang)


# --- the setting -----------------------------------------------------------------------------------


def test_the_setting_defaults_to_30_s_and_takes_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BODY_TIMEOUT_ENV, raising=False)
    assert body_timeout_from_env() == DEFAULT_BODY_TIMEOUT_S == 30.0
    for raw, seconds in (("2", 2.0), (" 0.5 ", 0.5), ("", 30.0)):
        monkeypatch.setenv(BODY_TIMEOUT_ENV, raw)
        assert body_timeout_from_env() == seconds


@pytest.mark.parametrize("raw", ["0", "-1", "soon", "inf", "nan", "30s"])
def test_a_bad_setting_stops_the_service_naming_it(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(BODY_TIMEOUT_ENV, raw)
    with pytest.raises(ValueError, match=rf"{BODY_TIMEOUT_ENV} must be a .*number of seconds, got '{raw}'"):
        create_app()  # checked before anything is loaded


# --- the mechanism, in process ---------------------------------------------------------------------


class Trickle:
    """A ``wsgi.input`` that hands out ``data`` in ``pieces``, waiting ``gap`` seconds before each
    one as a slow client's socket would (``gevent.sleep``: cooperative, as a socket is under
    gunicorn's gevent worker), then nothing more. ``pieces=0``: silent."""

    def __init__(self, data: bytes, pieces: int, gap: float) -> None:
        size = -(-len(data) // pieces) if pieces else 0
        self.chunks = [data[i : i + size] for i in range(0, len(data), size)] if pieces else []
        self.gap = gap
        self.buffer = b""

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or len(self.buffer) < size) and self.chunks:
            gevent.sleep(self.gap)
            self.buffer += self.chunks.pop(0)
        if not self.chunks and len(self.buffer) < max(size, 1):
            gevent.sleep(SILENT_S)  # the client went silent: the deadline should end this long before
        out, self.buffer = (self.buffer, b"") if size < 0 else (self.buffer[:size], self.buffer[size:])
        return out


class FakeServerResponse:
    """What gunicorn's ``start_response`` is bound to: ``force_close`` is what closes the connection."""

    def __init__(self) -> None:
        self.status: str | None = None
        self.headers: list = []
        self.closed = False

    def start_response(self, status: str, headers: list, exc_info: Any = None) -> None:
        self.status, self.headers = status, headers

    def force_close(self) -> None:
        self.closed = True


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = create_app(prediction_log=tmp_path_factory.mktemp("body-deadline") / "predictions.jsonl")
    yield app
    app.extensions["prediction_log"].close()


def with_deadline(app: Flask, seconds: float) -> ServiceApp:
    """The app's entry point as `make serve` builds it (create_app gives a deadline only under gevent)."""
    entry = app.wsgi_app
    assert isinstance(entry, ServiceApp) and entry.body_timeout is None  # not served by gevent here
    return ServiceApp(entry.flask_app, entry.service, seconds)


def call(
    entry: ServiceApp, path: str, stream: Any, content_type: str, length: int | None
) -> tuple[FakeServerResponse, bytes]:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SERVER_NAME": "test",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": stream,
        "wsgi.errors": sys.stderr,
        "CONTENT_TYPE": content_type,
    }
    if length is None:  # chunked, as gunicorn presents it
        environ |= {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}
    else:
        environ["CONTENT_LENGTH"] = str(length)
    server = FakeServerResponse()
    out = entry(environ, server.start_response)
    body = b"".join(out)
    getattr(out, "close", lambda: None)()
    return server, body


def counted(app: Flask, name: str, **labels: str) -> float:
    return app.extensions["match_service"].metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    ("path", "content_type", "chunked"),
    [
        ("/predict", "application/json", False),  # the fast path
        ("/rank", FLASK_ONLY, False),  # Flask's view
        ("/predict", FLASK_ONLY, True),  # Flask, a chunked body
    ],
    ids=["fast-path", "flask", "flask-chunked"],
)
@pytest.mark.parametrize("pieces", [0, 40], ids=["silent", "trickle"])
def test_a_late_body_is_a_408_naming_the_limit_closed_and_counted(
    app: Flask, path: str, content_type: str, chunked: bool, pieces: int
) -> None:
    entry = with_deadline(app, 0.2)
    before = counted(app, "match_body_timeouts_total", endpoint=path)
    answered = counted(app, "match_requests_total", endpoint=path, status="408")
    # A trickle whose every gap (0.05 s) is well within the limit, but whose whole (2 s) is not.
    stream = Trickle(b" " * ANNOUNCED, pieces, 0.05)
    server, body = call(entry, path, stream, content_type, None if chunked else ANNOUNCED)
    assert server.status == "408 REQUEST TIMEOUT", (server.status, body[:300])
    assert json.loads(body) == {"error": f"request body did not arrive within 0.2 s ({BODY_TIMEOUT_ENV})"}
    assert ("Content-Type", "application/json") in server.headers
    assert server.closed, "the connection was left open after the 408"
    assert counted(app, "match_body_timeouts_total", endpoint=path) == before + 1
    assert counted(app, "match_requests_total", endpoint=path, status="408") == answered + 1


@pytest.mark.parametrize(
    ("path", "data", "content_type"),
    [("/predict", PREDICT, "application/json"), ("/rank", RANK, FLASK_ONLY)],
    ids=["fast-path", "flask"],
)
def test_a_slow_body_that_arrives_in_time_is_scored_and_kept_open(
    app: Flask, path: str, data: bytes, content_type: str
) -> None:
    entry = with_deadline(app, 5.0)
    before = counted(app, "match_body_timeouts_total", endpoint=path)
    server, body = call(entry, path, Trickle(data, 4, 0.05), content_type, len(data))
    assert server.status == "200 OK", body[:300]
    assert len(json.loads(body)["predictions" if path == "/predict" else "ranking"]) == len(ROWS)
    assert not server.closed
    assert counted(app, "match_body_timeouts_total", endpoint=path) == before


def test_without_gevent_there_is_no_deadline_and_reads_are_untouched(app: Flask) -> None:
    entry = app.wsgi_app
    assert isinstance(entry, ServiceApp) and entry.body_timeout is None
    stream = io.BytesIO(PREDICT)
    server, _ = call(entry, "/predict", stream, "application/json", len(PREDICT))
    assert server.status == "200 OK" and stream.tell() == len(PREDICT)


def test_the_counter_is_exposed_at_zero_for_the_endpoints_that_read_a_body(app: Flask) -> None:
    text = app.test_client().get("/metrics").get_data(as_text=True)
    names = {
        (s.name, s.labels.get("endpoint"))
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert {("match_body_timeouts_total", "/predict"), ("match_body_timeouts_total", "/rank")} <= names


# --- end to end: `make serve` ----------------------------------------------------------------------

LIMIT_S = 3  # short for the test; every client below keeps well clear of it either way
TRICKLE_GAP_S = 0.7  # a byte this often never finishes a 100,000-byte body
SLOW_GAP_S = 0.25  # 4 pieces: the body is complete after about 0.75 s
HANG_GUARD_S = 60  # a socket read that waits this long means the deadline never fired


@functools.cache
def headers(path: str, content_type: str, length: int | None) -> bytes:
    framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n{framing}\r\n\r\n".encode()


def answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes, bool]:
    """The server's answer on ``sock``: status, headers, body, and whether it then closed the connection."""
    sock.settimeout(HANG_GUARD_S)
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    body = resp.read()
    try:
        closed = sock.recv(1) == b""
    except ConnectionResetError:  # closed with a byte of ours unread (a trickle racing the close)
        closed = True
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body, closed


def late_client(port: int, path: str, content_type: str, chunked: bool, trickle: bool) -> tuple:
    """Headers announcing a body, then silence or a byte every TRICKLE_GAP_S (stopping once the
    server answers, so no byte races its close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD_S) as sock:
        sock.sendall(headers(path, content_type, None if chunked else ANNOUNCED))
        if chunked:
            sock.sendall(b"%x\r\n{" % ANNOUNCED)
        deadline = time.monotonic() + HANG_GUARD_S
        while trickle and not select.select([sock], [], [], TRICKLE_GAP_S)[0]:
            assert time.monotonic() < deadline, "no answer to a body that never ends"
            sock.sendall(b" ")
        return answer(sock)


def slow_client(port: int, path: str, data: bytes) -> tuple[list[tuple], bool]:
    """A body in 4 pieces SLOW_GAP_S apart (complete well within the limit), then a second request
    on the same connection: both answered, the connection kept."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_GUARD_S)
    try:
        answers = []
        for pieces in (4, 1):
            conn.putrequest("POST", path)
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(data)))
            conn.endheaders()
            size = -(-len(data) // pieces)
            for i in range(0, len(data), size):
                if pieces > 1:
                    time.sleep(
                        SLOW_GAP_S
                    )  # the client's pace: what is being tested, not a wait for a condition
                conn.send(data[i : i + size])
            resp = conn.getresponse()
            answers.append((resp.status, resp.read(), resp.will_close))
            if pieces == 4:
                sock = conn.sock
        return answers, conn.sock is sock
    finally:
        conn.close()


def metric_samples(url: str) -> dict[tuple[str, tuple], float]:
    text = requests.get(url + "/metrics", timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture(scope="module")
def unit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeUnit]:
    tmp = tmp_path_factory.mktemp("body-deadline-serve")
    env = {"PREDICTION_LOG": str(tmp / "predictions.jsonl"), BODY_TIMEOUT_ENV: str(LIMIT_S)}
    u = ServeUnit(tmp / "serve.log", env=env).start()
    yield u
    u.stop()
    left = u.leftovers()
    u.kill_leftovers()
    assert not left, left


@pytest.mark.slow
def test_make_serve_answers_late_bodies_408_closes_and_counts_them(unit: ServeUnit) -> None:
    late = [  # (path, content type, chunked, trickle)
        ("/predict", "application/json", False, False),  # the case, on the fast path
        ("/predict", FLASK_ONLY, False, False),  # through Flask
        ("/predict", "application/json", True, False),  # chunked, one chunk begun and never finished
        ("/rank", "application/json", False, False),
        ("/predict", "application/json", False, True),  # a byte every 0.7 s: each gap within the limit
    ]
    before = metric_samples(unit.url)
    with ThreadPoolExecutor(len(late) + 1) as pool:  # all at once: the test takes one limit, not five
        slow = pool.submit(slow_client, unit.port, "/predict", PREDICT)
        answers = list(pool.map(lambda case: late_client(unit.port, *case), late))
        (first, second), kept = slow.result()
    for case, (status, hdrs, body, closed) in zip(late, answers, strict=True):
        assert status == 408, (case, status, body[:300])
        assert json.loads(body) == {
            "error": f"request body did not arrive within {LIMIT_S} s ({BODY_TIMEOUT_ENV})"
        }
        assert hdrs["content-type"] == "application/json" and hdrs["connection"] == "close", (case, hdrs)
        assert closed, f"{case}: the connection stayed open after the 408"
    assert first[0] == 200 and len(json.loads(first[1])["predictions"]) == len(ROWS), first[1][:300]
    assert second[0] == 200 and not first[2] and kept, "the slow but complete body lost its connection"
    after = metric_samples(unit.url)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("match_body_timeouts_total", endpoint="/predict") == 4
    assert delta("match_body_timeouts_total", endpoint="/rank") == 1
    assert delta("match_requests_total", endpoint="/predict", status="408") == 4
    assert delta("match_requests_total", endpoint="/predict", status="200") == 2
    assert requests.get(unit.url + "/health", timeout=10).status_code == 200
    assert "Traceback" not in unit.output() and "[ERROR]" not in unit.output(), unit.output()[-3000:]
