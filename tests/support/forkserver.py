"""Run a command many times without paying its imports each time: import once, fork per run.

The crash tests kill a retrain or a promotion just before each of its renames: 30-odd runs of a
command whose imports (TensorFlow, MLflow) cost several seconds of CPU, far more than the work
before most kill points. A fork server imports every module a first run used, then forks a
child per run; the child runs the command's script as ``__main__`` with its own argv, working
folder and log, exactly as ``python SCRIPT ARGS`` would, and can be told to SIGKILL itself just
before its K-th ``os.rename``/``os.replace`` (every atomic write in the project and in MLflow's
file store goes through one of them).

The server is this module run as a script in the repository copy's environment; it answers one
JSON line per request on stdout. Forking is safe because the server never runs an operation
(nor starts a thread) of the libraries it imports, it only imports them.
"""

from __future__ import annotations

import atexit
import importlib
import json
import logging
import os
import runpy
import signal
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# Libraries the sidecar imports lazily, inside functions: preloaded before the first run.
HEAVY = ("numpy", "pandas", "sklearn", "tensorflow", "keras", "mlflow", "mlflow.keras", "filelock")


def install_rename_hook(kill_at: int, count_file: str) -> None:
    """SIGKILL just before the ``kill_at``-th rename (1-based), or log each rename to ``count_file``."""
    lock = threading.Lock()
    seen = 0

    def hooked(original: Any) -> Any:
        def rename(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
            nonlocal seen
            with lock:
                seen += 1
                if seen == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
            result = original(src, dst, *args, **kwargs)
            if count_file:
                with lock, open(count_file, "a", encoding="utf-8") as fh:
                    fh.write(f"{os.fspath(src)} -> {os.fspath(dst)}\n")
            return result

        return rename

    os.rename = hooked(os.rename)
    os.replace = hooked(os.replace)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _run_script(script: str) -> int:
    """The script as ``__main__``, ended as the interpreter ends a script: the exit code, a traceback
    for an uncaught exception, then non-daemon threads joined and atexit handlers run."""
    try:
        runpy.run_path(script, run_name="__main__")
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:
        traceback.print_exc()
        code = 1
    threading._shutdown()  # type: ignore[attr-defined]  # what Py_FinalizeEx does first
    atexit._run_exitfuncs()
    logging.shutdown()
    return code


def _child(req: dict[str, Any], module_pipe: int) -> None:
    """In the forked child: become the command, run it, exit as it would. Never returns."""
    code = 1
    try:
        log_fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.chdir(req["cwd"])
        script = req["argv"][0]
        sys.argv = list(req["argv"])
        sys.path[0] = str(Path(script).parent)  # as ``python SCRIPT`` sets it
        install_rename_hook(int(req.get("kill_at", 0)), req.get("count_file", ""))
        code = _run_script(script)
        if module_pipe >= 0:
            os.write(module_pipe, "\n".join(sorted(sys.modules)).encode())
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _run(req: dict[str, Any]) -> dict[str, Any]:
    """Fork a child for one run; its exit code (negative for a signal) and, if asked, its modules."""
    r, w = os.pipe() if req.get("report_modules") else (-1, -1)
    pid = os.fork()
    if pid == 0:
        if r >= 0:
            os.close(r)
        _child(req, w)
    modules: list[str] = []
    if r >= 0:
        os.close(w)
        with os.fdopen(r, "rb") as fh:
            modules = fh.read().decode().split()
    _, status = os.waitpid(pid, 0)
    return {"returncode": os.waitstatus_to_exitcode(status), "modules": modules}


def _preload(names: list[str]) -> dict[str, Any]:
    """Import what a run used (parents first), skipping what will not import outside the run."""
    failed = []
    for name in sorted(set(names), key=lambda n: n.count(".")):
        if name == "__main__" or name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception:  # a module that only imports inside its run (or a stub): not needed
            failed.append(name)
    return {"loaded": len(sys.modules), "failed": len(failed), "threads": threading.active_count()}


def serve(stdin: IO[str], stdout: IO[str]) -> None:
    """Answer requests, one JSON line each: ``{"op": "preload"|"run", ...}``."""
    for line in stdin:
        req = json.loads(line)
        answer = _preload(req["modules"]) if req["op"] == "preload" else _run(req)
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


@dataclass
class Result:
    """What a forked run ended with, like ``subprocess.CompletedProcess`` (the log is its output)."""

    returncode: int
    log: str


class ForkServer:
    """The test side: start the server in an environment, then run commands through it."""

    def __init__(self, env: dict[str, str], cwd: Path, logs: Path) -> None:
        self.env, self.cwd, self.logs = env, cwd, logs
        logs.mkdir(parents=True, exist_ok=True)
        self.runs = 0
        self.proc = subprocess.Popen(
            [sys.executable, __file__],
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._preload(list(HEAVY))

    def _preload(self, modules: list[str]) -> None:
        """Import in the server; forking is safe only while it has no thread but its main one."""
        answer = self._ask({"op": "preload", "modules": modules})
        assert answer["threads"] == 1, f"the fork server started {answer['threads'] - 1} thread(s)"

    def _ask(self, req: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the fork server died (exit {self.proc.wait()})")
        return json.loads(line)

    def run(self, *argv: str, kill_at: int = 0, count_file: Path | None = None) -> Result:
        """One run of ``argv`` (a script and its arguments); the first run also preloads its modules."""
        self.runs += 1
        log = self.logs / f"run-{self.runs:03d}.log"
        req = {"op": "run", "argv": list(argv), "cwd": str(self.cwd), "log": str(log)}
        req.update(kill_at=kill_at, count_file=str(count_file or ""), report_modules=self.runs == 1)
        answer = self._ask(req)
        if answer["modules"]:
            self._preload(answer["modules"])
        return Result(answer["returncode"], log.read_text(errors="replace"))

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
