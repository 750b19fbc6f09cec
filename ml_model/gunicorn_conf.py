"""gunicorn settings for the match service: the production worker shape and shared Prometheus
metrics across workers.

Use: ``gunicorn -c python:ml_model.gunicorn_conf -b 127.0.0.1:8000 'ml_model.predict_model:create_app()'``
(``make serve`` runs this through scripts/serve.sh; command-line options still override).

Workers: 2 gevent workers (one per core). A sync worker serves one connection at a time, so two
idle or slow clients used to block both until the 30 s worker timeout. A gevent worker serves each
connection in a greenlet: an idle or slow client costs a greenlet (BENCHMARKS.md), never the worker. Nginx in
front of sync workers was measured too; its extra hop made a request on a new connection slower
than sync workers alone, gevent about as fast (BENCHMARKS.md, "The serving floor").

- ``worker_connections`` per worker (the master raises the open-files limit to match);
- ``keepalive``: a client must send its request headers within this many seconds, and an idle
  kept-alive connection is closed after it. Longer than the 4 s after which the backend's fetch
  closes an idle connection, so the service never closes one the backend is about to reuse. Its
  body then has BODY_TIMEOUT_S (default 30 s), which gunicorn has no setting for: the app sets it,
  with the same ``gevent.Timeout`` around each body read (``ml_model/wsgi_fast_path.py``), and
  answers a late body 408;
- ``graceful_timeout``: a stop or a reload (SIGHUP) lets each old worker finish
  for this long. Longer than ``keepalive``, so idle connections close by themselves first: at the
  deadline gunicorn's gevent worker kills what is left, and writes a stray 500 on a connection that
  was idle, which its client would read as the answer to its next request.

prometheus_client counts across processes only in its multiprocess mode: every worker writes its
values to mmap files in PROMETHEUS_MULTIPROC_DIR, and whoever answers /metrics or /health adds
them up. The folder must exist before a worker imports prometheus_client, must be empty at start
(old files would be counted again) and must be told when a worker exits (its live gauges go).
These hooks do exactly that, in the master, before any worker starts:

- ``on_starting``: use PROMETHEUS_MULTIPROC_DIR if set (its old ``*.db`` files are removed), else
  a fresh private temporary folder, removed again when gunicorn exits;
- ``child_exit``: ``multiprocess.mark_process_dead`` for the worker that exited.

And ``post_worker_init`` freezes what the app loaded out of the garbage collector's sight.

Nothing here is imported by the service itself, and prometheus_client is imported only inside
the hooks, after the variable is set.
"""

from __future__ import annotations

import gc
import glob
import os
import resource
import shutil
import tempfile
from typing import Any

workers = 2
worker_class = "gevent"
worker_connections = 10000
keepalive = 5
graceful_timeout = 10

_OWN_DIR: list[str] = []  # the temporary folder we created, removed in on_exit


def raise_open_files_limit(needed: int) -> tuple[int, int]:
    """Raise this process's soft limit on open files towards ``needed`` (at most the hard limit);
    the workers inherit it. A common soft limit is 1,024: past it a worker cannot accept, and about
    1,000 idle connections would lock everyone else out. Returns (soft, hard) after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft, hard


def on_starting(server: Any) -> None:
    """Prepare PROMETHEUS_MULTIPROC_DIR (empty, existing) before the workers fork, and the limit on
    open files: each worker needs one per connection, plus its own (model, log, metrics)."""
    needed = server.cfg.worker_connections + 256
    soft, hard = raise_open_files_limit(needed)
    if soft < needed:
        server.log.warning(
            "Open files are limited to %s (hard limit %s), fewer than the %s each worker may need for %s connections.",
            soft,
            hard,
            needed,
            server.cfg.worker_connections,
        )
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            os.remove(stale)
    else:
        path = tempfile.mkdtemp(prefix="legalaid-metrics-")
        _OWN_DIR.append(path)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    server.log.info("Prometheus multiprocess metrics in %s", path)


def post_worker_init(worker: Any) -> None:
    """Once the worker has loaded the app, move everything it allocated so far (NumPy, pandas,
    scikit-learn, Flask, the model: some 140,000 objects) out of the garbage collector's sight
    (``gc.freeze``). A full collection then walks only what requests allocate: without it, every
    so many requests one of them stalled while a full collection walked them all (BENCHMARKS.md).
    Then it says it is ready: one line per worker that has loaded the model and will answer."""
    gc.freeze()
    worker.log.info("Worker ready (pid: %s)", worker.pid)


def child_exit(server: Any, worker: Any) -> None:
    """Drop the exited worker's live gauges (its counters stay: they are the service's history)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """Remove the temporary metrics folder if we created it."""
    for path in _OWN_DIR:
        shutil.rmtree(path, ignore_errors=True)
