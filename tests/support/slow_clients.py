"""Idle and slow HTTP clients held open against a server, and timed sequential requests beside them.

``SlowClients`` runs the clients in a child process of their own (``python -m
tests.support.slow_clients``), so the process that times requests is never slowed by them:

- idle: connect and send nothing;
- slow header: a request line, then one more header line every ``interval`` seconds, never the
  blank line that ends the header;
- slow body: a complete header announcing a 64 KB body, then one byte of it every ``interval``.

A connection the server closes (or answers: a timeout's 408) is opened again at once, so the number
asked for stays open for as long as the clients run; ``stop()`` returns how many were reopened.
``timed_requests`` sends requests one after the other, as the backend does, each on a new
connection or on one kept alive, and returns their latencies and failures.
"""

from __future__ import annotations

import argparse
import errno
import http.client
import json
import os
import resource
import select
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

from ml_model.paths import REPO_ROOT

SLOW_BODY_BYTES = 65536


class SlowClients:
    """``idle`` idle, ``slow_headers`` slow-header and ``slow_bodies`` slow-body connections to
    host:port, held open (reopened when closed) from ``start()`` until ``stop()``."""

    def __init__(
        self,
        port: int,
        idle: int = 200,
        slow_headers: int = 5,
        slow_bodies: int = 5,
        host: str = "127.0.0.1",
        interval: float = 1.0,
    ) -> None:
        self.args = [
            "--host",
            host,
            "--port",
            str(port),
            "--idle",
            str(idle),
            "--slow-headers",
            str(slow_headers),
            "--slow-bodies",
            str(slow_bodies),
            "--interval",
            str(interval),
        ]
        self.total = idle + slow_headers + slow_bodies
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> SlowClients:
        """Open every connection; returns once all of them are connected (or raises)."""
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.slow_clients", *self.args],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
            env=env,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""  # "open N" once every connection is up
        if not line.startswith("open "):
            self.stop()
            raise RuntimeError(f"the slow clients did not get connected within {timeout} s: {line!r}")
        return self

    def stop(self) -> dict[str, int]:
        """Close every connection; returns ``{"open": ..., "reopened": ...}`` as the child counted."""
        if self.proc is None:
            return {}
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        for line in reversed(out.splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        return {}

    def __enter__(self) -> SlowClients:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the child process -----------------------------------------------------------------------------


@dataclass
class _Conn:
    kind: str  # idle, header, body
    sock: socket.socket
    sent: int = 0


@dataclass
class _Clients:
    host: str
    port: int
    interval: float
    sel: selectors.DefaultSelector = field(default_factory=selectors.DefaultSelector)
    conns: dict[int, _Conn] = field(default_factory=dict)
    reopened: int = 0

    def open(self, kind: str) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        err = sock.connect_ex((self.host, self.port))
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            raise OSError(err, os.strerror(err))
        conn = _Conn(kind, sock)
        self.conns[sock.fileno()] = conn
        self.sel.register(sock, selectors.EVENT_READ, conn)

    def reopen(self, conn: _Conn) -> None:
        self.sel.unregister(conn.sock)
        del self.conns[conn.sock.fileno()]
        conn.sock.close()
        self.reopened += 1
        self.open(conn.kind)

    def trickle(self) -> None:
        """One more piece from every slow client (the first one sends the start of the request)."""
        for conn in list(self.conns.values()):
            if conn.kind == "idle":
                continue
            if conn.sent == 0 and conn.kind == "header":
                data = f"GET /health HTTP/1.1\r\nHost: {self.host}\r\n".encode()
            elif conn.sent == 0:
                data = (
                    f"POST /predict HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {SLOW_BODY_BYTES}\r\n\r\n{{"
                ).encode()
            elif conn.kind == "header":
                data = f"X-Slow-{conn.sent}: 1\r\n".encode()
            else:
                data = b" "
            try:
                conn.sock.send(data)
                conn.sent += 1
            except OSError:
                self.reopen(conn)

    def run(self, idle: int, headers: int, bodies: int) -> None:
        for kind, n in (("idle", idle), ("header", headers), ("body", bodies)):
            for _ in range(n):
                self.open(kind)
        # Connected = writable; wait for every one (a full backlog can hold connects back).
        waiting = selectors.DefaultSelector()  # epoll: select() stops at fd 1024
        for conn in self.conns.values():
            waiting.register(conn.sock, selectors.EVENT_WRITE)
        deadline = time.monotonic() + 30
        while waiting.get_map() and time.monotonic() < deadline:
            for key, _ in waiting.select(timeout=0.5):
                waiting.unregister(key.fileobj)
        waiting.close()
        self.trickle()
        print(f"open {len(self.conns)}", flush=True)
        next_trickle = time.monotonic() + self.interval
        while True:
            for key, _ in self.sel.select(timeout=max(0.0, next_trickle - time.monotonic())):
                conn: _Conn = key.data
                try:
                    data = conn.sock.recv(4096)
                except OSError:
                    data = b""
                if not data or conn.kind == "idle" or b"HTTP/" in data:
                    self.reopen(conn)  # closed, or answered (408/400): open another
            if time.monotonic() >= next_trickle:
                self.trickle()
                next_trickle = time.monotonic() + self.interval


def _main() -> int:
    parser = argparse.ArgumentParser(description="Hold idle and slow HTTP connections open.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument("--slow-headers", type=int, default=5)
    parser.add_argument("--slow-bodies", type=int, default=5)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 2,000 connections need the room
    clients = _Clients(args.host, args.port, args.interval)

    def report(*_: object) -> None:
        print(json.dumps({"open": len(clients.conns), "reopened": clients.reopened}), flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, report)
    clients.run(args.idle, args.slow_headers, args.slow_bodies)
    return 0


# --- timed requests ------------------------------------------------------------------------------


@dataclass
class Timings:
    """Latencies (ms) of the requests that got an answer with the expected status, and the rest."""

    ms: list[float]
    failures: list[str]

    @property
    def p50(self) -> float:
        return statistics.median(self.ms) if self.ms else float("nan")

    @property
    def p99(self) -> float:
        """The 99th percentile (linear interpolation between order statistics, numpy's default)."""
        if len(self.ms) < 2:
            return self.ms[0] if self.ms else float("nan")
        return statistics.quantiles(self.ms, n=100, method="inclusive")[98]


def timed_requests(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    n: int = 50,
    *,
    keep_alive: bool = False,
    timeout: float = 2.0,
    max_failures: int = 3,
    host: str = "127.0.0.1",
) -> Timings:
    """``n`` requests one after the other, each timed from connect (or send) to the last byte read.

    A new connection per request, or (``keep_alive``) one connection reused while the server keeps
    it open. A status other than 200, a timeout or a connection error is a failure; after
    ``max_failures`` of them the rest are not sent (a blocked server would take n x timeout).
    """
    headers = {"Content-Type": "application/json"} if body is not None else {}
    ms: list[float] = []
    failures: list[str] = []
    conn: http.client.HTTPConnection | None = None
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if not keep_alive or resp.will_close:
                conn.close()
                conn = None
            if resp.status != 200:
                failures.append(f"HTTP {resp.status}")
            else:
                ms.append((time.perf_counter() - t0) * 1000)
        except (OSError, http.client.HTTPException) as exc:
            failures.append(f"{type(exc).__name__}: {exc} after {time.perf_counter() - t0:.1f} s")
            if conn is not None:
                conn.close()
                conn = None
        if len(failures) >= max_failures:
            break
    if conn is not None:
        conn.close()
    return Timings(ms, failures)


if __name__ == "__main__":
    sys.exit(_main())
