"""Free local ports and waiting for an HTTP server to answer."""

from __future__ import annotations

import http.client
import socket
import subprocess
import time

import requests


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports nothing listens on right now (all bound at once, so never the same twice)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    """One port nothing listens on right now."""
    return free_ports(1)[0]


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def timed_posts(port: int, path: str, body: bytes, n: int) -> list[float]:
    """``n`` sequential JSON POSTs to 127.0.0.1, each on a new connection (as gunicorn's sync
    workers want); milliseconds each. A non-200 answer is an error: a benchmark times answers."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        out.append((time.perf_counter() - t0) * 1000)
        if resp.status != 200:
            raise RuntimeError(f"{path} answered {resp.status}")
    return out
