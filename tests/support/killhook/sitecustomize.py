"""Kill -9 at a chosen rename, from inside: the crash tests put this folder first on PYTHONPATH.

Python imports ``sitecustomize`` at start-up. With ``LEGALAID_KILL_AT_RENAME=K`` the process sends
itself SIGKILL just before its K-th ``os.rename``/``os.replace`` (``Path.rename``, ``shutil.move``
and every atomic write in the project and in MLflow's file store go through them), as strace's
fault injection does at the system call, but without stopping at every other system call of a
TensorFlow import. With ``LEGALAID_COUNT_RENAMES=FILE`` it appends one line per rename instead.
Both variables are removed from the environment, so child processes are not affected.
"""

import os
import signal
import threading

_KILL_AT = int(os.environ.pop("LEGALAID_KILL_AT_RENAME", "0") or 0)
_COUNT_FILE = os.environ.pop("LEGALAID_COUNT_RENAMES", "")
_lock = threading.Lock()
_seen = 0


def _hooked(original):
    def rename(src, dst, *args, **kwargs):
        global _seen
        with _lock:
            _seen += 1
            if _seen == _KILL_AT:
                os.kill(os.getpid(), signal.SIGKILL)
        result = original(src, dst, *args, **kwargs)
        if _COUNT_FILE:
            with _lock, open(_COUNT_FILE, "a", encoding="utf-8") as fh:
                fh.write(f"{os.fspath(src)} -> {os.fspath(dst)}\n")
        return result

    return rename


if _KILL_AT or _COUNT_FILE:
    os.rename = _hooked(os.rename)
    os.replace = _hooked(os.replace)
