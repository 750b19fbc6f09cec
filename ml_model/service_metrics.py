"""The match service's counters and latency, as Prometheus metrics shared by every gunicorn worker."""

from __future__ import annotations

import glob
import logging
import os
import sys
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import values as prometheus_values
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger(__name__)


class ServiceMetrics:
    """The service's counters and latency, as Prometheus metrics: one source for /metrics and
    for /health's counters, shared by every gunicorn worker.

    With PROMETHEUS_MULTIPROC_DIR set when prometheus_client is imported (gunicorn started with
    ``-c python:ml_model.gunicorn_conf`` sets it), each worker writes its values to mmap files
    there and every reader (/metrics, /health, in any worker) adds up all workers' files,
    including those of workers that have exited, so counters never go backwards. Without it
    (the development server, tests) the values live in this process. An update is cheap: a dict
    lookup and an mmap write per value.
    """

    ENDPOINTS = frozenset({"/predict", "/rank", "/health", "/metrics", "/openapi.json"})
    BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

    def __init__(self) -> None:
        self.path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self.multiprocess = bool(self.path) and getattr(prometheus_values.ValueClass, "_multiprocess", False)
        self._warn_if_per_worker()
        if self.multiprocess:
            os.makedirs(self.path, exist_ok=True)
        registry = None if self.multiprocess else CollectorRegistry()
        self._create_metrics(registry)
        if self.multiprocess:
            self.registry = CollectorRegistry()
            MultiProcessCollector(self.registry, path=self.path)
        else:
            self.registry = registry
        self.model_version: str | None = None
        self._requests: dict[tuple[str, str], Any] = {}
        self._latency: dict[str, Any] = {}

    def _warn_if_per_worker(self) -> None:
        """Say so when the counters cannot be shared across gunicorn's workers."""
        if self.path and not self.multiprocess:
            log.warning(
                "PROMETHEUS_MULTIPROC_DIR was set after prometheus_client was imported; metrics are per process."
            )
        if not self.path and "gunicorn" in sys.modules:
            log.warning(
                "Under gunicorn without PROMETHEUS_MULTIPROC_DIR, /metrics and /health count per "
                "worker; start gunicorn with -c python:ml_model.gunicorn_conf."
            )

    def _create_metrics(self, registry: CollectorRegistry | None) -> None:
        """The metrics, in ``registry`` (None: the multiprocess files)."""
        self.requests = Counter(
            "match_requests",
            "HTTP requests answered, by endpoint and status code.",
            ["endpoint", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "match_request_duration_seconds",
            "Time in the service per request (from the WSGI call until the response is built).",
            ["endpoint"],
            buckets=self.BUCKETS,
            registry=registry,
        )
        self.instances = Counter(
            "match_instances_scored", "Instances (case, lawyer pairs) scored.", registry=registry
        )
        self.unknown = Counter(
            "match_unknown_category_instances",
            "Scored instances with a category the model does not know.",
            registry=registry,
        )
        self.log_failures = Counter(
            "match_prediction_log_failures",
            "Answered requests whose prediction-log line could not be written.",
            registry=registry,
        )
        self.body_timeouts = Counter(
            "match_body_timeouts",
            "Requests answered 408 and closed because their body had not fully arrived within "
            "BODY_TIMEOUT_S seconds of their headers, by endpoint.",
            ["endpoint"],
            registry=registry,
        )
        for endpoint in ("/predict", "/rank"):  # the endpoints that read a body: shown at 0 from the start
            self.body_timeouts.labels(endpoint)
        self.model_info = Gauge(
            "match_model_info",
            "The model version being served (1), or served before (0).",
            ["model_version"],
            multiprocess_mode="livemax",
            registry=registry,
        )

    def observe(self, path: str, status: str, seconds: float) -> None:
        """Count one answered request and its time (a path we do not serve counts as "other")."""
        endpoint = path if path in self.ENDPOINTS else "other"
        counter = self._requests.get((endpoint, status))
        if counter is None:
            counter = self._requests[endpoint, status] = self.requests.labels(endpoint, status)
        counter.inc()
        histogram = self._latency.get(endpoint)
        if histogram is None:
            histogram = self._latency[endpoint] = self.latency.labels(endpoint)
        histogram.observe(seconds)

    def body_timeout(self, path: str) -> None:
        """Count one request whose body missed its deadline (its 408 is counted by ``observe``)."""
        self.body_timeouts.labels(path if path in self.ENDPOINTS else "other").inc()

    def scored(self, n: int, unknown: int) -> None:
        """Count ``n`` scored instances, ``unknown`` of them with an unknown category."""
        self.instances.inc(n)
        if unknown:
            self.unknown.inc(unknown)

    def serving(self, version: str) -> None:
        """Record the model version this process now serves (the previous one drops to 0)."""
        if self.model_version is not None:
            self.model_info.labels(self.model_version).set(0)
        self.model_info.labels(version).set(1)
        self.model_version = version

    def totals(self) -> tuple[int, int]:
        """(instances scored, unknown-category instances) over the whole service."""
        names = ("match_instances_scored_total", "match_unknown_category_instances_total")
        if not self.multiprocess:
            values = [self.registry.get_sample_value(name) or 0.0 for name in names]
            return int(values[0]), int(values[1])
        found = dict.fromkeys(names, 0.0)
        files = glob.glob(os.path.join(self.path, "counter_*.db"))
        for metric in MultiProcessCollector.merge(files, accumulate=False):
            for sample in metric.samples:
                if sample.name in found:
                    found[sample.name] += sample.value
        return int(found[names[0]]), int(found[names[1]])

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric (all workers' under gunicorn)."""
        return generate_latest(self.registry)
