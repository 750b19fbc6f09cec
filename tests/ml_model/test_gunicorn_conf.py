"""The production gunicorn settings (ml_model/gunicorn_conf.py) beyond the metrics hooks, which
tests/ml_model/test_metrics.py covers: the worker shape and the open-files limit."""

from __future__ import annotations

import resource
import subprocess
import sys

from ml_model import gunicorn_conf

PROBE = """
import resource
from ml_model.gunicorn_conf import raise_open_files_limit
print(*raise_open_files_limit({needed}), resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


def probe(needed: int, soft: int) -> tuple[int, int, int]:
    """raise_open_files_limit(needed) in a fresh interpreter that starts with ``soft`` open files."""

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(needed=needed)],
        preexec_fn=lower,
        capture_output=True,
        text=True,
        check=True,
    )
    got_soft, hard, now = map(int, out.stdout.split())
    return got_soft, hard, now


def test_the_workers_are_gevent_with_room_for_idle_clients() -> None:
    assert gunicorn_conf.workers == 2 and gunicorn_conf.worker_class == "gevent"
    assert gunicorn_conf.worker_connections >= 4096
    # At least a second longer than the backend's fetch keeps an idle connection (4 s): the service
    # never closes one under it; and a stop or reload waits until idle connections closed themselves.
    backend_idle_s = 4
    assert backend_idle_s + 1 <= gunicorn_conf.keepalive < gunicorn_conf.graceful_timeout


def test_a_low_open_files_limit_is_raised_up_to_the_hard_limit() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    needed = 5000 if hard == resource.RLIM_INFINITY else min(5000, hard)
    soft, _, now = probe(needed, soft=256)
    assert soft == now == needed  # raised from 256, in the process itself
    soft, _, now = probe(100, soft=256)
    assert soft == now == 256  # never lowered
    if hard != resource.RLIM_INFINITY:
        soft, _, now = probe(hard + 1000, soft=256)
        assert soft == now == hard  # at most the hard limit
