"""A server command run as a unit in a process group of its own: `make serve PORT=...` (the
production shape: gunicorn with gevent workers) or a bare gunicorn, with every process it started
recorded, so a test can show that stopping it leaves nothing running."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from ml_model import gunicorn_conf
from ml_model.paths import REPO_ROOT
from tests.support.ports import free_port, wait_http
from tests.support.procs import all_pids, pgrp, ppid


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks): tells a pid from a reused one."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def running(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie (exited, waiting for its parent to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def cmdline(pid: int) -> str:
    """The command line of ``pid`` (empty if it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def descendants(root: int) -> set[int]:
    """``root`` and every process below it, by parent pid."""
    children: dict[int, list[int]] = {}
    for pid in all_pids():
        parent = ppid(pid)
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    out, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.add(pid)
            todo += children.get(pid, [])
    return out


class ServeUnit:
    """``cmd`` (default: ``make serve PORT=<free port>``, as documented) in a new session from the
    repository root, output to ``log_path``; ``start()`` waits until /health answers on the port."""

    def __init__(
        self,
        log_path: Path,
        cmd: list[str] | None = None,
        port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = cmd or ["make", "serve", f"PORT={self.port}"]
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.seen: dict[int, str | None] = {}  # every process of the unit seen, with its start time
        self.groups: set[int] = set()

    def launch(self) -> ServeUnit:
        """Start the command without waiting for anything."""
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def start(self, timeout: float = 180) -> ServeUnit:
        """Start the command and wait until /health answers on the port and every worker has said
        it is ready (the first to answer is not all of them: a signal sent meanwhile would meet a
        worker still loading the model)."""
        self.launch()
        assert self.proc is not None
        try:
            wait_http(self.url + "/health", self.proc, timeout=timeout)
            # our settings (make serve, or gunicorn -c ml_model.gunicorn_conf) say when a worker is ready
            ours = self.cmd[:2] == ["make", "serve"] or "python:ml_model.gunicorn_conf" in self.cmd
            while ours and self.output().count("Worker ready") < gunicorn_conf.workers:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"make serve exited with {self.proc.returncode}:\n{self.output()[-2000:]}"
                    )
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        self.record()
        return self

    def record(self) -> set[int]:
        """Note every process of the unit now running (they are checked for after ``stop()``)."""
        assert self.proc is not None
        pids = descendants(self.proc.pid)
        for pid in pids:
            self.seen.setdefault(pid, _start_time(pid))
            if (group := pgrp(pid)) is not None:
                self.groups.add(group)
        return pids

    def find(self, needle: str, master: bool = True) -> int:
        """The pid of the unit's process whose command line contains ``needle``; with ``master``,
        the one whose parent is not such a process (gunicorn's master)."""
        pids = self.record()
        hits = [p for p in pids if needle in cmdline(p)]
        if master:
            hits = [p for p in hits if needle not in cmdline(ppid(p) or 0)]
        assert len(hits) == 1, (needle, {p: cmdline(p) for p in pids})
        return hits[0]

    def leftovers(self) -> dict[int, str]:
        """Processes of the unit still running: seen ones (same start time), or any in its groups."""
        alive = {p: cmdline(p) for p, t in self.seen.items() if t is not None and _start_time(p) == t}
        alive.update({p: cmdline(p) for p in all_pids() if pgrp(p) in self.groups})
        return {p: c for p, c in alive.items() if running(p)}

    def wait(self, timeout: float) -> int:
        """Wait for the unit's own process to exit; its exit code."""
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM to the unit's process group, as a Ctrl-C or a service manager would; SIGKILL to
        whatever is left after ``timeout``. Returns the exit code of the command."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.record()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
        deadline = time.monotonic() + 5
        while self.leftovers() and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.proc.poll()

    def kill_leftovers(self) -> None:
        """SIGKILL every process of the unit still running (after a failed test)."""
        for group in self.groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def output(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""
