"""`make app` honours PORT and ML_PORT, and a Ctrl-C leaves nothing running (issue 20, item 5).

`PORT=19050 make app` used to start the backend on 5000: the Makefile's target-specific
`serve: PORT ?= 8000` made make stop handing the environment's PORT to every recipe. Here
`make app` runs as a person runs it, with PORT and ML_PORT set to free ports; the test waits for
the address it prints, checks that the backend and the match service answer there (and listen
nowhere else), then stops it as a terminal's Ctrl-C or a supervisor's SIGTERM does (the signal to
the whole process group) and checks that every process the run started has exited by the time
make returns, and nothing listens on either port.

The installs are taken as done (``make -o``): they are `make test`'s business, and a stale stamp
would otherwise reinstall the shared ``backend/node_modules`` under the other suites.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from ml_model.paths import REPO_ROOT
from tests.support.ports import free_ports
from tests.support.procs import all_pids, listening, ppid, sockets_of

pytestmark = pytest.mark.slow

NODE_STAMP = "backend/node_modules/.installed-stamp"
START_SECONDS = 240  # two gunicorn workers loading the model and the backend, on a busy 2-core machine


def _start_time(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/<pid>/stat): a pid and this identify it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def descendants(root: int) -> dict[int, str]:
    """Every process below ``root`` now (by parent links, so across setsid), with its start time."""
    children: dict[int, list[int]] = {}
    for pid in all_pids():
        parent = ppid(pid)
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            start = _start_time(child)
            if start is not None:
                found[child] = start
                todo.append(child)
    return found


def still_running(procs: dict[int, str]) -> list[int]:
    return [pid for pid, start in procs.items() if _start_time(pid) == start]


class Output:
    """A process's output, read as it comes (a thread), so a test can wait for a line."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.text += line

    def wait_for(self, pattern: str, proc: subprocess.Popen, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := re.search(pattern, self.text):
                return found
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} (exit {proc.poll()}):\n{self.text[-4000:]}")

    def join(self) -> None:
        self._thread.join(timeout=10)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_make_app_serves_on_the_chosen_ports_and_a_stop_leaves_nothing(tmp_path: Path, stop: int) -> None:
    """Stopped by the terminal's Ctrl-C (SIGINT) or a supervisor's SIGTERM, both to the whole
    foreground group: make then passes the signal on to the script a second time."""
    port, ml_port = free_ports(2)
    env = {
        **os.environ,
        "PORT": str(port),
        "ML_PORT": str(ml_port),
        "DB_PATH": str(tmp_path / "db" / "lawyers.db"),
        "PREDICTION_LOG": str(tmp_path / "logs" / "predictions.jsonl"),
        "TMPDIR": str(tmp_path),
    }
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "-o", "install", "-o", NODE_STAMP, "app"],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        # A shell gives its foreground job the default Ctrl-C; a test worker may ignore SIGINT, and
        # bash cannot trap a signal ignored on entry.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    output = Output(proc)
    started: dict[int, str] = {}
    try:
        output.wait_for(rf"LegalAid Connect is running: http://127\.0\.0\.1:{port}\b", proc, START_SECONDS)
        assert f"match service http://127.0.0.1:{ml_port}" in output.text
        backend, service = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ml_port}"
        health = requests.get(backend + "/api/health", timeout=10).json()
        assert health["status"] == "ok" and health["ml_service"]["reachable"] is True, health
        assert requests.get(backend + "/api/openapi.json", timeout=10).json()["openapi"] == "3.1.0"
        assert requests.get(service + "/health", timeout=10).json()["status"] == "ok"
        assert requests.get(service + "/docs", timeout=10).status_code == 200
        started = descendants(proc.pid)
        # The run listens on the two chosen ports and nowhere else (not on 5000 or 8000 "anyway").
        assert {p for _, p in sockets_of(set(started))} == {port, ml_port}, sockets_of(set(started))
    finally:
        started = started or descendants(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, stop)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        output.join()
    # Every process the run started has exited by the time make has returned.
    left = still_running(started)
    for pid in left:  # do not leave them to the next test either
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not left, (
        f"still running after the stop: {left} (this worker's SIGINT: {signal.getsignal(signal.SIGINT)})\n"
        f"{output.text[-3000:]}"
    )
    assert "[start_app] stopped" in output.text, output.text[-3000:]
    now = {p for p, _ in listening().values()}
    assert port not in now and ml_port not in now, output.text[-3000:]
    assert len(started) >= 5, started  # the script, serve.sh, gunicorn's master and workers, node


def test_make_app_refuses_a_port_that_is_not_one() -> None:
    r = subprocess.run(
        ["make", "--no-print-directory", "-o", "install", "-o", NODE_STAMP, "app"],
        cwd=REPO_ROOT,
        env={**os.environ, "PORT": "50OO"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0
    assert "PORT must be a port number from 1 to 65535, not '50OO'" in r.stderr
